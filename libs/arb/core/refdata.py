"""Reference data: one instrument's trading rules and fee schedule as a venue's market-data gateway knows them.

Published by every md gateway to the JetStream KV bucket ``REF`` (key ``<venue>.<market>.<symbol>``, see
specs/subjects.md "Reference data") and read by ``arb.bus.refdata.RefData``, so a strategy can size and round an
order without importing venue code. Every number is a ``Decimal`` (a JSON string on the wire): exact, never a float.

Quantities follow the venue's order unit: base asset on spot, contracts on futures (``contract_multiplier`` base
per contract). A notional is ``price x qty x contract_multiplier`` in the quote currency.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from .enums import Market, Side, SymbolStatus, Venue
from .numeric import ZERO, round_price, round_qty
from .symbols import SymbolInfo

ONE = Decimal(1)


def ref_key(venue: Venue | str, market: Market | str, symbol: str) -> str:
    """KV key of one instrument: ``mexc.spot.BTC-USDT``."""
    v = venue.value if isinstance(venue, Venue) else venue
    m = market.value if isinstance(market, Market) else market
    return f"{v}.{m}.{symbol}"


class SymbolRef(msgspec.Struct, frozen=True, kw_only=True):
    """Trading rules and public fees of one instrument on one venue market (a KV value in bucket ``REF``).

    New fields are only appended, with defaults, so an older reader keeps decoding a newer entry.
    """

    venue: Venue
    market: Market
    symbol: str  # unified BASE-QUOTE, the subject token
    venue_symbol: str  # the venue's own name (BTCUSDT, BTC_USDT)
    tick: Decimal  # price increment (quote)
    step: Decimal  # quantity increment: base on spot, contracts on futures
    min_qty: Decimal  # smallest order quantity, same unit as step
    min_notional: Decimal = ZERO  # smallest order value in quote; 0 = none
    max_qty: Decimal = ZERO  # largest order quantity; 0 = no limit
    contract_multiplier: Decimal = ONE  # base per contract (futures); 1 on spot
    decimal_size: bool = False  # futures contract accepts fractional contract sizes
    status: SymbolStatus = SymbolStatus.TRADING
    maker_fee: Decimal = ZERO  # fraction of notional (0.0002 = 0.02 %); negative = rebate
    taker_fee: Decimal = ZERO
    funding_interval_s: int = 0  # futures funding period; 0 on spot
    source: str = ""  # where the rules came from, e.g. "mexc GET /api/v3/exchangeInfo"
    fee_source: str = ""  # where the fees came from (rules endpoint field, or a documented public tier)
    ts: int = 0  # unix ns when the gateway read the rules from the venue

    @property
    def key(self) -> str:
        return ref_key(self.venue, self.market, self.symbol)

    def same_rules(self, other: SymbolRef | None) -> bool:
        """Equal in everything but ``ts`` (a refresh that found nothing new)."""
        return other is not None and msgspec.structs.replace(other, ts=self.ts) == self

    def changes(self, old: SymbolRef | None) -> list[str]:
        """``field old -> new`` for every field (but ``ts``) that differs from ``old``."""
        if old is None:
            return ["new"]
        out = []
        for f in self.__struct_fields__:
            if f == "ts":
                continue
            a, b = getattr(old, f), getattr(self, f)
            if a != b:
                out.append(f"{f} {_show(a)} -> {_show(b)}")
        return out

    def round_price(self, price: Decimal | float | str, side: Side) -> Decimal:
        """On the tick grid, never more aggressive: a buy rounds down, a sell up."""
        return round_price(price, self.tick, side)

    def round_qty(self, qty: Decimal | float | str) -> Decimal:
        """On the step grid, rounded down (never more than asked)."""
        return round_qty(qty, self.step)

    def notional(self, price: Decimal, qty: Decimal) -> Decimal:
        return price * qty * self.contract_multiplier

    def check(self, price: Decimal, qty: Decimal, closing: bool = False) -> str | None:
        """Why an order of ``qty`` at ``price`` would be refused by these rules, or None. ``closing``: an order that
        only brings exposure back (a hedge, unwind, exit): the status is then the venue's to enforce, since a venue
        that halts new positions may still take a reducing order; its refusal is the answer."""
        if self.status is not SymbolStatus.TRADING and not closing:
            return f"{self.key}: not tradable (status {self.status.value})"
        if qty < self.min_qty:
            return f"{self.key}: qty {qty} below min_qty {self.min_qty}"
        if self.max_qty > 0 and qty > self.max_qty:
            return f"{self.key}: qty {qty} above max_qty {self.max_qty}"
        if self.min_notional > 0 and self.notional(price, qty) < self.min_notional:
            return f"{self.key}: notional {self.notional(price, qty)} below min_notional {self.min_notional}"
        return None

    @classmethod
    def from_info(cls, info: SymbolInfo, *, source: str, fee_source: str, ts: int, funding_interval_s: int = 0,
                  maker_fee: Decimal | None = None, taker_fee: Decimal | None = None) -> SymbolRef:
        """From a venue package's ``SymbolInfo``; ``maker_fee``/``taker_fee`` override the info's fees."""
        return cls(
            venue=info.venue, market=info.market, symbol=info.name, venue_symbol=info.venue_symbol,
            tick=info.tick_size, step=info.lot_step, min_qty=info.min_qty, min_notional=info.min_notional,
            max_qty=info.max_qty, contract_multiplier=info.contract_multiplier, decimal_size=info.decimal_size,
            status=info.status, maker_fee=info.maker_fee if maker_fee is None else maker_fee,
            taker_fee=info.taker_fee if taker_fee is None else taker_fee, funding_interval_s=funding_interval_s,
            source=source, fee_source=fee_source, ts=ts,
        )


def _show(x: object) -> str:
    return x.value if isinstance(x, (Venue, Market, SymbolStatus)) else str(x)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(SymbolRef)


def encode_ref(ref: SymbolRef) -> bytes:
    """JSON, so ``nats kv get REF mexc.spot.BTC-USDT`` is readable; Decimals as strings."""
    return _encoder.encode(ref)


def decode_ref(data: bytes) -> SymbolRef:
    return _decoder.decode(data)


__all__ = ["SymbolRef", "decode_ref", "encode_ref", "ref_key"]
