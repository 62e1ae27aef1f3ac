"""MEXC md gateway in limit-depth mode: each top-N push (body 303) is a whole book, its version orders the pushes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from arb.config.schema import GatewayOptions
from arb.core.enums import BookState, Market, Venue
from arb.core.errors import ConfigError
from arb.core.market_data import BookSnapshot, MarketStatus
from arb.core.symbols import Symbol, SymbolInfo
from arb.venues.common.sync import R_DISCONNECTED
from arb.venues.mexc import parse
from arb.venues.mexc.public import MexcPublicGateway

from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

pytestmark = pytest.mark.unit

BTC = SymbolInfo(Venue.MEXC, Market.SPOT, Symbol("BTC", "USDT"), "BTCUSDT", Decimal("0.01"), Decimal("0.000001"),
                 Decimal("0.000001"))


def _gw(level: int = 5, **opts) -> MexcPublicGateway:
    options = GatewayOptions(mexc_limit_depth=level, book_interval_ms=0, **opts)
    gw = MexcPublicGateway(None, None, Market.SPOT, ["BTC-USDT"], None, options)  # type: ignore[arg-type]
    gw.install_feeds([BTC])
    return gw


def _push(version: str, bids: list[tuple[str, str]], asks: list[tuple[str, str]], ms: int = 1736411838730) -> bytes:
    """The docs' limit depth push (exchange-facts 1.5) with the levels and version of the test."""
    w = PushDataV3ApiWrapper(channel="spot@public.limit.depth.v3.api.pb@BTCUSDT@5", symbol="BTCUSDT", sendTime=ms)
    b = w.publicLimitDepths
    for side, levels in ((b.bids, bids), (b.asks, asks)):
        for p, q in levels:
            lv = side.add()
            lv.price, lv.quantity = p, q
    b.eventType = "spot@public.limit.depth.v3.api.pb"
    if version:
        b.version = version
    return w.SerializeToString()


DOCS = _push("36913565463", [("93179.98", "2.82651000")], [("93180.18", "0.21976424")])


def _books(gw: MexcPublicGateway) -> list[BookSnapshot]:
    return [e for _, e, _ in gw.pub.out if isinstance(e, BookSnapshot)]


def _statuses(gw: MexcPublicGateway) -> list[MarketStatus]:
    return [e for _, e, _ in gw.pub.out if isinstance(e, MarketStatus)]


def test_default_subscribes_the_aggre_diffs_and_the_option_the_limit_channel() -> None:
    """Default unchanged (aggre depth diffs); mexc_limit_depth=N subscribes the symbol-before-level channel."""
    default = MexcPublicGateway(None, None, Market.SPOT, ["BTC-USDT"], None, GatewayOptions())  # type: ignore[arg-type]
    assert default.install_feeds([BTC])[0] == "spot@public.aggre.depth.v3.api.pb@100ms@BTCUSDT"
    assert _gw(10).feeds["BTC-USDT"].channels == (
        "spot@public.limit.depth.v3.api.pb@BTCUSDT@10", "spot@public.aggre.bookTicker.v3.api.pb@100ms@BTCUSDT",
        "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT")


def test_a_level_the_venue_does_not_serve_is_refused() -> None:
    """Only 5, 10 and 20 are limit depth levels: the config and the gateway refuse others."""
    with pytest.raises(ValueError, match="mexc_limit_depth"):
        GatewayOptions(mexc_limit_depth=7)
    with pytest.raises(ConfigError):
        MexcPublicGateway(None, None, Market.SPOT, [], None, GatewayOptions(), limit_depth=50)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        parse.public_channels("BTCUSDT", limit=15)


def test_first_push_is_an_ok_book_at_once() -> None:
    """The docs' push: status ok then an ok book, seq = version, ts_event = sendTime, no REST snapshot."""
    gw = _gw()
    gw.on_binary(DOCS)
    (status,) = _statuses(gw)
    assert status.state is BookState.OK
    (book,) = _books(gw)
    assert book.state is BookState.OK and book.seq == 36913565463 and book.ts_event == 1736411838730 * 1_000_000
    assert [(x.price, x.size) for x in book.bids] == [(93179.98, 2.82651)]
    assert [(x.price, x.size) for x in book.asks] == [(93180.18, 0.21976424)]
    assert gw.ready() is False and gw.feeds["BTC-USDT"].sync.ok  # ready also wants the sockets; the book is ok
    assert gw.counters()["frames_depth"] == 1 and gw.counters()["snapshots"] == 0


