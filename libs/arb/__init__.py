"""Cross-exchange arbitrage engine: shared library for every service."""

__version__ = "0.1.0"
