"""Gate.io symbol rules -> SymbolInfo, for spot currency pairs and USDT perpetual contracts.

Spot (``GET /spot/currency_pairs``, facts §2.5): tick = 10^-precision, lot step = 10^-amount_precision,
min qty = ``min_base_amount``, min notional = ``min_quote_amount``, max qty = ``max_base_amount`` (null = none),
fee ``"0.2"`` is a percentage (0.2 % -> 0.002). ``trade_status`` tradable -> TRADING; buyable / sellable /
untradable -> HALTED (one side only is not something an arbitrage leg can rely on).

Futures (``GET /futures/usdt/contracts``, facts §2.6): tick = ``order_price_round``; sizes are contracts of
``quanto_multiplier`` base each; min/max qty = ``order_size_min`` / ``order_size_max`` in contracts; lot step =
1 contract, or for ``enable_decimal`` contracts the decimal step of ``order_size_min`` (``"0.01"`` -> 0.01);
fees ``maker_fee_rate`` / ``taker_fee_rate``. status trading -> TRADING, delisted -> DELISTED, prelaunch /
delisting / in_delisting -> HALTED. The unified symbol of a USDT contract ``BASE_USDT`` is ``BASE-USDT``.

Reference data (``spot_ref`` / ``futures_ref``, bucket ``REF``): spot fees are the pair's ``fee`` (one rate, so
maker = taker) and, when a pair sends none, Gate's public VIP 0 tier (https://www.gate.com/fee: 0.1 % / 0.1 %);
futures fees are the contract's ``maker_fee_rate`` / ``taker_fee_rate`` and its ``funding_interval``;
``fee_source`` says which.

Funding facts that SymbolInfo does not hold (interval, next apply time, current rate) are kept in
``ContractMeta`` for the public gateway.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from ...core.enums import Market, SymbolStatus, Venue
from ...core.numeric import ZERO
from ...core.refdata import SymbolRef
from ...core.symbols import Symbol, SymbolInfo
from .schemas import Contract, CurrencyPair

SETTLE = "USDT"
SPOT_SOURCE = "gateio GET /spot/currency_pairs"
SPOT_FEE_SOURCE = "gateio GET /spot/currency_pairs fee (one rate, maker = taker)"
# Gate fee page (https://www.gate.com/fee): spot VIP 0 maker / taker; used only when a pair sends no ``fee``
SPOT_PUBLIC_FEES = (Decimal("0.001"), Decimal("0.001"))
SPOT_PUBLIC_FEE_SOURCE = "gateio fee page, spot VIP 0 (currency pair sent no fee)"
FUTURES_SOURCE = "gateio GET /futures/usdt/contracts"
FUTURES_FEE_SOURCE = "gateio GET /futures/usdt/contracts maker_fee_rate/taker_fee_rate"


class ContractMeta(msgspec.Struct, frozen=True):
    name: str
    multiplier: Decimal
    funding_interval_s: int
    funding_next_apply_s: float
    funding_rate: str
    decimal_size: bool


def _dec(x: str | float | None) -> Decimal:
    if x is None or x == "":
        return ZERO
    return Decimal(str(x))


def _pow10(n: int) -> Decimal:
    return Decimal(1).scaleb(-n)


def _spot_status(p: CurrencyPair, now_s: float) -> SymbolStatus:
    if p.delisting_time and 0 < p.delisting_time <= now_s:
        return SymbolStatus.DELISTED
    return SymbolStatus.TRADING if p.trade_status == "tradable" else SymbolStatus.HALTED


def spot_info(p: CurrencyPair, now_s: float = 0.0) -> SymbolInfo:
    step = _pow10(p.amount_precision)
    fee = _dec(p.fee) / 100
    min_qty = _dec(p.min_base_amount)
    return SymbolInfo(
        venue=Venue.GATEIO,
        market=Market.SPOT,
        symbol=Symbol(p.base.upper(), p.quote.upper(), Market.SPOT),
        venue_symbol=p.id,
        tick_size=_pow10(p.precision),
        lot_step=step,
        min_qty=min_qty if min_qty > 0 else step,
        min_notional=_dec(p.min_quote_amount),
        max_qty=_dec(p.max_base_amount),
        maker_fee=fee,
        taker_fee=fee,
        status=_spot_status(p, now_s),
    )


def contract_base(name: str) -> str | None:
    """``BTC_USDT`` -> ``BTC``; None for anything not settled in USDT."""
    base, sep, quote = name.rpartition("_")
    return base if sep and base and quote == SETTLE else None


def _futures_status(c: Contract) -> SymbolStatus:
    if c.status == "delisted":
        return SymbolStatus.DELISTED
    if c.status != "trading" or c.in_delisting:
        return SymbolStatus.HALTED
    return SymbolStatus.TRADING


def contract_step(c: Contract) -> Decimal:
    if not c.enable_decimal:
        return Decimal(1)
    m = _dec(c.order_size_min)
    if m <= 0:
        return Decimal(1)
    exp = m.normalize().as_tuple().exponent
    return _pow10(-exp) if isinstance(exp, int) and exp < 0 else Decimal(1)


def futures_info(c: Contract) -> SymbolInfo | None:
    base = contract_base(c.name)
    if base is None:
        return None
    mult = _dec(c.quanto_multiplier)
    if mult <= 0:
        return None
    return SymbolInfo(
        venue=Venue.GATEIO,
        market=Market.FUTURES,
        symbol=Symbol(base.upper(), SETTLE, Market.FUTURES),
        venue_symbol=c.name,
        tick_size=_dec(c.order_price_round),
        lot_step=contract_step(c),
        min_qty=_dec(c.order_size_min),
        max_qty=_dec(c.order_size_max),
        contract_multiplier=mult,
        maker_fee=_dec(c.maker_fee_rate),
        taker_fee=_dec(c.taker_fee_rate),
        status=_futures_status(c),
        decimal_size=c.enable_decimal,
    )


def contract_meta(c: Contract) -> ContractMeta:
    return ContractMeta(
        name=c.name,
        multiplier=_dec(c.quanto_multiplier),
        funding_interval_s=int(c.funding_interval),
        funding_next_apply_s=float(c.funding_next_apply),
        funding_rate=c.funding_rate,
        decimal_size=c.enable_decimal,
    )


def spot_ref(p: CurrencyPair, ts: int) -> SymbolRef:
    """One currency pair as reference data (``ts``: unix ns it was read)."""
    info = spot_info(p, ts / 1e9)
    if p.fee not in (None, ""):
        return SymbolRef.from_info(info, source=SPOT_SOURCE, fee_source=SPOT_FEE_SOURCE, ts=ts)
    maker, taker = SPOT_PUBLIC_FEES
    return SymbolRef.from_info(info, source=SPOT_SOURCE, fee_source=SPOT_PUBLIC_FEE_SOURCE, ts=ts, maker_fee=maker,
                               taker_fee=taker)


def futures_ref(c: Contract, ts: int) -> SymbolRef | None:
    """One USDT contract as reference data, with its funding interval; None when ``futures_info`` is None."""
    info = futures_info(c)
    if info is None:
        return None
    return SymbolRef.from_info(info, source=FUTURES_SOURCE, fee_source=FUTURES_FEE_SOURCE, ts=ts,
                               funding_interval_s=int(c.funding_interval))


def spot_infos(pairs: list[CurrencyPair], now_s: float = 0.0) -> list[SymbolInfo]:
    return [spot_info(p, now_s) for p in pairs]


def futures_infos(contracts: list[Contract]) -> list[SymbolInfo]:
    return [i for i in (futures_info(c) for c in contracts) if i is not None]


__all__ = ["ContractMeta", "contract_base", "contract_meta", "futures_info", "futures_infos", "futures_ref", "spot_info",
           "spot_infos", "spot_ref"]
