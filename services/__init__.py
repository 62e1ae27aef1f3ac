"""Thin process entry points: each wires config, clients, bus and metrics around library code in libs/arb."""
