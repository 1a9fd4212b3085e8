"""``redge-solve batch SOURCE``: solve a dataset (hub or local file) in chunks into a resumable JSONL file."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..data import SourceError, iter_chunks, open_source
from ..report import iter_records, summarize
from ..settings import DEFAULTS
from . import options as opt
from .app import app
from .common import ExitCode, console, err_console, fail, sigterm_as_interrupt
from .executor_opts import open_executor
from .progress import time_left_text

if TYPE_CHECKING:
    from ..settings import SolverConfig

TASKS_PER_WORKER = 4  # batch's chunks on Ray: at least 4 per worker, for balance and progress


def _resume_command() -> str:
    args = [a for a in sys.argv[1:] if a not in ("--force", "--overwrite")]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(["redge-solve", *args])


BATCH_HELP = ("Solve every puzzle of a dataset into a JSONL results file (resumable; Ctrl-C keeps finished rows). "
              "With --max-seconds the rows still unsolved when the budget is spent are written unsolved, and the rows "
              "not started are left for --resume.\n\n" + opt.size_defaults_help() + " --resume needs the settings of "
              "every size unchanged.")


@app.command("batch", help=BATCH_HELP)
@opt.solver_options(DEFAULTS, deduce=True)
def batch(
    ctx: typer.Context,
    source: Annotated[str, typer.Argument(help="hf:OWNER/NAME (the Hugging Face Hub) or a local "
                                               ".csv/.tsv/.parquet/.json/.jsonl file")],
    split: Annotated[str, typer.Option("--split", help='Split with HF slicing, e.g. "train[:2000]".')] = "train",
    puzzle_column: Annotated[str, typer.Option("--puzzle-column", help="Column with the puzzles.")] = "puzzle",
    solution_column: Annotated[str, typer.Option("--solution-column",
                                                 help="Column with known solutions ('' for none).")] = "solution",
    offset: Annotated[int, typer.Option("--offset", min=0, help="First row (of the split) to solve.")] = 0,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Solve at most this many rows.")] = None,
    chunk_size: Annotated[Optional[int], typer.Option(
        "--chunk-size", min=1, help="Puzzles per tensor batch (default: sized to the available memory).")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", callback=opt.output_directory,
                                      help="Results file, one JSON line per row.")] = Path("results.jsonl"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue an existing results file.")] = False,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
    executor_name: opt.Executor = "local",
    address: opt.Address = None,
    num_workers: opt.NumWorkers = None,
) -> None:
    """Solve every puzzle of a dataset into a JSONL results file (the help: ``BATCH_HELP``, with the big grids'
    defaults). Each grid size is solved with its own settings (``opt.sudoku_configs``), as in ``sudoku``."""
    from ..executors import task_size
    from ..problems.sudoku import SIZES
    from ..runs.batch import default_chunk_size  # torch: imported when the command runs, not for its --help

    if resume and force:
        fail("--resume and --force exclude each other")
    configs = opt.sudoku_configs(ctx, SIZES)  # a bad option fails here, before any data is read
    config = configs[9]  # what the sizes share (the time budget), and 9×9's settings for the chunk size
    where = opt.command_device(ctx)
    dataset, done = _open(source, split, puzzle_column, solution_column, out, resume, force, configs)
    executor = open_executor(executor_name, address, num_workers)
    end = len(dataset) if limit is None else min(len(dataset), offset + limit)
    total = max(0, end - offset)
    size = chunk_size or default_chunk_size(config, device=where)
    if chunk_size is None and executor.name == "ray":  # at least 4 tasks per worker, for balance and progress
        size = min(size, task_size(total, executor.workers, TASKS_PER_WORKER))
    already = sum(1 for index in done if offset <= index < end)
    started = time.perf_counter()
    chunks = iter_chunks(dataset, size, offset, limit, puzzle_column, solution_column or None)
    try:
        rows_this_run = _solve_chunks(chunks, configs, out, done, executor, where, total, already, quiet)
    finally:
        executor.close()
    elapsed = time.perf_counter() - started
    left = total - already - rows_this_run
    if config.max_seconds is not None and left > 0 and not quiet:
        err_console.print(f"[yellow]time budget of {config.max_seconds:g} s spent[/]: {left} rows not started; "
                          f"continue with: {_resume_command()}", highlight=False, soft_wrap=True)
    summary = summarize(r for r in iter_records(out) if offset <= r["index"] < end)
    unsolved = summary.total.solved["found"] < summary.total.rows or left > 0
    if not quiet:
        from .report_cmd import print_report

        rate = rows_this_run / elapsed if elapsed > 0 else 0.0
        console.print(f"{rows_this_run} rows done in {elapsed:.1f} s ({rate:.2f} rows/s); {already} were already in "
                      f"{out}", highlight=False)
        console.print(f"settings: {_settings_text(configs)}; chunks of {min(size, max(total, 1))} rows, "
                      f"{executor.name} executor", highlight=False)
        if summary.total.rows:
            print_report(summary, source=str(out))
    raise typer.Exit(ExitCode.SOME_UNSOLVED if unsolved else ExitCode.ALL_SOLVED)


def _settings_text(configs: dict[int, SolverConfig]) -> str:
    """``st, 20000 steps, 2 samples × 8 restarts, lr 0.3, seed 0`` (9×9's), then what each other grid size solves
    with that differs: ``16×16: 16 restarts, fresh start every 3000, ...``."""
    def parts(config: SolverConfig) -> list[str]:
        return [config.estimator, f"{config.steps} steps", f"{config.samples} samples × {config.restarts} restarts",
                f"lr {config.lr}", f"seed {config.seed}", f"fresh start every {config.reset_every}",
                f"breakout weights {config.weight_step:g}", f"initial logits std {config.init_std:g}",
                f"max logit {config.max_logit:g}"]

    from ..runs.batch import size_name

    base = parts(configs[9])
    text = ", ".join(base[:5])
    for side, config in configs.items():
        changed = [part for part, was in zip(parts(config), base, strict=True) if part != was]
        if changed:
            text += f"; {size_name(side)}: {', '.join(changed)}"
    return text


def _open(source: str, split: str, puzzle_column: str, solution_column: str, out: Path, resume: bool, force: bool,
          configs: dict[int, SolverConfig]) -> tuple[Any, set[int]]:
    """The dataset and the rows already done in ``out`` (prepared for this run, its settings recorded); a refusal
    is a one-line error (exit 2), checked before any data is loaded."""
    from ..runs.batch import OutputError, output_policy, prepare_output, record_settings

    if str(out) == "-":  # elsewhere -o - is standard output; batch's results are a file it appends to and resumes
        fail("--out -: batch writes a results file it appends to and can resume; name a file")
    opt.check_output_or_exit("out", out, [source], **output_policy(out, resume, force))  # before loading any data
    try:
        dataset = open_source(source, split, puzzle_column, solution_column or None)
    except SourceError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/] while loading the data; nothing was written")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    try:
        done = prepare_output(out, resume, force, [source])
        warning = record_settings(out, configs, resume)
    except OutputError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use {out}: {exc.strerror or exc}")
    if warning:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    return dataset, done


def _solve_chunks(chunks: Iterator[list], configs: dict[int, SolverConfig], out: Path, done: set[int], executor: Any,
                  device: Any, total: int, already: int, quiet: bool) -> int:
    """``run_batch`` with a bar of rows and one of the chunk's steps; returns the rows this run wrote. Ctrl-C (or
    SIGTERM) keeps the finished rows, says how to resume, and exits 130."""
    from ..runs.batch import run_batch

    started = time.perf_counter()
    rows_this_run = 0
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err_console, transient=False, disable=quiet,
    )
    try:
        with sigterm_as_interrupt(), progress:  # SIGTERM takes Ctrl-C's path
            rows_task = progress.add_task("rows", total=total, completed=already,
                                          status=f"resumed {already}" if already else "")
            step_task = progress.add_task("chunk", total=configs[9].steps, visible=False, status="")
            chunk_number = [0]

            def on_step(p) -> None:
                progress.update(step_task, completed=p.step, total=p.steps, visible=True,
                                description=f"chunk {chunk_number[0]}",
                                status=f"solved {p.solved}/{p.total}, active {p.active} "
                                       f"{time_left_text(p.step, p.steps, p.elapsed, from_step=p.from_step)}")

            results = run_batch(chunks, configs, out, done, on_step, executor, device)
            for chunk_number[0], result in enumerate(results, start=1):
                rows_this_run = result.rows_done
                elapsed = time.perf_counter() - started
                rate = rows_this_run / elapsed if elapsed > 0 else 0.0
                attempted = result.rows_done - result.errors
                solved_pct = f"{100 * result.solved / attempted:.1f} %" if attempted else "—"
                progress.update(rows_task, advance=len(result.records),
                                status=f"solved {solved_pct}, {rate:.2f} rows/s, errors {result.errors}")
                progress.update(step_task, visible=False, completed=0)
    except KeyboardInterrupt as exc:
        rows_this_run = getattr(exc, "rows_done", rows_this_run)  # RowsInterrupted also saved the finished rows
        err_console.print(f"[yellow]interrupted[/]: {rows_this_run} rows of this run are saved in {out}; "
                          f"resume with: {_resume_command()}", highlight=False, soft_wrap=True)
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    return rows_this_run
