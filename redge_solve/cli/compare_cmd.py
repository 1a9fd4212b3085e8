"""``redge-solve compare SOURCE``: run several estimators (and parameter grids) on the same puzzles, then a table,
and optionally PREFIX.csv / PREFIX.json / PREFIX.png. Only wires ``redge_solve.compare``."""

from __future__ import annotations

import time
from typing import Annotated, Optional

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from . import options as opt
from .app import app
from .common import console, err_console, fail, parse_assignments, sigterm_as_interrupt
from .executor_opts import ADDRESS_HELP, EXECUTOR_HELP, WORKERS_HELP, open_executor
from .progress import time_left_text

DEFAULT_ESTIMATORS = "st,gumbel,reinmax,redge,redge-max,redge-cov"


def _seeds(text: str) -> list[int]:
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        else:
            count = int(text)
            if count < 1:
                fail(f"--seeds must be a count >= 1 or a list like 0,5,7, got {text!r}")
            seeds = list(range(count))
    except ValueError:
        fail(f"--seeds must be a count >= 1 or a list like 0,5,7, got {text!r}")
    if not seeds or len(set(seeds)) != len(seeds):
        fail(f"--seeds must list distinct integers, got {text!r}")
    return seeds


def _fmt(mean: float, std: float, digits: int = 1) -> str:
    """``mean±std`` without spaces, so a cell never wraps; "—" when every run of the row diverged (NaN)."""
    if mean != mean:
        return "—"
    return f"{mean:.{digits}f}±{std:.{digits}f}"


