"""Opportunities: for every ordered pair of a task's markets, what buying on one and selling on the other earns now.

Every cycle is a convergence trade with the same maths whatever the pair (MEXC spot / Gate spot inventory
arbitrage, long spot + short perpetual when the perpetual is rich, the reverse when inventory allows):

* entry spread (bps of the buy VWAP) = (sell VWAP - buy VWAP) / buy VWAP, both walked at the cycle's base quantity;
* fees (bps) = the taker fee of both legs at entry and again at exit, from the reference data;
* the exit is planned when the closing spread has converged to ``exit_bps``, so that much is given back;
* slippage allowance ``slippage_bps`` for the exit;
* funding carry (bps) = rate x number of funding times within ``expected_hold_s`` (from the contract's own next time
  and interval), received by a short perpetual when the rate is positive and paid when it is negative;
* net edge = entry spread - fees - exit_bps - slippage + funding carry; in quote = net edge x buy notional.

An opportunity is proposed only when both legs can trade the quantity: depth for the whole of it on each side,
each leg's minimum quantity and notional, and the quantity a whole number of steps (contracts) on both legs.
"""

from __future__ import annotations

from decimal import Decimal

from ..core.strategy import Opportunity
from .pricing import LegRules, common_step, walk
from .view import MarketView


class Direction:
    """One ordered pair (buy market, sell market) with its precomputed common grid and quantity."""

    __slots__ = ("buy", "buy_rules", "f_qty", "qty", "sell", "sell_rules", "step")

    def __init__(self, buy: str, sell: str, buy_rules: LegRules, sell_rules: LegRules, size: Decimal) -> None:
        self.buy, self.sell = buy, sell
        self.buy_rules, self.sell_rules = buy_rules, sell_rules
        self.step = common_step(buy_rules.base_step, sell_rules.base_step)
        self.qty = (size // self.step) * self.step if self.step > 0 else size
        self.f_qty = float(self.qty)

    @property
    def perp_leg(self) -> int:
        """+1 when the perpetual is sold (short perp), -1 when bought, 0 on a spot/spot pair."""
        if self.sell_rules.perp:
            return 1
        if self.buy_rules.perp:
            return -1
        return 0


def evaluate(task: str, d: Direction, buy: MarketView, sell: MarketView, now: int, *, exit_bps: float,
             slippage_bps: float, hold_s: float) -> Opportunity | None:
    """Price direction ``d`` on the current books; None when it cannot be traded at its quantity at all."""
    q = d.f_qty
    if q <= 0:
        return None
    vb, lb, fb = walk(buy.book.side(True), q)
    if fb < q:
        return None
    vs, ls, fs = walk(sell.book.side(False), q)
    if fs < q:
        return None
    br, sr = d.buy_rules, d.sell_rules
    if not (br.fast_ok(vb, q) and sr.fast_ok(vs, q)):
        return None
    spread = (vs - vb) / vb * 1e4
    fees = 2e4 * (br.taker_fee + sr.taker_fee)
    funding = 0.0
    side = d.perp_leg
    if side:
        perp = sell if side > 0 else buy
        n = perp.fundings_within(now, hold_s)
        funding = side * perp.funding_rate * n * 1e4
    net = spread - fees - exit_bps - slippage_bps + funding
    return Opportunity(task=task, buy=d.buy, sell=d.sell, qty=d.qty, buy_vwap=vb, sell_vwap=vs, buy_limit=lb,
                       sell_limit=ls, spread_bps=spread, fees_bps=fees, funding_bps=funding, net_bps=net,
                       net_quote=net * 1e-4 * vb * q, ts=now)


def closing_spread_bps(buy: MarketView, sell: MarketView, qty: float) -> float | None:
    """What closing costs now, in bps: sell back on the buy market's bids, buy back on the sell market's asks.

    The cycle opened at entry spread S and closes at closing spread C earns about S - C gross; it exits once C is
    at most ``exit_bps``. None when either book lacks the depth.
    """
    vb, _, fb = walk(buy.book.side(False), qty)
    vs, _, fs = walk(sell.book.side(True), qty)
    if fb < qty or fs < qty or vb <= 0:
        return None
    return (vs - vb) / vb * 1e4


__all__ = ["Direction", "Opportunity", "closing_spread_bps", "evaluate"]
