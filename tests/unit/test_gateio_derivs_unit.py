"""Gate perpetual open interest, public liquidations and candles, decoded from the venue's documented payloads and
fed to the gateway directly (no I/O): what is published, in which units, and that no liquidation is published twice."""

from __future__ import annotations

import msgspec
import pytest
from arb.bus.subjects import MdSubjects
from arb.config.schema import GatewayOptions, VenueEndpoints
from arb.core.enums import Market, Side, Venue
from arb.core.errors import ConfigError
from arb.core.market_data import Kline, Liquidation, OpenInterest
from arb.testing import bounded
from arb.venues.gateio.public import GatePublicGateway, LiqCursor, _Book
from arb.venues.gateio.schemas import Candle, ContractStat, LiqOrder
from arb.venues.gateio.ws import PublicWs

pytestmark = pytest.mark.unit

# Gate Futures WS v4 docs, "Public liquidation order" push (2026-08 version: time in ms, several orders per frame)
LIQ_WS = ('{"channel":"futures.public_liquidates","event":"update","time":1541505434,"time_ms":1541505434123,'
          '"result":[{"price":"215.1","size":"-124.5","time":1541486601123,"contract":"BTC_USDT"},'
          '{"price":"215.2","size":"-10.5","time":1541486601456,"contract":"BTC_USDT"}]}')
# the same docs before 2026-08: time in seconds, integer size without X-Gate-Size-Decimal
LIQ_WS_OLD = ('{"channel":"futures.public_liquidates","event":"update","time":1541505434,"time_ms":1541505434123,'
              '"result":[{"price":"215.1","size":-124,"time":1541486601,"contract":"BTC_USDT"}]}')
# Gate Futures WS v4 docs, "Candlesticks" push (cryptofeed keeps the same sample); ``n`` renamed to our contract
CANDLE_WS = ('{"time":1542162490,"time_ms":1542162490123,"channel":"futures.candlesticks","event":"update",'
             '"error":null,"result":[{"t":1545129300,"v":27525555,"c":"95.4","h":"96.9","l":"89.5","o":"94.3",'
             '"n":"1m_BTC_USDT","a":"314732.87412","w":false}]}')
# GET /futures/usdt/candlesticks (APIv4 docs example)
CANDLES_REST = b'[{"t":1539852480,"v":97151,"c":"1.032","h":"1.032","l":"1.032","o":"1.032","sum":"3580"}]'
MULT = 10000.0  # contracts per base unit (quanto_multiplier 0.0001)


class _Rest:
    def __init__(self, stats: list[ContractStat] = (), liqs: list[LiqOrder] = (), candles: list[Candle] = ()) -> None:
        self.stats = list(stats)
        self.liqs = list(liqs)
        self.candles = list(candles)

    async def contract_stats(self, contract: str, from_s: int, interval: str = "5m") -> list[ContractStat]:
        return self.stats

    async def liq_orders(self, contract: str, from_s: int, to_s: int, limit: int = 1000) -> list[LiqOrder]:
        return [r for r in self.liqs if from_s <= r.time <= to_s]

    async def futures_candles(self, contract: str, interval: str, limit: int) -> list[Candle]:
        return self.candles


def _gateway(rest: object = None, **opts: object) -> tuple[GatePublicGateway, object]:
    gw = GatePublicGateway(Market.FUTURES, ["BTC-USDT"], None, rest, None,  # type: ignore[arg-type]
                           VenueEndpoints(rest_url="http://x/api/v4", ws_url="ws://x/ws"),
                           GatewayOptions(**opts))  # type: ignore[arg-type]
    gw.books["BTC_USDT"] = _Book("BTC-USDT", "BTC_USDT", MdSubjects.of(Venue.GATEIO, Market.FUTURES, "BTC-USDT"),
                                 MULT, futures=True)
    return gw, PublicWs(Market.FUTURES, gw).on_text


def _events(gw: GatePublicGateway, t: type) -> list:
    return [e for _, e, _ in gw._out if isinstance(e, t)]