def render_table(rows, title: str) -> Table:
    """One row per estimator setting, readable at 80 columns and in a pipe: its parameters (and diverged runs, if
    any) go on their own line under the estimator's name, folded when long; means ± std are written without
    spaces and the headers take two lines. Solved columns are % (mean ± std over seeds); loss is mean ± std over
    puzzles and seeds; step: mean first solved step."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True, leading=1)
    table.add_column("estimator\nparameters", overflow="fold", min_width=9)
    for header in ("\nloss", "solved %\nlast", "solved %\nmode", "solved %\nany", "\nfound", "mean\nstep",
                   "ms/\nstep"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in rows:
        params = ", ".join(f"{k}={v}" for k, v in row.params.items()) or "defaults"
        if row.diverged:
            params += f"; [red]{row.diverged} of {row.diverged + len(row.seeds)} runs diverged[/]"
        table.add_row(
            f"[bold cyan]{row.estimator}[/]\n[dim]{params}[/]",
            _fmt(row.loss_mean, row.loss_std, 1),
            _fmt(row.solved_last_mean, row.solved_last_std),
            _fmt(row.solved_mode_mean, row.solved_mode_std),
            _fmt(row.solved_any_mean, row.solved_any_std),
            _fmt(row.found_mean, row.found_std),
            "—" if row.mean_step_to_solve is None else f"{row.mean_step_to_solve:.0f}",
            "—" if row.ms_per_step != row.ms_per_step else f"{row.ms_per_step:.1f}",
        )
    return table


@app.command("compare")
def compare_command(
    source: str = typer.Argument(..., help="Puzzle file (csv/tsv/parquet/json/jsonl) or hf:OWNER/NAME; or a DIMACS "
                                 ".col file or a directory of them (graph colouring); or queens:N1,N2,..."),
    colors: Optional[int] = typer.Option(None, "--colors", min=1, help="Colours for .col graphs (default: each "
                                         "file's 'c chromatic number')."),
    split: str = typer.Option("train", "--split", help="Dataset split (hub or local)."),
    offset: int = typer.Option(0, "--offset", help="First row to use."),
    limit: Optional[int] = typer.Option(None, "--limit", help="Number of rows to use (default: all)."),
    puzzle_column: str = typer.Option("puzzle", "--puzzle-column"),
    solution_column: str = typer.Option("solution", "--solution-column"),
    estimators: str = typer.Option(
        DEFAULT_ESTIMATORS, "--estimators", "-e",
        help="Comma-separated estimators. Default: the six of the paper's Table 2 (reinforce needs >= 2 samples).",
    ),
    seeds: str = typer.Option("3", "--seeds", help="Number of seeds (0..N-1) or a list like 0,5,7."),
    param: Annotated[Optional[list[str]], typer.Option("--param", help="ESTIMATOR.PARAM=VALUE (repeatable).")] = None,
    grid: Annotated[
        Optional[list[str]], typer.Option("--grid", help="ESTIMATOR.PARAM=V1,V2,... (repeatable; cartesian product).")
    ] = None,
    protocol: str = typer.Option("default", "--protocol", help="default (product settings) or paper (Table 2)."),
    steps: Optional[int] = typer.Option(None, "--steps", help="Override the protocol's steps."),
    samples: Optional[int] = typer.Option(None, "--samples", help="Override samples per step."),
    restarts: Optional[int] = typer.Option(None, "--restarts", help="Override restarts per puzzle."),
    lr: Optional[float] = typer.Option(None, "--lr", help="Override the learning rate."),
    deduce: opt.Deduce = None,  # type: ignore[assignment]  (None: the protocol's)
    weight_step: opt.WeightStep = None,  # type: ignore[assignment]
    reset_every: opt.ResetEvery = None,  # type: ignore[assignment]
    max_seconds: opt.MaxSeconds = None,
    out: Optional[str] = typer.Option(None, "--out", help="Write PREFIX.csv, PREFIX.json and PREFIX.png."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress bars on stderr."),
    executor_name: str = typer.Option("local", "--executor", help=EXECUTOR_HELP),
    address: Optional[str] = typer.Option(None, "--address", help=ADDRESS_HELP),
    num_workers: Optional[int] = typer.Option(None, "--num-workers", help=WORKERS_HELP),
    chunk_size: Optional[int] = typer.Option(
        None, "--chunk-size", min=1, help="Puzzles per task [default: all; with ray, split over the workers]."),
) -> None:
    """Compare gradient estimators on the same puzzles: loss, solved % (last sample / mode / any), speed."""
    from ..compare import PROTOCOLS, compare, expand_specs, run_config, write_outputs

    # --- everything is validated before any data is loaded or any run starts
    if protocol not in PROTOCOLS:
        fail(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")
    if offset < 0:
        fail(f"--offset must be >= 0, got {offset}")
    if limit is not None and limit < 1:
        fail(f"--limit must be >= 1, got {limit}")
    seed_list = _seeds(seeds)
    names = [n.strip() for n in estimators.split(",") if n.strip()]
    fixed = parse_assignments(param or [], "--param")
    grids = {k: [v.strip() for v in values.split(",") if v.strip()] for k, values in
             parse_assignments(grid or [], "--grid").items()}
    overrides = dict(steps=steps, samples=samples, restarts=restarts, lr=lr, weight_step=weight_step,
                     reset_every=reset_every, max_seconds=max_seconds, deduce=deduce and deduce.value)
    try:
        specs = expand_specs(names, fixed, grids)
        for spec in specs:
            run_config(spec, seed_list[0], protocol, overrides)
    except ValueError as exc:
        fail(str(exc))

    from ..problems.instances import batch, instance_records, problem_source
    from ..problems.textfile import ProblemFileError

    try:  # graph colouring (.col file or directory) or queens:N,...; else Sudoku data
        instances = problem_source(source, colors)
    except ProblemFileError as exc:
        fail(str(exc))
    extra: dict = {}
    if instances is not None:
        if weight_step:  # the solver's per-term weights exist for Sudoku's terms only
            fail("--weight-step needs Sudoku puzzles; graphs and queens are solved without breakout weights")
        overrides["weight_step"] = 0.0  # Sudoku's default does not apply to generic constraint batches
        clue_tensor, solutions, metas, ids = None, None, None, list(range(len(instances)))
        extra = dict(problem=batch(instances),
                     make_records=lambda results, window: instance_records(results, instances[window], ids[window]))
    else:
        from ..data import SourceError, iter_chunks, open_source
        from ..problems.sudoku import grid_from_string

        try:
            dataset = open_source(source, split, puzzle_column, solution_column or None)
            rows = [row for chunk in iter_chunks(dataset, 1000, offset, limit, puzzle_column, solution_column or None)
                    for row in chunk]
        except SourceError as exc:
            fail(str(exc))
        if not rows:
            fail(f"no puzzles in {source} from row {offset}")
        try:
            import torch

            clues = [grid_from_string(row.puzzle) for row in rows]
            solutions = [None if row.solution is None else grid_from_string(row.solution) for row in rows]
        except ValueError as exc:
            bad = next(r for r in rows if not _parses(r.puzzle) or (r.solution is not None and not _parses(r.solution)))
            fail(f"row {bad.index}: {exc}")
        if len({c.numel() for c in clues}) != 1:
            fail("compare needs puzzles of one size; select rows with --offset/--limit")
        clue_tensor = torch.stack(clues)
        metas, ids = [r.meta for r in rows], [r.index for r in rows]
    executor = open_executor(executor_name, address, num_workers)
    if chunk_size is None and executor.name == "ray":
        chunk_size = -(-len(ids) // executor.workers)

    plan_runs = len(specs) * len(seed_list)
    err_console.print(
        f"comparing {len(specs)} estimator spec(s) × {len(seed_list)} seed(s) = {plan_runs} runs on "
        f"{len(ids)} puzzles ({protocol} protocol)", highlight=False)
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   TextColumn("{task.fields[left]}"), console=err_console, transient=True, disable=not progress)
    with bar, sigterm_as_interrupt():
        outer = bar.add_task("runs", total=plan_runs, left="")
        inner = bar.add_task("steps", total=1, visible=executor.in_process, left="")  # seen only in-process
        started = time.perf_counter()

        def on_run(event) -> None:
            if event.run is None:
                bar.update(inner, description=f"{event.spec.label} seed {event.seed}", completed=0,
                           total=event.config.steps)
            else:
                bar.advance(outer)
                done = int(bar.tasks[outer].completed)
                bar.update(outer, left=time_left_text(done, plan_runs, time.perf_counter() - started))
                if not progress or not err_console.is_terminal:
                    run = event.run
                    note = run.error or f"{sum(r['found'] for r in run.records)}/{len(run.records)} found"
                    err_console.print(f"[{event.index + 1}/{event.total}] {event.spec.label} seed {event.seed}: "
                                      f"{note}, {run.seconds:.1f} s", highlight=False, soft_wrap=True)

        def on_step(p) -> None:
            bar.update(inner, completed=p.step, total=p.steps, left=time_left_text(p.step, p.steps, p.elapsed))

        try:
            result = compare(clue_tensor, specs, seed_list, protocol, overrides, puzzle_ids=ids,
                             solutions=solutions, metas=metas, on_run=on_run, on_step=on_step,
                             executor=executor, chunk_size=chunk_size, **extra)
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None
        finally:
            executor.close()
    result.settings = dict(source=source, split=split, offset=offset, limit=limit, seeds=seed_list)
    config = result.rows[0].config
    title = (f"{protocol} protocol · {len(ids)} puzzles · seeds {','.join(map(str, seed_list))} · "
             f"{config['steps']} steps, {config['samples']} sample(s), {config['restarts']} restart(s), "
             f"lr {config['lr']}, early stop {'on' if config['early_stop'] else 'off'}")
    console.print(render_table(result.rows, title))
    if out:
        try:
            paths = write_outputs(result, out)
        except OSError as exc:
            fail(f"cannot write {out}.*: {exc}")
        err_console.print("wrote " + ", ".join(str(p) for p in paths), highlight=False)


def _parses(text: str) -> bool:
    from ..problems.sudoku import grid_from_string

    try:
        grid_from_string(text)
        return True
    except ValueError:
        return False
