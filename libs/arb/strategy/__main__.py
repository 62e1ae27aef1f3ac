"""``python -m arb.strategy [--table | --write FILE]``: the state diagram (mermaid) or the full transition table
(markdown), generated from ``arb.strategy.table.TABLE``; ``--write`` refreshes them in specs/strategy.md."""

import sys
from pathlib import Path

from .spec import render
from .table import markdown_table, mermaid

if "--write" in sys.argv:
    path = Path(sys.argv[sys.argv.index("--write") + 1])
    path.write_text(render(path.read_text()))
elif "--table" in sys.argv:
    sys.stdout.write(markdown_table() + "\n")
else:
    sys.stdout.write("```mermaid\n" + mermaid() + "\n```\n")
