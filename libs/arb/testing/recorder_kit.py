"""Test support for the recorder: one sample of every recorded message type with its subject, a TCP proxy that can
cut PostgreSQL off (an outage without touching the shared server), a private nats-server that can be stopped and
started again on the same port and store (a NATS restart without touching the shared server), and row counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..bus import subjects
from ..core.commands import PlaceOrder
from ..core.enums import BookState, Market, OrderStatus, OrderType, Side, TimeInForce, Venue
from ..core.execution import Balance, Fill, Order, OrderUpdate, Position
from ..core.margin import LiquidationWarning, Margin, PositionMargin, WarningLevel
from ..core.market_data import (
    BookDelta,
    BookSnapshot,
    BookTicker,
    FundingRate,
    IndexPrice,
    Kline,
    Level,
    Liquidation,
    MarketStatus,
    MarkPrice,
    OpenInterest,
    Trade,
)
from ..strategy.events import (
    CycleReport,
    ExposureReport,
    FundingPaid,
    RebalanceNeed,
    SendCommand,
    State,
    Tick,
    Transition,
)
from ..strategy.opportunity import Opportunity

T0 = 1_750_000_000_000_000_000  # 2025-06-15T15:06:40Z in ns
M, G = Venue.MEXC, Venue.GATEIO
S, F = Market.SPOT, Market.FUTURES


def bbo(i: int, symbol: str = "BTC-USDT", venue: Venue = M, market: Market = S, bid: float = 100.0,
        ask: float = 100.5) -> BookTicker:
    """The i-th book ticker: ts_event T0 + i ms, ts_recv unique per i."""
    t = T0 + i * 1_000_000
    return BookTicker(venue=venue, market=market, symbol=symbol, bid_px=bid, bid_sz=1.5, ask_px=ask, ask_sz=2.0,
                      seq=i, ts_event=t, ts_recv=t + 1000, ts_pub=t + 2000)


def samples() -> list[tuple[str, Any]]:
    """(subject without prefix, message): one of every recorded type, on the subject it travels on."""
    t = T0
    order = Order(venue=G, market=F, account="main", symbol="BTC-USDT", client_order_id="c1", venue_order_id="v1",
                  side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.IOC, price=Decimal("100.1"),
                  qty=Decimal("0.01"), filled_qty=Decimal("0.01"), avg_price=Decimal("100.05"),
                  status=OrderStatus.FILLED, reduce_only=False, ts_event=t, ts_recv=t + 1, ts_pub=t + 2,
                  contracts=Decimal(1))
    md = subjects.md
    return [
        (md(M, S, "BTC-USDT", "bbo"), bbo(0)),
        (md(M, S, "BTC-USDT", "book"), BookSnapshot(
            venue=M, market=S, symbol="BTC-USDT", bids=[Level(100.0, 1.0), Level(99.5, 2.0)],
            asks=[Level(100.5, 3.0)], seq=7, state=BookState.OK, ts_event=t, ts_recv=t + 1, ts_pub=t + 2)),
        (md(G, S, "ETH-USDT", "trade"), Trade(venue=G, market=S, symbol="ETH-USDT", price=2500.5, size=0.25,
                                             side=Side.SELL, trade_id="t-9", ts_event=t, ts_recv=t + 1, ts_pub=t + 2)),
        (md(G, F, "BTC-USDT", "funding"), FundingRate(venue=G, market=F, symbol="BTC-USDT", rate=0.0001,
                                                    next_funding_ns=t + 3600 * 10**9, interval_s=28800, ts_event=t,
                                                    ts_recv=t + 1, ts_pub=t + 2)),
        (md(G, F, "BTC-USDT", "mark"), MarkPrice(venue=G, market=F, symbol="BTC-USDT", price=100.2, ts_event=t,
                                                ts_recv=t + 1, ts_pub=t + 2)),
        (md(G, F, "BTC-USDT", "index"), IndexPrice(venue=G, market=F, symbol="BTC-USDT", price=100.1, ts_event=t,
                                                  ts_recv=t + 1, ts_pub=t + 2)),
        (md(M, S, "BTC-USDT", "status"), MarketStatus(venue=M, market=S, symbol="BTC-USDT", state=BookState.STALE,
                                                     reason="gap 5 -> 7", ts_event=t, ts_recv=t + 1, ts_pub=t + 2)),
        (md(G, F, "BTC-USDT", "oi"), OpenInterest(venue=G, market=F, symbol="BTC-USDT", size=1234.5,
                                                 notional=123_456_789.0, ts_event=t, ts_recv=t + 1, ts_pub=t + 2)),
        (md(G, F, "BTC-USDT", "liquidation"), Liquidation(venue=G, market=F, symbol="BTC-USDT", price=99.5, size=0.3,
                                                          side=Side.SELL, ts_event=t, ts_recv=t + 1, ts_pub=t + 2,
                                                          source="rest")),
        (md(G, F, "BTC-USDT", "kline"), Kline(venue=G, market=F, symbol="BTC-USDT", interval="1m",
                                             open_ns=t - 60 * 10**9, open=100.0, high=101.5, low=99.0, close=100.5,
                                             volume=12.5, quote_volume=1256.25, closed=True, ts_event=t,
                                             ts_recv=t + 1, ts_pub=t + 2)),
        (subjects.ord_evt(G, "main", "order"), OrderUpdate(order=order)),
        (subjects.ord_evt(G, "main", "fill"), Fill(
            venue=G, market=F, account="main", symbol="BTC-USDT", client_order_id="c1", venue_order_id="v1",
            trade_id="f1", side=Side.BUY, price=Decimal("100.05"), qty=Decimal("0.01"), fee=Decimal("0.0005"),
            fee_asset="USDT", is_maker=False, ts_event=t, ts_recv=t + 1, ts_pub=t + 2)),
        (subjects.ord_evt(M, "main", "balance"), Balance(venue=M, market=S, account="main", asset="USDT",
                                                        free=Decimal("1000.5"), locked=Decimal(2), ts_event=t,
                                                        ts_recv=t + 1, ts_pub=t + 2)),
        (subjects.ord_evt(G, "main", "position"), Position(
            venue=G, market=F, account="main", symbol="BTC-USDT", size=Decimal("-0.01"), contracts=Decimal(-1),
            entry_price=Decimal("100.3"), mark_price=Decimal("100.2"), leverage=3, margin=Decimal("0.33"),
            unrealised_pnl=Decimal("0.001"), liq_price=Decimal(130), ts_event=t, ts_recv=t + 1, ts_pub=t + 2)),
        (subjects.ord_evt(G, "main", "margin"), margin()),
        (subjects.ord_evt(G, "main", "liq_warning"), LiquidationWarning(
            venue=G, market=F, account="main", symbol="BTC-USDT", level=WarningLevel.WORSE, size=Decimal("-0.01"),
            mark_price=Decimal("100.2"), liq_price=Decimal("102.5"), distance=Decimal("0.02295409"),
            threshold=Decimal("0.05"), ts_event=t, ts_recv=t + 1, ts_pub=t + 2)),
        (subjects.ord_evt(G, "main", "funding"), funding_paid()),
        (subjects.strat("btc", "opp"), Opportunity(
            task="btc", buy="mexc.spot", sell="gateio.futures", qty=Decimal("0.01"), buy_vwap=100.0, sell_vwap=100.6,
            buy_limit=100.0, sell_limit=100.6, spread_bps=60.0, fees_bps=20.0, funding_bps=1.0, net_bps=30.0,
            net_quote=0.003, ts=t, taken=True)),
        (subjects.strat("btc", "transition"), Transition(task="btc", cycle=3, old=State.ANALYZING,
                                                         new=State.MANAGING_ORDERS, reason="entry", ts=t)),
        (subjects.strat("btc", "cycle"), CycleReport(
            task="btc", cycle=3, buy="mexc.spot", sell="gateio.futures", qty=Decimal("0.01"), opened_ns=t,
            closed_ns=t + 60 * 10**9, entry_spread_bps=60.0, expected_net_bps=30.0, cash=Decimal("0.006"),
            fees={"USDT": Decimal("0.002")}, fees_quote=Decimal("0.002"), funding=Decimal("0.0001"),
            realised=Decimal("0.0041"), residual={}, residual_value=Decimal(0), pnl=Decimal("0.0041"),
            max_unhedged=Decimal("0.01"), max_unhedged_ns=5000, orders=4, reason="converged")),
        (subjects.strat("btc", "cmd"), SendCommand(
            task="btc", cycle=3, venue=M, account="main", ts=t,
            command=PlaceOrder(client_order_id="c1", symbol="BTC-USDT", market=S, side=Side.BUY, qty=Decimal("0.01"),
                               price=Decimal(100)))),
        (subjects.strat("btc", "exposure"), ExposureReport(task="btc", cycle=3, net=Decimal("0.0001"),
                                                           positions={"mexc.spot": Decimal("0.01")},
                                                           max_unhedged=Decimal("0.01"), max_unhedged_ns=5000, ts=t)),
        (subjects.strat("btc", "rebalance"), RebalanceNeed(task="btc", asset="BTC", market="gateio.spot",
                                                           have=Decimal(0), need=Decimal("0.01"), source="",
                                                           within_venue=False, ts=t)),
    ]


def margin(t: int = T0) -> Margin:
    """A Gate futures account's Margin with two open positions (one short near liquidation, one long the venue names
    no liquidation price for: distance None)."""
    return Margin(
        venue=G, market=F, account="main", asset="USDT", total=Decimal("1000.5"), available=Decimal("990.25"),
        position_margin=Decimal("10.2"), order_margin=Decimal("0.05"), maintenance_margin=Decimal("0.0601"),
        unrealised_pnl=Decimal("-0.75"), ts_event=t, ts_recv=t + 1, ts_pub=t + 2, correction=True,
        positions=(
            PositionMargin(symbol="BTC-USDT", size=Decimal("-0.01"), contracts=Decimal(-1), leverage=10,
                           entry_price=Decimal("100.3"), mark_price=Decimal("100.2"), liq_price=Decimal("102.5"),
                           margin=Decimal("0.1003"), maintenance_rate=Decimal("0.005"),
                           maintenance_margin=Decimal("0.00501"), unrealised_pnl=Decimal("0.001"),
                           distance=Decimal("0.02295409")),
            PositionMargin(symbol="ETH-USDT", size=Decimal("0.5"), contracts=Decimal(50), leverage=0,
                           entry_price=Decimal(2500), mark_price=Decimal("2480.5"), liq_price=Decimal(0),
                           margin=Decimal("10.1"), maintenance_rate=Decimal("0.01"),
                           maintenance_margin=Decimal("12.4025"), unrealised_pnl=Decimal("-9.75"), distance=None),
        ))


def funding_paid(t: int = T0 - 3600 * 10**9, amount: Decimal = Decimal("-0.00012345")) -> FundingPaid:
    """The venue's record of a funding settlement on gateio futures BTC-USDT (published with the account in its
    subject: ``ord.gateio.main.evt.funding``)."""
    return FundingPaid(venue=G, market=F, symbol="BTC-USDT", amount=amount, rate=0.0001, ts=t)


def skipped_samples() -> list[tuple[str, Any]]:
    """Messages with no table: recorded nowhere, dead-lettered never."""
    t = T0
    return [
        (subjects.md(M, S, "BTC-USDT", "delta"), BookDelta(venue=M, market=S, symbol="BTC-USDT", bids=[], asks=[],
                                                           first_seq=1, last_seq=2, ts_event=t, ts_recv=t, ts_pub=t)),
        (subjects.strat("btc", "input"), Tick()),
        # the coordinator's log of a FundingPaid it acted on: no account in that subject; the ORD one is stored
        (subjects.strat("btc", "input"), funding_paid()),
    ]


# the rows samples() makes, by table, in order (one per sample; a Margin: its account row and one per position)
SAMPLE_TABLES = ["book_tickers", "book_snapshots", "trades", "funding_rates", "prices", "prices", "book_status",
                 "open_interest", "liquidations", "klines", "orders", "fills", "balances", "positions",
                 "margin_accounts", "position_margins", "position_margins", "liquidation_warnings", "funding_payments",
                 "opportunities", "strategy_transitions", "cycles", "strategy_commands", "exposures",
                 "rebalance_needs"]


async def count(dsn_or_conn: Any, table: str) -> int:
    """Rows in ``table`` (one of the recorder's fixed table names)."""
    import asyncpg

    conn = dsn_or_conn if not isinstance(dsn_or_conn, str) else await asyncpg.connect(dsn_or_conn, timeout=5)
    try:
        return await conn.fetchval(f"SELECT count(*) FROM {table}", timeout=10)  # a fixed name, never data
    finally:
        if isinstance(dsn_or_conn, str):
            await conn.close(timeout=5)


class PgProxy:
    """A TCP proxy in front of PostgreSQL. ``cut()`` closes every connection and refuses new ones (what an outage
    looks like from the recorder); ``restore()`` accepts again. ``stall()`` stops forwarding while keeping every
    connection open and accepting new ones that go nowhere (a hung server or network: nothing refused, nothing
    answered); ``resume()`` forwards again what waited. Only the proxy's own sockets are touched."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.listen_port = 0
        self.up = True
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        self.cuts = 0
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> PgProxy:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.listen_port = self._server.sockets[0].getsockname()[1]
        return self

    def dsn(self, dsn: str) -> str:
        """``dsn`` with its host:port replaced by the proxy's."""
        from urllib.parse import urlsplit, urlunsplit

        u = urlsplit(dsn)
        netloc = (u.netloc.rpartition("@")[0] + "@" if "@" in u.netloc else "") + f"127.0.0.1:{self.listen_port}"
        return urlunsplit(u._replace(netloc=netloc))

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.close()
            return
        await self._flowing.wait()  # stalled: accepted, and nothing happens until resume()
        try:
            ur, uw = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), 5)
        except (OSError, TimeoutError):
            writer.close()
            return
        self._conns.update((writer, uw))

        async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            try:
                while data := await r.read(65536):
                    await self._flowing.wait()  # stalled: what was read waits here, and nothing more is read
                    w.write(data)
                    await w.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                w.close()
                self._conns.discard(w)

        await asyncio.gather(pipe(reader, uw), pipe(ur, writer))

    def cut(self) -> None:
        self.up = False
        self.cuts += 1
        for w in list(self._conns):
            with contextlib.suppress(Exception):
                w.transport.abort()
        self._conns.clear()

    def restore(self) -> None:
        self.up = True

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    async def close(self) -> None:
        self.resume()
        self.cut()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


