"""The task state machine as one table: for every (state, event kind), the action taken and the states it may lead to.

This table is the source of truth. ``machine.Strategy`` dispatches on it, the diagram in specs/strategy.md is
generated from it (``python -m arb.strategy.table``) and a test checks the two agree, and another test steps every
(state, event kind) pair and checks the state reached is one the table allows.

``to`` lists the states an event may move the task to directly. One step may move on from there (WAITING_ORDERS ->
FINALIZING -> IDLE when a cycle closes at once); each further move is one the intermediate state's rules allow.

Every event is first *absorbed* whatever the state (a book updates its view, a fill its order, position and PnL:
fills are the truth even when they arrive late); the action then decides what the state does about it.
"""

from __future__ import annotations

import enum
import sys

import msgspec

from .events import State


class Ev(enum.StrEnum):
    MARKET = "market"  # book snapshot / delta / bbo / status / funding rate / mark / index
    REF = "ref"  # symbol rules and fees (SymbolRef)
    INVENTORY = "inventory"  # Balance / Position
    ORDER = "order"  # OrderUpdate
    FILL = "fill"
    FAILED = "failed"  # CommandFailed
    NOT_FOUND = "not_found"  # OrderNotFound
    FUNDING_PAID = "funding_paid"
    TICK = "tick"
    START = "start"
    HALT = "halt"
    RESUME = "resume"
    FLATTEN = "flatten"


class Rule(msgspec.Struct, frozen=True):
    action: str  # Strategy method "_a_<action>"; "ignore" = absorbed only
    to: frozenset[State]  # the states this pair may lead to (the current one included when it may stay)
    doc: str


S = State
_EXEC = (Ev.ORDER, Ev.FILL, Ev.FAILED, Ev.NOT_FOUND)
_FEED = (Ev.MARKET, Ev.REF, Ev.INVENTORY, Ev.TICK)


def _r(action: str, doc: str, *to: State) -> Rule:
    return Rule(action, frozenset(to), doc)


