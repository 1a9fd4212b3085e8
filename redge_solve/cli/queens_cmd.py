"""``redge-solve queens N [N ...]``: place N queens on an N×N board, one per row, none attacking another."""

from __future__ import annotations

from typing import Any, List, Optional

import typer
from rich.text import Text

from ..problems.instances import queens_instance
from ..problems.queens import QUEENS_DEFAULTS, attacking_pairs
from . import options as opt
from .app import app
from .common import fail
from .problem_run import check_json_path, run

MAX_N = 1000
SPACED_UP_TO = 32  # boards wider than this are printed without spaces between squares
SIZES_ARGUMENT = typer.Argument(..., metavar="N...", show_default=False, help="Board sizes (N >= 4).")


def render_board(columns: list[int]) -> Text:
    """One line per row: ``Q`` for the queen (red when it is attacked), ``·`` for empty squares."""
    import torch

    n = len(columns)
    attacked = {row for pair in attacking_pairs(torch.tensor(columns)) for row in pair}
    gap = " " if n <= SPACED_UP_TO else ""
    text = Text()
    for row, col in enumerate(columns):
        text.append(gap.join("·" * col) + gap if col else "", style="dim")
        text.append("Q", style="bold red" if row in attacked else "bold green")
        rest = n - col - 1
        text.append((gap + gap.join("·" * rest)) if rest else "", style="dim")
        text.append("\n")
    return text


@app.command("queens")
def queens(
    sizes: List[int] = SIZES_ARGUMENT,
    estimator: str = opt.estimator_option(QUEENS_DEFAULTS),
    param: Optional[List[str]] = opt.PARAM_OPTION,
    steps: Optional[int] = opt.steps_option(QUEENS_DEFAULTS),
    samples: Optional[int] = opt.samples_option(QUEENS_DEFAULTS),
    restarts: Optional[int] = opt.restarts_option(QUEENS_DEFAULTS),
    lr: Optional[float] = opt.lr_option(QUEENS_DEFAULTS),
    seed: Optional[int] = opt.seed_option(QUEENS_DEFAULTS),
    board: bool = typer.Option(True, "--board/--no-board", help="Print the boards."),
    json_path: Optional[str] = opt.JSON_OPTION,
    max_seconds: Optional[float] = opt.MAX_SECONDS_OPTION,
    quiet: bool = opt.QUIET_OPTION,
) -> None:
    """Solve N-Queens by gradient descent (rows are the variables, columns their values; one queen per column, at
    most one per diagonal). Exit 0 all solved, 1 some unsolved, 2 bad input."""
    config = opt.make_config(QUEENS_DEFAULTS, estimator, param, steps, samples, restarts, lr, seed,
                             max_seconds=max_seconds)
    for n in sizes:
        if not 4 <= n <= MAX_N:
            fail(f"N must be between 4 and {MAX_N} (N = 2 and 3 have no solution), got {n}")
    check_json_path(json_path)

    def show(record: dict[str, Any]) -> Text | None:
        return render_board(record["columns"]) if board else None

    run([queens_instance(n) for n in sizes], config, "queens", show, json_path, quiet, "board")
