"""MEXC Spot v3 wire layer of the simulator: REST ``/api/v3`` + protobuf WebSocket ``/ws``.

Written from MEXC's docs (``/work/shared/exchange-facts.md`` PART 1), never from our gateway code.
Files mirror the venue's API: ``rest`` (endpoints), ``ws`` (control protocol, channels, limits),
``frames`` (protobuf pushes), ``auth`` (the venue's signature check), ``errors`` (codes and bodies),
``listen_keys`` (user data stream), ``state`` (engine listener + shared state), ``app`` (``build_app``).
Known differences from live MEXC: ``specs/sim-deviations.md`` (MEXC spot).
"""

from .app import build_app

__all__ = ["build_app"]