def _build() -> dict[State, dict[Ev, Rule]]:
    t: dict[State, dict[Ev, Rule]] = {s: {} for s in State}

    def put(state: State, kinds: tuple[Ev, ...] | Ev, rule: Rule) -> None:
        for k in (kinds,) if isinstance(kinds, Ev) else kinds:
            t[state][k] = rule

    late = _r("late", "a fill or update for an earlier order: if it left a position, neutralise it",
              S.REBALANCING, S.ERROR)
    halt = _r("halt", "cancel working orders, neutralise net exposure, stop entering", S.HALTED)
    flatten = _r("flatten", "close every leg, then halt", S.COMPLETING, S.HALTED)
    ignore_ctl = _r("ignore", "already running")

    # IDLE: not trading; wakes up when enabled and the cooldown has passed.
    put(S.IDLE, _FEED, _r("wake", "enabled and cooled down: sync; a position left over: rebalance",
                          S.IDLE, S.SYNCING, S.REBALANCING))
    put(S.IDLE, _EXEC, _r("late", late.doc, S.IDLE, S.REBALANCING, S.ERROR))
    put(S.IDLE, (Ev.START, Ev.RESUME), _r("start", "enable the task", S.IDLE, S.SYNCING, S.REBALANCING))

    # SYNCING: waits for every book tradable, the rules, funding (perpetual) and inventory of every market.
    put(S.SYNCING, _FEED, _r("sync", "everything known and fresh: analyse", S.SYNCING, S.ANALYZING))
    put(S.SYNCING, _EXEC, _r("late", late.doc, S.SYNCING, S.REBALANCING, S.ERROR))

    # ANALYZING: prices every direction on every update; enters the best one above the threshold.
    put(S.ANALYZING, _FEED, _r("analyze", "not ready: sync; position left: rebalance; loss limit: halt; "
                                          "edge >= entry_bps within limits and inventory: send the lead leg",
                               S.ANALYZING, S.SYNCING, S.REBALANCING, S.MANAGING_ORDERS, S.HALTED))
    put(S.ANALYZING, _EXEC, _r("late", late.doc, S.ANALYZING, S.REBALANCING, S.ERROR))

    # REBALANCING: positions outside a cycle are traded back to flat; inventory needs were reported.
    put(S.REBALANCING, _FEED + _EXEC, _r("rebalance", "drive positions to flat; flat and nothing working: book it and "
                                                      "analyse", S.REBALANCING, S.ANALYZING, S.FINALIZING, S.ERROR))

    # MANAGING_ORDERS: the lead leg was sent; no answer from the venue yet.
    put(S.MANAGING_ORDERS, _FEED + _EXEC,
        _r("manage", "an answer for the lead: wait on it (a fill is hedged at once); refused: finalize; "
                     "no answer within order_timeout_s: ask the venue",
           S.MANAGING_ORDERS, S.WAITING_ORDERS, S.MONITORING, S.FINALIZING, S.ERROR))

    # WAITING_ORDERS: lead working at the venue; every fill hedged for its base quantity; failed hedges retried,
    # then the lead unwound.
    put(S.WAITING_ORDERS, _FEED + _EXEC,
        _r("drive", "hedge every fill; lead done and hedged: monitor (or finalize if nothing is held)",
           S.WAITING_ORDERS, S.MONITORING, S.FINALIZING, S.ERROR))

    # MONITORING: holding a hedged position until the spread converges, funding turns, or time is up.
    put(S.MONITORING, (Ev.MARKET, Ev.TICK), _r("monitor", "exit condition met: send the exit lead",
                                               S.MONITORING, S.COMPLETING))
    put(S.MONITORING, (Ev.REF, Ev.INVENTORY), _r("ignore", "absorbed", S.MONITORING))
    put(S.MONITORING, _EXEC, _r("hold", "a late fill: hedge it, stay", S.MONITORING, S.ERROR))

    # COMPLETING: the exit lead closes the lead market, the hedge follows; retried until flat.
    put(S.COMPLETING, _FEED + _EXEC,
        _r("drive", "close the lead, hedge every fill; flat: finalize; exit_attempts used up: halt",
           S.COMPLETING, S.FINALIZING, S.HALTED, S.ERROR))

    # FINALIZING: nothing working; waits for fills the orders reported, then books the cycle.
    put(S.FINALIZING, _FEED + _EXEC,
        _r("finalize", "fills complete (or fill_wait_s passed): report the cycle; idle, or halted if asked",
           S.FINALIZING, S.IDLE, S.HALTED, S.ERROR))

    # HALTED: no entries; working orders cancelled; net exposure still neutralised; a hedged position kept.
    put(S.HALTED, _FEED + _EXEC, _r("neutralise", "keep net exposure within tolerance; a cycle left with nothing "
                                                  "held is booked", S.HALTED, S.FINALIZING, S.ERROR))
    put(S.HALTED, Ev.RESUME, _r("resume", "nothing working: monitor a held position, else sync",
                                S.HALTED, S.SYNCING, S.MONITORING))
    put(S.HALTED, (Ev.START, Ev.HALT), _r("ignore", "already halted", S.HALTED))

    # ERROR: something could not be explained; the task sends nothing on its own until an operator acts.
    put(S.ERROR, _FEED + _EXEC, _r("ignore", "absorbed; nothing sent", S.ERROR))
    put(S.ERROR, (Ev.START,), _r("ignore", "an operator must halt, resume or flatten", S.ERROR))
    put(S.ERROR, Ev.RESUME, _r("resume_error", "acknowledged by an operator: halted", S.HALTED))

    for s in State:
        t[s].setdefault(Ev.FUNDING_PAID, _r("ignore", "booked to the cycle (or the task)", s))
        if s not in (S.HALTED, S.ERROR, S.FINALIZING):
            t[s].setdefault(Ev.START, Rule(ignore_ctl.action, frozenset({s}), ignore_ctl.doc))
            t[s].setdefault(Ev.RESUME, Rule(ignore_ctl.action, frozenset({s}), ignore_ctl.doc))
        t[s].setdefault(Ev.HALT, halt)
        t[s].setdefault(Ev.FLATTEN, flatten)
    for s in (S.FINALIZING,):
        t[s][Ev.HALT] = _r("halt_after", "book the cycle first, then halt", S.FINALIZING, S.HALTED, S.IDLE)
        t[s][Ev.FLATTEN] = _r("halt_after", "book the cycle first, then halt (a closed cycle is flat)",
                              S.FINALIZING, S.HALTED, S.IDLE)
        t[s][Ev.START] = _r("ignore", "running", s)
        t[s][Ev.RESUME] = _r("ignore", "running", s)
    # The exec kinds may also end in ERROR from absorbing (an update for an order the task never sent).
    for s in State:
        for k in _EXEC:
            r = t[s][k]
            t[s][k] = Rule(r.action, r.to | {S.ERROR}, r.doc)
    return t


TABLE: dict[State, dict[Ev, Rule]] = _build()


def mermaid() -> str:
    """The diagram of specs/strategy.md: one edge per (state, target) the table allows, labelled by event kinds."""
    edges: dict[tuple[State, State], list[str]] = {}
    for s, row in TABLE.items():
        for k, r in row.items():
            for to in r.to:
                if to is not s:
                    edges.setdefault((s, to), []).append(k.value)
    lines = ["stateDiagram-v2", "    [*] --> idle"]
    for (a, b), kinds in sorted(edges.items()):
        lines.append(f"    {a.value} --> {b.value}: {', '.join(sorted(kinds))}")
    return "\n".join(lines)


def markdown_table() -> str:
    """The full table as markdown rows (state | event | action | may lead to)."""
    rows = ["| state | event | action | may lead to |", "|---|---|---|---|"]
    for s, row in TABLE.items():
        for k, r in row.items():
            to = ", ".join(sorted(x.value for x in r.to))
            rows.append(f"| {s.value} | {k.value} | {r.action}: {r.doc} | {to} |")
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(("```mermaid\n" + mermaid() + "\n```\n") if "--table" not in sys.argv else markdown_table() + "\n")
