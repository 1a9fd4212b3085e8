"""``redge-solve latin FILE``: complete the partial Latin squares of a file (each symbol once per row and column)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer
from rich.text import Text

from ..problem_defaults import LATIN_DEFAULTS
from . import options as opt
from .app import app
from .common import read_problem
from .problem_run import run

if TYPE_CHECKING:
    import torch


def render_square(clues: torch.Tensor, grid: str, solved: bool) -> Text:
    """The square: clues dim, filled symbols bold (green when solved), symbols repeated in a line red."""
    from .render import cell_style  # torch (render imports the Sudoku problem): not for --help

    side = len(grid) and int(len(grid) ** 0.5)
    rows = [grid[r * side:(r + 1) * side] for r in range(side)]
    text = Text()
    for r, row in enumerate(rows):
        for c, char in enumerate(row):
            repeated = row.count(char) > 1 or sum(line[c] == char for line in rows) > 1
            text.append(" ")
            text.append(char, style=cell_style(repeated and not solved, bool(int(clues[r * side + c])), solved))
        text.append("\n")
    return text


@app.command("latin")
@opt.solver_options(LATIN_DEFAULTS)
def latin(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", show_default=False,
                               help="Partial Latin squares, '-' for stdin: one per line (n² symbols, '0' or '.' "
                               "blank) or a grid over n lines; blank lines separate squares."),
    json_path: opt.Out = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
) -> None:
    """Complete partial Latin squares by gradient descent. Exit 0 all solved, 1 some unsolved, 2 bad input."""
    from ..problems.latin import parse_latin
    from ..runs.instances import latin_instance  # torch: not for --help

    config = opt.solver_config(ctx, LATIN_DEFAULTS)
    opt.check_output_or_exit("out", json_path, [file], force)
    puzzles = read_problem(file, lambda text, _: parse_latin(text))
    instances = [latin_instance(p, f"square {i + 1} (line {p.line}, {p.side}×{p.side})")
                 for i, p in enumerate(puzzles)]
    clues = {inst.name: p.clues for inst, p in zip(instances, puzzles, strict=True)}

    def show(record: dict[str, Any]) -> Text:
        return render_square(clues[record["name"]], record["grid"], record["found"])

    run(instances, config, "latin", show, json_path, quiet, "square", opt.command_device(ctx))