def test_ws_liquidations_decode_in_base_with_the_order_side_and_the_venue_time():
    """The documented push: two sell orders (longs liquidated), sizes / multiplier, ms times, source ws."""
    gw, feed = _gateway()
    feed(LIQ_WS)
    liqs = _events(gw, Liquidation)
    assert [(x.price, x.size, x.side, x.ts_event, x.source) for x in liqs] == [
        (215.1, 124.5 / MULT, Side.SELL, 1541486601123_000_000, "ws"),
        (215.2, 10.5 / MULT, Side.SELL, 1541486601456_000_000, "ws")]
    assert all(x.symbol == "BTC-USDT" and x.venue is Venue.GATEIO and x.ts_recv > 0 for x in liqs)
    assert gw._out[0][0] == "md.gateio.futures.BTC-USDT.liquidation"


def test_ws_liquidation_in_seconds_with_integer_size_is_read_too():
    """The older docs' push (time in s, integer contracts) gives the same event shape."""
    gw, feed = _gateway()
    feed(LIQ_WS_OLD)
    (x,) = _events(gw, Liquidation)
    assert (x.size, x.side, x.ts_event) == (124 / MULT, Side.SELL, 1541486601_000_000_000)


def test_a_liquidation_read_again_over_rest_is_not_published_twice():
    """WS order size -124 at 215.1 and the REST row of the same liquidation (position +124, order price 215.1) are
    one liquidation; a later one at the same second is another."""
    rest = _Rest(liqs=[LiqOrder(time=1541486601, contract="BTC_USDT", size=124, order_price="215.1",
                                fill_price="215.0"),
                       LiqOrder(time=1541486601, contract="BTC_USDT", size=-3, order_price="216", fill_price="216")])
    gw, feed = _gateway(rest)
    feed(LIQ_WS_OLD)
    for r in rest.liqs:
        gw._rest_liquidation(gw.books["BTC_USDT"], r, 1)
    feed(LIQ_WS_OLD)  # a repeat of the push
    liqs = _events(gw, Liquidation)
    assert [(x.side, x.size, x.source) for x in liqs] == [(Side.SELL, 124 / MULT, "ws"), (Side.BUY, 3 / MULT, "rest")]
    assert gw.liq["BTC_USDT"].dropped == 2


def test_liq_cursor_keeps_its_memory_bounded_behind_the_newest():
    """Past 10 000 keys, only those within the keep window of the newest second stay."""
    c = LiqCursor()
    for i in range(10_001):
        assert c.admit(i, -1.0, 1.0)
    assert len(c.seen) <= 3602 and c.sec == 10_000 and not c.admit(10_000, -1.0, 1.0)


async def test_rest_catch_up_publishes_history_oldest_first_and_a_restart_repeats_none():
    """liq_orders rows (newest first from the venue) go out oldest first; a second catch-up publishes nothing."""
    import time

    now = int(time.time())
    rest = _Rest(liqs=[LiqOrder(time=now - 5, contract="BTC_USDT", size=2, order_price="100", fill_price="99.5"),
                       LiqOrder(time=now - 9, contract="BTC_USDT", size=-1, order_price="101", fill_price="0")])
    gw, _ = _gateway(rest)
    await bounded(gw._catch_up(), 5, "catch up")
    await bounded(gw._catch_up(), 5, "catch up again")
    liqs = _events(gw, Liquidation)
    assert [(x.ts_event, x.price, x.side, x.source) for x in liqs] == [
        ((now - 9) * 1_000_000_000, 101.0, Side.BUY, "rest"), ((now - 5) * 1_000_000_000, 99.5, Side.SELL, "rest")]


async def test_open_interest_is_the_newest_bucket_in_base_and_published_only_when_it_moves():
    """contract_stats: the newest bucket, contracts / multiplier, quote notional as stated; a repeat is not
    published, a changed value in the same bucket is."""
    stats = msgspec.json.decode(b'[{"time":1603865100,"open_interest":124000,"open_interest_usd":10204.3},'
                                b'{"time":1603865400,"lsr_taker":100,"open_interest":124724,'
                                b'"open_interest_usd":10300.5}]', type=list[ContractStat])
    rest = _Rest(stats=stats)
    gw, _ = _gateway(rest)
    await bounded(gw.poll_open_interest(), 5, "poll")
    await bounded(gw.poll_open_interest(), 5, "poll")
    rest.stats = [ContractStat(time=1603865400, open_interest="125000", open_interest_usd="10400")]
    await bounded(gw.poll_open_interest(), 5, "poll")
    ois = _events(gw, OpenInterest)
    assert [(x.size, x.notional, x.ts_event) for x in ois] == [(124724 / MULT, 10300.5, 1603865400_000_000_000),
                                                               (125000 / MULT, 10400.0, 1603865400_000_000_000)]
    assert gw._out[0][0] == "md.gateio.futures.BTC-USDT.oi"


