"""``redge-solve batch SOURCE``: solve a dataset (hub or local file) in chunks into a resumable JSONL file."""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Iterator, List, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..batch import OutputError, default_chunk_size, prepare_output, record_settings, run_batch
from ..data import SourceError, iter_chunks, open_source
from ..report import iter_records, summarize
from ..solver import DEFAULTS, SolverConfig, paper_protocol
from .app import app
from .common import (
    EXIT_ALL_SOLVED,
    EXIT_INTERRUPTED,
    EXIT_SOME_UNSOLVED,
    console,
    err_console,
    fail,
    parse_assignments,
    sigterm_as_interrupt,
)
from .executor_opts import ADDRESS_HELP, EXECUTOR_HELP, WORKERS_HELP, open_executor
from .progress import time_left_text
from .report_cmd import print_report


def _number(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)


def build_config(estimator: str, params: list[str], steps: int | None, samples: int | None, restarts: int | None,
                 lr: float | None, seed: int, protocol: str, max_seconds: float | None = None) -> SolverConfig:
    """The solver settings: dataclass defaults, then the protocol, then what was given explicitly."""
    parsed = {}
    for key, value in parse_assignments(params, "--param").items():
        try:
            parsed[key] = _number(value)
        except ValueError:
            fail(f"--param {key} must be a number, got {value!r}")
    if protocol not in ("default", "paper"):
        fail(f"--protocol must be default or paper, got {protocol!r}")
    try:
        config = SolverConfig(estimator=estimator, params=parsed, seed=seed)
        explicit = {k: v for k, v in dict(steps=steps, samples=samples, restarts=restarts, lr=lr,
                                          max_seconds=max_seconds).items() if v is not None}
        return paper_protocol(config, **explicit) if protocol == "paper" else replace(config, **explicit)
    except (ValueError, TypeError, KeyError) as exc:
        fail(" ".join(str(exc).split()) or type(exc).__name__)


def until_spent(chunks: Iterator[list], started: float, budget: float | None) -> Iterator[list]:
    """``chunks``, but none once ``budget`` seconds have passed since ``started`` (a ``perf_counter`` reading)."""
    for chunk in chunks:
        if budget is not None and time.perf_counter() - started >= budget:
            return
        yield chunk


def _resume_command() -> str:
    args = [a for a in sys.argv[1:] if a != "--overwrite"]
    if "--resume" not in args:
        args.append("--resume")
    return shlex.join(["redge-solve", *args])


