"""Reference data: SymbolRef from the venues' own rule payloads, its exact wire form and rounding, the publisher's
put-only-what-changed rule, and a reader that imports no venue code."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from arb.core.enums import Market, Side, SymbolStatus, Venue
from arb.core.refdata import SymbolRef, decode_ref, encode_ref, ref_key
from arb.venues.common.refpub import RefPublisher, refresh
from arb.venues.gateio import schemas as GS
from arb.venues.gateio.symbols import futures_ref, spot_ref
from arb.venues.mexc.schemas import SymbolRaw
from arb.venues.mexc.symbols import to_ref
from nats.js.errors import BucketNotFoundError

pytestmark = pytest.mark.unit

# exchange-facts.md §1 (MEXC exchangeInfo, docs example) and §2.5 / §2.6 (Gate currency pair and contract, docs)
MEXC_DOCS = (
    b'{"symbol":"TOMO3LUSDT","status":"ENABLED","baseAsset":"TOMO3L","baseAssetPrecision":2,"quoteAsset":"USDT",'
    b'"quotePrecision":3,"quoteAssetPrecision":3,"baseCommissionPrecision":2,"quoteCommissionPrecision":3,'
    b'"orderTypes":["LIMIT","LIMIT_MAKER"],"quoteOrderQtyMarketAllowed":false,"isSpotTradingAllowed":false,'
    b'"isMarginTradingAllowed":false,"quoteAmountPrecision":"5","baseSizePrecision":"0.0001",'
    b'"permissions":["SPOT","LIMIT"],"filters":[],"maxQuoteAmount":"5000000","makerCommission":"0.002",'
    b'"takerCommission":"0.002","tradeSideType":"1"}'
)
GATE_PAIR = (b'{"id":"ETH_USDT","base":"ETH","base_name":"Ethereum","quote":"USDT","quote_name":"Tether","fee":"0.2",'
             b'"min_base_amount":"0.001","min_quote_amount":"1.0","max_base_amount":"10000","max_quote_amount":"10000000",'
             b'"amount_precision":3,"precision":6,"trade_status":"tradable","sell_start":1516378650,'
             b'"buy_start":1516378650,"delisting_time":0,"trade_url":"https://www.gate.io/trade/ETH_USDT","st_tag":false}')
GATE_CONTRACT = (
    b'{"name":"BTC_USDT","type":"direct","quanto_multiplier":"0.0001","ref_discount_rate":"0",'
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
TS = 1_700_000_000_000_000_000


def _gate_futures() -> SymbolRef:
    ref = futures_ref(msgspec.json.decode(GATE_CONTRACT, type=GS.Contract), TS)
    assert ref is not None
    return ref


def test_reader_imports_no_venue_code():
    """arb.bus.refdata (and the SymbolRef it returns) load without any module under arb.venues."""
    code = 'import arb.bus.refdata, sys; assert not [m for m in sys.modules if m.startswith("arb.venues")], "venue"'
    r = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_mexc_ref_takes_fees_from_exchange_info():
    """MEXC: rules and makerCommission/takerCommission of the exchangeInfo entry, with both sources named."""
    ref = to_ref(msgspec.json.decode(MEXC_DOCS, type=SymbolRaw), TS)
    assert ref is not None
    assert (ref.venue, ref.market, ref.symbol, ref.venue_symbol) == (Venue.MEXC, Market.SPOT, "TOMO3L-USDT",
                                                                     "TOMO3LUSDT")
    assert (ref.tick, ref.step, ref.min_qty, ref.min_notional) == (Decimal("0.001"), Decimal("0.01"), Decimal("0.01"),
                                                                   Decimal(5))
    assert (ref.maker_fee, ref.taker_fee) == (Decimal("0.002"), Decimal("0.002"))
    assert ref.funding_interval_s == 0 and ref.contract_multiplier == 1 and ref.ts == TS
    assert ref.source == "mexc GET /api/v3/exchangeInfo" and "makerCommission" in ref.fee_source
    assert ref.key == "mexc.spot.TOMO3L-USDT"


def test_mexc_ref_without_commission_uses_the_public_default_tier():
    """An exchangeInfo entry without commissions gets MEXC's documented spot tier (0 % / 0.05 %), said in fee_source."""
    raw = MEXC_DOCS.replace(b'"makerCommission":"0.002",', b"").replace(b'"takerCommission":"0.002",', b"")
    ref = to_ref(msgspec.json.decode(raw, type=SymbolRaw), TS)
    assert ref is not None
    assert (ref.maker_fee, ref.taker_fee) == (Decimal(0), Decimal("0.0005"))
    assert "default tier" in ref.fee_source


