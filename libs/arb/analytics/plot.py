"""Charts of the analytics results (matplotlib, imported only here and only when a plot is asked for).

Each function draws the same series the report holds and returns the ``Figure`` (an object-oriented figure on the
Agg canvas: no pyplot, no global state, no display needed), so a caller (or a test) can read the lines' data
before or after ``save``.
"""

from __future__ import annotations

from typing import Any

from .results import FeedsReport, FundingReport, OpportunityReport, PerformanceReport, SpreadReport


def _figure(title: str, ylabel: str) -> tuple[Any, Any]:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 5), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(True, alpha=0.3)
    return fig, ax


def spread(r: SpreadReport) -> Any:
    """One line per pair: the minute spread or basis in bps; the threshold as dashed lines."""
    fig, ax = _figure(f"{r.symbol}: cross-venue spread and basis (1-minute mean mids)", "bps")
    for p in r.pairs:
        ax.plot([x.t for x in p.series], [x.v for x in p.series], label=f"{p.kind} {p.b} vs {p.a}")
    for y in (r.threshold_bps, -r.threshold_bps):
        ax.axhline(y, linestyle="--", linewidth=0.8, color="grey")
    return _done(fig, ax)


def opportunities(r: OpportunityReport) -> Any:
    """Spread of every listed opportunity over time: seen and taken as two series."""
    fig, ax = _figure(f"opportunities >= {r.min_spread_bps:g} bps ({r.seen} seen, {r.taken} taken)", "spread bps")
    for taken, label, marker in ((False, "seen", "."), (True, "taken", "o")):
        rows = sorted((x for x in r.rows if x.taken is taken), key=lambda x: x.time)
        ax.plot([x.time for x in rows], [x.spread_bps for x in rows], linestyle="none", marker=marker, label=label)
    return _done(fig, ax)


def performance(r: PerformanceReport) -> Any:
    """Cumulative PnL (quote) at each cycle's close."""
    fig, ax = _figure(f"{r.symbol or ', '.join(r.tasks)}: cumulative PnL ({r.cycles} cycles)", "PnL (quote)")
    ax.plot([c.closed for c in r.rows], [float(c.cum_pnl) for c in r.rows], marker="o", label="cumulative pnl")
    return _done(fig, ax)


def funding(r: FundingReport) -> Any:
    """Funding rate (bps per interval) by funding time, one step line per venue market."""
    fig, ax = _figure(f"{r.symbol}: funding rate per settlement", "rate (bps per interval)")
    for v in r.venues:
        ax.step([s.funding_time for s in v.settlements], [s.rate * 1e4 for s in v.settlements], where="post",
                label=v.market, marker=".")
    return _done(fig, ax)


def feeds(r: FeedsReport) -> Any:
    """Exchange->record latency p50 / p95 / p99 (ms) per venue market, one line per percentile."""
    fig, ax = _figure("book ticker latency, exchange -> record", "ms")
    names = [f.market for f in r.feeds]
    for i, label in enumerate(("p50", "p95", "p99")):
        ax.plot(names, [f.exchange_to_record_ms[i] or 0.0 for f in r.feeds], marker="o", label=label)
    return _done(fig, ax)


def _done(fig: Any, ax: Any) -> Any:
    if ax.lines:
        ax.legend(loc="best", fontsize="small")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


PLOTS = {SpreadReport: spread, OpportunityReport: opportunities, PerformanceReport: performance,
         FundingReport: funding, FeedsReport: feeds}


def figure(report: Any) -> Any:
    """The chart of any report."""
    return PLOTS[type(report)](report)


def save(report: Any, path: str) -> Any:
    """Draw ``report`` into the PNG file ``path``; returns the figure."""
    fig = figure(report)
    fig.savefig(path, format="png")
    return fig
