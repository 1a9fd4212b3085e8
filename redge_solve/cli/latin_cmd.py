"""``redge-solve latin FILE``: complete the partial Latin squares of a file (each symbol once per row and column)."""

from __future__ import annotations

from typing import Any, List, Optional

import torch
import typer
from rich.text import Text

from ..problems.instances import latin_instance
from ..problems.latin import LATIN_DEFAULTS, parse_latin
from ..problems.textfile import ProblemFileError, read_text
from . import options as opt
from .app import app
from .common import fail
from .problem_run import check_json_path, run


def render_square(clues: torch.Tensor, grid: str, solved: bool) -> Text:
    """The square: clues dim, filled symbols bold (green when solved), symbols repeated in a line red."""
    side = len(grid) and int(len(grid) ** 0.5)
    rows = [grid[r * side:(r + 1) * side] for r in range(side)]
    text = Text()
    for r, row in enumerate(rows):
        for c, char in enumerate(row):
            repeated = row.count(char) > 1 or sum(line[c] == char for line in rows) > 1
            if repeated and not solved:
                style = "bold red"
            elif int(clues[r * side + c]):
                style = "dim"
            else:
                style = "bold green" if solved else "bold"
            text.append(" ")
            text.append(char, style=style)
        text.append("\n")
    return text


@app.command("latin")
def latin(
    file: str = typer.Argument(..., metavar="FILE", show_default=False,
                               help="Partial Latin squares, '-' for stdin: one per line (n² symbols, '0' or '.' "
                               "blank) or a grid over n lines; blank lines separate squares."),
    estimator: str = opt.estimator_option(LATIN_DEFAULTS),
    param: Optional[List[str]] = opt.PARAM_OPTION,
    steps: Optional[int] = opt.steps_option(LATIN_DEFAULTS),
    samples: Optional[int] = opt.samples_option(LATIN_DEFAULTS),
    restarts: Optional[int] = opt.restarts_option(LATIN_DEFAULTS),
    lr: Optional[float] = opt.lr_option(LATIN_DEFAULTS),
    seed: Optional[int] = opt.seed_option(LATIN_DEFAULTS),
    json_path: Optional[str] = opt.JSON_OPTION,
    max_seconds: Optional[float] = opt.MAX_SECONDS_OPTION,
    quiet: bool = opt.QUIET_OPTION,
) -> None:
    """Complete partial Latin squares by gradient descent. Exit 0 all solved, 1 some unsolved, 2 bad input."""
    config = opt.make_config(LATIN_DEFAULTS, estimator, param, steps, samples, restarts, lr, seed,
                             max_seconds=max_seconds)
    check_json_path(json_path)
    name = "<stdin>" if file == "-" else file
    try:
        puzzles = parse_latin(read_text(file))
    except ProblemFileError as error:
        fail(f"{name}: {error}")
    instances = [latin_instance(p, f"square {i + 1} (line {p.line}, {p.side}×{p.side})")
                 for i, p in enumerate(puzzles)]
    clues = {inst.name: p.clues for inst, p in zip(instances, puzzles, strict=True)}

    def show(record: dict[str, Any]) -> Text:
        return render_square(clues[record["name"]], record["grid"], record["found"])

    run(instances, config, "latin", show, json_path, quiet, "square")


