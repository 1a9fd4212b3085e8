"""Solving a dataset in chunks into a JSONL results file that survives being killed: the library side of ``batch``.

Each chunk of rows is one tensor batch per grid size; rows that cannot be solved (``sudoku.validate_puzzle``:
unparseable, wrong length, conflicting clues, a solution that is not one) become ``error`` records. Records are
appended one JSON line per row, in row order within a chunk, and the file is flushed and fsync'd after every
chunk, so a SIGKILL loses at most the chunk in flight (and may leave a truncated last line, which ``read_done``
repairs). Noise is keyed by the dataset row index, so a row's result does not depend on the chunk size or on which
rows were already done: resuming gives the same lines.
Nothing here prints; progress goes through callbacks.
"""

from __future__ import annotations

import json
import os
import time
from collections import deque
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

from ..atomic import write_atomic
from ..data import PuzzleRow
from ..executors import Executor, LocalExecutor, TaskFailed, inject_failure
from ..memory import budget, bytes_per_puzzle
from ..problems.sudoku import SudokuBatch, validate_puzzle
from ..solver import Progress, PuzzleResults, SolverConfig
from .grouped import GroupsInterrupted, solve_grouped
from .outputs import OutputRefused, check_output
from .records import error_record, sudoku_records

MIN_CHUNK, MAX_CHUNK = 16, 4000


class RowsInterrupted(KeyboardInterrupt):
    """Ctrl-C inside ``solve_rows``/``run_batch``: ``records`` are the rows that had finished (final results,
    already appended by ``run_batch``); ``rows_done`` counts this run's rows in the file."""

    def __init__(self, records: list[dict[str, Any]], rows_done: int = 0) -> None:
        super().__init__()
        self.records, self.rows_done = records, rows_done


class OutputError(ValueError):
    """The output file cannot be used as asked (an input, exists without --resume/--force, unreadable); one line."""


def default_chunk_size(config: SolverConfig, free_cells: int = 64, digits: int = 9,
                       memory: int | None = None, device: torch.device | str | None = None) -> int:
    """Puzzles per chunk: as many as fit in ``memory`` bytes (default: ``memory.budget(device)``, the solver's own
    policy) by ``bytes_per_puzzle`` at ``config.restarts``, clamped to 16–4000 (the solver splits a chunk further
    when the restarts of its hard puzzles grow)."""
    memory = budget(device) if memory is None else memory
    per_puzzle = bytes_per_puzzle(free_cells, digits, restarts=config.restarts, samples=config.samples,
                                  calls=config.make_estimator().denoiser_calls)
    fit = memory // max(1, per_puzzle)
    return int(max(MIN_CHUNK, min(MAX_CHUNK, fit)))


def read_done(path: Path, repair: bool = True) -> dict[int, dict[str, Any]]:
    """The records already in ``path`` by row index. A truncated or unparseable *last* line (a write cut by a
    kill) is dropped and, with ``repair``, cut from the file so appends start on a clean line. A bad line
    elsewhere is an ``OutputError`` (that file was not written by an interrupted run)."""
    done: dict[int, dict[str, Any]] = {}
    _scan(path, repair, lambda record: done.__setitem__(record["index"], record))
    return done


def done_indices(path: Path, repair: bool = True) -> set[int]:
    """Like ``read_done`` but keeps only the indices (a results file of millions of rows stays cheap)."""
    done: set[int] = set()
    _scan(path, repair, lambda record: done.add(record["index"]))
    return done


def _scan(path: Path, repair: bool, keep: Callable[[dict[str, Any]], None]) -> None:
    if not path.exists():
        return
    good_end = 0
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if raw.strip():
                record = None
                if raw.endswith(b"\n"):
                    try:
                        record = json.loads(raw)
                    except ValueError:
                        record = None
                if not isinstance(record, dict) or not isinstance(record.get("index"), int):
                    if any(line.strip() for line in handle):
                        raise OutputError(f"{path}: line {number} is not a result record; not a results file?")
                    break  # the cut last line of a killed run
                keep(record)
            good_end += len(raw)
        size = handle.seek(0, os.SEEK_END)
    if repair and good_end < size:
        with open(path, "r+b") as handle:
            handle.truncate(good_end)
            handle.flush()
            os.fsync(handle.fileno())


RESUME_HINT = "pass `resume` to continue it or `force` to replace it"


