"""``redge-solve color FILE.col --colors K``: colour a DIMACS graph with K colours, no edge monochromatic."""

from __future__ import annotations

import os
from typing import Any, Optional

import typer
from rich.text import Text

from ..problems.coloring import COLOR_DEFAULTS, parse_dimacs
from ..problems.instances import coloring_instance
from ..problems.textfile import ProblemFileError, read_text
from . import options as opt
from .app import app
from .common import fail
from .problem_run import run

MAX_COLORS = 1000


def render_coloring(record: dict[str, Any]) -> Text:
    """Solved: the colour classes (``colour 1: vertices ...``). Unsolved: the monochromatic edges."""
    text = Text()
    if not record["found"]:
        text.append("conflicting edges: ", style="red")
        text.append("; ".join(b.removeprefix("edge ") for b in record["broken"]))
        if record["violations"] > len(record["broken"]):
            text.append(f" (and {record['violations'] - len(record['broken'])} more)")
        return text
    classes: dict[int, list[int]] = {}
    for vertex, color in enumerate(record["colors"], 1):
        classes.setdefault(color, []).append(vertex)
    for color in sorted(classes):
        text.append(f"colour {color}: ", style="bold")
        text.append(" ".join(map(str, classes[color])) + "\n")
    return text


def load_graph(path: str):
    """The graph of a DIMACS file (``-`` = stdin), or a one-line error (exit 2)."""
    name = "<stdin>" if path == "-" else path
    try:
        return parse_dimacs(read_text(path), os.path.splitext(os.path.basename(name))[0])
    except ProblemFileError as error:
        fail(f"{name}: {error}")


@app.command("color")
def color(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE.col", show_default=False,
                               help="A DIMACS graph ('p edge V E', 'e U V' lines), '-' for stdin."),
    colors: Optional[int] = typer.Option(None, "--colors", "-k", show_default=False,
                                         help="Number of colours (default: the file's 'c chromatic number K')."),
    estimator: opt.Estimator = COLOR_DEFAULTS.estimator,
    param: opt.Param = None,
    steps: opt.Steps = COLOR_DEFAULTS.steps,
    samples: opt.Samples = COLOR_DEFAULTS.samples,
    restarts: opt.Restarts = COLOR_DEFAULTS.restarts,
    lr: opt.Lr = COLOR_DEFAULTS.lr,
    seed: opt.Seed = COLOR_DEFAULTS.seed,
    no_early_stop: opt.NoEarlyStop = False,
    json_path: opt.Json = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
) -> None:
    """Colour a graph by gradient descent. Exit 0 solved, 1 not solved, 2 bad input."""
    config = opt.solver_config(ctx, COLOR_DEFAULTS)
    if colors is not None and not 1 <= colors <= MAX_COLORS:
        fail(f"--colors must be between 1 and {MAX_COLORS}, got {colors}")
    opt.check_output("--json", json_path, [file], force)
    graph = load_graph(file)
    if colors is None:
        if graph.chromatic_number is None:
            fail(f"{file}: give --colors K (the file states no 'c chromatic number')")
        colors = graph.chromatic_number
    instance = coloring_instance(graph, colors)
    label = f"{graph.name}: {graph.num_vertices} vertices, {graph.edges.shape[0]} edges, {colors} colours"
    run([instance], config, label, render_coloring, json_path, quiet, "graph")
