"""The command line: ``redge-solve COMMAND``. Each command lives in its own module and only wires the library."""

from __future__ import annotations

from ..threads import prepare

prepare()  # before the commands import torch: OpenMP reads its wait policy when torch loads it

from . import (  # noqa: E402, F401  (each import registers its command)
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
from .app import app  # noqa: E402


def main() -> None:
    app()


__all__ = ["app", "main"]