def test_ws_candle_decodes_with_its_interval_and_base_volume():
    """The documented candlestick push: ``n`` gives interval and contract, ``v`` contracts -> base, ``w`` closed."""
    gw, feed = _gateway(kline_intervals=("1m",))
    feed(CANDLE_WS)
    (k,) = _events(gw, Kline)
    assert (k.interval, k.open_ns, k.open, k.high, k.low, k.close, k.volume, k.closed, k.ts_event) == (
        "1m", 1545129300_000_000_000, 94.3, 96.9, 89.5, 95.4, 27525555 / MULT, False, 1542162490123_000_000)
    assert gw._out[0][0] == "md.gateio.futures.BTC-USDT.kline"


async def test_rest_candles_backfill_closed_windows_and_never_go_back():
    """GET candlesticks: a past window is published closed with its quote volume; an older WS candle after it is
    not published."""
    rest = _Rest(candles=msgspec.json.decode(CANDLES_REST, type=list[Candle]))
    gw, feed = _gateway(rest, kline_intervals=("1m",), liquidations=False)
    await bounded(gw._catch_up(), 5, "catch up")
    feed(CANDLE_WS.replace('"t":1545129300', '"t":1539852420'))  # one window before the backfilled one
    (k,) = _events(gw, Kline)
    assert (k.open_ns, k.close, k.volume, k.quote_volume, k.closed) == (1539852480_000_000_000, 1.032, 97151 / MULT,
                                                                       3580.0, True)


def test_a_candle_with_a_bad_number_is_counted_not_published():
    """A price that is not a number: a parse error, nothing published, the next frame still read."""
    gw, feed = _gateway(kline_intervals=("1m",))
    feed(CANDLE_WS.replace('"c":"95.4"', '"c":"x"'))
    feed(CANDLE_WS)
    assert gw.parse_errors == 1 and len(_events(gw, Kline)) == 1


def test_an_interval_gate_does_not_serve_is_refused_at_construction():
    """kline_intervals names only Gate's intervals; another is a config error naming the choices."""
    with pytest.raises(ConfigError, match="gateio has no 2m"):
        _gateway(kline_intervals=("2m",))


async def test_a_futures_window_left_open_by_the_channel_is_settled_over_rest():
    """Futures pushes without ``w``: after the next window's first push the REST candles are read and the window goes
    out closed (base volume, quote volume), the open row of the read not at all."""
    t0 = 1539852480
    rows = (f'[{{"t":{t0},"v":97151,"c":"1.032","h":"1.032","l":"1.032","o":"1.032","sum":"3580"}},'
            f'{{"t":{t0 + 60},"v":5,"c":"1.1","h":"1.1","l":"1.1","o":"1.1","sum":"5.5"}}]').encode()
    rest = _Rest(candles=msgspec.json.decode(rows, type=list[Candle]))
    gw, feed = _gateway(rest, kline_intervals=("1m",), liquidations=False)
    gw.clock_s = lambda: t0 + 90  # the REST read happens inside the next window
    gw.settler.settle_s = 0.0
    no_w = CANDLE_WS.replace(',"w":false', "")
    feed(no_w.replace('"t":1545129300', f'"t":{t0}'))
    feed(no_w.replace('"t":1545129300', f'"t":{t0 + 60}'))
    await bounded(gw.settler.settle(), 5, "settle")
    got = [(k.open_ns // 1_000_000_000, k.closed, k.volume, k.quote_volume) for k in _events(gw, Kline)]
    assert got[2:] == [(t0, True, 97151 / MULT, 3580.0)] and [g[:2] for g in got[:2]] == [(t0, False), (t0 + 60, False)]
