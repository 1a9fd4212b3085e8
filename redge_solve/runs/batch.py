"""Solving a dataset in chunks into a JSONL results file that survives being killed: the library side of ``batch``.

Each chunk of rows is one tensor batch per grid size, each size solved with its own settings (``BySide``: the
``batch`` command gives each its defaults, ``settings.sudoku_defaults``); rows that cannot be solved
(``sudoku.validate_puzzle``: unparseable, wrong length, conflicting clues, a solution that is not one) become
``error`` records. Records are appended one JSON line per row, in row order within a chunk, and the file is
flushed and fsync'd after every chunk, so a SIGKILL loses at most the chunk in flight (and may leave a truncated
last line, which ``read_done`` repairs). Noise is keyed by the dataset row index, so a row's result does not depend
on the chunk size or on which rows were already done: resuming gives the same lines.
Nothing here prints; progress goes through callbacks.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import deque
from dataclasses import dataclass, fields, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence, Union

import torch

from ..atomic import write_atomic
from ..data import PuzzleRow
from ..executors import Executor, LocalExecutor, TaskFailed, inject_failure
from ..memory import budget, bytes_per_puzzle
from ..problems.sudoku import SIZES, SudokuBatch, validate_puzzle
from ..solver import Progress, PuzzleResults, SolverConfig
from .grouped import GroupsInterrupted, solve_grouped
from .outputs import OutputRefused, check_output
from .records import error_record, sudoku_records

MIN_CHUNK, MAX_CHUNK = 16, 4000

BySide = Mapping[int, SolverConfig]
"""The settings of each grid side N (4, 9, 16, 25): a chunk mixing sizes solves each size's batch with its own."""
Settings = Union[SolverConfig, BySide]
"""What the functions here take: one ``SolverConfig`` for every grid size, or each size's (``BySide``)."""


def by_side(config: Settings) -> dict[int, SolverConfig]:
    """Every grid side's settings (``SIZES``): ``config`` for each, or the mapping checked. A mapping must cover
    every size (a row of a missing one could not be solved) and give them one ``max_seconds`` (the run's budget is
    one; ``ValueError`` otherwise)."""
    if isinstance(config, SolverConfig):
        return {side: config for side in SIZES}
    missing = [size_name(side) for side in SIZES if side not in config]
    if missing:
        raise ValueError(f"settings by grid size lack {', '.join(missing)}")
    if len({config[side].max_seconds for side in SIZES}) > 1:
        raise ValueError("settings by grid size must share one max_seconds (the run's time budget)")
    return {side: config[side] for side in SIZES}


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
                                                "weight_step": 0.0, "max_restarts": 0, "max_logit": 0.0,
                                                "tail_samples": 0, "growth_period": 4, "recombine": False}
"""The value each ``SolverConfig`` field added after the first settings records stands for in a record without
it: the solver then ran as with the field switched off (each was added off, its off value keeping results
bit-identical; ``growth_period`` at 4, the period fixed before it was a field), so results written before a field
existed resume under that value and are refused under another."""


def size_name(side: int) -> str:
    return f"{side}×{side}"


def record_settings(out: Path, config: Settings, resume: bool) -> str | None:
    """Write the settings of each grid size (``config``: one for all, or ``BySide``) beside ``out`` (atomically):
    ``{"by_size": {"4x4": {...}, "9x9": {...}, ...}}``. When resuming, first refuse settings that differ from the
    recorded ones for any size (``OutputError`` naming each difference and its sizes).

    A record written before the sizes had their own settings (``{"settings": {...}}``, one config that solved every
    size) is compared only for the sizes the results file already holds, and then rewritten by size: a file of 9×9
    rows resumes under the 9×9 settings it was written with, whatever the big grids' settings now are, while one
    that holds 16×16 rows solved with 9×9's settings is refused. Returns a warning when resuming results that have
    no record (written before records existed): they are then assumed to match."""
    path = settings_path(out)
    settings = {side: solver_settings(each) for side, each in by_side(config).items()}
    warning = None
    if resume and path.exists():
        recorded, one_for_all = _read_record(path)
        compared = _sides_in(out) if one_for_all else set(settings) | set(recorded)
        changed = settings_changes({s: settings.get(s) for s in compared}, {s: recorded.get(s) for s in compared})
        if changed:
            older = ("; its record is from before each grid size had its own settings (start afresh with `force`)"
                     if one_for_all else "; give the recorded values again (an upgrade may have changed a default), "
                     "or start afresh with `force`")
            raise OutputError(f"{out} was written with other solver settings; `resume` needs the same ones: "
                              f"{', '.join(changed)}{older}")
        if not one_for_all:
            return None
    elif resume and out.exists() and out.stat().st_size > 0:
        warning = f"{out} has no record of its solver settings; assuming they are the ones given now"
    record = {"by_size": {f"{side}x{side}": each for side, each in settings.items()}}
    write_atomic(path, json.dumps(record, indent=1) + "\n")
    return warning


