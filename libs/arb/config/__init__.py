"""Configuration: YAML file + ARB_ environment overrides into frozen, strict msgspec Structs."""

from .loader import load_config, parse_config
from .schema import AppConfig

__all__ = ["AppConfig", "load_config", "parse_config"]
