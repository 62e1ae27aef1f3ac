"""Which structs are bus messages: the registry the bus codec builds its decoder from.

It lives in ``core`` (not ``bus``) so the modules defining domain messages register them where they are defined
(``@message``) without importing the transport: ``core`` depends on nothing of ours, ``bus`` depends on ``core``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

import msgspec

T = TypeVar("T", bound=type[msgspec.Struct])

_registry: dict[str, type[msgspec.Struct]] = {}  # tag -> type
_lock = threading.Lock()
_listeners: list[Callable[[], None]] = []  # called after the set changed (the codec drops its decoder)


def register(*types: type[msgspec.Struct]) -> None:
    """Make ``types`` bus messages. Each needs a tag, unique across the bus (the ``type`` field).

    Registering the same class again is a no-op; another class under a taken tag is refused. Register at
    import time: a registration after the first decode rebuilds the decoder, but a ``decode`` already taken
    from the codec (``dec = codec.decode``) keeps the old one.
    """
    changed = False
    with _lock:
        for t in types:
            tag = t.__struct_config__.tag if isinstance(t, type) and issubclass(t, msgspec.Struct) else None
            if not isinstance(tag, str):
                raise TypeError(f"{t!r}: a bus message is a msgspec.Struct with a string tag")
            have = _registry.get(tag)
            if have is not None and have is not t:
                raise ValueError(f"tag {tag!r} of {t.__qualname__} is taken by {have.__module__}.{have.__qualname__}")
        for t in types:
            if _registry.get(t.__struct_config__.tag) is not t:
                _registry[t.__struct_config__.tag] = t
                changed = True
    if changed:
        _notify()


def unregister(*types: type[msgspec.Struct]) -> None:
    """Take types out again (tests that register a throw-away type clean up with this)."""
    changed = False
    with _lock:
        for t in types:
            if _registry.get(t.__struct_config__.tag) is t:
                del _registry[t.__struct_config__.tag]
                changed = True
    if changed:
        _notify()


def message(cls: T) -> T:
    """Class decorator: ``@message`` registers a bus message where it is defined."""
    register(cls)
    return cls


def snapshot() -> dict[str, type[msgspec.Struct]]:
    with _lock:
        return dict(_registry)


def on_change(fn: Callable[[], None]) -> None:
    _listeners.append(fn)


def _notify() -> None:
    for fn in _listeners:
        fn()


__all__ = ["message", "on_change", "register", "snapshot", "unregister"]
