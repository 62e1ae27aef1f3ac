"""specs/strategy.md shows the state machine the code runs: its diagram and table are generated from TABLE."""

from __future__ import annotations

from pathlib import Path

import pytest
from arb.strategy.spec import render
from arb.strategy.table import mermaid

pytestmark = pytest.mark.unit

SPEC = Path(__file__).resolve().parents[2] / "specs" / "strategy.md"


def test_the_spec_diagram_and_table_are_the_ones_generated_from_the_code():
    """Regenerating the spec's diagram and table changes nothing (run `python -m arb.strategy --write specs/strategy.md`)."""
    text = SPEC.read_text()
    assert render(text) == text
    assert mermaid() in text
