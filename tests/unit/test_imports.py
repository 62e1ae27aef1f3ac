"""Import boundaries: what a gateway process loads (never the simulator or dev tools), and how the simulator's
modules depend on each other (no loop held apart inside a function, the engine layered by concern)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
from arb.sim import accounts, book, engine, events, model
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# everything a market-data or trading gateway process imports before it runs: both service entries, the
# service runtime, and every (venue, market, public|private) builder the factory can hand out
GATEWAY_IMPORTS = """
import json, sys
before = set(sys.modules)
import services.trade_gateway.main, services.md_gateway.main
import arb.obs.runtime
from arb.venues import factory
for venue, market, side in factory.supported():
    factory.builder(venue, market, side)
print(json.dumps(sorted(set(sys.modules) - before)))
"""

# the simulator owns its config section (AppConfig.sim), so its config module, and the empty package above it,
# are the only simulator modules a gateway may load
SIM_ALLOWED = {"arb.sim", "arb.sim.config"}
# the same for the coordinator's section (AppConfig.coordinator: its tasks are strategy parameters)
COORDINATOR_ALLOWED = {"arb.coordinator", "arb.coordinator.config", "arb.strategy", "arb.strategy.params"}
NEVER = ("arb.sim.engine", "arb.sim.context", "arb.sim.market", "arb.sim.server", "arb.sim.mexc", "arb.sim.gateio",
         "arb.testing", "arb.tools", "ccxt", "gate_api", "gate_ws", "pytest", "testcontainers")


@cache
def gateway_modules() -> frozenset[str]:
    out = subprocess.run([sys.executable, "-c", GATEWAY_IMPORTS], cwd=ROOT, capture_output=True, text=True,
                         timeout=60, check=True)
    return frozenset(json.loads(out.stdout))


def runtime_distributions(name: str = "arb-engine") -> set[str]:
    """The project's runtime dependencies (no extras), followed transitively through what is installed."""
    seen: set[str] = set()
    todo = [name]
    env = default_environment() | {"extra": ""}
    while todo:
        dist = canonicalize_name(todo.pop())
        if dist in seen:
            continue
        seen.add(dist)
        try:
            reqs = metadata.requires(dist) or []
        except metadata.PackageNotFoundError:
            continue
        for line in reqs:
            req = Requirement(line)
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return seen


def test_gateway_loads_no_simulator_code() -> None:
    """A gateway process loads the simulator's config section only: no engine, market, server or wire layer."""
    mods = gateway_modules()

    sim = {m for m in mods if m == "arb.sim" or m.startswith("arb.sim.")}

    assert sim <= SIM_ALLOWED, f"a gateway loads simulator code: {sorted(sim - SIM_ALLOWED)}"


def test_gateway_loads_no_strategy_or_coordinator_code() -> None:
    """A gateway process loads the coordinator's config section only: no strategy machine, no coordinator runner."""
    mods = gateway_modules()

    loaded = {m for m in mods if m.split(".")[:2] in (["arb", "strategy"], ["arb", "coordinator"])}

    assert loaded <= COORDINATOR_ALLOWED, f"a gateway loads strategy code: {sorted(loaded - COORDINATOR_ALLOWED)}"


def test_gateway_loads_no_test_or_dev_packages() -> None:
    """Nothing a gateway loads is test support, a tool, or a dev-only package (ccxt, the Gate SDKs, pytest)."""
    mods = gateway_modules()

    loaded = sorted(n for n in NEVER if any(m == n or m.startswith(n + ".") for m in mods))

    assert loaded == []


def test_gateway_project_packages() -> None:
    """The project packages a gateway loads are the recorded set: core, bus, config, obs, venues (+ the sim's, the
    coordinator's and the recorder's config sections)."""
    mods = gateway_modules()

    arb = {".".join(m.split(".")[:2]) for m in mods if m.startswith("arb.")}
    top = {m.split(".")[0] for m in mods if "." not in m}

    assert arb == {"arb.core", "arb.bus", "arb.config", "arb.obs", "arb.venues", "arb.sim", "arb.strategy",
                   "arb.coordinator", "arb.recorder"}
    recorder = {m for m in mods if m.startswith("arb.recorder")}
    assert recorder == {"arb.recorder", "arb.recorder.config"}, "a gateway loads the recorder's config section only"
    assert {"arb", "services", "proto"} <= top


