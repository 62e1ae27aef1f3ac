"""The configuration schema. Unknown keys are rejected; defaults point at the real venues.

Validation errors raised in ``__post_init__`` start with the field name (``"ws_url: expected ..."``) so
the loader can report the full key path. Every number is checked finite and in range, every URL parsed in
full (checks.py). Credentials are never part of the config (see credentials.py).
"""

from __future__ import annotations

import math
import re

import msgspec

from ..bus.streams import StreamLimits
from ..coordinator.config import CoordinatorConfig
from ..recorder.config import RecorderConfig
from ..sim.config import SimConfig
from .checks import check_url, in_range, non_empty, positive

_STRICT = {"frozen": True, "forbid_unknown_fields": True, "kw_only": True}
_HOUR = 3600.0
_DAY = 86400.0


class VenueEndpoints(msgspec.Struct, **_STRICT):
    """Where one venue market lives. Point these at `arb sim` to rehearse, at the venue to trade."""

    rest_url: str
    ws_url: str

    def __post_init__(self) -> None:
        check_url("rest_url", self.rest_url, ("http", "https"), "http:// or https://")
        check_url("ws_url", self.ws_url, ("ws", "wss"), "ws:// or wss://")


class MexcVenues(msgspec.Struct, **_STRICT):
    spot: VenueEndpoints = VenueEndpoints(rest_url="https://api.mexc.com", ws_url="wss://wbs-api.mexc.com/ws")


class GateVenues(msgspec.Struct, **_STRICT):
    spot: VenueEndpoints = VenueEndpoints(rest_url="https://api.gateio.ws/api/v4", ws_url="wss://api.gateio.ws/ws/v4/")
    futures: VenueEndpoints = VenueEndpoints(
        rest_url="https://api.gateio.ws/api/v4", ws_url="wss://fx-ws.gateio.ws/v4/ws/usdt"
    )


class VenuesConfig(msgspec.Struct, **_STRICT):
    mexc: MexcVenues = MexcVenues()
    gateio: GateVenues = GateVenues()


class NatsConfig(msgspec.Struct, **_STRICT):
    url: str = "nats://127.0.0.1:4222"
    subject_prefix: str = ""  # isolates a deployment (or a test) on a shared server: "<prefix>md.>"
    connect_timeout_s: float = 5.0
    drain_timeout_s: float = 5.0

    def __post_init__(self) -> None:
        for u in self.url.split(","):
            check_url("url", u.strip(), ("nats", "tls", "ws", "wss"), "nats:// or tls://")
        if self.subject_prefix and not self.subject_prefix.endswith("."):
            raise ValueError(f"subject_prefix: must end with '.', got {self.subject_prefix!r}")
        positive("connect_timeout_s", self.connect_timeout_s, 600)
        positive("drain_timeout_s", self.drain_timeout_s, 600)


class HttpConfig(msgspec.Struct, **_STRICT):
    """/metrics, /healthz, /readyz. port 0 picks a free port (tests)."""

    host: str = "127.0.0.1"
    port: int = 9100

    def __post_init__(self) -> None:
        non_empty("host", self.host)
        in_range("port", self.port, 0, 65535)


class LogConfig(msgspec.Struct, **_STRICT):
    level: str = "info"
    console: bool = True
    json: bool = False
    file: str = ""  # rotating file; empty = none
    file_max_bytes: int = 50 * 1024 * 1024  # 0 = never rotate
    file_backups: int = 5  # 0 = truncate instead of keeping old files
    audit_file: str = ""  # append-only JSON lines of order commands and execution events
    buffer_lines: int = 65536

    def __post_init__(self) -> None:
        if self.level.lower() not in ("debug", "info", "warning", "error", "critical"):
            raise ValueError(f"level: expected debug|info|warning|error|critical, got {self.level!r}")
        in_range("file_max_bytes", self.file_max_bytes, 0, 1 << 40, zero="never rotate")
        in_range("file_backups", self.file_backups, 0, 1000, zero="truncate")
        in_range("buffer_lines", self.buffer_lines, 16, 1 << 24)


