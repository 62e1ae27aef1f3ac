"""Gate.io WebSocket v4 adapters on ``arb.venues.common.ws.WsManager`` (facts §2.7-2.9).

One adapter per side and market:

* ``PublicWs``: subscriptions are venue symbols (``BTC_USDT``); on open it sends, for the shard's symbols,
  spot: ``spot.book_ticker``, ``spot.order_book_update`` (``[pair, "100ms"]`` per pair), ``spot.trades``;
  futures: ``futures.book_ticker``, ``futures.order_book_update`` (``[contract, "100ms", "100"]``),
  ``futures.trades``, ``futures.tickers``, and when the sink asks for it ``futures.public_liquidates``
  (``sink.liquidations``); both markets: ``spot.candlesticks`` / ``futures.candlesticks`` (``[interval, pair]`` per
  ``sink.kline_intervals``).
* ``PrivateWs``: signed subscriptions (``auth`` = HMAC-SHA512 of ``channel=..&event=..&time=..``):
  spot.orders / spot.usertrades (``["!all"]``), spot.balances; futures.orders / futures.usertrades /
  futures.positions (``[user_id, "!all"]``), futures.balances (``[user_id]``).

Keepalive: ``{"time": <s>, "channel": "spot.ping"}`` (``futures.ping``) every ``ping_interval_s``; the watchdog
and backoff are WsManager's. Each frame is decoded once into the union of the sink's typed frames, tagged by
``channel`` (see schemas.py), and handed to the handler of its type with the receive time. Anything else (acks,
pongs, errors) is decoded as ``Control``; a subscribe error is counted and reported; an update of a handled
channel that does not fit its schema is a malformed frame (counted, skipped).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Union

import aiohttp
import msgspec

from ...core.enums import Market
from ..common.ws import WsConfig, WsConnection, WsManager
from .auth import Signer
from .schemas import Control, Route

try:
    from ._wire import BookFeed, BookReader  # type: ignore[import-not-found]
except ImportError:  # built without a C compiler: every frame goes through msgspec (.ci/run insists where one is)
    BookReader = BookFeed = None

BOOK_LEVELS = "100"  # the subscription depth and the REST snapshot depth (Gate advises <= 100)
BOOK_INTERVAL = "100ms"
MAX_SYMBOLS_PER_CONN = 50  # undocumented limit; keep frames per socket moderate
SIZE_DECIMAL = {"X-Gate-Size-Decimal": "1"}  # futures: sizes as decimal strings, never truncated to integers

_route = msgspec.json.Decoder(Route)
_control = msgspec.json.Decoder(Control)
_enc = msgspec.json.Encoder()


def prefix_of(market: Market) -> str:
    return "spot" if market is Market.SPOT else "futures"


class Sink:
    """What an adapter delivers to: decoded frames by type, control frames, malformed frames."""

    frames: dict[type, Callable[[Any, int], None]]  # typed frame class -> handler(frame, ts_recv_ns)

    def on_control(self, c: Control) -> None: ...

    def on_malformed(self, where: str, data: str | bytes) -> None: ...


class _Base:
    def __init__(self, market: Market, sink: Sink) -> None:
        self.market = market
        self.prefix = prefix_of(market)
        self.sink = sink
        self.frames = sink.frames
        types = tuple(sink.frames)
        frame_type = Union[types] if len(types) > 1 else types[0]  # noqa: UP007 -- built from a runtime tuple
        self._decode = msgspec.json.Decoder(frame_type, strict=False).decode
        self._known = frozenset(t.__struct_config__.tag for t in types)
        self._ping_channel = self.prefix + ".ping"
        self.sub_errors = 0
        # order_book_update frames through the compiled reader, when the sink takes them that way (``on_book_read``)
        self._read_book: Callable[[str], Any] | None = None
        self._on_book_read: Callable[[Any, int], bool] | None = None
        # ... and their common case in the same compiled call, when the sink builds one (``book_feed``): True when
        # handled, None when not read (msgspec's), else the reader's tuple for ``on_book_read``
        self._feed_book: Callable[[str, int], Any] | None = None

    def on_text(self, data: str) -> None:
        ts_recv = time.time_ns()
        feed = self._feed_book
        if feed is not None:
            r = feed(data, ts_recv)
            if r is True or (r is not None and self._on_book_read(r, ts_recv)):  # type: ignore[misc]
                return
        elif (read := self._read_book) is not None:
            r = read(data)
            if r is not None and self._on_book_read(r, ts_recv):  # type: ignore[misc]
                return
        try:
            f = self._decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self._other(data)
            return
        if f.event == "update" or f.event == "all":
            self.frames[type(f)](f, ts_recv)
        else:
            self._other(data)

    def _other(self, data: str) -> None:
        """Not an update of a channel we handle: a control frame (ack, pong, error) or a malformed frame."""
        try:
            r = _route.decode(data)
            c = _control.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.sink.on_malformed("frame", data)
            return
        if r.event == "update" and r.channel in self._known:
            self.sink.on_malformed(r.channel, data)  # an update of our channel that does not fit its schema
            return
        if c.error is not None:
            self.sub_errors += 1
        self.sink.on_control(c)

    def on_binary(self, data: bytes) -> None:
        self.on_text(data.decode(errors="replace"))

    def keepalive(self) -> str:
        return f'{{"time":{int(time.time())},"channel":"{self._ping_channel}"}}'

    @staticmethod
    def request(channel: str, event: str, payload: Any, auth: dict[str, str] | None = None) -> str:
        t = int(time.time())
        req: dict[str, Any] = {"time": t, "id": t * 1000 + (hash(channel) & 0x3FF), "channel": channel, "event": event}
        if payload is not None:
            req["payload"] = payload
        if auth is not None:
            req["auth"] = auth
        return _enc.encode(req).decode()


class PublicWs(_Base):
    """Market-data subscriptions for the venue symbols of one shard."""

    def __init__(self, market: Market, sink: Sink) -> None:
        super().__init__(market, sink)
        on_read = getattr(sink, "on_book_read", None)
        if on_read is not None and BookReader is not None:
            self._read_book = BookReader(market is Market.FUTURES).read
            self._on_book_read = on_read
            make_feed = getattr(sink, "book_feed", None)
            feed = make_feed(market is Market.FUTURES) if make_feed is not None else None
            if feed is not None:
                self._feed_book = feed.feed

    async def on_open(self, conn: WsConnection) -> None:
        syms = list(conn.subscriptions)
        if not syms:
            return
        p = self.prefix
        await conn.send_str(self.request(f"{p}.book_ticker", "subscribe", syms))
        for s in syms:
            payload = [s, BOOK_INTERVAL] if self.market is Market.SPOT else [s, BOOK_INTERVAL, BOOK_LEVELS]
            await conn.send_str(self.request(f"{p}.order_book_update", "subscribe", payload))
        await conn.send_str(self.request(f"{p}.trades", "subscribe", syms))
        if self.market is Market.FUTURES:
            await conn.send_str(self.request("futures.tickers", "subscribe", syms))
            if getattr(self.sink, "liquidations", False):
                await conn.send_str(self.request("futures.public_liquidates", "subscribe", syms))
        for iv in getattr(self.sink, "kline_intervals", ()):
            for s in syms:  # one [interval, pair | contract] per subscription (docs, both markets)
                await conn.send_str(self.request(f"{p}.candlesticks", "subscribe", [iv, s]))


class PrivateWs(_Base):
    """Signed user-stream subscriptions of one account on one market. ``user_id`` is needed for futures."""

    def __init__(self, market: Market, sink: Sink, signer: Signer, user_id: Callable[[], str] = lambda: "") -> None:
        super().__init__(market, sink)
        self.signer = signer
        self.user_id = user_id

    def channels(self) -> list[tuple[str, Any]]:
        if self.market is Market.SPOT:
            return [("spot.orders", ["!all"]), ("spot.usertrades", ["!all"]), ("spot.balances", None)]
        uid = self.user_id()
        return [("futures.orders", [uid, "!all"]), ("futures.usertrades", [uid, "!all"]),
                ("futures.positions", [uid, "!all"]), ("futures.balances", [uid])]

    def subscribe_frame(self, channel: str, payload: Any) -> str:
        t = int(time.time())
        auth = self.signer.ws_auth(channel, "subscribe", t)
        req: dict[str, Any] = {"time": t, "channel": channel, "event": "subscribe", "auth": auth}
        if payload is not None:
            req["payload"] = payload
        return _enc.encode(req).decode()

    async def on_open(self, conn: WsConnection) -> None:
        for channel, payload in self.channels():
            await conn.send_str(self.subscribe_frame(channel, payload))


def ws_config(url: str, *, watchdog_s: float, ping_s: float, backoff_initial_s: float, backoff_max_s: float,
              max_age_s: float, max_subs: int = MAX_SYMBOLS_PER_CONN, market: Market = Market.SPOT,
              stale_after_s: float = 0.0) -> WsConfig:
    """Futures sockets are opened with ``X-Gate-Size-Decimal: 1``: without it Gate truncates every size of a
    decimal-size contract (book levels, trades, orders, fills, positions) to an integer (facts §2.6).

    ``stale_after_s`` (market data; the user stream keeps 0) turns on the liveness check: ``spot.ping`` /
    ``futures.ping`` at least every stale_after_s / 3, and a socket with no frame (data or pong) that long is
    reported silent."""
    return WsConfig(url=url, max_subs_per_conn=max_subs, watchdog_s=watchdog_s, keepalive_s=ping_s,
                    stale_after_s=stale_after_s,
                    backoff_initial_s=backoff_initial_s, backoff_max_s=backoff_max_s, max_age_s=max_age_s,
                    rotate_before_s=min(600.0, max_age_s / 10) if max_age_s else 600.0, compress=0,
                    headers=dict(SIZE_DECIMAL) if market is Market.FUTURES else {})


def manager(session: aiohttp.ClientSession, config: WsConfig, adapter: Any, subscriptions: Sequence[str], *,
            name: str, on_reconnect: Any = None, on_disconnect: Any = None) -> WsManager:
    return WsManager(session, config, adapter, subscriptions, name=name, on_reconnect=on_reconnect,
                     on_disconnect=on_disconnect)


__all__ = ["BOOK_INTERVAL", "BOOK_LEVELS", "SIZE_DECIMAL", "PrivateWs", "PublicWs", "Sink", "manager", "prefix_of", "ws_config"]
