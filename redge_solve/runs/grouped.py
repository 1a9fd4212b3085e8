"""Solving items of several shapes (Sudoku sizes, numbers of values): one tensor batch per shape, one record per
item in index order, and on Ctrl-C the records of every item that had finished.

The solver needs one number of categories (and, for Sudoku, one grid size) per batch, so ``sudoku``, ``batch`` and
the constraint-problem commands group their items by that shape, solve group after group, and turn each group's
``PuzzleResults`` into records. ``solve_grouped`` is that loop, written once. Noise is keyed by each item's id, so
neither the grouping nor the order of the groups changes any result. Nothing here prints; progress goes through
the ``on_group`` callback.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Hashable, Sequence, TypeVar

import torch

from ..solver import Interrupted, Problem, Progress, PuzzleResults, SolverConfig, solve

T = TypeVar("T")
Records = list[dict[str, Any]]
OnGroup = Callable[[Hashable, int], Callable[[Progress], None] | None]
"""``on_group(key, size)`` before each group is solved; returns the ``on_step`` callback for that group (or None)."""


class GroupsInterrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM made one) inside ``solve_grouped``: ``records`` holds every item that had finished, the
    groups already solved and the items of the group in flight that had stopped (solved, or diverged) before the
    interrupt, sorted by ``index``."""

    def __init__(self, records: Records) -> None:
        super().__init__()
        self.records = records


def solve_grouped(items: Sequence[T], key: Callable[[T], Hashable],
                  config: SolverConfig | Callable[[Hashable], SolverConfig],
                  problem: Callable[[list[T]], Problem], ids: Callable[[list[T]], list[int]],
                  records: Callable[[PuzzleResults, list[T]], Records], on_group: OnGroup | None = None) -> Records:
    """Solve ``items`` one batch per ``key(item)`` (keys in sorted order, items in their order within a group):
    ``problem(group)`` is the batch, ``ids(group)`` the ids that key its noise, ``records(results, group)`` one
    record per item (with an ``index``). ``config`` is every group's settings, or ``config(key)`` each group's own
    (Sudoku's defaults depend on the grid size).
    A time budget (each group's ``max_seconds``, counted from the start of the first group) is shared by all the
    groups. Returns every record, sorted by ``index``; raises ``GroupsInterrupted`` on Ctrl-C."""
    settings = config if callable(config) else lambda _: config
    done: Records = []
    started = time.perf_counter()
    try:
        for value in sorted({key(item) for item in items}):
            group = [item for item in items if key(item) == value]
            on_step = on_group(value, len(group)) if on_group is not None else None
            try:
                results = solve(problem(group), budget_left(settings(value), started),  # one budget for all groups
                                puzzle_ids=torch.tensor(ids(group), dtype=torch.long), on_step=on_step)
            except Interrupted as interrupt:  # the items the solver had reached, and of those the ones that ran
                reached = group[:len(interrupt.results.found)]
                partial = records(interrupt.results, reached) if reached else []
                done.extend(r for r, ran in zip(partial, interrupt.results.steps_run.tolist(), strict=True) if ran)
                raise
            done.extend(records(results, group))
    except KeyboardInterrupt:
        raise GroupsInterrupted(_by_index(done)) from None
    return _by_index(done)


SMALLEST_BUDGET = 1e-3
"""Seconds: a group reached after the budget is spent still runs one step (``max_seconds`` must be > 0)."""


def budget_left(config: SolverConfig, started: float) -> SolverConfig:
    """``config`` for the next of several ``solve`` calls sharing one run's time budget: ``max_seconds`` less the
    time since ``started`` (a ``time.perf_counter()`` reading), at least ``SMALLEST_BUDGET``; unchanged without a
    budget."""
    if config.max_seconds is None:
        return config
    left = config.max_seconds - (time.perf_counter() - started)
    return dataclasses.replace(config, max_seconds=max(left, SMALLEST_BUDGET))


def _by_index(records: Records) -> Records:
    return sorted(records, key=lambda record: record["index"])
