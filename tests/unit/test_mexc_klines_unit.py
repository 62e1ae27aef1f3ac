"""MEXC spot candles, from the venue's documented samples (the "K-line Streams" push, body 308, and the
``GET /api/v3/klines`` response), fed to the gateway directly: both frame readers, units, closed, no closed twice."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from arb.config.schema import GatewayOptions
from arb.core.enums import Market, Venue
from arb.core.errors import ConfigError
from arb.core.market_data import Kline
from arb.core.symbols import Symbol, SymbolInfo
from arb.testing import bounded
from arb.venues.mexc import parse
from arb.venues.mexc import public as mexc_public
from arb.venues.mexc.public import MexcPublicGateway
from arb.venues.mexc.schemas import KlineRow

from proto.gen.mexc.PushDataV3ApiWrapper_pb2 import PushDataV3ApiWrapper

pytestmark = pytest.mark.unit

BTC = SymbolInfo(Venue.MEXC, Market.SPOT, Symbol("BTC", "USDT"), "BTCUSDT", Decimal("0.01"), Decimal("0.000001"),
                 Decimal("0.000001"))
# docs, "Kline/Candlestick Data" response (verbatim)
ROWS_DOCS = b'[[1640804880000,"47482.36","47482.36","47416.57","47436.1","3.550717",1640804940000,"168387.3"]]'


def _push(start: int = 1736410500, end: int = 1736411400, create_ms: int = 1736410707571, interval: str = "Min15",
          close: str = "93158.47") -> bytes:
    """The docs' K-line push (the JSON rendering of the protobuf frame, fields as in PublicSpotKlineV3Api)."""
    w = PushDataV3ApiWrapper(channel=f"spot@public.kline.v3.api.pb@BTCUSDT@{interval}", symbol="BTCUSDT",
                             symbolId="2fb942154ef44a4ab2ef98c8afb6a4a7", createTime=create_ms)
    k = w.publicSpotKline
    k.interval, k.windowStart, k.windowEnd = interval, start, end
    k.openingPrice, k.closingPrice, k.highestPrice, k.lowestPrice = "92925", close, "93158.47", "92800"
    k.volume, k.amount = "36.83803224", "3424811.05"
    return w.SerializeToString()


class _Rest:
    def __init__(self, rows: bytes) -> None:
        self.rows = msgspec.json.decode(rows, type=list[KlineRow])
        self.calls: list[tuple[str, str, int]] = []

    async def klines(self, venue_symbol: str, interval: str, limit: int = 500) -> list[KlineRow]:
        self.calls.append((venue_symbol, interval, limit))
        return self.rows


def _gw(rest: object = None, **opts: object) -> MexcPublicGateway:
    gw = MexcPublicGateway(rest, None, Market.SPOT, ["BTC-USDT"], None, GatewayOptions(**opts))  # type: ignore[arg-type]
    gw.install_feeds([BTC])
    return gw


def _klines(gw: MexcPublicGateway) -> list[Kline]:
    return [e for _, e, _ in gw.pub.out if isinstance(e, Kline)]


@pytest.fixture(params=["compiled", "upb"])
def reader(request, monkeypatch) -> str:
    if request.param == "upb":
        monkeypatch.setattr(mexc_public, "_decode", lambda data: None)  # every frame through the upb fallback
    return request.param


def test_docs_push_decodes_with_base_and_quote_volume(reader: str) -> None:
    """windowStart (s) -> open_ns, volume base, amount quote, createTime the venue time, the REST interval name;
    open (its window ends after the push); on md.mexc.spot.BTC-USDT.kline."""
    gw = _gw(kline_intervals=("15m",))
    gw.on_binary(_push())
    (k,) = _klines(gw)
    assert (k.venue, k.market, k.symbol, k.interval, k.open_ns) == (Venue.MEXC, Market.SPOT, "BTC-USDT", "15m",
                                                                     1736410500_000_000_000)
    assert (k.open, k.high, k.low, k.close, k.volume, k.quote_volume, k.closed) == (
        92925.0, 93158.47, 92800.0, 93158.47, 36.83803224, 3424811.05, False)
    assert k.ts_event == 1736410707571_000_000 and k.ts_recv > 0 and gw.parse_errors == 0
    assert gw.pub.out[0][0] == "md.mexc.spot.BTC-USDT.kline"