@app.command("batch")
def batch(
    source: Annotated[str, typer.Argument(help="hf:OWNER/NAME (the Hugging Face Hub) or a local "
                                               ".csv/.tsv/.parquet/.json/.jsonl file")],
    split: Annotated[str, typer.Option("--split", help='Split with HF slicing, e.g. "train[:2000]".')] = "train",
    puzzle_column: Annotated[str, typer.Option("--puzzle-column", help="Column with the puzzles.")] = "puzzle",
    solution_column: Annotated[str, typer.Option("--solution-column",
                                                 help="Column with known solutions ('' for none).")] = "solution",
    offset: Annotated[int, typer.Option("--offset", min=0, help="First row (of the split) to solve.")] = 0,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="Solve at most this many rows.")] = None,
    chunk_size: Annotated[Optional[int], typer.Option(
        "--chunk-size", min=1, help="Puzzles per tensor batch [default: sized to available memory].")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Results file, one JSON line per row.")] = Path(
        "results.jsonl"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue an existing results file.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing results file.")] = False,
    estimator: Annotated[str, typer.Option("--estimator", "-e", help="Gradient estimator.")] = DEFAULTS.estimator,
    param: Annotated[Optional[List[str]], typer.Option(
        "--param", "-p", help="Estimator parameter name=value (repeatable).")] = None,
    steps: Annotated[Optional[int], typer.Option(
        "--steps", min=1, help=f"Adam steps per puzzle (default: {DEFAULTS.steps}).")] = None,
    samples: Annotated[Optional[int], typer.Option(
        "--samples", min=1, help=f"Samples per step (default: {DEFAULTS.samples}).")] = None,
    restarts: Annotated[Optional[int], typer.Option(
        "--restarts", min=1, help=f"Restarts per puzzle (default: {DEFAULTS.restarts}).")] = None,
    lr: Annotated[Optional[float], typer.Option(
        "--lr", help=f"Adam learning rate (default: {DEFAULTS.lr}).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same results).")] = DEFAULTS.seed,
    protocol: Annotated[str, typer.Option(
        "--protocol", help="default, or paper (1000 steps, 1 sample, 1 restart, no early stop).")] = "default",
    max_seconds: Annotated[Optional[float], typer.Option(
        "--max-seconds", metavar="S", help="Time budget in seconds: no chunk starts once it is spent, and a chunk "
        "stops its unsolved rows when it has run that long; the rows left are for --resume "
        "(default: no limit).")] = None,
    executor_name: Annotated[str, typer.Option("--executor", help=EXECUTOR_HELP)] = "local",
    address: Annotated[Optional[str], typer.Option("--address", help=ADDRESS_HELP)] = None,
    num_workers: Annotated[Optional[int], typer.Option("--num-workers", help=WORKERS_HELP)] = None,
) -> None:
    """Solve every puzzle of a dataset into a JSONL results file (resumable; Ctrl-C keeps finished rows)."""
    if resume and overwrite:
        fail("--resume and --overwrite exclude each other")
    config = build_config(estimator, param or [], steps, samples, restarts, lr, seed, protocol, max_seconds)
    if not out.parent.exists():
        fail(f"the directory of {out} does not exist")
    try:
        dataset = open_source(source, split, puzzle_column, solution_column or None)
    except SourceError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/] while loading the data; nothing was written")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    try:
        done = prepare_output(out, resume, overwrite)
        warning = record_settings(out, config, resume)
    except OutputError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot use {out}: {exc.strerror or exc}")
    if warning:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False, soft_wrap=True)
    executor = open_executor(executor_name, address, num_workers)
    end = len(dataset) if limit is None else min(len(dataset), offset + limit)
    total = max(0, end - offset)
    size = chunk_size or default_chunk_size(config)
    if chunk_size is None and executor.name == "ray":  # at least 4 tasks per worker, for balance and progress
        size = max(1, min(size, -(-total // (4 * executor.workers))))
    already = sum(1 for index in done if offset <= index < end)

    started = time.perf_counter()
    rows_this_run = 0
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
        console=err_console, transient=False,
    )
    try:
        with sigterm_as_interrupt(), progress:  # SIGTERM takes Ctrl-C's path
            rows_task = progress.add_task("rows", total=total, completed=already,
                                          status=f"resumed {already}" if already else "")
            step_task = progress.add_task("chunk", total=config.steps, visible=False, status="")
            chunk_number = [0]

            def on_step(p) -> None:
                progress.update(step_task, completed=p.step, visible=True,
                                description=f"chunk {chunk_number[0]}",
                                status=f"solved {p.solved}/{p.total}, active {p.active} "
                                       f"{time_left_text(p.step, p.steps, p.elapsed)}")

            chunks = until_spent(iter_chunks(dataset, size, offset, limit, puzzle_column, solution_column or None),
                                 started, config.max_seconds)
            results = run_batch(chunks, config, out, done, on_step, executor)
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
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        executor.close()
    elapsed = time.perf_counter() - started
    left = total - already - rows_this_run
    if config.max_seconds is not None and left > 0:
        err_console.print(f"[yellow]time budget of {config.max_seconds:g} s spent[/]: {left} rows not started; "
                          f"continue with: {_resume_command()}", highlight=False, soft_wrap=True)
    summary = summarize(r for r in iter_records(out) if offset <= r["index"] < end)
    rate = rows_this_run / elapsed if elapsed > 0 else 0.0
    console.print(f"{rows_this_run} rows done in {elapsed:.1f} s ({rate:.2f} rows/s); {already} were already in "
                  f"{out}", highlight=False)
    console.print(f"settings: {config.estimator}, {config.steps} steps, {config.samples} samples × "
                  f"{config.restarts} restarts, lr {config.lr}, seed {config.seed}; chunks of "
                  f"{min(size, max(total, 1))} rows, {executor.name} executor", highlight=False)
    if summary.total.rows:
        print_report(summary, source=str(out))
    unsolved = summary.total.solved["found"] < summary.total.rows or left > 0
    raise typer.Exit(EXIT_SOME_UNSOLVED if unsolved else EXIT_ALL_SOLVED)
