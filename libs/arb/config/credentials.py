"""The only module that reads API credentials. Config never says where they are; this module does:

  ARB_<ACCOUNT>_API_KEY / ARB_<ACCOUNT>_API_SECRET           environment, or
  ARB_<ACCOUNT>_API_KEY_FILE / ARB_<ACCOUNT>_API_SECRET_FILE  paths to secret files (Docker/K8s secrets)

<ACCOUNT> is the account name upper-cased with '-' as '_'. A Secret never shows its value in repr, str,
f-strings, logs or errors; only the signer calls ``reveal()``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from ..core.errors import ConfigError


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('****')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return "****"

    def __reduce__(self):  # never pickled into another process
        raise TypeError("Secret cannot be pickled")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    __hash__ = None  # type: ignore[assignment]


class Credentials:
    __slots__ = ("account", "api_key", "api_secret")

    def __init__(self, account: str, api_key: str, api_secret: Secret) -> None:
        self.account = account
        self.api_key = api_key
        self.api_secret = api_secret

    def __repr__(self) -> str:
        masked = self.api_key[:4] + "****" if len(self.api_key) > 8 else "****"
        return f"Credentials(account={self.account!r}, api_key={masked!r}, api_secret=****)"


def env_prefix(account: str) -> str:
    return "ARB_" + account.upper().replace("-", "_") + "_API_"


def load_credentials(account: str, env: Mapping[str, str] | None = None) -> Credentials:
    env = os.environ if env is None else env
    p = env_prefix(account)
    key = _read(env, p + "KEY")
    secret = _read(env, p + "SECRET")
    if not key or not secret:
        missing = [n for n, v in ((p + "KEY", key), (p + "SECRET", secret)) if not v]
        raise ConfigError(
            f"credentials for account {account!r}: missing {' and '.join(missing)} (set it, or {missing[0]}_FILE)"
        )
    return Credentials(account, key, Secret(secret))


def _read(env: Mapping[str, str], name: str) -> str:
    """The value of ``name``, else the UTF-8 content of the file ``name_FILE`` names, stripped; else "".

    A file that cannot be read, is not UTF-8 or holds nothing but whitespace is an error naming the variable
    and the path (never the content): a secret file that exists but is empty is a broken mount, not a
    missing setting."""
    if env.get(name):
        return env[name].strip()
    var = name + "_FILE"
    path = env.get(var)
    if not path:
        return ""
    try:
        value = Path(path).read_bytes().decode("utf-8-sig").strip()  # a BOM is never part of a key
    except OSError as e:
        raise ConfigError(f"{var}: cannot read {path!r}: {e.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{var}: {path!r} is not UTF-8 text") from None
    if not value:
        raise ConfigError(f"{var}: {path!r} is empty")
    return value