def test_a_push_at_or_after_its_window_end_is_closed_and_goes_out_once(reader: str) -> None:
    """A push sent when the window had ended is the closed candle; the same again (a reconnect) and an older window
    are dropped; an interval not configured is not published."""
    gw = _gw(kline_intervals=("15m",))
    gw.on_binary(_push(create_ms=1736411400_000))
    gw.on_binary(_push(create_ms=1736411400_500))
    gw.on_binary(_push(start=1736409600, end=1736410500))
    gw.on_binary(_push(interval="Min1"))
    assert [(k.open_ns // 10**9, k.closed) for k in _klines(gw)] == [(1736410500, True)]
    assert gw.klines.dropped == 2 and gw.unrouted == 1


async def test_docs_rest_rows_backfill_closed_and_the_socket_repeats_no_closed_window(reader: str) -> None:
    """GET /api/v3/klines: open time ms, base volume, close time past -> closed, quote volume; the push of that
    window after it is dropped, the next window goes out."""
    rest = _Rest(ROWS_DOCS)
    gw = _gw(rest, kline_intervals=("1m",), kline_backfill=20)
    await bounded(gw.backfill_klines(), 5, "backfill")
    gw.on_binary(_push(start=1640804880, end=1640804940, create_ms=1640804930000, interval="Min1"))
    gw.on_binary(_push(start=1640804940, end=1640805000, create_ms=1640804950000, interval="Min1"))
    ks = _klines(gw)
    assert [(k.open_ns // 10**9, k.closed) for k in ks] == [(1640804880, True), (1640804940, False)]
    k = ks[0]
    assert (k.open, k.high, k.low, k.close, k.volume, k.quote_volume, k.ts_event) == (
        47482.36, 47482.36, 47416.57, 47436.1, 3.550717, 168387.3, 1640804880000_000_000)
    assert rest.calls == [("BTCUSDT", "1m", 20)]


def test_a_malformed_rest_row_is_counted_and_the_others_published() -> None:
    """A row whose price is not a number is a parse error; the other row still goes out."""
    gw = _gw(kline_intervals=("1m",))
    rows = msgspec.json.decode(b'[[60000,"x","1","1","1","1",120000,"1"],[120000,"1","1","1","1","2",180000,"2"]]',
                               type=list[KlineRow])
    gw.kline_rows(gw.feeds["BTC-USDT"], "1m", rows, 10**13, 1)
    assert gw.parse_errors == 1 and [k.volume for k in _klines(gw)] == [2.0]


def test_each_configured_interval_is_subscribed_by_its_ws_name() -> None:
    """REST names in the config, the docs' WS names in the channel (symbol before interval)."""
    gw = MexcPublicGateway(None, None, Market.SPOT, ["BTC-USDT"], None,  # type: ignore[arg-type]
                           GatewayOptions(kline_intervals=("1m", "60m", "1W")))
    subs = gw.install_feeds([BTC])
    assert [c for c in subs if "kline" in c] == ["spot@public.kline.v3.api.pb@BTCUSDT@Min1",
                                                  "spot@public.kline.v3.api.pb@BTCUSDT@Min60",
                                                  "spot@public.kline.v3.api.pb@BTCUSDT@Week1"]
    assert parse.KLINE_INTERVALS["1M"] == "Month1"


def test_an_interval_mexc_does_not_serve_is_refused_at_construction() -> None:
    """Gate's 10s (or the WS-only Hour8's 8h) is a config error naming MEXC's choices."""
    with pytest.raises(ConfigError, match="mexc has no 10s"):
        _gw(kline_intervals=("10s",))


T0 = 1736410500  # a minute boundary; the tests' clock stands inside the next window, never the wall clock's
T1 = T0 + 60


def _rows(*windows: int) -> bytes:
    """REST rows of 1m windows (open 1, high 2, low 0.5, close 1.5, volume 3 + i, quote 4.5)."""
    return ("[" + ",".join(f'[{t * 1000},"1","2","0.5","1.5","{3 + i}",{(t + 60) * 1000},"4.5"]'
                           for i, t in enumerate(windows)) + "]").encode()


class _FlakyRest(_Rest):
    """``klines`` fails ``fail`` times, then answers ``rows``."""

    def __init__(self, rows: bytes, fail: int) -> None:
        super().__init__(rows)
        self.fail = fail

    async def klines(self, venue_symbol: str, interval: str, limit: int = 500) -> list[KlineRow]:
        self.calls.append((venue_symbol, interval, limit))
        if self.fail:
            self.fail -= 1
            raise ConnectionError("503")
        return self.rows


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def _settling_gw(rest: _Rest, now_s: int) -> tuple[MexcPublicGateway, _Clock]:
    """A gateway whose REST reads see the wall clock at ``now_s`` and whose settler runs on a fake monotonic clock."""
    gw = _gw(rest, kline_intervals=("1m",))
    gw.clock_ns = lambda: now_s * 10**9
    clock = _Clock()
    gw.settler.clock = clock
    gw.settler.settle_s = 0.5
    return gw, clock


async def test_a_new_window_reads_the_closed_one_over_rest_once() -> None:
    """The first push of a window makes the settler read the newest rows: the previous window goes out closed (after
    the new window's open candle, the one candle that comes late), once; the new window's open row from that read is
    not published (it may be older than the last push)."""
    rest = _Rest(_rows(T0, T1))
    gw, clock = _settling_gw(rest, T1 + 59)  # one second before the new window ends: its row is open
    gw.on_binary(_push(start=T0, end=T1, create_ms=T0 * 1000 + 10, interval="Min1"))
    gw.on_binary(_push(start=T1, end=T1 + 60, create_ms=T1 * 1000 + 10, interval="Min1"))
    await bounded(gw.settler.settle(), 5, "settle before its time")
    assert rest.calls == []
    clock.t += 0.5
    await bounded(gw.settler.settle(), 5, "settle")
    got = [(k.open_ns // 10**9, k.closed) for k in _klines(gw)]
    assert got == [(T0, False), (T1, False), (T0, True)]
    closed = _klines(gw)[-1]
    assert (closed.open, closed.high, closed.low, closed.close, closed.volume, closed.quote_volume) == (
        1.0, 2.0, 0.5, 1.5, 3.0, 4.5)
    assert rest.calls == [("BTCUSDT", "1m", 2)] and not gw.settler.due
    await bounded(gw.settler.settle(), 5, "nothing left")
    assert len(rest.calls) == 1


async def test_a_failed_read_keeps_the_window_due_and_is_retried_with_backoff() -> None:
    """The REST read fails twice: the window stays due, is read again after 1 s then 2 s (not before), and its closed
    candle goes out on the third read; a window that became due meanwhile is covered by the same read."""
    rest = _FlakyRest(_rows(T0, T1, T1 + 60), fail=2)
    gw, clock = _settling_gw(rest, T1 + 61)
    gw.on_binary(_push(start=T0, end=T1, create_ms=T0 * 1000 + 10, interval="Min1"))
    gw.on_binary(_push(start=T1, end=T1 + 60, create_ms=T1 * 1000 + 10, interval="Min1"))
    clock.t += 0.5
    await bounded(gw.settler.settle(), 5, "first read")
    assert len(rest.calls) == 1 and gw.settler.failures == 1 and ("BTCUSDT", "1m") in gw.settler.due
    clock.t += 0.9
    await bounded(gw.settler.settle(), 5, "too early")
    assert len(rest.calls) == 1
    clock.t += 0.1
    gw.on_binary(_push(start=T1 + 60, end=T1 + 120, create_ms=(T1 + 60) * 1000 + 10, interval="Min1"))
    await bounded(gw.settler.settle(), 5, "second read")
    assert len(rest.calls) == 2 and not any(k.closed for k in _klines(gw))
    clock.t += 2.0
    await bounded(gw.settler.settle(), 5, "third read")
    assert [(k.open_ns // 10**9, k.closed) for k in _klines(gw) if k.closed] == [(T0, True), (T1, True)]
    assert rest.calls[-1] == ("BTCUSDT", "1m", 3) and not gw.settler.due and gw.settler.settled == 1


async def test_reads_stop_after_max_tries() -> None:
    """A REST that never answers: the window is given up after ``max_tries`` reads (counted), nothing published."""
    rest = _FlakyRest(_rows(T0, T1), fail=100)
    gw, clock = _settling_gw(rest, T1 + 30)
    gw.settler.max_tries = 3
    gw.on_binary(_push(start=T0, end=T1, create_ms=T0 * 1000 + 10, interval="Min1"))
    gw.on_binary(_push(start=T1, end=T1 + 60, create_ms=T1 * 1000 + 10, interval="Min1"))
    for _ in range(5):
        clock.t += 60.0
        await bounded(gw.settler.settle(), 5, "read")
    assert len(rest.calls) == 3 and gw.settler.lost == 1 and not gw.settler.due
    assert not any(k.closed for k in _klines(gw))