def test_gate_spot_ref_fee_is_the_pairs_percentage_for_both_sides():
    """Gate spot: the pair's fee "0.2" (percent) is 0.002 for maker and taker; minimums and max from the pair."""
    ref = spot_ref(msgspec.json.decode(GATE_PAIR, type=GS.CurrencyPair), TS)
    assert (ref.symbol, ref.venue_symbol, ref.tick, ref.step) == ("ETH-USDT", "ETH_USDT", Decimal("0.000001"),
                                                                  Decimal("0.001"))
    assert (ref.min_qty, ref.min_notional, ref.max_qty) == (Decimal("0.001"), Decimal("1.0"), Decimal(10000))
    assert (ref.maker_fee, ref.taker_fee) == (Decimal("0.002"), Decimal("0.002"))
    assert ref.source == "gateio GET /spot/currency_pairs" and "fee" in ref.fee_source


def test_gate_futures_ref_has_contract_fees_multiplier_and_funding_interval():
    """Gate futures: tick, contract multiplier, contract fees (a negative maker fee is a rebate) and funding interval."""
    ref = _gate_futures()
    assert (ref.market, ref.symbol, ref.tick, ref.step, ref.min_qty) == (Market.FUTURES, "BTC-USDT", Decimal("0.1"),
                                                                          Decimal(1), Decimal(1))
    assert ref.contract_multiplier == Decimal("0.0001") and ref.max_qty == Decimal(1000000)
    assert (ref.maker_fee, ref.taker_fee) == (Decimal("-0.00025"), Decimal("0.00075"))
    assert ref.funding_interval_s == 28800 and "maker_fee_rate" in ref.fee_source


def test_wire_form_is_exact_json():
    """Decimals travel as strings and come back equal, digit for digit."""
    ref = _gate_futures()
    data = encode_ref(ref)
    assert b'"contract_multiplier":"0.0001"' in data and b'"maker_fee":"-0.00025"' in data
    back = decode_ref(data)
    assert back == ref and str(back.tick) == "0.1"


def test_rounding_and_checks_follow_the_rules():
    """Prices round to the tick never more aggressive, sizes down to the step; min/max/notional/status are checked."""
    ref = msgspec.structs.replace(_gate_futures(), min_notional=Decimal(5))
    assert ref.round_price(65000.07, Side.BUY) == Decimal("65000.0")
    assert ref.round_price("65000.01", Side.SELL) == Decimal("65000.1")
    assert ref.round_qty("2.9") == Decimal(2)
    assert ref.check(Decimal(65000), Decimal(1)) is None  # 1 contract x 0.0001 x 65000 = 6.5 USDT >= 5
    assert "min_notional" in (ref.check(Decimal(40000), Decimal(1)) or "")  # 4 USDT
    assert "max_qty" in (ref.check(Decimal(65000), Decimal(2000000)) or "")
    halted = msgspec.structs.replace(ref, status=SymbolStatus.HALTED)
    assert "not tradable" in (halted.check(Decimal(65000), Decimal(1)) or "")


def test_same_rules_ignores_time_and_changes_name_fields():
    """A later read with the same rules is the same; a changed fee is named with its old and new value."""
    ref = _gate_futures()
    later = msgspec.structs.replace(ref, ts=TS + 1)
    assert later.same_rules(ref) and not later.same_rules(None)
    cheaper = msgspec.structs.replace(later, taker_fee=Decimal("0.0005"))
    assert not cheaper.same_rules(ref)
    assert cheaper.changes(ref) == ["taker_fee 0.00075 -> 0.0005"]
    assert ref_key("gateio", Market.FUTURES, "BTC-USDT") == ref.key == "gateio.futures.BTC-USDT"


class FakeKv:
    def __init__(self, fail: int = 0) -> None:
        self.puts: list[tuple[str, bytes]] = []
        self.fail = fail

    async def put(self, key: str, value: bytes) -> int:
        if self.fail:
            self.fail -= 1
            raise TimeoutError("nats: timeout")
        self.puts.append((key, value))
        return len(self.puts)


class FakeJs:
    def __init__(self, kv: FakeKv | None) -> None:
        self.kv = kv
        self.asked: list[str] = []

    async def key_value(self, bucket: str) -> Any:
        self.asked.append(bucket)
        if self.kv is None:
            raise BucketNotFoundError()
        return self.kv


async def test_publisher_puts_all_at_start_then_only_changes():
    """First publish puts every entry; the same rules later put nothing; a changed rule puts that entry only."""
    kv = FakeKv()
    pub = RefPublisher(FakeJs(kv), "t1.")
    a = _gate_futures()
    b = msgspec.structs.replace(a, symbol="ETH-USDT", venue_symbol="ETH_USDT")
    assert await pub.publish([a, b]) == 2
    assert await pub.publish([msgspec.structs.replace(a, ts=TS + 5), b]) == 0
    changed = msgspec.structs.replace(a, ts=TS + 9, tick=Decimal("0.5"))
    assert await pub.publish([changed, b]) == 1
    assert [k for k, _ in kv.puts] == ["gateio.futures.BTC-USDT", "gateio.futures.ETH-USDT", "gateio.futures.BTC-USDT"]
    assert decode_ref(kv.puts[-1][1]) == changed
    assert pub.bucket == "T1_REF"


