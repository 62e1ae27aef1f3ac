"""`arb analytics spread|opportunities|performance|funding|feeds ...`: the recorder's database, read.

Data to stdout (a table, or one JSON document with ``--json``), ``--plot FILE.png`` draws the same series; messages
to stderr. Exit 0 ok, 2 usage or config error (an unknown symbol included), 1 otherwise (database unreachable, no
schema). The database is the config's ``database.url`` (or ``DATABASE_URL``). Definitions: specs/analytics.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime
from typing import Any

import msgspec

from ..config.loader import load_config
from ..core.errors import ConfigError, StorageError, SymbolError

QUERIES = ("spread", "opportunities", "performance", "funding", "feeds")
_json = msgspec.json.Encoder(decimal_format="string")


def add_arguments(p: argparse.ArgumentParser) -> None:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="config file (database.url; DATABASE_URL overrides)")
    common.add_argument("--json", action="store_true", help="one JSON document on stdout")
    common.add_argument("--plot", metavar="FILE.png", help="also draw the series into this PNG file")
    common.add_argument("--end", help="end of the window, ISO 8601 (default: now), e.g. 2025-06-15T16:00:00Z")
    common.add_argument("--timeout", type=float, default=10.0, help="seconds allowed per database call")
    sub = p.add_subparsers(dest="query", metavar="QUERY", required=True)
    s = sub.add_parser("spread", parents=[common], help="cross-venue spreads and spot-perp basis with stats")
    s.add_argument("--symbol", required=True, help="any spelling: NEIRO-ETH, NEIROETH, NEIRO_ETH")
    s.add_argument("--timeframe", default="1h", help="window before --end: 90s, 15m, 1h, 1d (default 1h)")
    s.add_argument("--threshold-bps", type=float, default=10.0, help="for the time above it (default 10)")
    s.add_argument("--series", action="store_true", help="print the minute series too (table mode)")
    o = sub.add_parser("opportunities", parents=[common], help="opportunities seen and taken, with the edge")
    g = o.add_mutually_exclusive_group()
    g.add_argument("--min-spread", type=float, help="minimum gross spread in percent (0.5 = 50 bps)")
    g.add_argument("--min-spread-bps", type=float, help="minimum gross spread in bps")
    o.add_argument("--symbol", help="the tasks trading this symbol (any spelling)")
    o.add_argument("--task", help="one task")
    o.add_argument("--timeframe", default="1d", help="window before --end (default 1d)")
    o.add_argument("--limit", type=int, default=20, help="latest rows listed (default 20)")
    f = sub.add_parser("performance", parents=[common], help="cycles, PnL itemised, win rate, drawdown, exposure")
    f.add_argument("--symbol", help="the tasks trading this symbol (any spelling)")
    f.add_argument("--task", help="one task")
    f.add_argument("--days", type=float, default=7.0, help="window before --end in days (default 7)")
    u = sub.add_parser("funding", parents=[common], help="funding history per venue with the interval")
    u.add_argument("--symbol", required=True, help="any spelling")
    u.add_argument("--days", type=float, default=7.0, help="window before --end in days (default 7)")
    d = sub.add_parser("feeds", parents=[common], help="per venue market latency percentiles, gaps, resyncs")
    d.add_argument("--window", default="1h", help="window before --end (default 1h)")
    d.add_argument("--symbol", help="one symbol (default: all)")


def _end(text: str | None) -> datetime | None:
    if not text:
        return None
    t = datetime.fromisoformat(text)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


async def query(dsn: str, args: argparse.Namespace) -> Any:
    from ..analytics import AnalyticsAPI

    end = _end(args.end)
    api = await AnalyticsAPI.connect(dsn, timeout=min(args.timeout, 10.0), command_timeout=args.timeout)
    async with api:
        q = args.query
        if q == "spread":
            return await api.spread(args.symbol, args.timeframe, threshold_bps=args.threshold_bps, end=end)
        if q == "opportunities":
            bps = args.min_spread_bps if args.min_spread_bps is not None else (args.min_spread or 0.0) * 100
            return await api.opportunities(bps, symbol=args.symbol, task=args.task, timeframe=args.timeframe,
                                           end=end, limit=args.limit)
        if q == "performance":
            return await api.performance(args.symbol, args.days, task=args.task, end=end)
        if q == "funding":
            return await api.funding(args.symbol, args.days, end=end)
        return await api.feeds(args.window, symbol=args.symbol, end=end)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        _end(args.end)
        if args.query == "performance" and not (args.symbol or args.task):
            raise ValueError("performance: give --symbol or --task")
        if args.query in ("spread", "opportunities", "feeds"):
            from ..analytics import parse_duration

            parse_duration(args.window if args.query == "feeds" else args.timeframe)
        if args.plot:
            import matplotlib  # noqa: F401 -- fail early (exit 2) when the plotting library is missing
    except (ConfigError, ValueError, ImportError) as e:
        print(f"analytics: {e}", file=sys.stderr)
        return 2
    try:
        report = asyncio.run(query(cfg.database.url, args))
    except SymbolError as e:
        print(f"analytics: {e}", file=sys.stderr)
        return 2
    except (StorageError, TimeoutError) as e:
        print(f"analytics: {e or 'database call timed out'}", file=sys.stderr)
        return 1
    if args.json:
        sys.stdout.write(_json.encode(report).decode() + "\n")
    else:
        sys.stdout.write(render(report, series=getattr(args, "series", False)))
    if args.plot:
        from ..analytics import plot

        try:
            plot.save(report, args.plot)
        except OSError as e:
            print(f"analytics: cannot write {args.plot}: {e.strerror or e}", file=sys.stderr)
            return 1
        print(f"analytics: wrote {args.plot}", file=sys.stderr)
    return 0


# ------------------------------------------------------------------------------------------------------ tables
def _f(x: Any, nd: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    if isinstance(x, datetime):
        return x.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    return str(x)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    cells = [[_f(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [line.format(*headers), "  ".join("-" * w for w in widths), *(line.format(*r) for r in cells)]
    return "\n".join(x.rstrip() for x in out) + "\n"


def render(r: Any, series: bool = False) -> str:
    from ..analytics import results as R

    span = f"{_f(r.start)} .. {_f(r.end)} UTC"
    if isinstance(r, R.SpreadReport):
        out = [f"{r.symbol}  {span}  (1-minute mean mids; threshold {r.threshold_bps:g} bps)\n\n",
               table(["market", "ticks", "minutes", "mean mid", "quoted bps"],
                     [[m.market, m.ticks, m.minutes, m.mean_mid, m.mean_quoted_bps] for m in r.markets]), "\n",
               table(["kind", "b vs a", "n", "mean", "p5", "p50", "p95", "min", "max", "above s", "above %"],
                     [[p.kind, f"{p.b} vs {p.a}", p.stats.n, p.stats.mean, p.stats.p5, p.stats.p50, p.stats.p95,
                       p.stats.min, p.stats.max, p.stats.above_s, p.stats.above_frac * 100] for p in r.pairs])]
        if series:
            for p in r.pairs:
                out += ["\n", f"{p.kind} {p.b} vs {p.a} (bps)\n", table(["minute", "bps"], [[x.t, x.v] for x in p.series])]
        return "".join(out)
    if isinstance(r, R.OpportunityReport):
        return "".join([
            (f"opportunities >= {r.min_spread_bps:g} bps  {span}  seen {r.seen}, taken {r.taken}"
            f"{'  symbol ' + r.symbol if r.symbol else ''}\n\n"),
            table(["task", "buy", "sell", "seen", "taken", "mean spread", "max spread", "mean net", "taken net",
                   "taken net quote"],
                  [[g.task, g.buy, g.sell, g.seen, g.taken, g.mean_spread_bps, g.max_spread_bps, g.mean_net_bps,
                    g.taken_mean_net_bps, g.taken_net_quote] for g in r.groups]), "\n",
            table(["time", "task", "buy", "sell", "qty", "spread", "fees", "funding", "net bps", "net quote", "taken",
                   "reason"],
                  [[x.time, x.task, x.buy, x.sell, x.qty, x.spread_bps, x.fees_bps, x.funding_bps, x.net_bps,
                    x.net_quote, "yes" if x.taken else "no", x.reason] for x in r.rows])])
    if isinstance(r, R.PerformanceReport):
        fees = ", ".join(f"{v} {k}" for k, v in r.fees.items()) or "-"
        return "".join([
            f"{r.symbol or ''} tasks {', '.join(r.tasks) or '-'}  {span}\n",
            (f"cycles {r.cycles}  wins {r.wins}  losses {r.losses}  win rate "
            f"{_f(r.win_rate * 100 if r.win_rate is not None else None, 1)}%\n"),
            (f"pnl {r.pnl} = cash {r.cash} - fees {r.fees_quote} + funding {r.funding} + residual {r.residual_value}"
            f"  (fees by asset: {fees})\n"),
            (f"max drawdown {r.max_drawdown} (at {_f(r.max_drawdown_at)})  max unhedged {r.max_unhedged} base for "
            f"up to {r.max_unhedged_ns / 1e9:g} s\n\n"),
            table(["closed", "task", "cycle", "buy", "sell", "qty", "entry bps", "cash", "fees", "funding", "pnl",
                   "cum pnl", "unhedged", "reason"],
                  [[c.closed, c.task, c.cycle, c.buy, c.sell, c.qty, c.entry_spread_bps, c.cash, c.fees_quote,
                    c.funding, c.pnl, c.cum_pnl, c.max_unhedged, c.reason] for c in r.rows])])
    if isinstance(r, R.FundingReport):
        out = [f"{r.symbol} funding  {span}\n"]
        for v in r.venues:
            out += ["\n", (f"{v.market}: current {_f(v.current_rate * 1e4 if v.current_rate is not None else None, 3)}"
                    f" bps per {v.interval_s} s, next {_f(v.next_funding)}\n"),
                    table(["funding time", "rate bps", "interval s", "annualised %", "last seen"],
                          [[s.funding_time, s.rate * 1e4, s.interval_s,
                            s.annualised * 100 if s.annualised is not None else None, s.last_seen]
                           for s in v.settlements])]
        if r.payments:
            out += ["\n", f"paid to our accounts (venue records, quote; + received, - paid): {r.paid}\n",
                    table(["settled", "market", "account", "amount", "rate bps"],
                          [[p.time, p.market, p.account, p.amount, p.rate * 1e4] for p in r.payments])]
        return "".join(out)
    if isinstance(r, R.FeedsReport):
        def pc(p: Any) -> str:
            return "/".join(_f(x, 1) for x in (p.p50, p.p95, p.p99))

        return "".join([
            f"feeds  {span}{'  symbol ' + r.symbol if r.symbol else ''}  (latency ms p50/p95/p99, book tickers)\n\n",
            table(["market", "symbols", "ticks", "exch->pub", "pub->rec", "exch->rec", "silent min", "gaps",
                   "resyncs", "disconnects", "stale by reason"],
                  [[f.market, f.symbols, f.ticks, pc(f.exchange_to_publish_ms), pc(f.publish_to_record_ms),
                    pc(f.exchange_to_record_ms), f.silent_minutes, f.gaps, f.resyncs, f.disconnects,
                    ", ".join(f"{k} {v}" for k, v in f.stale.items()) or "-"] for f in r.feeds]),
            "\nnot recorded: " + "; ".join(r.not_recorded) + "\n"])
    raise TypeError(type(r).__name__)
