"""Gate spot candles, decoded from the venue's documented payloads (Spot WS v4 ``spot.candlesticks`` push, APIv4
``GET /spot/candlesticks`` rows) and fed to the gateway directly (no I/O): units, closed flag, no closed window twice."""

from __future__ import annotations

import time

import msgspec
import pytest
from arb.bus.subjects import MdSubjects
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Venue
from arb.core.market_data import Kline
from arb.testing import bounded
from arb.venues.gateio.public import GatePublicGateway, _Book
from arb.venues.gateio.schemas import SpotCandleRow
from arb.venues.gateio.ws import PublicWs

pytestmark = pytest.mark.unit

# Gate Spot WS v4 docs, "Candlesticks Channel", server notification (verbatim)
CANDLE_WS = ('{"time":1606292600,"time_ms":1606292600376,"channel":"spot.candlesticks","event":"update","result":'
             '{"t":"1606292580","v":"2362.32035","c":"19128.1","h":"19128.1","l":"19128.1","o":"19128.1",'
             '"n":"1m_BTC_USDT","a":"3.8283","w":true}}')
# APIv4 docs, "Market K-line chart" (GET /spot/candlesticks), 200 response example (verbatim: 7 values)
CANDLES_DOCS = b'[["1539852480","971519.677","0.0021724","0.0021922","0.0021724","0.0021737","true"]]'
# the same endpoint with every column of its response schema (8: base volume, then the window flag)
CANDLES_FULL = (b'[["1539852480","971519.677","0.0021724","0.0021922","0.0021724","0.0021737","447.2","true"],'
                b'["1539852540","12.5","0.0021","0.0021","0.0021","0.0021","5.9","false"]]')


class _Rest:
    def __init__(self, rows: bytes) -> None:
        self.rows = msgspec.json.decode(rows, type=list[SpotCandleRow])
        self.calls: list[tuple[str, str, int]] = []

    async def spot_candles(self, pair: str, interval: str, limit: int) -> list[SpotCandleRow]:
        self.calls.append((pair, interval, limit))
        return self.rows


def _gateway(rest: object = None, **opts: object) -> tuple[GatePublicGateway, object]:
    gw = GatePublicGateway(Market.SPOT, ["BTC-USDT"], None, rest, None,  # type: ignore[arg-type]
                           VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"),
                           GatewayOptions(**opts))  # type: ignore[arg-type]
    gw.books["BTC_USDT"] = _Book("BTC-USDT", "BTC_USDT", MdSubjects.of(Venue.GATEIO, Market.SPOT, "BTC-USDT"), 1.0,
                                 futures=False)
    return gw, PublicWs(Market.SPOT, gw).on_text


def _klines(gw: GatePublicGateway) -> list[Kline]:
    return [e for _, e, _ in gw._out if isinstance(e, Kline)]


def test_ws_candle_decodes_with_base_and_quote_volume_and_the_window_flag():
    """The documented push: ``n`` names interval and pair, ``a`` is the base volume, ``v`` the quote volume, ``w``
    closed, ``time_ms`` the venue time; published on md.gateio.spot.BTC-USDT.kline."""
    gw, feed = _gateway(kline_intervals=("1m",))
    feed(CANDLE_WS)
    (k,) = _klines(gw)
    assert (k.venue, k.market, k.symbol, k.interval, k.open_ns) == (Venue.GATEIO, Market.SPOT, "BTC-USDT", "1m",
                                                                     1606292580_000_000_000)
    assert (k.open, k.high, k.low, k.close, k.volume, k.quote_volume, k.closed) == (
        19128.1, 19128.1, 19128.1, 19128.1, 3.8283, 2362.32035, True)
    assert k.ts_event == 1606292600376_000_000 and k.ts_recv > 0
    assert gw._out[0][0] == "md.gateio.spot.BTC-USDT.kline"


