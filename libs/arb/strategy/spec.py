"""The generated parts of specs/strategy.md: ``render(text)`` puts the current diagram and table between the
markers; ``python -m arb.strategy --write specs/strategy.md`` rewrites the file, a test checks it is current."""

from __future__ import annotations

from .table import markdown_table, mermaid

_DIAGRAM = ("<!-- generated: python -m arb.strategy -->", "<!-- end generated diagram -->")
_TABLE = ("<!-- generated: python -m arb.strategy --table -->", "<!-- end generated table -->")


def _between(text: str, marks: tuple[str, str], body: str) -> str:
    a, b = text.index(marks[0]) + len(marks[0]), text.index(marks[1])
    return text[:a] + "\n" + body + "\n" + text[b:]


def render(text: str) -> str:
    text = _between(text, _DIAGRAM, "```mermaid\n" + mermaid() + "\n```")
    return _between(text, _TABLE, markdown_table())
