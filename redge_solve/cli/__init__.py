"""The command line: ``redge-solve COMMAND``. Each command lives in its own module and only wires the library."""

from __future__ import annotations

from . import (  # noqa: F401  (each import registers its command)
    batch_cmd,
    bench_cmd,
    color_cmd,
    compare_cmd,
    estimators_cmd,
    latin_cmd,
    queens_cmd,
    report_cmd,
    solve_cmd,
    sudoku_cmd,
)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
