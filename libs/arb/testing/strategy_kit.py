"""Real-looking inputs for the strategy core: rules and fees of the three BTC-USDT markets, books, and a venue
stand-in that answers the core's orders with updates and fills (used by the unit tests and ``make bench``).

The rules follow what the venues publish for BTC-USDT (MEXC ``GET /api/v3/exchangeInfo``: base precision 6,
quote precision 2, 1 USDT minimum; Gate spot ``GET /spot/currency_pairs``: amount precision 6, min quote 3; Gate
USDT perpetual ``GET /futures/usdt/contracts``: quanto_multiplier 0.0001, order_price_round 0.1, size 1 minimum,
funding every 8 h). Fees are the public taker/maker tier of each.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ..core.commands import PlaceOrder
from ..core.enums import BookState, Market, OrderStatus, OrderType, TimeInForce, Venue
from ..core.execution import Balance, Fill, Order, OrderUpdate
from ..core.market_data import BookSnapshot, FundingRate, Level
from ..core.refdata import SymbolRef
from ..strategy.events import SendCommand
from ..strategy.params import MarketSpec, TaskParams

D = Decimal
NS = 1_000_000_000
T0 = 1_780_000_000 * NS  # a fixed start time: tests are deterministic
TAKER_FEE = D("0.0005")

MEXC_SPOT = MarketSpec(venue=Venue.MEXC, market=Market.SPOT, account="main")
GATE_SPOT = MarketSpec(venue=Venue.GATEIO, market=Market.SPOT, account="main")
GATE_PERP = MarketSpec(venue=Venue.GATEIO, market=Market.FUTURES, account="main")


def refs(symbol: str = "BTC-USDT", multiplier: str = "0.0001", funding_interval_s: int = 8 * 3600) -> list[SymbolRef]:
    base = symbol.replace("-", "")
    return [
        SymbolRef(venue=Venue.MEXC, market=Market.SPOT, symbol=symbol, venue_symbol=base, tick=D("0.01"),
                  step=D("0.000001"), min_qty=D("0.000001"), min_notional=D("1"), maker_fee=D("0"),
                  taker_fee=D("0.0005"), source="test"),
        SymbolRef(venue=Venue.GATEIO, market=Market.SPOT, symbol=symbol, venue_symbol=symbol.replace("-", "_"),
                  tick=D("0.1"), step=D("0.000001"), min_qty=D("0.000001"), min_notional=D("3"), maker_fee=D("0.001"),
                  taker_fee=D("0.001"), source="test"),
        SymbolRef(venue=Venue.GATEIO, market=Market.FUTURES, symbol=symbol, venue_symbol=symbol.replace("-", "_"),
                  tick=D("0.1"), step=D("1"), min_qty=D("1"), contract_multiplier=D(multiplier),
                  maker_fee=D("0.0002"), taker_fee=D("0.0005"), funding_interval_s=funding_interval_s,
                  source="test"),
    ]


def params(**kw) -> TaskParams:
    base = {"task": "t1", "symbol": "BTC-USDT", "markets": (MEXC_SPOT, GATE_SPOT, GATE_PERP), "size": D("0.01"),
            "entry_bps": 10.0, "exit_bps": 2.0, "slippage_bps": 1.0, "cooldown_s": 0.0}
    base.update(kw)
    return TaskParams(**base)


def book(spec: MarketSpec, mid: float, *, spread: float = 1.0, depth: int = 20, size: float = 0.05,
         step: float = 1.0, ts: int = T0, state: BookState = BookState.OK, symbol: str = "BTC-USDT",
         seq: int = 1) -> BookSnapshot:
    """A top-``depth`` book around ``mid``: level i is ``step`` further out and ``size`` x (1 + i/4) deep."""
    bid0, ask0 = mid - spread / 2, mid + spread / 2
    bids = [Level(round(bid0 - i * step, 2), round(size * (1 + i / 4), 6)) for i in range(depth)]
    asks = [Level(round(ask0 + i * step, 2), round(size * (1 + i / 4), 6)) for i in range(depth)]
    return BookSnapshot(spec.venue, spec.market, symbol, bids, asks, seq, state, ts, ts, ts)


def funding(rate: float, next_ns: int, interval_s: int = 8 * 3600, ts: int = T0) -> FundingRate:
    return FundingRate(Venue.GATEIO, Market.FUTURES, "BTC-USDT", rate, next_ns, interval_s, ts, ts, ts)


def balances(account: str = "main", usdt: str = "100000", btc: str = "10", ts: int = T0) -> list[Balance]:
    out = []
    for spec in (MEXC_SPOT, GATE_SPOT, GATE_PERP):
        out.append(Balance(spec.venue, spec.market, account, "USDT", D(usdt), D(0), ts, ts, ts))
        if spec.market is Market.SPOT:
            out.append(Balance(spec.venue, spec.market, account, "BTC", D(btc), D(0), ts, ts, ts))
    return out


Policy = Callable[[SendCommand], tuple[Decimal, bool]]  # -> (fraction filled, refused)


def fill_all(cmd: SendCommand) -> tuple[Decimal, bool]:
    return D(1), False


def fill_of(sent: SendCommand, qty: Decimal, trade_id: str, *, price: Decimal | None = None, fee: Decimal = TAKER_FEE,
            now: int = T0) -> Fill:
    """The fill a gateway publishes for ``qty`` base of the PlaceOrder in ``sent`` (at its limit price by default)."""
    cmd = sent.command
    px = cmd.price if price is None else price
    return Fill(sent.venue, cmd.market, sent.account, cmd.symbol, cmd.client_order_id, "v-" + cmd.client_order_id,
                trade_id, cmd.side, px, qty, (px * qty * fee).quantize(D("0.00000001")), "USDT", False, now, now, now)


def update_of(sent: SendCommand, filled: Decimal, status: OrderStatus, *, now: int = T0) -> OrderUpdate:
    """The order update a gateway publishes for the PlaceOrder in ``sent``: ``filled`` base so far, ``status``."""
    cmd = sent.command
    return OrderUpdate(Order(sent.venue, cmd.market, sent.account, cmd.symbol, cmd.client_order_id,
                             "v-" + cmd.client_order_id, cmd.side, OrderType.LIMIT, TimeInForce.IOC, cmd.price, cmd.qty,
                             filled, cmd.price if filled > 0 else None, status, cmd.reduce_only, now, now, now))


class Venue3:
    """A stand-in for the three venues: answers each PlaceOrder as ``policy`` says, with the update and fill events
    a trading gateway would publish, at the order's limit price, fee in quote (taker fee of ``fee``)."""

    def __init__(self, policy: Policy = fill_all, fee: Decimal = TAKER_FEE) -> None:
        self.policy = policy
        self.fee = fee
        self.placed: list[PlaceOrder] = []
        self.fills: list[Fill] = []
        self._trade = 0

    def answer(self, out: list, now: int) -> list:
        """The events the venue sends back for the commands among ``out``."""
        from ..strategy.events import CommandFailed

        events: list = []
        for x in out:
            if not isinstance(x, SendCommand) or not isinstance(x.command, PlaceOrder):
                continue
            cmd = x.command
            self.placed.append(cmd)
            frac, refused = self.policy(x)
            if refused:
                events.append(CommandFailed(client_order_id=cmd.client_order_id, kind="venue_client",
                                            message="refused by the test venue"))
                continue
            qty = cmd.qty * frac
            status = OrderStatus.FILLED if frac == 1 else OrderStatus.EXPIRED
            if qty > 0:
                self._trade += 1
                price = cmd.price
                f = Fill(x.venue, cmd.market, x.account, cmd.symbol, cmd.client_order_id, f"v{self._trade}",
                         f"tr{self._trade}", cmd.side, price, qty, (price * qty * self.fee).quantize(D("0.00000001")),
                         "USDT", False, now, now, now)
                self.fills.append(f)
                events.append(f)
            events.append(OrderUpdate(Order(x.venue, cmd.market, x.account, cmd.symbol, cmd.client_order_id,
                                            f"v{self._trade}", cmd.side, OrderType.LIMIT, TimeInForce.IOC, cmd.price,
                                            cmd.qty, qty, cmd.price if qty > 0 else None, status, cmd.reduce_only,
                                            now, now, now)))
        return events


def run(strategy, events: list, now: int, venue: Venue3 | None = None, max_steps: int = 10_000, dt: int = 0) -> list:
    """Step ``events`` through ``strategy`` from ``now`` (``dt`` ns later each step), feeding the venue's answers back
    in until quiet."""
    queue = list(events)
    out_all: list = []
    steps = 0
    while queue:
        steps += 1
        if steps > max_steps:
            raise RuntimeError("the strategy and the venue kept talking past max_steps")
        out = strategy.step(queue.pop(0), now)
        out_all.extend(out)
        if venue is not None:
            queue.extend(venue.answer(out, now))
        now += dt
    return out_all


__all__ = ["GATE_PERP", "GATE_SPOT", "MEXC_SPOT", "NS", "T0", "Venue3", "balances", "book", "fill_all", "fill_of",
           "funding", "params", "refs", "run", "update_of"]