def test_each_push_replaces_the_book_and_older_versions_are_dropped() -> None:
    """A newer push replaces the whole top N (levels gone from it are gone); a push not newer is dropped."""
    gw = _gw()
    gw.on_binary(_push("10", [("100", "1"), ("99", "2")], [("101", "1")]))
    gw.on_binary(_push("12", [("100", "3")], [("102", "1"), ("103", "4")]))
    gw.on_binary(_push("12", [("1", "1")], [("2", "1")]))  # the same push from the other socket of a rotation
    gw.on_binary(_push("11", [("1", "1")], [("2", "1")]))  # late
    books = _books(gw)
    assert [b.seq for b in books] == [10, 12]
    assert [(x.price, x.size) for x in books[-1].bids] == [(100.0, 3.0)]
    assert [x.price for x in books[-1].asks] == [102.0, 103.0]
    assert gw.feeds["BTC-USDT"].sync.dropped == 2


def test_after_a_disconnect_any_version_is_taken() -> None:
    """A stale book (disconnect) takes the next push whatever its version: the venue may have restarted its ids."""
    gw = _gw()
    f = gw.feeds["BTC-USDT"]
    gw.on_binary(_push("500", [("100", "1")], [("101", "1")]))
    f.sync.mark_stale(R_DISCONNECTED)
    gw._publish_stale(f)
    gw.on_binary(_push("7", [("90", "1")], [("91", "1")]))
    books = _books(gw)
    assert [(b.state, b.seq) for b in books] == [(BookState.OK, 500), (BookState.STALE, 500), (BookState.OK, 7)]
    assert [s.state for s in _statuses(gw)] == [BookState.OK, BookState.STALE, BookState.OK]


def test_a_crossed_push_is_stale_until_a_sound_one() -> None:
    """A crossed top N is never published ok: stale at once, ok again with the next push that is not crossed."""
    gw = _gw()
    gw.on_binary(_push("1", [("100", "1")], [("101", "1")]))
    gw.on_binary(_push("2", [("102", "1")], [("101", "1")]))
    gw.on_binary(_push("3", [("100", "1")], [("101", "1")]))
    assert [(b.state, b.seq) for b in _books(gw)] == [(BookState.OK, 1), (BookState.STALE, 2), (BookState.OK, 3)]


def test_a_push_without_version_follows_the_book() -> None:
    """No version on the wire (proto3 default ""): the held seq + 1, so it is neither dropped nor a gap."""
    gw = _gw()
    gw.on_binary(_push("40", [("100", "1")], [("101", "1")]))
    gw.on_binary(_push("", [("100", "2")], [("101", "1")]))
    assert [b.seq for b in _books(gw)] == [40, 41]


def test_depth_option_caps_the_published_levels() -> None:
    """``depth`` still caps the published levels: a top 20 push published at depth 3 has 3 levels a side."""
    gw = _gw(20, depth=3)
    gw.on_binary(_push("9", [(str(100 - i), "1") for i in range(20)], [(str(101 + i), "1") for i in range(20)]))
    (book,) = _books(gw)
    assert [x.price for x in book.bids] == [100.0, 99.0, 98.0] and [x.price for x in book.asks] == [101.0, 102.0, 103.0]


def test_limit_push_is_unrouted_in_the_default_mode() -> None:
    """Default mode: a limit depth push (not subscribed) is counted unrouted and changes no book."""
    gw = MexcPublicGateway(None, None, Market.SPOT, ["BTC-USDT"], None, GatewayOptions())  # type: ignore[arg-type]
    gw.install_feeds([BTC])
    gw.on_binary(DOCS)
    assert gw.unrouted == 1 and not _books(gw) and gw.parse_errors == 0
