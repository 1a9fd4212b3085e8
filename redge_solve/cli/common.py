"""Shared pieces of the command line: consoles, the one-line error with exit code 2, ``key=value`` parsing."""

from __future__ import annotations

import contextlib
import json
import math
import signal
from enum import IntEnum
from typing import Any, Callable, Hashable, Iterator, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

console = Console()
err_console = Console(stderr=True)



class ExitCode(IntEnum):
    """Every command's exit status: all solved, some unsolved, bad input (one line on stderr), interrupted."""

    ALL_SOLVED = 0
    SOME_UNSOLVED = 1
    BAD_INPUT = 2
    INTERRUPTED = 130


def print_error(message: str) -> None:
    """``error: message`` on one line to stderr (``message`` is plain text, not markup; the settings it names are
    written as their options, ``flags.as_flags``)."""
    from .flags import as_flags

    err_console.print(f"[bold red]error:[/] {escape(as_flags(message))}", highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with code 2 (bad input or usage); ``message`` is
    plain text (a path such as ``runs[1].csv`` is not read as markup)."""
    print_error(message)
    raise typer.Exit(ExitCode.BAD_INPUT)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises ``KeyboardInterrupt``, so ``kill PID`` takes Ctrl-C's path (save what is
    finished, exit 130)."""

    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def penalty_reads(quiet: bool) -> Callable[[], bool]:
    """Called once a step by a progress bar: whether to read the step's lowest penalty now. With breakout weights a
    read costs an evaluation of the penalty, so only a bar that is drawn (not ``quiet``, stderr a terminal) reads it,
    at its first step and then once a ``progress.PENALTY_READ_SECONDS``."""
    from .progress import Every

    every, drawn = Every(), not quiet and err_console.is_terminal
    return lambda: drawn and every()


@contextlib.contextmanager
def group_progress(label: Callable[[Hashable], str], steps: int | Callable[[Hashable], int], quiet: bool,
                   budget: float | None = None) -> Iterator[Callable[..., Any]]:
    """A transient progress bar on stderr for each group of a ``grouped.solve_grouped`` run (none with ``quiet``):
    yields its ``on_group`` callback, which starts the group's bar (named ``label(key)``, ``steps`` long, or
    ``steps(key)`` when groups differ) and returns its ``on_step``. The bar shows the lowest penalty of a sample
    so far in the group, over the steps it read it at (``penalty_reads``; a long run that converges shows it falling
    towards 0) and an upper estimate of the time
    left (``progress.time_left_text``), never more than what is left of the run's time ``budget`` (seconds, shared
    by the groups)."""
    import time

    from .progress import time_left_text

    columns = (TextColumn("{task.description}"), BarColumn(), TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
               TextColumn("solved {task.fields[solved]}/{task.fields[count]}"),
               TextColumn("best penalty so far {task.fields[penalty]}"), TextColumn("{task.fields[rate]} steps/s"),
               TimeElapsedColumn(), TextColumn("{task.fields[left]}"))
    started = time.perf_counter()
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as bar:
        shown: list[Any] = []

        def on_group(key: Hashable, size: int) -> Callable[[Any], None]:
            for task in shown:  # the previous group is done
                bar.remove_task(task)
            left = None if budget is None else max(budget - (time.perf_counter() - started), 0.0)
            total = steps(key) if callable(steps) else steps
            task = bar.add_task(label(key), total=total, solved=0, count=size, penalty="-", rate="-",
                                left=time_left_text(0, total, 0.0, left))
            shown[:] = [task]
            best, read = [math.inf], penalty_reads(quiet)

            def on_step(p: Any) -> None:
                rate = (p.step - p.from_step + 1) / p.elapsed if p.elapsed > 0 else 0.0
                if read():
                    best[0] = min(best[0], p.best_penalty)
                bar.update(task, completed=p.step, solved=p.solved, penalty=f"{best[0]:.0f}",
                           rate=f"{rate:.0f}", left=time_left_text(p.step, p.steps, p.elapsed, left, p.from_step))

            return on_step

        yield on_group


def parse_assignments(items: list[str], what: str) -> dict[str, str]:
    """``["n_steps=5", "t_1=0.3"]`` -> ``{"n_steps": "5", "t_1": "0.3"}``; a malformed item is a usage error."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail(f"{what} must look like name=value, got {item!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def write_json_lines(path: str, records: list[dict[str, Any]]) -> None:
    """One JSON line per record to ``path`` (written atomically), or to stdout for ``-``; a write error is a
    one-line error (exit 2)."""
    from ..atomic import write_atomic

    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if path == "-":
        console.file.write(text)
        console.file.flush()
        return
    try:
        write_atomic(path, text)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")


T = TypeVar("T")


def read_problem(path: str, parse: Callable[[str, str], T]) -> T:
    """``parse(text, name)`` of the text file ``path`` (``-`` = stdin, named ``<stdin>``), or a one-line error
    naming the file (exit 2) when it cannot be read or parsed (``ProblemFileError``)."""
    from ..problems.textfile import ProblemFileError, read_text

    name = "<stdin>" if path == "-" else path
    try:
        return parse(read_text(path), name)
    except ProblemFileError as error:
        fail(f"{name}: {error}")
