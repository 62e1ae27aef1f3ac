"""MEXC Spot symbol rules: ``GET /api/v3/exchangeInfo`` -> ``SymbolInfo``.

* tick  = 10^-min(quotePrecision, quoteAssetPrecision), the coarser of the two (the docs do not say which
  one prices use and clients differ; a price on the coarser grid is valid on either); a
  ``PRICE_FILTER.tickSize`` wins if sent
* step  = 10^-baseAssetPrecision; a ``LOT_SIZE.stepSize`` wins if sent
* min qty = ``baseSizePrecision`` (docs: "min order quantity"), at least one step
* min notional = ``quoteAmountPrecision`` (docs: "min order amount", quote)
* status: "1"/"ENABLED" and spot trading allowed and both sides allowed (tradeSideType 1) -> TRADING;
  "3"/offline -> DELISTED; anything else (pause, buy-only, sell-only, API trading off) -> HALTED.

Reference data (``to_ref``, bucket ``REF``): fees are the entry's ``makerCommission`` / ``takerCommission`` when it
sends them (fractions: ``"0.0005"`` = 0.05 %); when it does not, the public default tier of MEXC's fee page
(https://www.mexc.com/fee; spot 0 % maker, 0.05 % taker), and ``fee_source`` says which.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal, InvalidOperation

from ...core.enums import Market, SymbolStatus, Venue
from ...core.errors import SymbolError
from ...core.numeric import ZERO
from ...core.refdata import SymbolRef
from ...core.symbols import Symbol, SymbolInfo, SymbolMap
from .schemas import SymbolRaw

SOURCE = "mexc GET /api/v3/exchangeInfo"
FEE_SOURCE = "mexc GET /api/v3/exchangeInfo makerCommission/takerCommission"
# MEXC fee page (https://www.mexc.com/fee, MEXC Learn "calculation of fees in spot trading", 2025): spot default tier
PUBLIC_FEES = (Decimal(0), Decimal("0.0005"))
PUBLIC_FEE_SOURCE = "mexc fee page, spot default tier (exchangeInfo sent no commission)"

_TRADING = {"1", "ENABLED"}
_DELISTED = {"3", "OFFLINE", "DISABLED"}


def _dec(text: str | None, default: Decimal = ZERO) -> Decimal:
    if text is None or text == "":
        return default
    try:
        d = Decimal(str(text))
    except InvalidOperation:
        return default
    return d if d.is_finite() and d >= 0 else default


def _pow10(n: int | None) -> Decimal | None:
    if n is None or n < 0 or n > 30:
        return None
    return Decimal(1).scaleb(-n)


def _filter(filters: list[dict], kind: str, key: str) -> Decimal | None:
    for f in filters:
        if isinstance(f, dict) and f.get("filterType") == kind and f.get(key) is not None:
            d = _dec(str(f[key]))
            if d > 0:
                return d
    return None


def status_of(raw: SymbolRaw) -> SymbolStatus:
    s = str(raw.status).upper()
    if s in _DELISTED:
        return SymbolStatus.DELISTED
    if s in _TRADING and raw.isSpotTradingAllowed and str(raw.tradeSideType) in ("1", ""):
        return SymbolStatus.TRADING
    return SymbolStatus.HALTED


def to_info(raw: SymbolRaw) -> SymbolInfo | None:
    """One exchangeInfo entry as SymbolInfo; None when the entry lacks what a rule needs (base/quote/tick/step)."""
    if not raw.baseAsset or not raw.quoteAsset:
        return None
    precisions = [p for p in (raw.quotePrecision, raw.quoteAssetPrecision) if p is not None]
    tick = _filter(raw.filters, "PRICE_FILTER", "tickSize") or _pow10(min(precisions) if precisions else None)
    step = _filter(raw.filters, "LOT_SIZE", "stepSize") or _pow10(raw.baseAssetPrecision)
    if tick is None or step is None:
        return None
    min_qty = max(_dec(raw.baseSizePrecision), step)
    return SymbolInfo(
        venue=Venue.MEXC,
        market=Market.SPOT,
        symbol=Symbol(raw.baseAsset.upper(), raw.quoteAsset.upper(), Market.SPOT),
        venue_symbol=raw.symbol,
        tick_size=tick,
        lot_step=step,
        min_qty=min_qty,
        min_notional=_dec(raw.quoteAmountPrecision),
        maker_fee=_dec(raw.makerCommission),
        taker_fee=_dec(raw.takerCommission),
        status=status_of(raw),
    )


def to_ref(raw: SymbolRaw, ts: int) -> SymbolRef | None:
    """One exchangeInfo entry as reference data (``ts``: unix ns it was read); None when ``to_info`` is None."""
    info = to_info(raw)
    if info is None:
        return None
    if raw.makerCommission not in (None, "") and raw.takerCommission not in (None, ""):
        return SymbolRef.from_info(info, source=SOURCE, fee_source=FEE_SOURCE, ts=ts)
    maker, taker = PUBLIC_FEES
    return SymbolRef.from_info(info, source=SOURCE, fee_source=PUBLIC_FEE_SOURCE, ts=ts, maker_fee=maker,
                               taker_fee=taker)


def symbol_map(raws: Iterable[SymbolRaw]) -> SymbolMap:
    infos = [i for i in (to_info(r) for r in raws) if i is not None]
    return SymbolMap(Venue.MEXC, Market.SPOT, infos)


def check_configured(symbols: SymbolMap, names: Iterable[str]) -> list[SymbolInfo]:
    """The configured unified symbols' rules; one SymbolError naming every unknown one (with close matches). A
    listed symbol that is halted or delisted is returned with its status: its market data and its reference data
    (which tells the strategy not to enter) are still wanted, and one such symbol must not stop the others."""
    out: list[SymbolInfo] = []
    problems: list[str] = []
    for n in names:
        try:
            out.append(symbols.info(n))
        except SymbolError as e:
            problems.append(str(e))
    if problems:
        raise SymbolError("; ".join(problems))
    return out


__all__ = ["check_configured", "status_of", "symbol_map", "to_info", "to_ref"]
