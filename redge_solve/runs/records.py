"""One JSON-ready record per Sudoku puzzle: what ``sudoku --json``, ``batch`` and ``compare`` write.

Fields: index, puzzle, grid (the reported grid: a valid solution when found, else the best final mode), found,
solved_last / solved_mode / solved_any (the three criteria, see ``solver.PuzzleResults``), first_solved_step (None
if never), mean_sample_penalty (the penalty of the last step's hard samples averaged over samples and restarts:
not a property of ``grid``, and large for a puzzle found by its mode; files before it call it ``penalty``),
violations (of ``grid``, counted directly on its digits), matches_solution (None when the source gives no
solution), verified (rules + clues + given solution, checked directly), steps_run, seconds, meta.
A row that could not be solved at all is ``{"index", "puzzle", "error"}``; so is a puzzle whose logits became
NaN/inf (``PuzzleResults.diverged_step``): it has no result.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any, Sequence

import torch

from ..problems.sudoku import grid_to_string, grid_violations, verify_grid
from ..solver import PuzzleResults


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
    results = on_cpu(results)
    violations = grid_violations(results.solution).tolist()
    records = []
    for i, index in enumerate(indices):
        solution = solutions[i] if solutions is not None else None
        grid = results.solution[i]
        diverged = divergence(results, i)
        if diverged is not None:
            records.append(error_record(index, grid_to_string(clues[i]), diverged))
            continue
        records.append(
            {
                "index": int(index),
                "puzzle": grid_to_string(clues[i]),
                "grid": grid_to_string(grid),
                **outcome_fields(results, i),
                "violations": int(violations[i]),
                "matches_solution": None if solution is None else bool(torch.equal(grid, solution.long())),
                "verified": verify_grid(grid, clues[i], solution),
                **cost_fields(results, i),
                "meta": dict(metas[i]) if metas is not None else {},
            }
        )
    return records


def on_cpu(results: PuzzleResults) -> PuzzleResults:
    """``results`` with every tensor on the CPU (records, checks and views are made there, whatever the device the
    problem was solved on); ``results`` itself when they are there already."""
    if results.found.device.type == "cpu":
        return results
    return replace(results, **{f.name: getattr(results, f.name).cpu() for f in fields(results)
                               if isinstance(getattr(results, f.name), torch.Tensor)})


def divergence(results: PuzzleResults, i: int) -> str | None:
    """Why puzzle ``i`` has no result (its logits became NaN/inf), or None."""
    step = int(results.diverged_step[i])
    return None if step < 0 else f"solver diverged: logits became NaN/inf at step {step} (try a smaller --lr)"


def outcome_fields(results: PuzzleResults, i: int) -> dict[str, Any]:
    """found, the three solved criteria, first_solved_step (None if never) and mean_sample_penalty of puzzle
    ``i``."""
    first = int(results.first_solved_step[i])
    return {
        "found": bool(results.found[i]),
        "solved_last": bool(results.solved_last[i]),
        "solved_mode": bool(results.solved_mode[i]),
        "solved_any": bool(results.solved_any[i]),
        "first_solved_step": first if first >= 0 else None,
        "mean_sample_penalty": round(float(results.penalty[i]), 6),
    }


def cost_fields(results: PuzzleResults, i: int) -> dict[str, Any]:
    """steps_run and seconds of puzzle ``i``."""
    return {"steps_run": int(results.steps_run[i]), "seconds": round(float(results.seconds[i]), 4)}


def error_record(index: int, puzzle: str, reason: str) -> dict[str, Any]:
    return {"index": int(index), "puzzle": puzzle, "error": reason}