class NatsProcess:
    """A private nats-server with JetStream on a fixed loopback port and store dir, so that ``stop()`` (SIGTERM: a
    clean shutdown, or SIGKILL: a crash) and ``start()`` again is a NATS restart its clients reconnect to, with the
    streams and consumers it had stored. The shared server is never touched. ``stop()`` before the test ends."""

    def __init__(self, store: Path, log_path: Path) -> None:
        from .servers import free_port, nats_server_binary

        self.binary = nats_server_binary()
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.store = store
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    async def start(self, timeout: float = 20.0) -> NatsProcess:
        """Start it and wait until JetStream answers (its stored streams recovered)."""
        from .poll import eventually
        from .servers import nats_jetstream_ok

        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        self.proc = self._spawn()

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.proc.returncode}: {self.log()[-2000:]}")
            return nats_jetstream_ok(self.url, timeout=0.5)

        await eventually(lambda: asyncio.to_thread(up), timeout=timeout, interval=0.05, what="private nats-server up")
        return self

    def _spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log_path, "ab") as logf:
            return subprocess.Popen(
                [str(self.binary), "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store),
                 "-n", f"arb-recorder-test-{self.port}"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, start_new_session=True)

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int | None:
        """Send ``sig`` and wait for the exit (SIGKILL after ``timeout``); return the exit code."""
        p = self.proc
        if p is None or p.poll() is not None:
            return None if p is None else p.returncode
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(sig)
        try:
            return await asyncio.to_thread(p.wait, timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            return await asyncio.to_thread(p.wait, 5.0)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""


__all__ = ["SAMPLE_TABLES", "T0", "NatsProcess", "PgProxy", "bbo", "count", "funding_paid", "margin", "samples",
           "skipped_samples"]
