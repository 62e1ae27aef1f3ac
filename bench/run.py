"""`make bench`: run every bench module's run() -> list[Row] and print one table.

Each module is independent; a failing module prints its error and the table still prints.
"""

from __future__ import annotations

import importlib
import sys
import traceback

from bench.common import Row, print_table

MODULES = [
    "bench.bench_symbols",
    "bench.bench_logger",
    "bench.bench_bus",
    "bench.bench_mexc",
    "bench.bench_gateio",
    "bench.bench_book",
    "bench.bench_sim",
    "bench.bench_trading",
    "bench.bench_strategy",
    "bench.bench_recorder",
    "bench.bench_analytics",
]


def main(argv: list[str]) -> int:
    only = argv[1:] or MODULES
    rows: list[Row] = []
    failed = 0
    for name in only:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                print(f"[bench] {name}: not present yet", file=sys.stderr)
                continue
            raise
        print(f"[bench] {name} ...", file=sys.stderr, flush=True)
        try:
            rows.extend(mod.run())
        except Exception:  # noqa: BLE001 -- one failing bench module must not hide the others' rows
            failed += 1
            traceback.print_exc()
    print()
    print_table(rows)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