async def test_publisher_survives_a_missing_bucket_and_a_failed_put():
    """No bucket or a failing put never raises: nothing is marked written, so the next refresh tries again."""
    missing = RefPublisher(FakeJs(None))
    assert await missing.publish([_gate_futures()]) == 0 and not missing.published
    kv = FakeKv(fail=1)
    pub = RefPublisher(FakeJs(kv))
    assert await pub.publish([_gate_futures()]) == 0 and pub.failures == 1
    assert await pub.publish([_gate_futures()]) == 1 and len(kv.puts) == 1
    assert await RefPublisher(None).publish([_gate_futures()]) == 0


def test_refresh_marks_a_configured_symbol_the_venue_stopped_listing_delisted():
    """A refresh replaces held entries with fresh ones; a wanted symbol absent from the venue's list turns delisted."""
    btc = _gate_futures()
    eth = msgspec.structs.replace(btc, symbol="ETH-USDT", venue_symbol="ETH_USDT")
    held: dict[str, SymbolRef] = {}
    refresh(held, [btc, eth], ["BTC-USDT", "ETH-USDT"], TS)
    assert held == {"BTC-USDT": btc, "ETH-USDT": eth}
    newer = msgspec.structs.replace(btc, ts=TS + 7, taker_fee=Decimal("0.0005"))
    refresh(held, [newer], ["BTC-USDT", "ETH-USDT"], TS + 7)
    assert held["BTC-USDT"] == newer
    gone = held["ETH-USDT"]
    assert gone.status is SymbolStatus.DELISTED and gone.ts == TS + 7 and gone.tick == eth.tick
    refresh(held, [newer], ["BTC-USDT", "ETH-USDT"], TS + 9)
    assert held["ETH-USDT"] is gone  # unchanged: not put again


_MEXC_OK = MEXC_DOCS.replace(b'"isSpotTradingAllowed":false', b'"isSpotTradingAllowed":true')
_STATUS_CASES = [
    # MEXC exchangeInfo: status "1" online / "2" pause / "3" offline (or ENABLED), isSpotTradingAllowed, tradeSideType
    # 1 all / 2 buy only / 3 sell only / 4 close (exchange-facts §1.8)
    ("mexc", _MEXC_OK, SymbolStatus.TRADING),
    ("mexc", _MEXC_OK.replace(b'"ENABLED"', b'"1"'), SymbolStatus.TRADING),
    ("mexc", _MEXC_OK.replace(b'"ENABLED"', b'"2"'), SymbolStatus.HALTED),
    ("mexc", _MEXC_OK.replace(b'"ENABLED"', b'"3"'), SymbolStatus.DELISTED),
    ("mexc", MEXC_DOCS, SymbolStatus.HALTED),  # API spot trading not allowed
    ("mexc", _MEXC_OK.replace(b'"tradeSideType":"1"', b'"tradeSideType":"3"'), SymbolStatus.HALTED),
    # Gate currency pair: trade_status untradable | buyable | sellable | tradable; a past delisting_time (§2.5)
    ("spot", GATE_PAIR, SymbolStatus.TRADING),
    ("spot", GATE_PAIR.replace(b'"tradable"', b'"untradable"'), SymbolStatus.HALTED),
    ("spot", GATE_PAIR.replace(b'"tradable"', b'"sellable"'), SymbolStatus.HALTED),
    ("spot", GATE_PAIR.replace(b'"tradable"', b'"buyable"'), SymbolStatus.HALTED),
    ("spot", GATE_PAIR.replace(b'"tradable"', b'"untradable"').replace(b'"delisting_time":0',
                                                                       b'"delisting_time":1600000000'),
     SymbolStatus.DELISTED),
    # Gate contract: status prelaunch | trading | delisting | delisted, in_delisting (§2.6)
    ("futures", GATE_CONTRACT, SymbolStatus.TRADING),
    ("futures", GATE_CONTRACT.replace(b'"in_delisting":false', b'"in_delisting":true'), SymbolStatus.HALTED),
    ("futures", GATE_CONTRACT.replace(b'"status":"trading"', b'"status":"delisting"'), SymbolStatus.HALTED),
    ("futures", GATE_CONTRACT.replace(b'"status":"trading"', b'"status":"prelaunch"'), SymbolStatus.HALTED),
    ("futures", GATE_CONTRACT.replace(b'"status":"trading"', b'"status":"delisted"'), SymbolStatus.DELISTED),
]


@pytest.mark.parametrize(("kind", "payload", "status"), _STATUS_CASES)
def test_each_venues_listing_status_maps_to_trading_halted_or_delisted(kind: str, payload: bytes,
                                                                      status: SymbolStatus) -> None:
    """The venues' documented status fields map to the SymbolRef status the strategy reads."""
    if kind == "mexc":
        ref = to_ref(msgspec.json.decode(payload, type=SymbolRaw), TS)
    elif kind == "spot":
        ref = spot_ref(msgspec.json.decode(payload, type=GS.CurrencyPair), TS)
    else:
        ref = futures_ref(msgspec.json.decode(payload, type=GS.Contract), TS)
    assert ref is not None and ref.status is status
