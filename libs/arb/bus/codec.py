"""The one bus codec: msgpack of a tagged union, so any subscriber decodes any subject without knowing its type.

The union is not a list written here: every module that defines bus messages registers them where they are
defined (``@message`` on the class, or ``register(*types)``; the registry is ``arb.core.messages``, so ``core``
never imports the transport), and the decoder is built once, on first use,
from whatever is registered by then. So a new message type (a strategy event, a control request) edits only
its own module. The catalogue ``arb.bus.contract`` binds each subject to its types; building the decoder
imports it, which imports every module with messages on a subject, so a process that only ever imports the
codec (``arb tap``) still decodes everything.

Encoding needs no union (msgspec encodes by type, with the ``type`` tag), so it is byte-identical to the
closed union it replaces. Schema evolution follows msgspec's rules: fields are only appended, with defaults,
so an old subscriber decodes a newer publisher's message.
"""

from __future__ import annotations

import functools
import importlib
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

from ..core import messages as _messages
from ..core.messages import message, register, unregister  # noqa: F401  (the codec's API, defined in core)

_lock = threading.Lock()
_decoder: msgspec.msgpack.Decoder | None = None

_encoder = msgspec.msgpack.Encoder(decimal_format="string")
encode = _encoder.encode

if TYPE_CHECKING:  # at run time ``decode`` is the decoder's bound method, made by __getattr__ on first use

    def decode(data: bytes, /) -> Any: ...


def _invalidate() -> None:
    global _decoder
    with _lock:
        _decoder = None
        globals().pop("decode", None)


_messages.on_change(_invalidate)


def registered() -> dict[str, type[msgspec.Struct]]:
    """Every registered message type by tag (after loading the catalogue's modules)."""
    _load_catalogue()
    return _messages.snapshot()


@functools.cache
def _load_catalogue() -> None:
    importlib.import_module("arb.bus.contract")


def _build() -> Callable[[bytes], Any]:
    global _decoder
    _load_catalogue()
    with _lock:
        if _decoder is None:
            union = functools.reduce(lambda a, b: a | b, _messages.snapshot().values())
            _decoder = msgspec.msgpack.Decoder(union)
        dec = _decoder.decode
        globals()["decode"] = dec  # later ``codec.decode`` lookups find the bound method itself: no extra call
        return dec


def __getattr__(name: str) -> Any:
    if name == "decode":  # built on first use, once
        return _build()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def typed_decoder(t: Any) -> msgspec.msgpack.Decoder:
    """A decoder for a narrower type (e.g. only Command), built once by the subscriber."""
    return msgspec.msgpack.Decoder(t)


def to_json(event: Any) -> bytes:
    """Readable JSON for `arb tap` and logs (not for the hot path)."""
    return msgspec.json.encode(_with_type(event))


def _with_type(event: Any) -> Any:
    out = {"type": type(event).__struct_config__.tag}
    for f in event.__struct_fields__:
        v = getattr(event, f)
        if isinstance(v, msgspec.Struct):
            v = _with_type(v)
        out[f] = v
    return out