def output_policy(out: Path, resume: bool, force: bool) -> dict[str, Any]:
    """``outputs.check_output``'s arguments for the results file ``out``: it may exist only to be resumed or
    replaced (``force``), and its settings record ``OUT.meta.json`` is a sidecar (neither may be an input)."""
    return {"force": force, "existing_ok": resume, "hint": RESUME_HINT, "sidecars": [settings_path(out)]}


def prepare_output(path: Path, resume: bool, overwrite: bool, inputs: Sequence[str | os.PathLike] = ()) -> set[int]:
    """Check ``path`` for a new run (``outputs.check_output`` with ``output_policy``; ``OutputError``, one line),
    empty it when replacing it, and return the row indices already done (when resuming)."""
    try:
        check_output("out", path, inputs, **output_policy(path, resume, overwrite))
    except OutputRefused as exc:
        raise OutputError(str(exc)) from None
    if resume:
        return done_indices(path)
    if path.exists() and path.stat().st_size > 0:
        path.write_bytes(b"")
    return set()


def settings_path(out: Path) -> Path:
    """The sidecar that records the solver settings of ``out``: ``OUT.meta.json``."""
    return out.with_name(out.name + ".meta.json")


def solver_settings(config: SolverConfig) -> dict[str, Any]:
    """The settings that change results, normalised (``tau=1`` and ``tau=1.0`` are the same; the executor, the
    chunk size and the time budget are not settings: the first two never change a result, and a budget only
    decides how many rows a run gets through, so a run stopped by it can be resumed with another)."""
    estimator = config.make_estimator()
    settings = {f.name: getattr(config, f.name) for f in fields(config) if f.name != "max_seconds"}
    settings.update(estimator=estimator.name, params=estimator.params())
    return json.loads(json.dumps(settings))


SETTINGS_BEFORE_THEY_EXISTED: dict[str, Any] = {"init_std": 0.0, "reset_every": 0, "deduce": "none",
                                                "weight_step": 0.0, "max_restarts": 0}
"""The value each ``SolverConfig`` field added after the first settings records stands for in a record without
it: the solver then ran as with the field switched off (each was added off, its off value keeping results
bit-identical), so results written before a field existed resume under that value and are refused under another."""


def record_settings(out: Path, config: SolverConfig, resume: bool) -> str | None:
    """Write ``config``'s settings beside ``out`` (atomically); when resuming, first refuse settings that differ
    from the recorded ones (``OutputError`` naming each difference). Returns a warning when resuming results that
    have no record (written before records existed): they are then assumed to match."""
    path, settings = settings_path(out), solver_settings(config)
    warning = None
    if resume and path.exists():
        try:
            recorded = {**SETTINGS_BEFORE_THEY_EXISTED, **json.loads(path.read_text(encoding="utf-8"))["settings"]}
        except (OSError, ValueError, KeyError, TypeError):
            raise OutputError(f"{path} is not a settings record; remove it to resume without the check") from None
        changed = [f"{key} {settings.get(key)!r} (was {recorded.get(key)!r})" for key in sorted(settings | recorded)
                   if settings.get(key) != recorded.get(key)]
        if changed:
            raise OutputError(f"{out} was written with other solver settings; `resume` needs the same ones: "
                              f"{', '.join(changed)}")
        return None
    if resume and out.exists() and out.stat().st_size > 0:
        warning = f"{out} has no record of its solver settings; assuming they are the ones given now"
    write_atomic(path, json.dumps({"settings": settings}, indent=1) + "\n")
    return warning


@dataclass
class ChunkDone:
    """What one chunk added: its records (row order), and the running totals of this run."""

    records: list[dict[str, Any]]
    rows_done: int  # rows written by this run so far (errors included)
    solved: int  # found == True among them
    errors: int
    skipped: int  # rows of the chunk already in the output


def parse_row(row: PuzzleRow) -> tuple[torch.Tensor, torch.Tensor | None] | str:
    """The clue grid and solution of a row, or the reason it cannot be solved (``sudoku.validate_puzzle``)."""
    return validate_puzzle(row.puzzle, row.solution)


