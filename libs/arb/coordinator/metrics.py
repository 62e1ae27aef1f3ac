"""Prometheus metrics of the coordinator; labels are the configured task ids and small fixed sets."""

from __future__ import annotations

from typing import Any

from ..obs.metrics import counter, gauge, latency_histogram
from ..strategy.events import CycleReport, ExposureReport, State, Transition
from ..strategy.opportunity import Opportunity


class CoordinatorMetrics:
    def __init__(self) -> None:
        self.steps = counter("arb_coordinator_steps_total", "events stepped through the strategy", ["task"])
        self.decision = latency_histogram("arb_coordinator_decision_seconds",
                                          "time of one Strategy.step (the decision, without I/O)", ["task"])
        self.transitions = counter("arb_coordinator_transitions_total", "state transitions", ["task", "state"])
        self.state = gauge("arb_coordinator_state", "1 for the state the task is in", ["task", "state"])
        self.commands = counter("arb_coordinator_commands_total", "commands sent, by verb and outcome",
                                ["task", "verb", "outcome"])
        self.opportunities = counter("arb_coordinator_opportunities_total", "opportunities reported",
                                     ["task", "taken"])
        self.cycles = counter("arb_coordinator_cycles_total", "cycles booked", ["task"])
        self.realised = gauge("arb_coordinator_realised_quote", "realised PnL of the task, quote", ["task"])
        self.net = gauge("arb_coordinator_net_exposure_base", "net base across the task's markets", ["task"])
        self.max_unhedged = gauge("arb_coordinator_max_unhedged_base", "largest |net| of the current cycle",
                                  ["task"])
        self.queue_overflow = counter("arb_coordinator_queue_overflow_total",
                                      "events queued beyond queue_max (execution and control are never dropped)",
                                      ["task"])

    def observe(self, task: str, out: Any, strategy: Any) -> None:
        t = type(out)
        if t is Transition:
            self.transitions.labels(task, out.new.value).inc()
            for s in State:
                self.state.labels(task, s.value).set(1 if s is out.new else 0)
        elif t is Opportunity:
            self.opportunities.labels(task, "yes" if out.taken else "no").inc()
        elif t is CycleReport:
            self.cycles.labels(task).inc()
            self.realised.labels(task).set(float(strategy.state.realised))
        elif t is ExposureReport:
            self.net.labels(task).set(float(out.net))
            self.max_unhedged.labels(task).set(float(out.max_unhedged))
