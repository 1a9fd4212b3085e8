"""Solving a dataset in chunks into a JSONL results file that survives being killed: the library side of ``batch``.

Each chunk of rows is one tensor batch per grid size; rows that cannot be solved (unparseable, wrong length,
conflicting clues) become ``error`` records. Records are appended one JSON line per row, in row order within a
chunk, and the file is flushed and fsync'd after every chunk, so a SIGKILL loses at most the chunk in flight (and
may leave a truncated last line, which ``read_done`` repairs). Noise is keyed by the dataset row index, so a row's
result does not depend on the chunk size or on which rows were already done: resuming gives the same lines.
Nothing here prints; progress goes through callbacks.
"""

from __future__ import annotations

import json
import os
from collections import deque
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import torch

from .data import PuzzleRow
from .executors import Executor, LocalExecutor, TaskFailed, inject_failure
from .problems.sudoku import SudokuBatch, clue_conflicts, grid_from_string
from .records import error_record, sudoku_records
from .solver import NumericalError, Progress, SolverConfig, solve

MIN_CHUNK, MAX_CHUNK = 16, 4000


class OutputError(ValueError):
    """The output file cannot be used as asked (exists without --resume/--overwrite, unreadable); one line."""


def available_memory() -> int:
    """Bytes of memory available to this process (``MemAvailable``), with a conservative fallback."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 * 1024**3


def bytes_per_puzzle(config: SolverConfig, free_cells: int = 64, digits: int = 9) -> int:
    """A rough peak of the solving loop per puzzle: float32 tensors of restarts × samples × free cells × digits
    (samples, relaxed values, gradients, unit counts, estimator intermediates: ~24 such tensors) plus the
    per-restart logits and Adam moments."""
    per_sample = config.restarts * config.samples * free_cells * digits * 4
    per_restart = config.restarts * free_cells * digits * 4
    return 24 * per_sample + 8 * per_restart


def default_chunk_size(config: SolverConfig, free_cells: int = 64, digits: int = 9,
                       memory: int | None = None) -> int:
    """Puzzles per chunk: a quarter of the available memory over ``bytes_per_puzzle``, clamped to 16–4000."""
    memory = available_memory() if memory is None else memory
    fit = (memory // 4) // max(1, bytes_per_puzzle(config, free_cells, digits))
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


def prepare_output(path: Path, resume: bool, overwrite: bool) -> set[int]:
    """Check ``path`` for a new run and return the row indices already done (when resuming)."""
    if path.is_dir():
        raise OutputError(f"{path} is a directory")
    exists = path.exists() and path.stat().st_size > 0
    if resume:
        return done_indices(path)
    if exists and not overwrite:
        raise OutputError(f"{path} already has results; pass --resume to continue it or --overwrite to replace it")
    if exists:
        path.write_bytes(b"")
    return set()


@dataclass
class ChunkDone:
    """What one chunk added: its records (row order), and the running totals of this run."""

    records: list[dict[str, Any]]
    rows_done: int  # rows written by this run so far (errors included)
    solved: int  # found == True among them
    errors: int
    skipped: int  # rows of the chunk already in the output


def parse_row(row: PuzzleRow) -> tuple[torch.Tensor, torch.Tensor | None] | str:
    """The clue grid and solution of a row, or the reason it cannot be solved."""
    try:
        grid = grid_from_string(row.puzzle)
    except ValueError as exc:
        return f"bad puzzle: {exc}"
    conflicts = clue_conflicts(grid)
    if conflicts:
        where = ", ".join(f"{digit} twice in {unit}" for unit, digit in conflicts[:3])
        more = f" (+{len(conflicts) - 3} more)" if len(conflicts) > 3 else ""
        return f"conflicting clues: {where}{more}"
    solution = None
    if row.solution is not None:
        side = int(round(grid.numel() ** 0.5))
        try:
            solution = grid_from_string(row.solution, side)
        except ValueError as exc:
            return f"bad solution: {exc}"
    return grid, solution


def solve_rows(rows: Sequence[PuzzleRow], config: SolverConfig,
               on_step: Callable[[Progress], None] | None = None) -> list[dict[str, Any]]:
    """Records for ``rows`` (sorted by index): one tensor batch per grid size, keyed by the row indices."""
    records: list[dict[str, Any]] = []
    by_side: dict[int, list[tuple[PuzzleRow, torch.Tensor, torch.Tensor | None]]] = {}
    for row in rows:
        parsed = parse_row(row)
        if isinstance(parsed, str):
            records.append(error_record(row.index, row.puzzle, parsed))
        else:
            grid, solution = parsed
            by_side.setdefault(grid.numel(), []).append((row, grid, solution))
    for group in by_side.values():
        grids = torch.stack([g for _, g, _ in group])
        ids = torch.tensor([r.index for r, _, _ in group], dtype=torch.long)
        try:
            results = solve(SudokuBatch.from_grids(grids), config, puzzle_ids=ids, on_step=on_step)
        except NumericalError as exc:
            records.extend(error_record(r.index, r.puzzle, f"solver failed: {exc}") for r, _, _ in group)
            continue
        records.extend(sudoku_records(results, grids, ids.tolist(), [s for _, _, s in group],
                                      [r.meta for r, _, _ in group]))
    records.sort(key=lambda record: record["index"])
    return records


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
                on_step: Callable[[Progress], None] | None = None) -> list[dict[str, Any]]:
    """One task of ``run_batch`` (in this process or on a Ray worker): ``solve_rows`` behind the test hook."""
    inject_failure(row.index for row in rows)
    return solve_rows(rows, config, on_step) if rows else []


def run_batch(chunks: Iterable[list[PuzzleRow]], config: SolverConfig, out: Path,
              done: set[int] | None = None,
              on_step: Callable[[Progress], None] | None = None,
              executor: Executor | None = None) -> Iterator[ChunkDone]:
    """Solve every row of ``chunks`` not in ``done`` and append its record to ``out``; yields after each chunk
    (a consumer that stops iterating, or an interrupt, loses only the chunks in flight).

    ``executor`` (default: this process) runs one ``solve_chunk`` task per chunk; chunks are written in their
    order whatever order they finish in, so the file is the same as a local run's. A chunk whose task failed
    becomes error lines with the reason. ``on_step`` only reaches tasks that run in this process.
    """
    done = set() if done is None else done
    executor = executor or LocalExecutor()
    task = partial(solve_chunk, config=config, on_step=on_step if executor.in_process else None)
    skipped: deque[int] = deque()

    def todo_lists() -> Iterator[list[PuzzleRow]]:
        for chunk in chunks:
            todo = [row for row in chunk if row.index not in done]
            skipped.append(len(chunk) - len(todo))
            yield todo

    rows_done = solved = errors = 0
    for todo, outcome in executor.imap(task, todo_lists()):
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
