"""Load config: defaults < YAML file < NATS_URL / DATABASE_URL < ARB_SECTION__KEY env overrides.

Every failure is one ConfigError line naming the source, the key path and the problem, e.g.
``prod.yaml: venues.gateio.futures.ws_url: expected ws:// or wss:// URL, got 'htp://x'``. When the bad
value came from the environment, the source is the variable (URL passwords and secret-named keys masked):
``ARB_GATEWAY__WATCHDOG_S=.nan: gateway.watchdog_s: must be finite and > 0 (at most 3600), got nan``.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import yaml

from ..core.errors import ConfigError
from .checks import redact_url
from .schema import AppConfig

__all__ = ["ENV_PREFIX", "describe", "effective", "load_config", "parse_config", "redact_url"]

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
    from_env = _apply_env(data, env, lambda: _defaults(schema))
    try:
        return msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as e:
        problem = describe(str(e))
        var = _env_source(problem.partition(": ")[0], from_env)
        where = f"{var}={_shown(env[var])}" if var else source
        raise ConfigError(f"{where}: {problem}") from None


def parse_config(data: dict[str, Any], source: str = "<config>", schema: type[T] = AppConfig) -> T:
    try:
        return msgspec.convert(data, schema, strict=True)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{source}: {describe(str(e))}") from None


def _env_source(key: str, from_env: dict[str, str]) -> str | None:
    """The variable that set ``key`` (or a section holding it), else None: the value came from the file."""
    paths = [p for p in from_env if key == p or key.startswith((p + ".", p + "["))]
    return from_env[max(paths, key=len)] if paths else None  # the narrowest variable that covers the key


def _shown(value: str) -> str:
    """An environment value as an error may show it: URL passwords masked, anything secret-like hidden."""
    if _SECRET_KEY.search(value):
        return "****"
    value = redact_url(value)
    return value if len(value) <= 80 else value[:77] + "..."


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


def _defaults(schema: type) -> dict[str, Any]:
    try:
        return msgspec.to_builtins(schema())
    except (TypeError, msgspec.ValidationError):  # a schema with required keys has no defaults to offer
        return {}


def _apply_env(data: dict[str, Any], env: Mapping[str, str],
               defaults: Callable[[], dict[str, Any]] = dict) -> dict[str, str]:
    """NATS_URL / DATABASE_URL (the usual names) then ARB_A__B__C=value -> data['a']['b']['c'] (YAML scalar).

    A section the file does not have starts from its defaults, so ARB_VENUES__MEXC__SPOT__WS_URL alone keeps
    the default rest_url. Returns which variable set which key path ('a.b.c' -> 'ARB_A__B__C'), so errors
    can name it."""
    default_tree: list[dict[str, Any]] = []
    from_env: dict[str, str] = {}
    if env.get("NATS_URL"):
        data.setdefault("nats", {})["url"] = env["NATS_URL"]
        from_env["nats.url"] = "NATS_URL"
    if env.get("DATABASE_URL"):
        data.setdefault("database", {})["url"] = env["DATABASE_URL"]
        from_env["database.url"] = "DATABASE_URL"
    for key in sorted(env):
        if not key.startswith(ENV_PREFIX) or "__" not in key:
            continue  # ARB_<ACCOUNT>_API_KEY etc. belong to credentials.py, not config
        parts = [p.lower() for p in key[len(ENV_PREFIX):].split("__")]
        path = ".".join(parts)
        for set_path in [p for p in from_env if p == path or p.startswith(path + ".")]:
            del from_env[set_path]  # this variable replaces what a narrower one set (ARB_NATS__URL after NATS_URL)
        from_env[path] = key
        node = data
        for i, p in enumerate(parts[:-1]):
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                if not default_tree:
                    default_tree.append(defaults())
                nxt = node[p] = _subtree(default_tree[0], parts[: i + 1])
            node = nxt
        try:
            node[parts[-1]] = yaml.safe_load(env[key]) if env[key] != "" else ""
        except yaml.YAMLError:
            node[parts[-1]] = env[key]
    return from_env


def _subtree(tree: dict[str, Any], path: list[str]) -> dict[str, Any]:
    """A copy of the mapping at ``path`` in ``tree``, or {} where there is none."""
    node: Any = tree
    for p in path:
        node = node.get(p) if isinstance(node, dict) else None
    return copy.deepcopy(node) if isinstance(node, dict) else {}


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
