"""`arb sim` configuration: ports, seed, instruments per venue, accounts, market dynamics, faults.

The ``sim:`` section of the app config (``AppConfig.sim``) or a file of its own given to ``arb sim --config``
(either the whole app config with a ``sim:`` key, or just the sim section). Decimals are written as strings
in YAML (``"0.01"``); floats are accepted and converted through their shortest repr.

Defaults serve BTC-USDT, ETH-USDT and NEIRO-ETH on every venue market where the pair really exists, with
each venue's own tick, lot step, minimums and fees (from exchange-facts.md and the venues' symbol rules),
and a demo-friendly funding interval of 60 s (real venues: 28800).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from ..config.checks import in_range, non_empty, positive

_STRICT = {"frozen": True, "forbid_unknown_fields": True, "kw_only": True}

VENUE_MARKETS = (("mexc", "spot"), ("gateio", "spot"), ("gateio", "futures"))
FAULT_NAMES = (
    "ws_drop",
    "ws_stall",
    "book_skip",
    "book_duplicate",
    "book_reorder",
    "malformed_frame",
    "rest_429",
    "rest_5xx",
    "rest_slow",
    "order_reject",
    "listenkey_expire",
    "fill_before_ack",
    "kline_no_w",
)


_BIG = 10**15  # a ceiling for prices, sizes and notionals: only there to refuse infinity and typos


def _check_vm(venue: str, market: str, any_ok: bool = False) -> None:
    """Validate a (venue, market) pair; with ``any_ok`` an empty or ``*`` part means any."""
    wild = ("", "*") if any_ok else ()
    if venue not in wild and venue not in ("mexc", "gateio"):
        raise ValueError(f"venue: expected mexc|gateio, got {venue!r}")
    if market not in wild and market not in ("spot", "futures"):
        raise ValueError(f"market: expected spot|futures, got {market!r}")
    if venue not in wild and market not in wild and (venue, market) not in VENUE_MARKETS:
        raise ValueError(f"market: {venue} has no {market} market in the simulator")


class InstrumentConfig(msgspec.Struct, **_STRICT):
    """One instrument on one venue market. Futures quantities are contracts of ``multiplier`` base each."""

    venue: str
    market: str
    venue_symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal = Decimal(0)  # quote currency
    max_qty: Decimal = Decimal(0)  # 0 = no limit
    multiplier: Decimal = Decimal(1)
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal(0)
    leverage_max: int = 100
    maintenance_rate: Decimal = Decimal("0.005")
    offset_bps: float = 0.0  # this venue's steady premium over the shared fair price
    level_spacing_bps: float = 0.0  # 0 = the symbol's default
    level_notional: float = 0.0  # quote per maker level; 0 = the symbol's default

    def __post_init__(self) -> None:
        _check_vm(self.venue, self.market)
        for name in ("tick", "step", "min_qty", "multiplier"):
            positive(name, getattr(self, name), _BIG)
        in_range("min_notional", self.min_notional, 0, _BIG)
        in_range("max_qty", self.max_qty, 0, _BIG, zero="no limit")
        in_range("maker_fee", self.maker_fee, -1, 1)  # negative: a maker rebate
        in_range("taker_fee", self.taker_fee, -1, 1)
        in_range("leverage_max", self.leverage_max, 1, 1000)
        in_range("maintenance_rate", self.maintenance_rate, 0, 1)
        in_range("offset_bps", self.offset_bps, -10_000, 10_000)
        in_range("level_spacing_bps", self.level_spacing_bps, 0, 10_000, zero="the symbol's")
        in_range("level_notional", self.level_notional, 0, _BIG, zero="the symbol's")


class SymbolConfig(msgspec.Struct, **_STRICT):
    """One unified symbol: its shared price process and its instruments on each venue."""

    symbol: str  # unified BASE-QUOTE
    start_price: Decimal
    volatility: float = 0.6  # annualised, of the fair price
    mean_reversion: float = 0.0  # per second, towards start_price (0 = none)
    levels: int = 25  # maker levels per side
    level_spacing_bps: float = 1.0
    level_notional: float = 2000.0  # quote currency per level (grows with depth)
    trades_per_s: float = 4.0  # background taker trades per instrument
    taker_notional: float = 500.0  # mean quote per background trade
    funding_rate: Decimal = Decimal("0.0001")
    funding_rate_vol: float = 0.00005  # random-walk step per funding interval
    instruments: list[InstrumentConfig] = []

    def __post_init__(self) -> None:
        base, sep, quote = self.symbol.partition("-")
        if not sep or not base or not quote or base.upper() != base or quote.upper() != quote:
            raise ValueError(f"symbol: expected a unified symbol like BTC-USDT, got {self.symbol!r}")
        positive("start_price", self.start_price, _BIG)
        in_range("volatility", self.volatility, 0, 100)
        in_range("mean_reversion", self.mean_reversion, 0, 1000, zero="none")
        in_range("levels", self.levels, 1, 500)
        positive("level_spacing_bps", self.level_spacing_bps, 10_000)
        positive("level_notional", self.level_notional, _BIG)
        in_range("trades_per_s", self.trades_per_s, 0, 10_000, zero="none")
        positive("taker_notional", self.taker_notional, _BIG)
        in_range("funding_rate", self.funding_rate, -1, 1)
        in_range("funding_rate_vol", self.funding_rate_vol, 0, 1)
        seen = set()
        for inst in self.instruments:
            key = (inst.venue, inst.market)
            if key in seen:
                raise ValueError(f"instruments: {inst.venue} {inst.market} listed twice for {self.symbol}")
            seen.add(key)

    @property
    def base(self) -> str:
        return self.symbol.partition("-")[0]

    @property
    def quote(self) -> str:
        return self.symbol.partition("-")[2]


class AccountConfig(msgspec.Struct, **_STRICT):
    """A client account. ``balances`` fund the spot wallet, ``futures_balances`` the USDT futures wallet."""

    name: str
    venue: str
    api_key: str
    api_secret: str
    balances: dict[str, Decimal] = {}
    futures_balances: dict[str, Decimal] = {}

    def __post_init__(self) -> None:
        if self.venue not in ("mexc", "gateio"):
            raise ValueError(f"venue: expected mexc|gateio, got {self.venue!r}")
        if not self.name or not self.api_key or not self.api_secret:
            raise ValueError("name: name, api_key and api_secret must not be empty")
        if self.futures_balances and self.venue != "gateio":
            raise ValueError(f"futures_balances: {self.venue} has no futures market in the simulator")
        for field in ("balances", "futures_balances"):
            for asset, amount in getattr(self, field).items():
                in_range(f"{field}.{asset}", amount, 0, _BIG)

    def __repr__(self) -> str:  # never show the secret
        return f"AccountConfig(name={self.name!r}, venue={self.venue!r}, api_key={self.api_key!r})"


class PortsConfig(msgspec.Struct, **_STRICT):
    """0 picks a free port. Gate spot and futures share one port (same REST host, two WS paths)."""

    mexc: int = 18081
    gateio: int = 18082
    admin: int = 18080

    def __post_init__(self) -> None:
        for name in ("mexc", "gateio", "admin"):
            in_range(name, getattr(self, name), 0, 65535)


class DislocationConfig(msgspec.Struct, **_STRICT):
    """Temporary shifts of one venue market's quotes away from the others (arbitrage windows).

    Every symbol draws its next dislocation after an exponential wait of mean ``every_s``; it moves one
    random venue market by +-``bps`` (times U(0.5, 1.5)) for ``duration_s`` (times U(0.5, 1.5)).
    """

    enabled: bool = True
    every_s: float = 20.0
    duration_s: float = 6.0
    bps: float = 40.0

    def __post_init__(self) -> None:
        positive("every_s", self.every_s, 86400)
        positive("duration_s", self.duration_s, 86400)
        in_range("bps", self.bps, 0, 10_000)


class FaultConfig(msgspec.Struct, **_STRICT):
    """A fault armed at start. ``count`` shots (-1 = every time), or drawn with ``probability`` per chance."""

    name: str
    venue: str = ""  # "" = any
    market: str = ""  # "" = any
    count: int = 0
    probability: float = 0.0
    params: dict[str, float | int | str] = {}

    def __post_init__(self) -> None:
        if self.name not in FAULT_NAMES:
            raise ValueError(f"name: expected one of {', '.join(FAULT_NAMES)}, got {self.name!r}")
        _check_vm(self.venue, self.market, any_ok=True)
        in_range("probability", self.probability, 0, 1)
        if self.count < -1:
            raise ValueError(f"count: expected >= -1, got {self.count}")
        for key, value in self.params.items():
            if isinstance(value, float):
                in_range(f"params.{key}", value, -_BIG, _BIG)


def _i(venue: str, market: str, sym: str, tick: str, step: str, min_qty: str, min_notional: str = "0",
       multiplier: str = "1", maker: str = "0", taker: str = "0", **kw) -> InstrumentConfig:
    return InstrumentConfig(
        venue=venue, market=market, venue_symbol=sym, tick=Decimal(tick), step=Decimal(step),
        min_qty=Decimal(min_qty), min_notional=Decimal(min_notional), multiplier=Decimal(multiplier),
        maker_fee=Decimal(maker), taker_fee=Decimal(taker), **kw,
    )


# Fees: MEXC spot 0 % maker / 0.05 % taker; Gate spot 0.2 % (the pair's `fee` field); Gate USDT perps
# 0.02 % maker / 0.05 % taker (VIP0). Steps and ticks as in the venues' symbol rules.
DEFAULT_SYMBOLS = [
    SymbolConfig(
        symbol="BTC-USDT", start_price=Decimal(65000), volatility=0.6, level_spacing_bps=0.8,
        level_notional=4000.0, taker_notional=800.0, funding_rate=Decimal("0.0001"),
        instruments=[
            _i("mexc", "spot", "BTCUSDT", "0.01", "0.000001", "0.000001", "1", maker="0", taker="0.0005"),
            _i("gateio", "spot", "BTC_USDT", "0.1", "0.000001", "0.000001", "3", maker="0.002", taker="0.002"),
            _i("gateio", "futures", "BTC_USDT", "0.1", "1", "1", "0", multiplier="0.0001",
               maker="0.0002", taker="0.0005", leverage_max=125, offset_bps=1.0),
        ],
    ),
    SymbolConfig(
        symbol="ETH-USDT", start_price=Decimal(3500), volatility=0.75, level_spacing_bps=1.0,
        level_notional=3000.0, taker_notional=600.0, funding_rate=Decimal("0.00008"),
        instruments=[
            _i("mexc", "spot", "ETHUSDT", "0.01", "0.00001", "0.00001", "1", maker="0", taker="0.0005"),
            _i("gateio", "spot", "ETH_USDT", "0.01", "0.0001", "0.0001", "3", maker="0.002", taker="0.002"),
            _i("gateio", "futures", "ETH_USDT", "0.01", "1", "1", "0", multiplier="0.01",
               maker="0.0002", taker="0.0005", leverage_max=100, offset_bps=1.5),
        ],
    ),
    SymbolConfig(
        symbol="NEIRO-ETH", start_price=Decimal("0.00000045"), volatility=1.5, level_spacing_bps=8.0,
        level_notional=0.3, taker_notional=0.05, funding_rate=Decimal(0), trades_per_s=1.5,
        instruments=[
            _i("mexc", "spot", "NEIROETH", "0.0000000001", "1", "1", "0.0005", maker="0", taker="0.0005"),
            _i("gateio", "spot", "NEIRO_ETH", "0.0000000001", "1", "1", "0.0005", maker="0.002", taker="0.002"),
        ],
    ),
]

DEFAULT_ACCOUNTS = [
    AccountConfig(
        name="mexc-demo", venue="mexc", api_key="mx0vglsimdemokey00000001",
        api_secret="simdemosecret0000000000000000001",
        balances={"USDT": Decimal(100000), "BTC": Decimal(1), "ETH": Decimal(20), "NEIRO": Decimal(50000000)},
    ),
    AccountConfig(
        name="gateio-demo", venue="gateio", api_key="simgatedemokey00000000000000001",
        api_secret="simgatedemosecret000000000000000000000000000000000000000000001",
        balances={"USDT": Decimal(100000), "BTC": Decimal(1), "ETH": Decimal(20), "NEIRO": Decimal(50000000)},
        futures_balances={"USDT": Decimal(100000)},
    ),
]


class SimConfig(msgspec.Struct, **_STRICT):
    seed: int = 1
    host: str = "127.0.0.1"
    ports: PortsConfig = PortsConfig()
    tick_ms: int = 100  # market step: fair prices, maker re-quotes, background trades
    funding_interval_s: int = 60  # real venues: 28800; short so a demo sees several fundings
    default_leverage: int = 10
    cross_leverage: int = 10  # margin divisor for leverage 0 (cross)
    symbols: list[SymbolConfig] = msgspec.field(default_factory=lambda: list(DEFAULT_SYMBOLS))
    accounts: list[AccountConfig] = msgspec.field(default_factory=lambda: list(DEFAULT_ACCOUNTS))
    dislocations: DislocationConfig = DislocationConfig()
    faults: list[FaultConfig] = []
    listen_key_ttl_s: int = 3600

    def __post_init__(self) -> None:
        non_empty("host", self.host)
        in_range("tick_ms", self.tick_ms, 1, 60_000)
        in_range("funding_interval_s", self.funding_interval_s, 1, 30 * 86400)
        in_range("default_leverage", self.default_leverage, 0, 1000, zero="cross")
        in_range("cross_leverage", self.cross_leverage, 1, 1000)
        in_range("listen_key_ttl_s", self.listen_key_ttl_s, 1, 30 * 86400)
        names = [s.symbol for s in self.symbols]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"symbols: listed twice: {', '.join(sorted(dup))}")
        seen_vs: set[tuple[str, str, str]] = set()
        for s in self.symbols:
            for i in s.instruments:
                k = (i.venue, i.market, i.venue_symbol)
                if k in seen_vs:
                    raise ValueError(f"symbols: {i.venue} {i.market} {i.venue_symbol} used by two symbols")
                seen_vs.add(k)
        keys = [(a.venue, a.api_key) for a in self.accounts]
        if len(set(keys)) != len(keys):
            raise ValueError("accounts: two accounts share a venue and api_key")
        anames = [a.name for a in self.accounts]
        if len(set(anames)) != len(anames):
            raise ValueError("accounts: account names must be unique")
