"""Gate.io md gateway handlers fed the venue's frames directly: guards, funding, malformed frames (no I/O)."""

from __future__ import annotations

import asyncio

import pytest
from arb.bus.subjects import MdSubjects
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import BookState, Market, Venue
from arb.core.market_data import BookSnapshot, BookTicker, FundingRate, MarketStatus, Trade
from arb.venues.gateio.public import GatePublicGateway, _Book
from arb.venues.gateio.schemas import SpotOrderBook
from arb.venues.gateio.ws import PublicWs

pytestmark = pytest.mark.unit


def gateway(market: Market, mult: float = 1.0) -> GatePublicGateway:
    gw = GatePublicGateway(market, ["BTC-USDT"], None, None, None,  # type: ignore[arg-type]
                           VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"), GatewayOptions())
    gw.books["BTC_USDT"] = _Book("BTC-USDT", "BTC_USDT", MdSubjects.of(Venue.GATEIO, market, "BTC-USDT"), 1.0 / mult)
    gw.feed = PublicWs(market, gw).on_text  # type: ignore[attr-defined]
    return gw


def spot_update(U: int, u: int, bids: str, asks: str, full: bool = False) -> str:
    f = ',"full":true' if full else ""
    return ('{"time":1,"time_ms":1606294781236,"channel":"spot.order_book_update","event":"update","result":'
            f'{{"t":1606294781123{f},"s":"BTC_USDT","U":{U},"u":{u},"b":{bids},"a":{asks}}}}}')


def test_crossed_book_ticker_is_dropped():
    """A book_ticker with bid >= ask is never published."""
    gw = gateway(Market.SPOT)
    gw.feed('{"time":1,"channel":"spot.book_ticker","event":"update","result":{"t":1,"u":2,"s":"BTC_USDT",'
                   '"b":"100.5","B":"1","a":"100.4","A":"1"}}')
    assert not gw._out and gw.books["BTC_USDT"].crossed_bbo == 1


def test_full_push_syncs_and_a_crossing_diff_makes_the_book_stale():
    """A full push makes the book OK; a diff that crosses it (zombie level) makes it stale and asks for a resync."""
    gw = gateway(Market.SPOT)
    gw.feed(spot_update(10, 10, '[["100","1"],["99","2"]]', '[["101","1"]]', full=True))
    sync = gw.books["BTC_USDT"].sync
    assert sync.state is BookState.OK and sync.book.seq == 10
    gw.feed(spot_update(11, 11, '[["102","1"]]', '[]'))
    assert sync.state is BookState.STALE and sync.needs_snapshot and sync.crossed == 1
    states = [e.state for _, e, _ in gw._out if getattr(e, "reason", None) is not None]
    assert states[-1] is BookState.STALE


def test_gap_after_sync_is_detected():
    """U != last u + 1 after a full push is a gap: stale, buffered for the next snapshot."""
    gw = gateway(Market.SPOT)
    gw.feed(spot_update(10, 10, '[["100","1"]]', '[["101","1"]]', full=True))
    gw.feed(spot_update(12, 13, '[["100","3"]]', '[]'))
    sync = gw.books["BTC_USDT"].sync
    assert sync.state is BookState.STALE and sync.gaps == 1


def test_funding_uses_the_current_rate_not_the_indicative_one():
    """futures.tickers: the published rate is funding_rate; the next funding time rolls past now by the interval."""
    gw = gateway(Market.FUTURES, 0.0001)
    b = gw.books["BTC_USDT"]
    b.funding_interval_s, b.funding_next_s = 28800, 1000.0
    gw.feed('{"time":1541659086,"time_ms":1541659086123,"channel":"futures.tickers","event":"update","result":'
                      '[{"contract":"BTC_USDT","last":"118.4","funding_rate":"-0.000114","funding_rate_indicative":"0.01875",'
                      '"mark_price":"118.35","index_price":"118.36"}]}')
    funding = [e for _, e, _ in gw._out if isinstance(e, FundingRate)]
    assert funding and funding[0].rate == -0.000114 and funding[0].interval_s == 28800
    assert funding[0].next_funding_ns > funding[0].ts_recv


def test_futures_sizes_are_published_in_base():
    """futures.book_ticker sizes (contracts) are multiplied by quanto_multiplier."""
    gw = gateway(Market.FUTURES, 0.0001)
    gw.feed('{"time":1,"channel":"futures.book_ticker","event":"update","result":{"t":1615366379123,"u":2517661076,'
                  '"s":"BTC_USDT","b":"54696.6","B":37000,"a":"54696.7","A":47061}}')
    _, bbo, _ = gw._out[0]
    assert bbo.bid_sz == pytest.approx(3.7) and bbo.ask_sz == pytest.approx(4.7061)


def test_futures_base_sizes_carry_no_float_drift():
    """416 contracts of 0.0001 BTC publish as 0.0416, not 0.041600000000000005."""
    gw = gateway(Market.FUTURES, 0.0001)
    gw.feed('{"time":1,"channel":"futures.book_ticker","event":"update","result":{"t":1615366379123,"u":2517661076,'
                  '"s":"BTC_USDT","b":"54696.6","B":416,"a":"54696.7","A":3}}')
    _, bbo, _ = gw._out[0]
    assert bbo.bid_sz == 0.0416 and bbo.ask_sz == 0.0003


def test_malformed_frame_is_counted_not_raised():
    """A truncated frame, or an update that does not fit its channel's schema, is counted and skipped."""
    gw = gateway(Market.SPOT)
    gw.feed('{"time":1,"channel":"spot.order_book_update","event":"update","result":{"s":"BTC_')
    gw.feed('{"time":1,"channel":"spot.book_ticker","event":"update","result":{"s":"BTC_USDT","b":"x"}}')
    assert gw.parse_errors == 2 and not gw._out


def test_subscribe_ack_and_pong_are_control_frames():
    """A subscribe ack (same channel, other shape) and a pong are control frames, not errors."""
    gw = gateway(Market.SPOT)
    gw.feed('{"time":1,"time_ms":2,"channel":"spot.order_book_update","event":"subscribe","error":null,'
            '"result":{"status":"success"}}')
    gw.feed('{"time":1,"time_ms":2,"channel":"spot.pong","event":"","error":null,"result":null}')
    assert gw.parse_errors == 0 and gw.n["control"] == 2


class _Shard:
    def __init__(self, subscriptions: tuple[str, ...], connected: bool) -> None:
        self.subscriptions = subscriptions
        self.connected = connected


class _TwoShards:
    """A WsManager stand-in: BTC_USDT's socket is down, ETH_USDT's is up."""

    def __init__(self) -> None:
        self.shards = [_Shard(("BTC_USDT",), False), _Shard(("ETH_USDT",), True)]

    @property
    def connected(self) -> int:
        return sum(1 for s in self.shards if s.connected)


class _SnapshotRest:
    def __init__(self) -> None:
        self.asked: list[str] = []

    async def spot_order_book(self, pair: str, limit: int) -> SpotOrderBook:
        self.asked.append(pair)
        return SpotOrderBook(id=100, bids=[(100.0, 1.0)], asks=[(101.0, 1.0)])


async def test_no_snapshot_for_a_book_whose_socket_is_down():
    """With several sockets, a book whose own socket is down is not resynced from REST (it would be
    published OK and then frozen until that socket is back); books on connected sockets are."""
    gw = gateway(Market.SPOT)
    gw.books["ETH_USDT"] = _Book("ETH-USDT", "ETH_USDT", MdSubjects.of(Venue.GATEIO, Market.SPOT, "ETH-USDT"), 1.0)
    gw.rest = _SnapshotRest()  # type: ignore[assignment]
    gw.ws = _TwoShards()
    worker = asyncio.get_running_loop().create_task(gw._snapshot_worker())
    try:
        gw._snap_event.set()
        for _ in range(50):
            await asyncio.sleep(0.01)
            if gw.books["ETH_USDT"].sync.ok:
                break
    finally:
        worker.cancel()
    assert gw.books["ETH_USDT"].sync.ok
    assert gw.rest.asked == ["ETH_USDT"] and not gw.books["BTC_USDT"].sync.ok


class _Conn:
    """A WsConnection stand-in: opening order and whether it was closed."""

    def __init__(self, serial: int) -> None:
        self.serial = serial
        self.closed = False
        self.subscriptions = ("BTC_USDT",)


class _Current:
    """A WsManager stand-in for attribution: ``current`` is the socket delivering the frame."""

    current: _Conn | None = None


def from_socket(gw: GatePublicGateway, mgr: _Current, conn: _Conn, frame: str) -> None:
    mgr.current = conn
    gw.feed(frame)  # type: ignore[attr-defined]


def rotating_gateway() -> tuple[GatePublicGateway, _Current, _Conn, _Conn]:
    gw = gateway(Market.SPOT)
    mgr = _Current()
    gw._wsm = mgr
    return gw, mgr, _Conn(1), _Conn(2)


def published(gw: GatePublicGateway, kind: type) -> list:
    return [e for _, e, _ in gw._out if isinstance(e, kind)]


def test_rotation_new_socket_takes_the_book_over_without_a_gap():
    """The new socket's windows differ from the old one's: its own book takes over once not behind, the old
    socket is ignored afterwards; no gap, no stale status, published ids never go back."""
    gw, mgr, old, new = rotating_gateway()
    from_socket(gw, mgr, old, spot_update(10, 10, '[["100","1"]]', '[["101","1"]]', full=True))
    from_socket(gw, mgr, old, spot_update(11, 12, '[["100","2"]]', '[]'))
    from_socket(gw, mgr, new, spot_update(11, 11, '[["100","1.5"]]', '[["101","1"]]', full=True))  # behind
    from_socket(gw, mgr, old, spot_update(13, 13, '[["99","1"]]', '[]'))
    from_socket(gw, mgr, new, spot_update(12, 14, '[["100","2"],["99","1"],["98","1"]]', '[]'))  # overlaps 13
    from_socket(gw, mgr, old, spot_update(14, 14, '[["98","1"]]', '[]'))  # the retiring socket: ignored
    from_socket(gw, mgr, new, spot_update(15, 15, '[["97","1"]]', '[]'))
    b = gw.books["BTC_USDT"]
    assert b.src is new and b.pending is None and gw.switches == 1
    assert b.sync.ok and b.sync.book.seq == 15 and b.sync.gaps == 0 and b.sync.resyncs == 0
    assert [lv.price for lv in b.sync.book.top(10)[0]] == [100.0, 99.0, 98.0, 97.0]
    assert all(s.state is BookState.OK for s in published(gw, MarketStatus))
    seqs = [e.seq for e in published(gw, BookSnapshot)]
    assert seqs == sorted(seqs)


def test_rotation_fallback_when_the_old_socket_goes_before_the_new_book_is_in_sync():
    """The old socket was retired while the new one's book still waited for a snapshot: stale, one resync."""
    gw, mgr, old, new = rotating_gateway()
    from_socket(gw, mgr, old, spot_update(10, 10, '[["100","1"]]', '[["101","1"]]', full=True))
    from_socket(gw, mgr, new, spot_update(20, 21, '[["100","2"]]', '[]'))  # no full push: pending needs a snapshot
    old.closed = True
    from_socket(gw, mgr, new, spot_update(22, 22, '[["100","3"]]', '[]'))
    b = gw.books["BTC_USDT"]
    assert b.src is new and not b.sync.ok and b.sync.needs_snapshot and b.sync.resyncs == 1
    assert b.sync.buffered == 2  # the new socket's diffs wait for the snapshot
    assert published(gw, MarketStatus)[-1].state is BookState.STALE


def test_disconnect_of_the_old_socket_keeps_a_book_the_new_one_holds():
    """A real disconnect of the source while the new socket's book is in sync and not behind: it takes over."""
    gw, mgr, old, new = rotating_gateway()
    from_socket(gw, mgr, old, spot_update(10, 10, '[["100","1"]]', '[["101","1"]]', full=True))
    from_socket(gw, mgr, new, spot_update(11, 11, '[["100","1"]]', '[["101","1"]]', full=True))
    assert gw.books["BTC_USDT"].src is new  # already ahead: switched at once
    gw._on_disconnect(old)
    b = gw.books["BTC_USDT"]
    assert b.sync.ok and b.sync.resyncs == 0


def test_disconnect_of_the_source_makes_the_book_stale():
    """A real disconnect of the socket feeding the book: stale, and the next socket becomes the source."""
    gw, mgr, old, new = rotating_gateway()
    from_socket(gw, mgr, old, spot_update(10, 10, '[["100","1"]]', '[["101","1"]]', full=True))
    old.closed = True
    gw._on_disconnect(old)
    b = gw.books["BTC_USDT"]
    assert b.sync.state is BookState.STALE and b.sync.resyncs == 1 and b.src is None
    from_socket(gw, mgr, new, spot_update(11, 11, '[["100","1"]]', '[["101","1"]]', full=True))
    assert b.src is new and b.sync.ok


def test_trades_and_bbo_from_both_sockets_of_a_rotation_are_published_once():
    """During the overlap both sockets deliver the same trades and tickers: each is published once."""
    gw, mgr, old, new = rotating_gateway()

    def trade(i: int) -> str:
        return ('{"time":1,"channel":"spot.trades","event":"update","result":{"id":' + str(i) + ',"create_time":1,'
                '"create_time_ms":"1000.5","side":"buy","currency_pair":"BTC_USDT","amount":"1","price":"100"}}')

    def bbo(u: int) -> str:
        return ('{"time":1,"channel":"spot.book_ticker","event":"update","result":{"t":1,"u":' + str(u) + ','
                '"s":"BTC_USDT","b":"100","B":"1","a":"101","A":"1"}}')

    for conn, i in ((old, 1), (old, 2), (new, 2), (new, 3), (old, 3), (old, 4), (new, 4), (new, 5)):
        from_socket(gw, mgr, conn, trade(i))
        from_socket(gw, mgr, conn, bbo(i))
    assert [t.trade_id for t in published(gw, Trade)] == ["1", "2", "3", "4", "5"]
    assert [t.seq for t in published(gw, BookTicker)] == [1, 2, 3, 4, 5]


def test_fallback_counts_one_resync_when_the_new_book_is_in_sync_but_behind():
    """Old socket gone while the new socket's book is OK but behind the last published id: stale, one resync."""
    gw, mgr, old, new = rotating_gateway()
    from_socket(gw, mgr, old, spot_update(10, 12, '[["100","1"]]', '[["101","1"]]', full=True))
    from_socket(gw, mgr, new, spot_update(11, 11, '[["100","1"]]', '[["101","1"]]', full=True))  # behind 12
    old.closed = True
    from_socket(gw, mgr, new, spot_update(12, 12, '[["100","2"]]', '[]'))
    b = gw.books["BTC_USDT"]
    assert b.src is new and b.sync.ok and b.sync.book.seq == 12 and b.sync.resyncs == 0  # caught up: a switch
    gw2, mgr2, old2, new2 = rotating_gateway()
    from_socket(gw2, mgr2, old2, spot_update(10, 12, '[["100","1"]]', '[["101","1"]]', full=True))
    from_socket(gw2, mgr2, new2, spot_update(11, 11, '[["100","1"]]', '[["101","1"]]', full=True))
    old2.closed = True
    from_socket(gw2, mgr2, new2, spot_update(13, 13, '[["100","2"]]', '[]'))  # a gap in the new socket's stream
    b2 = gw2.books["BTC_USDT"]
    assert b2.src is new2 and not b2.sync.ok and b2.sync.resyncs == 1


def test_a_disconnect_forgets_the_last_trade_id():
    """After a real disconnect the next socket's trades are published even if the venue's ids restarted."""
    gw, mgr, old, new = rotating_gateway()

    def trade(i: int) -> str:
        return ('{"time":1,"channel":"spot.trades","event":"update","result":{"id":' + str(i) + ',"create_time":1,'
                '"create_time_ms":"1000.5","side":"buy","currency_pair":"BTC_USDT","amount":"1","price":"100"}}')

    from_socket(gw, mgr, old, trade(50))
    old.closed = True
    gw._on_disconnect(old)
    from_socket(gw, mgr, new, trade(1))
    assert [t.trade_id for t in published(gw, Trade)] == ["50", "1"]