class DatabaseConfig(msgspec.Struct, **_STRICT):
    url: str = "postgresql://postgres@127.0.0.1:5432/test"

    def __post_init__(self) -> None:
        check_url("url", self.url, ("postgresql", "postgres"), "postgresql://")


class GatewayOptions(msgspec.Struct, **_STRICT):
    """Knobs shared by every venue gateway (the venue-specific limits live in the venue's code)."""

    depth: int = 20  # levels per side in published `book` snapshots
    book_interval_ms: int = 100  # at most one `book` publish per symbol per interval; 0 = every update
    snapshot_limit: int = 1000  # REST snapshot depth (Gate advises <= 100 for futures; venue code may cap)
    watchdog_s: float = 30.0  # reconnect a WS that delivered nothing for this long
    ping_interval_s: float = 15.0
    symbol_refresh_s: float = 60.0  # re-read symbol rules: how late a rule change, halt or delisting reaches REF
    max_connection_age_s: float = 23 * 3600.0  # rotate before the venue's 24 h cut-off
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    request_timeout_s: float = 10.0
    recv_window_ms: int = 5000
    reconcile_fills_lookback_s: float = 3600.0  # fills re-read before the last one seen; 0 = from the last one
    # trading gateways: at start, rebuild the client-order-id memory (idempotency) from this account's own
    # order events in the ORD stream over this many seconds, before taking commands; 0 = start empty
    idempotency_window_s: float = 24 * 3600.0
    # trading gateways: unified symbols this account trades (`trade-gateway --symbols`). Always reconciled
    # (open orders, fills) and covered by a cancel-all without a symbol, even after a restart or for orders
    # placed by hand; unknown ones fail the start. Empty: the symbols the gateway traded or saw.
    trade_symbols: tuple[str, ...] = ()
    # market-data gateways: a feed (book, bbo, funding) whose socket delivered nothing (no data, no pong) for this
    # long is published as status stale; it is ok again only after a resync. Bounds what the coordinator trusts.
    stale_after_s: float = 3.0
    # trading gateways: one writer per (venue, account, market): a lease in JetStream KV held for this long without
    # renewal; a second gateway waits as a hot standby and takes over at most this long after the first is gone
    lease_ttl_s: float = 10.0
    subject_prefix: str = ""  # filled from nats.subject_prefix by the service
    # MEXC md gateway: 5, 10 or 20 = books are the venue's top-N limit depth pushes
    # (spot@public.limit.depth.v3.api.pb@<SYMBOL>@<N>, each a whole top N: no REST snapshot, no diff sync);
    # 0 = books synced from the aggre depth diffs and a REST snapshot (the default)
    mexc_limit_depth: int = 0
    # futures md gateways: open interest read from the venue's contract statistics every this many seconds (the
    # venue's statistics move in 5-minute buckets, so a minute is close enough and costs 1 request/min/symbol); 0 = off
    open_interest_poll_s: float = 60.0
    # futures md gateways: public liquidation orders (the venue's public channel, a REST read at start and after a
    # reconnect filling the gap, never repeating one)
    liquidations: bool = True
    # md gateways: candle intervals in the venue's spelling (Gate spot and futures: 10s 1m 5m 15m 30m 1h 4h 8h 1d 7d;
    # MEXC spot, its REST names: 1m 5m 15m 30m 60m 4h 1d 1W 1M, subscribed as Min1 ... Month1); empty = off
    kline_intervals: tuple[str, ...] = ()
    kline_backfill: int = 100  # candles per interval read over REST at start (and after a reconnect)
    # futures trading gateways (specs/gateways.md, "Margin and liquidation warnings"): a LiquidationWarning when a
    # position's distance to its liquidation price, (mark - liq) / mark, falls below this fraction; 0 = off
    liq_warning_fraction: float = 0.05
    # futures trading gateways: the account and positions re-read this often (the mark moves without a push);
    # pushes and reconciles re-read them too; 0 = only then
    margin_poll_s: float = 5.0
    # futures trading gateways: the venue's funding records (Gate account_book type=fund) read this often and
    # published as FundingPaid, each once; 0 = off
    funding_poll_s: float = 60.0
    # ... at the very first start (nothing in ORD yet), records this far back are published; later starts continue
    # from the newest one ORD holds
    funding_lookback_s: float = 3600.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.liq_warning_fraction) and 0 <= self.liq_warning_fraction < 1):
            raise ValueError("liq_warning_fraction: expected 0 (off) or a fraction of the mark price below 1 (e.g. 0.05 "
                             f"warns when the mark is within 5 % of the liquidation price), got {self.liq_warning_fraction}")
        in_range("margin_poll_s", self.margin_poll_s, 0, _HOUR, zero="only on pushes and reconciles")
        in_range("funding_poll_s", self.funding_poll_s, 0, _DAY, zero="off")
        in_range("funding_lookback_s", self.funding_lookback_s, 0, 30 * _DAY, zero="from the first start")
        in_range("open_interest_poll_s", self.open_interest_poll_s, 0, _DAY, zero="off")
        in_range("kline_backfill", self.kline_backfill, 0, 1000, zero="none")
        for iv in self.kline_intervals:
            if not re.match(r"^[0-9]{1,3}[smhdwWM]$", iv):
                raise ValueError(f"kline_intervals: expected e.g. 1m, 5m, 1h, got {iv!r}")
        if self.mexc_limit_depth not in (0, 5, 10, 20):
            raise ValueError(f"mexc_limit_depth: expected 0 (off), 5, 10 or 20, got {self.mexc_limit_depth}")
        in_range("depth", self.depth, 1, 1000)
        in_range("book_interval_ms", self.book_interval_ms, 0, 60_000, zero="every update")
        in_range("snapshot_limit", self.snapshot_limit, 1, 5000)
        positive("watchdog_s", self.watchdog_s, _HOUR)
        positive("ping_interval_s", self.ping_interval_s, _HOUR)
        positive("symbol_refresh_s", self.symbol_refresh_s, 7 * _DAY)
        positive("max_connection_age_s", self.max_connection_age_s, 7 * _DAY)
        positive("backoff_initial_s", self.backoff_initial_s, _HOUR)
        positive("backoff_max_s", self.backoff_max_s, _HOUR)
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError(
                f"backoff_max_s: must be >= backoff_initial_s ({self.backoff_initial_s}), got {self.backoff_max_s}"
            )
        positive("request_timeout_s", self.request_timeout_s, 600)
        in_range("recv_window_ms", self.recv_window_ms, 1, 60_000)  # MEXC accepts 1..60000
        in_range("reconcile_fills_lookback_s", self.reconcile_fills_lookback_s, 0, 30 * _DAY, zero="from the last fill")
        in_range("idempotency_window_s", self.idempotency_window_s, 0, 366 * _DAY, zero="off")
        positive("stale_after_s", self.stale_after_s, _HOUR)
        in_range("lease_ttl_s", self.lease_ttl_s, 1.0, _HOUR)  # renewed every ttl/4, fenced at ttl/2


class AppConfig(msgspec.Struct, **_STRICT):
    nats: NatsConfig = NatsConfig()
    http: HttpConfig = HttpConfig()
    log: LogConfig = LogConfig()
    venues: VenuesConfig = VenuesConfig()
    streams: StreamLimits = StreamLimits()
    database: DatabaseConfig = DatabaseConfig()
    gateway: GatewayOptions = GatewayOptions()
    sim: SimConfig = SimConfig()
    coordinator: CoordinatorConfig = CoordinatorConfig()
    recorder: RecorderConfig = RecorderConfig()
    shutdown_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        positive("shutdown_timeout_s", self.shutdown_timeout_s, _HOUR)
        if self.gateway.idempotency_window_s > self.streams.ord_max_age_s:
            raise ValueError(
                f"gateway.idempotency_window_s: {self.gateway.idempotency_window_s} s is longer than ORD keeps events "
                f"(streams.ord_max_age_s {self.streams.ord_max_age_s} s)")
