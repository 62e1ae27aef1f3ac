"""The import rules of specs/architecture.md, checked on the source: who may import whom.

Read from the code's own import statements (module level and inside functions), so a rule broken anywhere
fails here with the file and the import that broke it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2] / "libs" / "arb"


def _imports() -> list[tuple[str, str, int]]:
    """(importing module, imported module, line) for every import of an ``arb`` module under libs/arb."""
    out = []
    for f in sorted(ROOT.rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        if is_pkg:
            parts = parts[:-1]
        mod = ".".join(["arb", *parts])
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                    names = [f"{target}.{a.name}" for a in node.names] if not node.module else [target]
                else:
                    names = [node.module or ""]
                out += [(mod, n, node.lineno) for n in names if n.startswith("arb")]
            elif isinstance(node, ast.Import):
                out += [(mod, a.name, node.lineno) for a in node.names if a.name.startswith("arb")]
    return out


IMPORTS = _imports()


def _within(mod: str, pkg: str) -> bool:
    return mod == pkg or mod.startswith(pkg + ".")


def _broken(importer: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    return [f"{src} (line {line}) imports {dst}" for src, dst, line in IMPORTS
            if _within(src, importer) and any(_within(dst, p) for p in forbidden)
            and not any(_within(dst, a) for a in allowed)]


def test_core_imports_nothing_of_ours_but_core():
    assert _broken("arb.core", ("arb.bus", "arb.config", "arb.obs", "arb.venues", "arb.sim", "arb.tools",
                                "arb.testing")) == []


def test_the_venue_packages_never_import_each_other():
    assert _broken("arb.venues.mexc", ("arb.venues.gateio",)) == []
    assert _broken("arb.venues.gateio", ("arb.venues.mexc",)) == []


def test_common_venue_code_imports_no_venue():
    assert _broken("arb.venues.common", ("arb.venues.mexc", "arb.venues.gateio")) == []


@pytest.mark.parametrize("venue", ["mexc", "gateio"])
def test_public_and_private_venue_code_never_import_each_other(venue: str):
    pub, priv = f"arb.venues.{venue}.public", f"arb.venues.{venue}.private"
    assert _broken(pub, (priv,)) == [] and _broken(priv, (pub,)) == []


def test_gateways_import_no_simulator_or_test_code():
    assert _broken("arb.venues", ("arb.sim", "arb.testing")) == []


def test_the_simulator_never_imports_the_gateways():
    """Each side of a protocol is written on its own from the venue's docs: a misreading cannot hide behind symmetry."""
    assert _broken("arb.sim", ("arb.venues",)) == []


def test_the_bus_contract_imports_no_venue_or_simulator():
    """A new service is written against the bus alone: nothing it imports from arb.bus pulls venue code in."""
    assert _broken("arb.bus", ("arb.venues", "arb.sim")) == []


def test_the_strategy_core_imports_only_the_domain():
    """The strategy is pure: no bus, config, venue, simulator, logging or test code (a replay runs the same code)."""
    assert _broken("arb.strategy", ("arb.bus", "arb.config", "arb.obs", "arb.venues", "arb.sim", "arb.tools",
                                    "arb.testing")) == []


def test_the_recorder_imports_no_strategy_coordinator_or_venue_code():
    """The recorder is written against the bus contract: message types from core, subjects from bus."""
    assert _broken("arb.recorder", ("arb.strategy", "arb.coordinator", "arb.venues", "arb.sim")) == []


def test_the_coordinator_imports_no_venue_or_simulator_code():
    """The coordinator trades through the bus only: the trading client, reference data, the catalogue."""
    assert _broken("arb.coordinator", ("arb.venues", "arb.sim", "arb.testing")) == []


def test_analytics_reads_the_database_only():
    """Analytics depends on the schema, not on the code that writes it: no bus, recorder, strategy or venue code."""
    assert _broken("arb.analytics", ("arb.bus", "arb.recorder", "arb.strategy", "arb.coordinator", "arb.venues",
                                     "arb.sim", "arb.tools", "arb.testing")) == []
