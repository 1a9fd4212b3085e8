"""``redge-solve color FILE.col [--colors K]``: colour a DIMACS graph with K colours, no edge monochromatic; or,
without K (none given, none stated in the file, or ``--fewest``), with as few colours as the search reaches."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, NoReturn, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.text import Text

from ..problem_defaults import COLOR_DEFAULTS, GENERATION_STEPS, RETRY_COLD, RETRY_LENGTH, WARM_START
from . import options as opt
from .app import app
from .common import (
    ExitCode,
    console,
    err_console,
    fail,
    penalty_reads,
    read_problem,
    sigterm_as_interrupt,
    write_json_lines,
)
from .problem_run import run

if TYPE_CHECKING:  # the library behind the command imports torch: only when it runs, not for its --help
    from ..problems.coloring import Graph
    from ..runs.color_search import Attempt
    from ..settings import SolverConfig

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


def load_graph(path: str) -> Graph:
    """The graph of a DIMACS file (``-`` = stdin), or a one-line error (exit 2)."""
    from ..problems.coloring import parse_dimacs  # torch: not for --help

    return read_problem(path, lambda text, name: parse_dimacs(text, os.path.splitext(os.path.basename(name))[0]))


@app.command("color")
@opt.solver_options(COLOR_DEFAULTS)
def color(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE.col", show_default=False,
                               help="A DIMACS graph ('p edge V E', 'e U V' lines), '-' for stdin."),
    colors: Optional[int] = typer.Option(None, "--colors", "-k", show_default=False,
                                         help="Number of colours (default: the file's 'c chromatic number K'; "
                                              "with neither, search for the fewest)."),
    fewest: bool = typer.Option(False, "--fewest", help="Search for the fewest colours even when the file states "
                                                        "its chromatic number (the search then stops there). "
                                                        "Without --max-seconds it stops at the first K not "
                                                        "found in --steps; with it, the time left goes to that "
                                                        "K again (the next seed), each try again "
                                                        "--retry-steps long: with --crossover, from the last "
                                                        "try's restarts recombined (and the first try at each "
                                                        "K as long)."),
    warm: float = typer.Option(WARM_START, "--warm-start", min=0.0,
                               help="The fewest-colours search starts each K from the best colouring so far, one "
                                    "class dropped per restart: the logit offset of each vertex's old colour "
                                    "(0: every K from random logits alone)."),
    retry_steps: Optional[int] = typer.Option(None, "--retry-steps", min=1, show_default=False,
                                              help=f"The fewest-colours search with --max-seconds: the steps of "
                                                   f"each try again at a K still open (default: "
                                                   f"{GENERATION_STEPS} with --crossover, else {RETRY_LENGTH} "
                                                   f"× --steps); with --crossover the first try at each K "
                                                   f"runs as many (at most --steps)."),
    retry_cold: float = typer.Option(RETRY_COLD, "--retry-cold", min=0.0, max=1.0,
                                     help="The fewest-colours search with --max-seconds and --no-crossover: the "
                                          "share of the restarts of a try again that start from random logits "
                                          "alone (the rest warm, as the first try at each K)."),
    crossover: bool = typer.Option(True, "--crossover/--no-crossover",
                                   help="The fewest-colours search with --max-seconds: each try again at a K still "
                                        "open starts from the last try's restarts, the 4 best as they were and "
                                        "the others from crossovers of two (their largest colour classes taken "
                                        "in turn); without it, from fresh restarts, half warm and half cold."),
    json_path: opt.Out = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
) -> None:
    """Colour a graph by gradient descent: with K colours (exit 0 solved, 1 not solved), or with the fewest
    colours found, starting from DSATUR (exit 0). Exit 1 at once when K is below the size of a clique found (no
K-colouring exists), 2 bad input, 130 interrupted."""
    config = opt.solver_config(ctx, COLOR_DEFAULTS)
    if colors is not None and not 1 <= colors <= MAX_COLORS:
        fail(f"--colors must be between 1 and {MAX_COLORS}, got {colors}")
    if colors is not None and fewest:
        fail("--fewest searches for the number of colours: give it without --colors")
    opt.check_output_or_exit("out", json_path, [file], force)
    where = opt.command_device(ctx)
    graph = load_graph(file)
    label = f"{graph.name}: {graph.num_vertices} vertices, {graph.edges.shape[0]} edges"
    if colors is None:
        if fewest or graph.chromatic_number is None:
            search(graph, config, label, json_path, quiet, where, warm, retry_steps, retry_cold, crossover)
        colors = graph.chromatic_number
    if colors > MAX_COLORS:
        fail(f"{file}: the stated chromatic number {colors} is above {MAX_COLORS}; give --colors")
    from ..problems.coloring import maximal_cliques
    from ..runs.color_search import largest_clique
    from ..runs.instances import coloring_instance

    cliques = maximal_cliques(graph)  # once: for the bound here and for the penalty's K-cliques
    clique = largest_clique(cliques)
    if len(clique) > colors:  # no colouring with fewer colours than a clique's vertices: nothing to run
        shown = " ".join(str(v + 1) for v in clique[:8]) + (" …" if len(clique) > 8 else "")
        err_console.print(f"{graph.name}: {_colours(colors)} cannot work: the graph has a {len(clique)}-clique "
                          f"(vertices {shown})", highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(ExitCode.SOME_UNSOLVED)
    run([coloring_instance(graph, colors, cliques)], config, f"{label}, {colors} colours", render_coloring, json_path,
        quiet, "graph", where)


def _colours(count: int) -> str:
    return f"{count} colour{'' if count == 1 else 's'}"


def _attempt_line(attempt: Attempt) -> str:
    if attempt.method == "dsatur":
        return f"DSATUR: [bold]{_colours(attempt.used)}[/] ({attempt.seconds:.2f} s)"
    again = f", try {attempt.retry + 1}" if attempt.retry else ""
    if attempt.found:
        fewer = f", uses {attempt.used}" if attempt.used < attempt.colors else ""
        return (f"gradient: [green]{_colours(attempt.colors)}[/]{fewer} at step {attempt.first_solved_step} "
                f"({attempt.seconds:.2f} s; {attempt.elapsed:.2f} s from the start{again})")
    why = {"steps": f"in {attempt.steps} steps", "time": f"in the time budget ({attempt.steps} steps)",
           "interrupted": f"before the interrupt ({attempt.steps} steps)"}[attempt.stopped]
    lowest = "" if attempt.population is None else f"; lowest penalty {float(attempt.population[1].min()):g}"
    return f"gradient: [red]{_colours(attempt.colors)} not found[/] {why} ({attempt.seconds:.2f} s{again}{lowest})"


def search(graph: Graph, config: SolverConfig, label: str, json_path: str | None, quiet: bool,
           device: Any = None, warm: float = WARM_START, retry_steps: int | None = None,
           retry_cold: float = RETRY_COLD, crossover: bool = True) -> NoReturn:
    """Run the fewest-colours search on ``device`` with a progress bar (``config.max_seconds`` bounds all of it;
    ``warm``: the warm start's strength, ``retry_steps`` the length of a try again, ``retry_cold`` the share of
    its restarts that start cold and ``crossover`` whether it recombines the last try's restarts instead, see
    ``fewest_colors``),
    print each colouring found and the best; exit 0, or 130 on Ctrl-C after printing and saving the best colouring
    found."""
    from ..problems.coloring import verify_coloring
    from ..runs.color_search import SearchInterrupted, fewest_colors

    out = err_console if json_path == "-" else console
    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
               TextColumn("best penalty {task.fields[penalty]}"), TimeElapsedColumn())
    start = time.perf_counter()
    if not quiet:
        out.print(f"[bold]{label}[/]: searching for the fewest colours", highlight=False)
    interrupted = False
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as bar, sigterm_as_interrupt():
        tasks: dict[int, Any] = {}
        read = penalty_reads(quiet)

        def on_step(k: int, progress) -> None:
            if k not in tasks:
                tasks[k] = bar.add_task(f"{k} colours", total=progress.steps, penalty="-")
            if read():
                bar.update(tasks[k], penalty=f"{progress.best_penalty:.0f}")
            bar.update(tasks[k], completed=progress.step)

        def on_attempt(attempt: Attempt) -> None:
            if attempt.colors in tasks:
                bar.remove_task(tasks.pop(attempt.colors))
            if not quiet:
                out.print(_attempt_line(attempt), highlight=False, soft_wrap=True)  # one line each, also in a log
                if attempt.found:
                    out.print(f"  colours of vertices 1..{graph.num_vertices}: "
                              f"{' '.join(str(int(c) + 1) for c in attempt.coloring)}", highlight=False,
                              soft_wrap=True)

        try:
            result = fewest_colors(graph, config, float("inf"), graph.chromatic_number, on_attempt, on_step,
                                   device=device, warm=warm, retry_steps=retry_steps,
                                   retry_cold=retry_cold, crossover=crossover)
        except SearchInterrupted as interrupt:
            result, interrupted = interrupt.result, True
    verified = verify_coloring(graph, result.best_coloring, result.best_colors)
    if json_path is not None:
        write_json_lines(json_path, [result.record(verified, interrupted)])
    if not verified:  # every colouring of a result was checked already: a bug if this happens
        err_console.print(f"[red]{graph.name}: the best colouring fails the direct check[/]")
        raise typer.Exit(ExitCode.SOME_UNSOLVED)
    if not quiet:
        bound = (f"optimal (a {result.lower_bound}-clique)" if result.optimal else
                 f"lower bound {result.lower_bound}")
        if graph.chromatic_number is not None and result.lower_bound == graph.chromatic_number:
            bound = "optimal (the file's chromatic number)" if result.optimal else \
                f"the file states χ = {graph.chromatic_number}"
        method = "DSATUR" if result.best_method == "dsatur" else "gradient"
        out.print(f"[bold]best: {_colours(result.best_colors)}[/] ({method}), DSATUR {result.dsatur_colors}; {bound}; "
                  f"{time.perf_counter() - start:.2f} s", highlight=False)
        out.print(render_coloring({"found": True, "colors": (result.best_coloring + 1).tolist()}), end="")
    if result.budget_spent and not quiet:
        err_console.print(f"time budget of {config.max_seconds:g} s spent: the search stopped at "
                          f"{_colours(result.best_colors)}", highlight=False)
    if interrupted:
        err_console.print(f"interrupted: keeping the best colouring found, {_colours(result.best_colors)}",
                          highlight=False)
        raise typer.Exit(ExitCode.INTERRUPTED)
    raise typer.Exit(ExitCode.ALL_SOLVED)
