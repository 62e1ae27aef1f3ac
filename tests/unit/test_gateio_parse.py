"""Gate.io wire -> domain: the venue's own payloads (exchange-facts PART 2), symbol rules, contracts, client ids."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest
from arb.core.commands import PlaceOrder
from arb.core.enums import Market, OrderStatus, OrderType, Side, SymbolStatus
from arb.core.errors import RateLimited, ValidationError, VenueClientError, VenueServerError
from arb.venues.common.trading import prepare
from arb.venues.gateio import parse as P
from arb.venues.gateio import schemas as S
from arb.venues.gateio.errors import to_error
from arb.venues.gateio.symbols import contract_meta, futures_info, spot_info

pytestmark = pytest.mark.unit

PAIR = (b'{"id":"ETH_USDT","base":"ETH","base_name":"Ethereum","quote":"USDT","quote_name":"Tether","fee":"0.2",'
        b'"min_base_amount":"0.001","min_quote_amount":"1.0","max_base_amount":"10000","max_quote_amount":"10000000",'
        b'"amount_precision":3,"precision":6,"trade_status":"tradable","sell_start":1516378650,"buy_start":1516378650,'
        b'"delisting_time":0,"trade_url":"https://www.gate.io/trade/ETH_USDT","st_tag":false}')
CONTRACT = (b'{"name":"BTC_USDT","type":"direct","quanto_multiplier":"0.0001","ref_discount_rate":"0",'
            b'"order_price_deviate":"0.5","maintenance_rate":"0.005","mark_type":"index","last_price":"38026",'
            b'"mark_price":"37985.6","index_price":"37954.92","funding_rate_indicative":"0.000219","mark_price_round":"0.01",'
            b'"funding_offset":0,"in_delisting":false,"risk_limit_base":"1000000","interest_rate":"0.0003",'
            b'"order_price_round":"0.1","order_size_min":1,"ref_rebate_rate":"0.2","funding_interval":28800,'
            b'"risk_limit_step":"1000000","leverage_min":"1","leverage_max":"100","risk_limit_max":"8000000",'
            b'"maker_fee_rate":"-0.00025","taker_fee_rate":"0.00075","funding_rate":"0.002053","order_size_max":1000000,'
            b'"funding_next_apply":1610035200,"short_users":977,"config_change_time":1609899548,"trade_size":28530850594,'
            b'"position_size":5223816,"long_users":455,"funding_impact_value":"60000","orders_limit":50,'
            b'"trade_id":10851092,"orderbook_id":2129638396,"enable_bonus":true,"enable_credit":true,'
            b'"create_time":1669688556,"funding_cap_ratio":"0.75","status":"trading","launch_time":1609899548}')


def test_spot_pair_rules():
    """A currency pair gives tick 10^-precision, step 10^-amount_precision, min qty/notional and fee as a rate."""
    info = spot_info(msgspec.json.decode(PAIR, type=S.CurrencyPair))
    assert info.name == "ETH-USDT" and info.venue_symbol == "ETH_USDT"
    assert (info.tick_size, info.lot_step) == (Decimal("0.000001"), Decimal("0.001"))
    assert (info.min_qty, info.min_notional, info.max_qty) == (Decimal("0.001"), Decimal("1.0"), Decimal(10000))
    assert info.taker_fee == Decimal("0.002") and info.status is SymbolStatus.TRADING


def test_spot_pair_sell_only_is_halted():
    """A pair that is only sellable is not tradable for an arbitrage leg."""
    p = msgspec.json.decode(PAIR.replace(b'"tradable"', b'"sellable"'), type=S.CurrencyPair)
    assert spot_info(p).status is SymbolStatus.HALTED


def test_contract_rules_and_funding_meta():
    """A contract gives tick, contract multiplier, min/max contracts, fees and the funding interval."""
    c = msgspec.json.decode(CONTRACT, type=S.Contract)
    info = futures_info(c)
    assert info is not None and info.name == "BTC-USDT" and info.market is Market.FUTURES
    assert info.tick_size == Decimal("0.1") and info.contract_multiplier == Decimal("0.0001")
    assert (info.lot_step, info.min_qty, info.max_qty) == (Decimal(1), Decimal(1), Decimal(1000000))
    assert info.maker_fee == Decimal("-0.00025") and not info.decimal_size
    meta = contract_meta(c)
    assert meta.funding_interval_s == 28800 and meta.funding_rate == "0.002053"


def test_decimal_size_contract_has_a_fractional_step():
    """enable_decimal with order_size_min "0.01" -> step 0.01 contracts."""
    c = msgspec.json.decode(CONTRACT.replace(b'"order_size_min":1', b'"order_size_min":"0.01","enable_decimal":true'),
                            type=S.Contract)
    info = futures_info(c)
    assert info is not None and info.decimal_size and info.lot_step == Decimal("0.01")


def test_base_qty_converts_exactly_to_contracts_or_is_refused():
    """0.0005 BTC = 5 contracts; 0.00015 BTC (1.5 contracts) is refused, never truncated."""
    info = futures_info(msgspec.json.decode(CONTRACT, type=S.Contract))
    assert info is not None
    ok = prepare(PlaceOrder("c", "BTC-USDT", Market.FUTURES, Side.BUY, Decimal("0.0005"), price=Decimal("65000.07")),
                 info)
    assert ok.venue_qty == 5 and ok.qty == Decimal("0.0005") and ok.price == Decimal("65000.0")
    with pytest.raises(ValidationError, match="1.5 contracts"):
        prepare(PlaceOrder("c", "BTC-USDT", Market.FUTURES, Side.BUY, Decimal("0.00015"), price=Decimal(1)), info)


def test_decimal_contracts_accept_multiples_of_the_step():
    """With decimal sizes 0.000123 BTC = 1.23 contracts is accepted; 1.234 is refused."""
    c = msgspec.json.decode(CONTRACT.replace(b'"order_size_min":1', b'"order_size_min":"0.01","enable_decimal":true'),
                            type=S.Contract)
    info = futures_info(c)
    assert info is not None
    p = prepare(PlaceOrder("c", "BTC-USDT", Market.FUTURES, Side.SELL, Decimal("0.000123"), price=Decimal(1)), info)
    assert p.venue_qty == Decimal("1.23")
    with pytest.raises(ValidationError):
        prepare(PlaceOrder("c", "BTC-USDT", Market.FUTURES, Side.SELL, Decimal("0.0001234"), price=Decimal(1)), info)


def test_client_id_round_trips_through_text():
    """A short id is sent as t-<id> and read back; a long or odd one is hashed to <= 28 bytes and remembered."""
    ids = P.ClientIds()
    assert ids.text("arb-42_x.y") == "t-arb-42_x.y" and ids.client_id("t-arb-42_x.y") == "arb-42_x.y"
    long = "strategy/leg:0001/" + "x" * 40
    t = ids.text(long)
    assert t.startswith("t-") and len(t.encode()) - 2 <= 28 and t == P.to_text(long)
    assert ids.client_id(t) == long
    assert ids.client_id("apiv4") == "" and ids.client_id("web") == ""


SPOT_ORDER_FULL = (b'{"id":"1852454420","text":"t-abc123","amend_text":"-","create_time":"1710488334","update_time":"1710488334",'
                   b'"create_time_ms":1710488334073,"update_time_ms":1710488334074,"status":"closed","currency_pair":"BTC_USDT",'
                   b'"type":"limit","account":"unified","side":"buy","amount":"0.001","price":"65000","time_in_force":"gtc",'
                   b'"iceberg":"0","left":"0","filled_amount":"0.001","fill_price":"63.4693","filled_total":"63.4693",'
                   b'"avg_deal_price":"63469.3","fee":"0.00000022","fee_currency":"BTC","point_fee":"0","gt_fee":"0",'
                   b'"gt_maker_fee":"0","gt_taker_fee":"0","gt_discount":false,"rebated_fee":"0",'
                   b'"rebated_fee_currency":"USDT","finish_as":"filled"}')


def _btc_spot():
    return spot_info(S.CurrencyPair(id="BTC_USDT", base="BTC", quote="USDT", amount_precision=6, precision=1))


def test_spot_order_full_response():
    """POST /spot/orders FULL: filled, avg price, client id from text, ts from update_time_ms."""
    o = P.spot_order(msgspec.json.decode(SPOT_ORDER_FULL, type=S.SpotOrder), _btc_spot(), "main", P.ClientIds(), 1)
    assert o.status is OrderStatus.FILLED and o.filled_qty == Decimal("0.001") and o.client_order_id == "abc123"
    assert o.avg_price == Decimal("63469.3") and o.ts_event == 1710488334074 * 1_000_000


def test_spot_ws_order_item_put_is_new():
    """A spot.orders put item (no status field) is an open order with nothing filled."""
    frame = (b'{"time":1694655225,"time_ms":1694655225315,"channel":"spot.orders","event":"update","result":[{"id":"399123456",'
             b'"text":"t-testtext","create_time":"1694655225","update_time":"1694655225","currency_pair":"BTC_USDT",'
             b'"type":"limit","account":"spot","side":"sell","amount":"0.0001","price":"26253.3","time_in_force":"gtc",'
             b'"left":"0.0001","filled_total":"0","avg_deal_price":"0","fee":"0","fee_currency":"USDT","point_fee":"0",'
             b'"gt_fee":"0","rebated_fee":"0","rebated_fee_currency":"USDT","create_time_ms":"1694655225315",'
             b'"update_time_ms":"1694655225315","user":3497082,"event":"put","stp_id":0,"stp_act":"-",'
             b'"finish_as":"open","biz_info":"-","amend_text":"-"}]}')
    item = msgspec.json.decode(frame, type=S.SpotOrdersFrame).result[0]
    o = P.spot_order(item, _btc_spot(), "main", P.ClientIds(), 1)
    assert o.status is OrderStatus.NEW and o.side is Side.SELL and o.filled_qty == 0 and o.client_order_id == "testtext"


def test_spot_usertrade_fee_and_side():
    """A spot.usertrades item becomes a Fill with base qty, maker flag and ms timestamp."""
    frame = (b'{"time":1605176741,"time_ms":1605176741763,"channel":"spot.usertrades","event":"update","result":[{"id":5736713,'
             b'"user_id":1000001,"order_id":"30784428","currency_pair":"BTC_USDT","create_time":1605176741,'
             b'"create_time_ms":"1605176741123.456","side":"sell","amount":"1.00000000","role":"taker",'
             b'"price":"10000.00000000","fee":"0.00200000000000","point_fee":"0","gt_fee":"0","text":"apiv4",'
             b'"id_market":5736713}]}')
    t = msgspec.json.decode(frame, type=S.SpotTradesFrame).result[0]
    f = P.spot_fill(t, _btc_spot(), "main", P.ClientIds(), 1)
    assert f.qty == Decimal("1.00000000") and f.fee_asset == "USDT" and not f.is_maker
    assert f.ts_event == 1605176741123456000 and f.client_order_id == ""


def test_fee_paid_in_gt_or_points_is_kept_with_its_asset():
    """With GT deduction (or points) Gate charges ``gt_fee`` / ``point_fee`` and ``fee`` is 0: the Fill says so,
    rather than a zero fee in the quote asset."""
    row = (b'{"id":1,"order_id":"2","currency_pair":"BTC_USDT","side":"buy","amount":"0.5","price":"10000",'
           b'"role":"maker","fee":"0","point_fee":"0","gt_fee":"0.0123","create_time":1605176741}')
    f = P.spot_fill(msgspec.json.decode(row, type=S.SpotTradeRow), _btc_spot(), "main", P.ClientIds(), 1)
    assert (f.fee, f.fee_asset) == (Decimal("0.0123"), "GT")
    row = row.replace(b'"gt_fee":"0.0123"', b'"gt_fee":"0"').replace(b'"point_fee":"0"', b'"point_fee":"0.7"')
    f = P.spot_fill(msgspec.json.decode(row, type=S.SpotTradeRow), _btc_spot(), "main", P.ClientIds(), 1)
    assert (f.fee, f.fee_asset) == (Decimal("0.7"), "POINT")
    fut = (b'{"id":"3335259","create_time":1628736848,"contract":"BTC_USDT","order_id":"4872460","size":-2,'
           b'"price":"40000.4","role":"taker","text":"api","fee":0,"point_fee":0.25}')
    info = futures_info(msgspec.json.decode(CONTRACT, type=S.Contract))
    f = P.futures_fill(msgspec.json.decode(fut, type=S.FuturesTradeRow), info, "main", P.ClientIds(), 1)
    assert (f.fee, f.fee_asset, f.side) == (Decimal("0.25"), "POINT", Side.SELL)


def test_futures_ws_order_numbers_and_base_qty():
    """A futures.orders item (numbers, not strings) -> base qty via the multiplier, filled, avg fill price."""
    frame = (b'{"channel":"futures.orders","event":"update","time":1541505434,"time_ms":1541505434123,"result":[{"contract":'
             b'"BTC_USDT","create_time":1628736847,"create_time_ms":1628736847325,"fill_price":40000.4,"finish_as":"filled",'
             b'"finish_time":1628736848,"finish_time_ms":1628736848321,"iceberg":0,"id":4872460,"is_close":false,'
             b'"is_liq":false,"is_reduce_only":false,"left":0,"mkfr":-0.00025,"price":40000.4,"refr":0,"refu":0,"size":1,'
             b'"status":"finished","text":"-","tif":"gtc","tkfr":0.0005,"user":"110xxxxx","update_id":1,'
             b'"update_time":1541505434123,"stop_loss_price":"","stop_profit_price":""}]}')
    info = futures_info(msgspec.json.decode(CONTRACT, type=S.Contract))
    item = msgspec.json.decode(frame, type=S.FuturesOrdersFrame).result[0]
    o = P.futures_order(item, info, "main", P.ClientIds(), 1)
    assert o.status is OrderStatus.FILLED and o.qty == Decimal("0.0001") and o.contracts == 1
    assert o.avg_price == Decimal("40000.4") and o.order_type is OrderType.LIMIT


def test_futures_position_and_decimal_string_sizes():
    """A position with string fields (decimal-size responses) converts contracts to base."""
    p = S.FuturesPosition(contract="BTC_USDT", size="-9440", leverage="0", entry_price="3779.55", liq_price="99999999",
                          mark_price="3780.32", margin="4.43", unrealised_pnl="-0.0005")
    info = futures_info(msgspec.json.decode(CONTRACT, type=S.Contract))
    pos = P.futures_position(p, info, "main", 1)
    assert pos.contracts == -9440 and pos.size == Decimal("-0.944") and pos.leverage == 0


def test_error_bodies_map_to_typed_errors():
    """label/message (or detail) with the HTTP status choose client, server or rate-limited errors."""
    e = to_error(400, b'{"label":"INVALID_PARAM_VALUE","message":"Invalid parameter `text` with value: abc"}', {})
    assert isinstance(e, VenueClientError) and e.code == "INVALID_PARAM_VALUE" and "text" in e.message
    e = to_error(400, b'{"label":"ORDER_POC_IMMEDIATE","detail":"order price 1700 while counter price 1793.55"}', {})
    assert e.message.startswith("order price")
    assert isinstance(to_error(503, b'{"label":"TOO_BUSY","message":"x"}', {}), VenueServerError)
    r = to_error(429, b'{"label":"TOO_MANY_REQUESTS","message":"x"}',
                 {"X-Gate-RateLimit-Reset-Timestamp": "99999999999999"})
    assert isinstance(r, RateLimited) and r.retry_after == 60.0


def test_public_frames_decode_from_the_docs_samples():
    """book_ticker, order_book_update (spot full and futures objects), trades and tickers decode to typed frames."""
    sbbo = (b'{"time":1606293275,"time_ms":1606293275723,"channel":"spot.book_ticker","event":"update","result":{"t":1606293275123,'
            b'"u":48733182,"s":"BTC_USDT","b":"19177.79","B":"0.0003341504","a":"19179.38","A":"0.09"}}')
    r = msgspec.json.Decoder(S.SpotBookTickerFrame, strict=False).decode(sbbo).result
    assert (r.b, r.B, r.a, r.u) == (19177.79, 0.0003341504, 19179.38, 48733182)
    sbook = (b'{"time":1606294781,"time_ms":1606294781236,"channel":"spot.order_book_update","event":"update","result":'
             b'{"t":1606294781123,"full":true,"l":"100","e":"depthUpdate","E":1606294781,"s":"BTC_USDT","U":48776301,'
             b'"u":48776306,"b":[["19137.74","0.0001"],["19088.37","0"]],"a":[["19137.75","0.6135"]]}}')
    b = msgspec.json.Decoder(S.SpotBookUpdateFrame, strict=False).decode(sbook).result
    assert b.full and b.b == [(19137.74, 0.0001), (19088.37, 0.0)] and (b.U, b.u) == (48776301, 48776306)
    fbook = (b'{"time":1615366381,"time_ms":1615366381123,"channel":"futures.order_book_update","event":"update","result":'
             b'{"t":1615366381417,"s":"BTC_USD","U":2517661101,"u":2517661113,"b":[{"p":"54672.1","s":0},'
             b'{"p":"54664.5","s":58794}],"a":[{"p":"54743.6","s":0},{"p":"54742","s":95}],"l":"100"}}')
    fb = msgspec.json.Decoder(S.FuturesBookUpdateFrame, strict=False).decode(fbook).result
    assert not fb.full and (fb.b[1].p, fb.b[1].s) == (54664.5, 58794.0)
    fbbo = (b'{"time":1615366379,"time_ms":1615366379123,"channel":"futures.book_ticker","event":"update","result":'
            b'{"t":1615366379123,"u":2517661076,"s":"BTC_USD","b":"54696.6","B":37000,"a":"","A":47061}}')
    fr = msgspec.json.decode(fbbo, type=S.FuturesBookTickerFrame).result
    assert fr.a == "" and fr.B == 37000
    tick = (b'{"time":1541659086,"time_ms":1541659086123,"channel":"futures.tickers","event":"update","result":[{"contract":'
            b'"BTC_USD","last":"118.4","change_percentage":"0.77","funding_rate":"-0.000114","funding_rate_indicative":'
            b'"0.01875","mark_price":"118.35","index_price":"118.36","total_size":"73648","volume_24h":"745487577"}]}')
    t = msgspec.json.decode(tick, type=S.FuturesTickersFrame).result[0]
    assert t.funding_rate == "-0.000114" and not hasattr(t, "funding_rate_indicative")
    trades = (b'{"channel":"futures.trades","event":"update","time":1541503698,"time_ms":1541503698123,"result":[{"size":-108,'
              b'"id":27753479,"create_time":1545136464,"create_time_ms":1545136464123,"price":"96.4","contract":"BTC_USD",'
              b'"is_internal":true}]}')
    tr = msgspec.json.Decoder(S.FuturesTradesFrame, strict=False).decode(trades).result[0]
    assert tr.size == -108 and tr.price == 96.4
