"""What the MEXC REST and WS layers share, and the engine listener that feeds the WS pushes.

The listener is synchronous and cheap (the engine calls it inside an action): public book changes and
trades are merged into per-interval buffers that the flush loops turn into one frame per channel;
private events are serialised at once (engine objects are live) and queued to the account's
``?listenKey=`` connections.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

from proto.gen.mexc.PrivateAccountV3Api_pb2 import PrivateAccountV3Api
from proto.gen.mexc.PrivateDealsV3Api_pb2 import PrivateDealsV3Api
from proto.gen.mexc.PrivateOrdersV3Api_pb2 import PrivateOrdersV3Api

from ...core.enums import Market, Venue
from .. import derivs
from ..engine import SimReject
from . import frames as F
from .listen_keys import ListenKeys
from .rest import mexc_status, mexc_type

ZERO = Decimal(0)


class MexcState:
    """Engine handles + WS aggregation buffers + listenKeys for the MEXC spot wire layer."""

    SimReject = SimReject

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.exchange = ctx.exchanges[(Venue.MEXC, Market.SPOT)]
        self.instruments: dict[str, Any] = self.exchange.instruments
        self.faults = ctx.faults
        ttl = float(getattr(ctx.config, "listen_key_ttl_s", 3600))
        self.listen_keys = ListenKeys(ttl)
        # interval -> symbol -> [first_id, last_id, {bid price: qty}, {ask price: qty}]
        self.pending: dict[str, dict[str, list]] = {i: {} for i in F.INTERVALS}
        self.pending_trades: dict[str, dict[str, list]] = {i: {} for i in F.INTERVALS}
        self.last_bbo: dict[tuple, tuple] = {}
        self.last_limit: dict[str, int] = {}
        self.held_depth: dict[str, bytes] = {}  # book_reorder: frame held until the channel's next one
        self.hub: Any = None  # WsHub, set by build_app
        # private push bookkeeping
        self.swap_next_ack = False  # fill_before_ack armed for the order being placed now
        self._held_ack: tuple[Any, str, bytes] | None = None
        self._pushed: dict[str, tuple[str, Decimal]] = {}  # order id -> (status, filled) last pushed
        self._bal_seen: dict[tuple[str, str], tuple[Decimal, Decimal]] = {}
        self._change_type = "ENTRUST_PLACE"
        self._last_deal: dict[str, str] = {}  # order id -> quantity of its latest fill
        self._kline_names = {v: k for k, v in F.KLINE_INTERVALS.items()}
        derivs.of(self.exchange).candle_listeners.append(self.on_candle)  # candles counted from the first trade
        for acct in ctx.accounts:
            if acct.venue is Venue.MEXC and not acct.internal:
                for asset, b in acct.wallets[Market.SPOT].items():
                    self._bal_seen[(acct.name, asset)] = (b.available, b.locked)

    def clock_ms(self) -> int:
        """The venue's clock (``ctx.clock_ns``): serverTime and the signed-request timing check use it."""
        return self.ctx.clock_ns() // 1_000_000

    # ---- accounts ----------------------------------------------------------------------------------
    def account_by_key(self, key: str) -> Any:
        return self.ctx.accounts.get(Venue.MEXC, key)

    def secret_of(self, account: Any) -> str:
        return account.api_secret

    # ---- engine listener: public -------------------------------------------------------------------
    def on_candle(self, inst: Any, step: int, cur: Any, closed: Any) -> None:
        """``derivs`` listener: every trade pushes its window on ``spot@public.kline.v3.api.pb@<SYMBOL>@<interval>``
        (the venue pushes the current candle every second; the push carries no closed flag)."""
        hub = self.hub
        name = self._kline_names.get(step)
        if hub is None or name is None:
            return
        ch = f"{F.CH_KLINE}@{inst.venue_symbol}@{name}"
        if ch in hub.subscribers:
            hub.fanout(ch, F.kline(ch, inst.venue_symbol, name, step, cur, time.time_ns() // 1_000_000))

    def on_book(self, ch: Any) -> None:
        sym = ch.inst.venue_symbol
        for acc in self.pending.values():
            slot = acc.get(sym)
            if slot is None:
                acc[sym] = [ch.first_id, ch.last_id, dict(ch.bids), dict(ch.asks)]
            else:
                slot[1] = ch.last_id
                slot[2].update(ch.bids)
                slot[3].update(ch.asks)

    def on_trade(self, t: Any) -> None:
        sym = t.inst.venue_symbol
        for acc in self.pending_trades.values():
            acc.setdefault(sym, []).append(t)

    # ---- engine listener: private ------------------------------------------------------------------
    def _send(self, account: Any, channel: str, frame: bytes) -> None:
        if self.hub is not None:
            self.hub.push_private(account, channel, frame)

    def _release_ack(self) -> None:
        if self._held_ack is not None:
            account, channel, frame = self._held_ack
            self._held_ack = None
            self._send(account, channel, frame)

    def on_order(self, o: Any) -> None:
        if o.account.internal:
            return
        status = mexc_status(o)
        key = (status, o.filled)
        if self._pushed.get(o.id) == key:
            return  # the engine reports a resting order twice (ack + final): MEXC pushes it once
        first = o.id not in self._pushed
        if o.status == "open":
            self._pushed[o.id] = key
        else:
            self._pushed.pop(o.id, None)
        if o.status == "cancelled" and not first:
            self._change_type = "ENTRUST_CANCEL"
        elif first:
            self._change_type = "ENTRUST_PLACE"
        frame = F.private_order(self._order_body(o, status), o.inst.venue_symbol, time.time_ns() // 1_000_000)
        if first and self.swap_next_ack:
            self.swap_next_ack = False
            self._held_ack = (o.account, F.CH_ORDERS, frame)
            return
        self._release_ack()
        self._send(o.account, F.CH_ORDERS, frame)

    def _order_body(self, o: Any, status: str) -> PrivateOrdersV3Api:
        typ = mexc_type(o)
        if o.kind == "market":
            amount = o.quote_qty or ZERO
            remain_amount = (amount - o.filled_quote) if o.quote_qty else ZERO
            price = o.avg_price
        else:
            amount = o.price * o.qty
            remain_amount = o.price * o.left
            price = o.price
        body = PrivateOrdersV3Api(
            id=o.id,
            clientId=o.client_id,
            price=F.fmt(price),
            quantity=F.fmt(o.qty),
            amount=F.fmt(amount),
            avgPrice=F.fmt(o.avg_price),
            orderType=F.ORDER_TYPE_CODE[typ],
            tradeType=1 if o.side == "buy" else 2,
            isMaker=typ == "LIMIT_MAKER",
            remainAmount=F.fmt(max(remain_amount, ZERO) if o.status == "open" else ZERO),
            remainQuantity=F.fmt(o.left if o.status == "open" else ZERO),
            cumulativeQuantity=F.fmt(o.filled),
            cumulativeAmount=F.fmt(o.filled_quote),
            status=F.STATUS_CODE[status],
            createTime=o.create_ns // 1_000_000,
        )
        last = self._last_deal.get(o.id)
        if last is not None:
            body.lastDealQuantity = last
        return body

    def on_fill(self, f: Any) -> None:
        if f.account.internal:
            return
        self._change_type = "ENTRUST"
        self._last_deal[f.order_id] = F.fmt(f.qty)
        if len(self._last_deal) > 10_000:
            self._last_deal.pop(next(iter(self._last_deal)))
        body = PrivateDealsV3Api(
            price=F.fmt(f.price),
            quantity=F.fmt(f.qty),
            amount=F.fmt(f.quote_qty),
            tradeType=1 if f.side == "buy" else 2,
            isMaker=bool(f.is_maker),
            isSelfTrade=False,
            tradeId=str(f.trade_id),
            clientOrderId=f.client_id,
            orderId=f.order_id,
            feeAmount=F.fmt(f.fee),
            feeCurrency=f.fee_asset,
            time=f.ts_ns // 1_000_000,
        )
        self._send(f.account, F.CH_MYDEALS, F.private_deal(body, f.inst.venue_symbol, time.time_ns() // 1_000_000))
        self._release_ack()  # fill_before_ack: the held ack goes right after the first fill

    def on_balance(self, account: Any, asset: str, bal: Any) -> None:
        if account.internal:
            return
        self._release_ack()
        k = (account.name, asset)
        prev_a, prev_l = self._bal_seen.get(k, (ZERO, ZERO))
        self._bal_seen[k] = (bal.available, bal.locked)
        now_ms = time.time_ns() // 1_000_000
        body = PrivateAccountV3Api(
            vcoinName=asset,
            coinId=asset,
            balanceAmount=F.fmt(bal.available),
            balanceAmountChange=F.fmt(bal.available - prev_a),
            frozenAmount=F.fmt(bal.locked),
            frozenAmountChange=F.fmt(bal.locked - prev_l),
            type=self._change_type,
            time=now_ms,
        )
        self._send(account, F.CH_ACCOUNT, F.private_account(body, now_ms, now_ms))


__all__ = ["MexcState"]