def test_a_closed_window_is_published_once_and_windows_never_go_back():
    """The same closed push again (a reconnect's replay) and an older window after it are dropped; the next window
    goes out open, then closed."""
    gw, feed = _gateway(kline_intervals=("1m",))
    feed(CANDLE_WS)
    feed(CANDLE_WS)
    feed(CANDLE_WS.replace('"t":"1606292580"', '"t":"1606292520"'))
    nxt = CANDLE_WS.replace('"t":"1606292580"', '"t":"1606292640"')
    feed(nxt.replace('"w":true', '"w":false'))
    feed(nxt)
    assert [(k.open_ns // 1_000_000_000, k.closed) for k in _klines(gw)] == [(1606292580, True), (1606292640, False),
                                                                          (1606292640, True)]
    assert gw.klines.dropped == 2


async def test_rest_rows_of_the_docs_example_backfill_closed_with_quote_volume():
    """The docs' 7-value row: the last value is the window flag (no base volume: 0), quote volume column 1."""
    gw, _ = _gateway(_Rest(CANDLES_DOCS), kline_intervals=("1m",), kline_backfill=50)
    await bounded(gw._catch_up(), 5, "catch up")
    (k,) = _klines(gw)
    assert (k.open_ns, k.open, k.high, k.low, k.close, k.volume, k.quote_volume, k.closed) == (
        1539852480_000_000_000, 0.0021737, 0.0021922, 0.0021724, 0.0021724, 0.0, 971519.677, True)
    assert k.ts_event == k.open_ns and gw.rest.calls == [("BTC_USDT", "1m", 50)]


async def test_rest_rows_with_every_column_then_ws_repeats_no_closed_window():
    """8-value rows: base volume and the venue's flag; the WS push of the backfilled closed window is dropped, the
    open one is updated."""
    gw, feed = _gateway(_Rest(CANDLES_FULL), kline_intervals=("1m",))
    await bounded(gw._catch_up(), 5, "catch up")
    feed(CANDLE_WS.replace('"t":"1606292580"', '"t":"1539852480"'))
    feed(CANDLE_WS.replace('"t":"1606292580"', '"t":"1539852540"').replace('"w":true', '"w":false'))
    ks = _klines(gw)
    assert [(k.open_ns // 1_000_000_000, k.volume, k.closed) for k in ks] == [
        (1539852480, 447.2, True), (1539852540, 5.9, False), (1539852540, 3.8283, False)]


async def test_a_rest_row_without_a_flag_is_closed_when_its_window_ended():
    """Six columns only (no base volume, no flag): closed from the clock, as for the perpetual."""
    now = int(time.time())
    t_old, t_now = now - now % 60 - 120, now - now % 60
    rows = f'[["{t_old}","1","2","2","2","2"],["{t_now}","1","2","2","2","2"]]'.encode()
    gw, _ = _gateway(_Rest(rows), kline_intervals=("1m",))
    await bounded(gw._catch_up(), 5, "catch up")
    assert [(k.open_ns // 1_000_000_000, k.closed) for k in _klines(gw)] == [(t_old, True), (t_now, False)]


def test_a_malformed_rest_row_is_counted_and_the_others_published():
    """A row whose time is not a number is a parse error; the rest still go out."""
    gw, _ = _gateway(kline_intervals=("1m",))
    rows = msgspec.json.decode(b'[["x","1","2","2","2","2","1","true"],["60","1","2","2","2","2","1","true"]]',
                               type=list[SpotCandleRow])
    gw._backfill_spot_klines(gw.books["BTC_USDT"], "1m", rows, time.time(), 1)
    assert gw.parse_errors == 1 and len(_klines(gw)) == 1


class _Conn:
    def __init__(self) -> None:
        self.subscriptions = ["BTC_USDT", "ETH_USDT"]
        self.sent: list[dict] = []

    async def send_str(self, s: str) -> None:
        self.sent.append(msgspec.json.decode(s))


async def test_the_socket_subscribes_one_interval_pair_per_candlesticks_request():
    """``spot.candlesticks`` with payload [interval, pair] per configured interval and pair (docs)."""
    gw, _ = _gateway(kline_intervals=("10s", "1h"))
    conn = _Conn()
    await bounded(PublicWs(Market.SPOT, gw).on_open(conn), 5, "on_open")  # type: ignore[arg-type]
    subs = [m["payload"] for m in conn.sent if m["channel"] == "spot.candlesticks"]
    assert subs == [["10s", "BTC_USDT"], ["10s", "ETH_USDT"], ["1h", "BTC_USDT"], ["1h", "ETH_USDT"]]


class _Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def test_a_window_whose_closing_push_lacks_w_is_settled_over_rest_once():
    """``w`` missing on every push ("true may be missing"): the next window's first push makes the window due; once
    ``settle_s`` passed the REST rows are read and only the closed one goes out (the open row of the new window is
    not published again); a window that went out closed from the channel is never read over REST."""
    t0, t1 = 1539852480, 1539852540
    rest = _Rest(CANDLES_FULL)  # t0 "true", t1 "false"
    gw, feed = _gateway(rest, kline_intervals=("1m",))
    clock = gw.settler.clock = _Clock()
    no_w = CANDLE_WS.replace(',"w":true', "")
    feed(no_w.replace('"t":"1606292580"', f'"t":"{t0}"'))
    feed(no_w.replace('"t":"1606292580"', f'"t":"{t1}"'))
    await bounded(gw.settler.settle(), 5, "before settle_s")
    assert rest.calls == []
    clock.t += gw.settler.settle_s
    await bounded(gw.settler.settle(), 5, "settle")
    assert [(k.open_ns // 1_000_000_000, k.closed) for k in _klines(gw)] == [(t0, False), (t1, False), (t0, True)]
    assert _klines(gw)[-1].volume == 447.2 and rest.calls == [("BTC_USDT", "1m", 2)] and not gw.settler.due
    # the next window closes from the channel (w true) before the one after it begins: no REST read
    feed(CANDLE_WS.replace('"t":"1606292580"', f'"t":"{t1}"'))
    feed(no_w.replace('"t":"1606292580"', f'"t":"{t1 + 60}"'))
    clock.t += 10
    await bounded(gw.settler.settle(), 5, "nothing due")
    assert len(rest.calls) == 1 and [k.open_ns // 1_000_000_000 for k in _klines(gw) if k.closed] == [t0, t1]
