"""Load config: defaults < YAML file < NATS_URL / DATABASE_URL < ARB_SECTION__KEY env overrides.

Every failure is one ConfigError line naming the source, the key path and the problem, e.g.
``prod.yaml: venues.gateio.futures.ws_url: expected ws:// or wss:// URL, got 'htp://x'``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from ..core.errors import ConfigError
from .schema import AppConfig

T = TypeVar("T")
ENV_PREFIX = "ARB_"
_AT = re.compile(r"^(?P<msg>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_FIELD_MSG = re.compile(r"^(?P<field>[A-Za-z_][A-Za-z0-9_]*): (?P<msg>.*)$", re.DOTALL)
_SECRET_KEY = re.compile(r"secret|password|passphrase|token", re.IGNORECASE)
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]+)`$")


def load_config(path: str | os.PathLike | None, env: Mapping[str, str] | None = None, schema: type[T] = AppConfig) -> T:
    env = os.environ if env is None else env
    source = str(path) if path else "<defaults>"
    data: dict[str, Any] = {}
    if path:
        try:
            text = Path(path).read_text()
        except OSError as e:
            raise ConfigError(f"{source}: cannot read: {e.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            mark = getattr(e, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "?"
            raise ConfigError(f"{source}: {where}: invalid YAML: {getattr(e, 'problem', e)}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{source}: top level must be a mapping, got {type(loaded).__name__}")
        data = loaded
    _apply_env(data, env)
    return parse_config(data, source, schema)


def parse_config(data: dict[str, Any], source: str = "<config>", schema: type[T] = AppConfig) -> T:
    try:
        return msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{source}: {describe(str(e))}") from None


def describe(msgspec_message: str) -> str:
    """Turn msgspec's "<problem> - at `$.a.b`" into "a.b.field: problem"."""
    m = _AT.match(msgspec_message)
    msg, path = (m["msg"], m["path"].lstrip(".")) if m else (msgspec_message, "")
    u = _UNKNOWN.match(msg)
    if u:
        path, msg = _join(path, u["field"]), "unknown key"
    else:
        f = _FIELD_MSG.match(msg)
        if f:
            path, msg = _join(path, f["field"]), f["msg"]
        elif msg.startswith("Expected"):
            msg = "expected" + msg[len("Expected"):]
            msg = msg.replace("`", "")
        elif msg.startswith("Object missing required field"):
            fld = msg.split("`")[1]
            path, msg = _join(path, fld), "required key is missing"
    return f"{path}: {msg}" if path else msg


def _join(path: str, field: str) -> str:
    return f"{path}.{field}" if path else field


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> None:
    """NATS_URL / DATABASE_URL (the usual names) then ARB_A__B__C=value -> data['a']['b']['c'] (YAML scalar)."""
    if env.get("NATS_URL"):
        data.setdefault("nats", {})["url"] = env["NATS_URL"]
    if env.get("DATABASE_URL"):
        data.setdefault("database", {})["url"] = env["DATABASE_URL"]
    for key in sorted(env):
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue  # ARB_<ACCOUNT>_API_KEY etc. belong to credentials.py, not config
        parts = [p.lower() for p in key[len(ENV_PREFIX):].split("__")]
        node = data
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = node[p] = {}
            node = nxt
        try:
            node[parts[-1]] = yaml.safe_load(env[key]) if env[key] != "" else ""
        except yaml.YAMLError:
            node[parts[-1]] = env[key]


def redact_url(url: str) -> str:
    """nats://user:pass@host -> nats://user:***@host."""
    return re.sub(r"(://[^:/@]+:)[^@/]+@", r"\1***@", url)


def effective(cfg: Any) -> Any:
    """The config as builtins with secret-named keys and URL passwords masked (for `arb config check`)."""

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: "****" if _SECRET_KEY.search(k) and v else walk(v) for k, v in x.items()}
        if isinstance(x, list):
            return [walk(v) for v in x]
        if isinstance(x, str) and "://" in x:
            return redact_url(x)
        return x

    return walk(msgspec.to_builtins(cfg))
