"""``redge-solve queens N [N ...]``: place N queens on an N×N board, one per row, none attacking another."""

from __future__ import annotations

from typing import Any, List

import typer
from rich.text import Text

from ..problem_defaults import QUEENS_DEFAULTS
from . import options as opt
from .app import app
from .common import fail
from .problem_run import run

MAX_N = 1000
SPACED_UP_TO = 32  # boards wider than this are printed without spaces between squares
SIZES_ARGUMENT = typer.Argument(..., metavar="N...", show_default=False, help="Board sizes (N >= 4).")


def render_board(columns: list[int]) -> Text:
    """One line per row: ``Q`` for the queen (red when it is attacked), ``·`` for empty squares."""
    import torch

    from ..problems.queens import attacking_pairs

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
@opt.solver_options(QUEENS_DEFAULTS)
def queens(
    ctx: typer.Context,
    sizes: List[int] = SIZES_ARGUMENT,
    board: bool = typer.Option(True, "--board/--no-board", help="Print the boards."),
    json_path: opt.Out = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
) -> None:
    """Solve N-Queens by gradient descent (rows are the variables, columns their values; one queen per column, at
    most one per diagonal). Exit 0 all solved, 1 some unsolved, 2 bad input."""
    config = opt.solver_config(ctx, QUEENS_DEFAULTS)
    for n in sizes:
        if not 4 <= n <= MAX_N:
            fail(f"N must be between 4 and {MAX_N} (N = 2 and 3 have no solution), got {n}")
    opt.check_output_or_exit("out", json_path, [], force)

    def show(record: dict[str, Any]) -> Text | None:
        return render_board(record["columns"]) if board else None

    from ..runs.instances import queens_instance  # torch: not for --help

    run([queens_instance(n) for n in sizes], config, "queens", show, json_path, quiet, "board",
        opt.command_device(ctx))