def _read_record(path: Path) -> tuple[dict[int, dict[str, Any]], bool]:
    """The settings a record holds by grid side, and whether it is one config for every size (an older record)."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
        if "by_size" in record:
            by_size = {int(name.partition("x")[0]): dict(each) for name, each in record["by_size"].items()}
            return {side: {**SETTINGS_BEFORE_THEY_EXISTED, **each} for side, each in by_size.items()}, False
        one = {**SETTINGS_BEFORE_THEY_EXISTED, **record["settings"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        raise OutputError(f"{path} is not a settings record; remove it to resume without the check") from None
    return {side: one for side in SIZES}, True


def _sides_in(out: Path) -> set[int]:
    """The grid sides of the rows already in ``out`` (by the length of each record's puzzle)."""
    sides: set[int] = set()
    cells = {side * side: side for side in SIZES}
    _scan(out, False, lambda record: sides.add(cells.get(len(str(record.get("puzzle", ""))), 0)))
    return sides - {0}


def settings_changes(now: Mapping[int, dict[str, Any] | None], was: Mapping[int, dict[str, Any] | None]) -> list[str]:
    """Each setting that differs between ``now`` and ``was`` (settings by grid side, None: a size not there), as
    ``restarts 16 (was 8)``, followed by ``for 16×16`` unless it differs the same way for every size compared."""
    sides: dict[str, list[int]] = {}
    for side in sorted(set(now) | set(was)):
        if now.get(side) is None or was.get(side) is None:
            where = "not recorded" if was.get(side) is None else "not solvable here"
            sides.setdefault(f"{size_name(side)} {where}", [])
            continue
        a, b = now[side], was[side]
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                sides.setdefault(f"{key} {a.get(key)!r} (was {b.get(key)!r})", []).append(side)
    every = len(set(now) | set(was))
    return [text if not group or len(group) == every else f"{text} for {', '.join(map(size_name, group))}"
            for text, group in sides.items()]


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


def solve_rows(rows: Sequence[PuzzleRow], config: Settings,
               on_step: Callable[[Progress], None] | None = None,
               device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """Records for ``rows`` (sorted by index): one tensor batch per grid size on ``device`` (default: the CPU),
    solved with that size's settings (``config``: one for all, or ``BySide``) and keyed by the row indices; a row
    that cannot be solved is an error record. Ctrl-C raises ``RowsInterrupted`` with the finished rows."""
    configs = by_side(config)
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
        solved = solve_grouped(valid, lambda item: math.isqrt(item[1].numel()), configs.__getitem__,
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


def solve_chunk(rows: Sequence[PuzzleRow], config: Settings,
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
        config = {side: replace(each, max_seconds=left) for side, each in by_side(config).items()}
    return solve_rows(rows, config, on_step, device) if rows else []


def run_batch(chunks: Iterable[list[PuzzleRow]], config: Settings, out: Path,
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

    ``config`` is every grid size's settings, or each size's (``BySide``; one lacking a size, or giving two time
    budgets, is a ``ValueError`` at the first chunk). Their ``max_seconds`` bounds the whole run: no chunk is
    drawn once it is spent, a chunk gets the time left (its puzzles still unsolved then stop, unsolved, and are
    written so), and a chunk that starts after it writes nothing: its rows are left for a resume.
    """
    done = set() if done is None else done
    configs = by_side(config)
    budget_seconds = next(iter(configs.values())).max_seconds
    executor = executor or LocalExecutor()
    deadline = None if budget_seconds is None else time.time() + budget_seconds
    task = partial(solve_chunk, config=configs, on_step=on_step if executor.in_process else None, device=device,
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
