"""One JSON-ready record per Sudoku puzzle: what ``sudoku --json``, ``batch`` and ``compare`` write.

Fields: index, puzzle, grid (the reported grid: a valid solution when found, else the best final mode), found,
solved_last / solved_mode / solved_any (the three criteria, see ``solver.PuzzleResults``), first_solved_step (None
if never), penalty, violations (of ``grid``, counted directly on its digits), matches_solution (None when the
source gives no solution), verified (rules + clues + given solution, checked directly), steps_run, seconds, meta.
A row that could not be solved at all is ``{"index", "puzzle", "error"}``; so is a puzzle whose logits became
NaN/inf (``PuzzleResults.diverged_step``): it has no result.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch

from .problems.sudoku import grid_to_string, grid_violations, verify_grid
from .solver import PuzzleResults


def sudoku_records(
    results: PuzzleResults,
    clues: torch.Tensor,
    indices: Sequence[int],
    solutions: Sequence[torch.Tensor | None] | None = None,
    metas: Sequence[dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Records for the B puzzles of one solved batch (``clues`` ``(B, N²)``, same order as ``results``)."""
    if not len(indices):  # e.g. interrupted before the first step
        return []
    violations = grid_violations(results.solution).tolist()
    records = []
    for i, index in enumerate(indices):
        solution = solutions[i] if solutions is not None else None
        grid = results.solution[i]
        first = int(results.first_solved_step[i])
        diverged = int(results.diverged_step[i])
        if diverged >= 0:
            records.append(error_record(index, grid_to_string(clues[i]), f"solver diverged: logits became NaN/inf "
                                        f"at step {diverged} (try a smaller --lr)"))
            continue
        records.append(
            {
                "index": int(index),
                "puzzle": grid_to_string(clues[i]),
                "grid": grid_to_string(grid),
                "found": bool(results.found[i]),
                "solved_last": bool(results.solved_last[i]),
                "solved_mode": bool(results.solved_mode[i]),
                "solved_any": bool(results.solved_any[i]),
                "first_solved_step": first if first >= 0 else None,
                "penalty": round(float(results.penalty[i]), 6),
                "violations": int(violations[i]),
                "matches_solution": None if solution is None else bool(torch.equal(grid, solution.long())),
                "verified": verify_grid(grid, clues[i], solution),
                "steps_run": int(results.steps_run[i]),
                "seconds": round(float(results.seconds[i]), 4),
                "meta": dict(metas[i]) if metas is not None else {},
            }
        )
    return records


def error_record(index: int, puzzle: str, reason: str) -> dict[str, Any]:
    return {"index": int(index), "puzzle": puzzle, "error": reason}