def test_gateway_third_party_packages_are_runtime_dependencies() -> None:
    """Every third-party package a gateway loads comes from the project's runtime dependencies, not the dev extra."""
    mods = gateway_modules()
    owners = metadata.packages_distributions()
    allowed = runtime_distributions()

    top = {m for m in mods if "." not in m} - set(sys.stdlib_module_names) - {"arb", "services", "proto"}
    dists = {canonicalize_name(d) for t in top for d in owners.get(t, [])}

    assert dists, f"no third-party distribution found for {sorted(top)}"
    assert dists <= allowed, f"not a runtime dependency: {sorted(dists - allowed)}"


def _function_imports(path: Path) -> list[int]:
    """Line numbers of imports inside a function body (the usual way an import loop is held apart)."""
    lines: list[int] = []
    for fn in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            lines += [n.lineno for n in ast.walk(fn) if isinstance(n, ast.Import | ast.ImportFrom)]
    return lines


def test_simulator_modules_import_at_module_level() -> None:
    """No simulator module hides an import loop behind an import inside a function (the package's lazy names aside)."""
    sim = ROOT / "libs" / "arb" / "sim"

    found = {str(p.relative_to(sim)): _function_imports(p) for p in sorted(sim.rglob("*.py"))
             if p != sim / "__init__.py"}

    assert {name: lines for name, lines in found.items() if lines} == {}


# each part of the simulator's engine and the parts it may import at run time (type-only imports aside)
ENGINE_LAYERS = {
    "model": set(),
    "book": {"model"},
    "events": set(),
    "accounts": {"model"},
    "funding": {"model", "accounts", "events"},
    "matching": {"model", "book", "accounts", "events"},
    "engine": {"model", "book", "accounts", "events", "funding", "matching"},
}


def _runtime_sibling_imports(path: Path) -> set[str]:
    """Sibling modules (``from .x import``) a module imports at module level, outside ``if TYPE_CHECKING:``."""
    out: set[str] = set()
    for node in ast.parse(path.read_text(), str(path)).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            out.add(node.module.split(".")[0])
    return out


def test_engine_parts_import_only_the_parts_below_them() -> None:
    """The engine is split by concern: model, book, accounts and margin, funding, events, matching; no part imports
    the one wiring them (engine) nor a part above it."""
    sim = ROOT / "libs" / "arb" / "sim"

    found = {name: _runtime_sibling_imports(sim / f"{name}.py") & set(ENGINE_LAYERS) for name in ENGINE_LAYERS}

    assert found == ENGINE_LAYERS


def test_engine_keeps_its_names() -> None:
    """Every name arb.sim.engine had before the split is still importable from it, as the same object as in its part."""
    names = ["ZERO", "ONE", "REJECT_REASONS", "SIDES", "KINDS", "TIFS", "KEEP_FINISHED", "KEEP_PUBLIC_TRADES",
             "SimReject", "Instrument", "Bal", "Pos", "SimOrder", "SimFill", "PublicTrade", "BookChange", "Level",
             "Book", "Account", "AccountBook", "_LISTENER_METHODS", "_Action", "VenueExchange"]

    missing = [n for n in names if not hasattr(engine, n)]

    assert missing == []
    assert engine.Pos is accounts.Pos and engine.Book is book.Book and engine.SimOrder is model.SimOrder
    assert engine._Action is events.Action


def _imports_stdlib_logging(path: Path) -> bool:
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import) and any(a.name == "logging" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "logging":
            return True
    return False


def test_simulator_and_ws_manager_log_through_the_project_logger() -> None:
    """Nothing configures stdlib logging, so the simulator and the WS manager log through arb.obs.log only."""
    libs = ROOT / "libs" / "arb"
    files = [*sorted((libs / "sim").rglob("*.py")), libs / "venues" / "common" / "ws.py"]

    stdlib = [str(p.relative_to(libs)) for p in files if _imports_stdlib_logging(p)]

    assert stdlib == []