def solve_rows(rows: Sequence[PuzzleRow], config: SolverConfig,
               on_step: Callable[[Progress], None] | None = None,
               device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """Records for ``rows`` (sorted by index): one tensor batch per grid size on ``device`` (default: the CPU),
    keyed by the row indices; a row that cannot be solved is an error record. Ctrl-C raises ``RowsInterrupted``
    with the finished rows."""
    errors: list[dict[str, Any]] = []
    valid: list[tuple[PuzzleRow, torch.Tensor, torch.Tensor | None]] = []
    for row in rows:
        parsed = parse_row(row)
        if isinstance(parsed, str):
            errors.append(error_record(row.index, row.puzzle, parsed))
        else:
            valid.append((row, *parsed))

    def records(results: PuzzleResults, group: list[tuple[PuzzleRow, torch.Tensor, torch.Tensor | None]]):
        return sudoku_records(results, torch.stack([g for _, g, _ in group]), [r.index for r, _, _ in group],
                              [s for _, _, s in group], [r.meta for r, _, _ in group])

    try:
        solved = solve_grouped(valid, lambda item: item[1].numel(), config,
                               lambda group: SudokuBatch.from_grids(torch.stack([g for _, g, _ in group]),
                                                                    device=device),
                               lambda group: [r.index for r, _, _ in group], records,
                               lambda key, size: on_step)
    except GroupsInterrupted as exc:  # keep the rows that had finished: they are final
        raise RowsInterrupted(sorted(errors + exc.records, key=lambda record: record["index"])) from None
    return sorted(errors + solved, key=lambda record: record["index"])


def append_records(path: Path, records: Iterable[dict[str, Any]]) -> None:
    """Append one JSON line per record in a single write, then flush and fsync."""
    text = "".join(json.dumps(record, ensure_ascii=False, default=str) + "\n" for record in records)
    if not text:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def solve_chunk(rows: Sequence[PuzzleRow], config: SolverConfig,
                on_step: Callable[[Progress], None] | None = None, device: torch.device | str | None = None,
                deadline: float | None = None) -> list[dict[str, Any]]:
    """One task of ``run_batch`` (in this process or on a Ray worker): ``solve_rows`` behind the test hook, with
    the time left before ``deadline`` (a ``time.time()`` reading: the run's budget) as its ``max_seconds``. A
    chunk reached after the deadline solves nothing and returns no records: its rows are left for a resume."""
    inject_failure(row.index for row in rows)
    if deadline is not None:
        left = deadline - time.time()
        if left <= 0:
            return []
        config = replace(config, max_seconds=left)
    return solve_rows(rows, config, on_step, device) if rows else []


def run_batch(chunks: Iterable[list[PuzzleRow]], config: SolverConfig, out: Path,
              done: set[int] | None = None,
              on_step: Callable[[Progress], None] | None = None,
              executor: Executor | None = None,
              device: torch.device | str | None = None) -> Iterator[ChunkDone]:
    """Solve every row of ``chunks`` not in ``done`` and append its record to ``out``; yields after each chunk
    (a consumer that stops iterating, or an interrupt, loses only the chunks in flight).

    ``executor`` (default: this process) runs one ``solve_chunk`` task per chunk; chunks are written in their
    order whatever order they finish in, so the file is the same as a local run's. A chunk whose task failed
    becomes error lines with the reason. ``on_step`` only reaches tasks that run in this process; the chunks are
    solved on ``device`` (default: the CPU).

    ``config.max_seconds`` bounds the whole run: no chunk is drawn once it is spent, a chunk gets the time left
    (its puzzles still unsolved then stop, unsolved, and are written so), and a chunk that starts after it writes
    nothing: its rows are left for a resume.
    """
    done = set() if done is None else done
    executor = executor or LocalExecutor()
    deadline = None if config.max_seconds is None else time.time() + config.max_seconds
    task = partial(solve_chunk, config=config, on_step=on_step if executor.in_process else None, device=device,
                   deadline=deadline)
    skipped: deque[int] = deque()

    def todo_lists() -> Iterator[list[PuzzleRow]]:
        for chunk in chunks:
            if deadline is not None and time.time() >= deadline:
                return
            todo = [row for row in chunk if row.index not in done]
            skipped.append(len(chunk) - len(todo))
            yield todo

    rows_done = solved = errors = 0
    outcomes = executor.imap(task, todo_lists())
    while True:
        try:
            item = next(outcomes, None)
        except RowsInterrupted as exc:  # keep the rows of the chunk in flight that had finished
            append_records(out, exc.records)
            exc.rows_done = rows_done + len(exc.records)
            raise
        if item is None:
            return
        todo, outcome = item
        if isinstance(outcome, TaskFailed):
            records = [error_record(row.index, row.puzzle, f"task failed: {outcome.reason}") for row in todo]
        else:
            records = outcome
        append_records(out, records)
        done.update(record["index"] for record in records)
        rows_done += len(records)
        solved += sum(1 for r in records if r.get("found"))
        errors += sum(1 for r in records if "error" in r)
        yield ChunkDone(records, rows_done, solved, errors, skipped.popleft())
