"""Restarts recombined at a fresh start: a population move across a puzzle's restarts (issue 31, big grids).

Without it, a fresh start gives every restart new logits. With ``SolverConfig.recombine``, each fresh start after
the first starts a puzzle's R restarts from the best modes its restarts reached in the cycle before (each
restart's mode of lowest penalty since its last fresh start, ``_Batch.keep_best_modes``):

- the ``ELITE`` restarts of lowest penalty go on from their own modes;
- every other restart starts from a child of two parents, each the better of two restarts drawn at random (a
  binary tournament), made by ``label_crossover``: for t = 0, 1, …, K − 1, the parent whose turn it is (first,
  second, first, …) gives the child the largest of its value classes not yet used, counting only the variables
  not yet placed. The values keep their names (a Sudoku's digits are named by its clues), so the child's cells
  of digit d are a parent's cells of d; a parent's classes hold few conflicts when its penalty is low, so the
  child keeps large conflict-free parts of both;
- then the child's variables in a violated term lose their value (``Problem.violated_variables``: a Sudoku's
  cells of a row, column or block with a digit twice), so the search re-places exactly the neighbourhood of the
  conflicts, which the parents could not leave.

A placed variable starts with logit offset ``STRENGTH`` on its value, a variable left free with none. The random
draws are keyed by (seed, puzzle id, step, restart), so a puzzle's population does not depend on the other
puzzles of its batch. The crossover is Galinier & Hao's greedy partition crossover (GPX, 1999), with the classes
keeping their labels; the colouring search (``runs.color_search``) recombines its tries with the label-free GPX.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from .estimators.noise import key_tensor

if TYPE_CHECKING:
    from .problems.sudoku import SudokuBatch

ELITE = 4
"""The restarts of each puzzle that go on from their own best modes. Measured on 25×25 Sudoku (1 and 8 did worse,
benchmarks/README.md, "Recombined restarts screened further"), apart from the colouring search's elite
(``problem_defaults.ELITE``, also 4): tuning one does not move the other."""

STRENGTH = 1.0
"""The logit offset of a placed variable's value. 2 let the population settle on one mode it did not leave (the
first 25×25 dev puzzle of 55 % blanks: lowest penalty 4 from the 8th generation to the 19th); 1 solved it in the
13th (docs/hard-sudoku.md, "Recombined restarts")."""


def tournament_parents(penalties: Tensor, keys: Tensor) -> Tensor:
    """Parents ``(P, R, 2)`` (restart indices within each puzzle) of the next cycle's R restarts of P puzzles,
    from the cycle's best-mode ``penalties`` ``(P, R)`` and one int32 key per puzzle ``(P,)``: restarts 0..ELITE−1
    get the puzzle's ELITE lowest-penalty restarts as both parents (a child of a mode with itself is that mode);
    every other restart's parents are each the better of two restarts drawn by the key (ties: the first drawn)."""
    puzzles, restarts = penalties.shape
    order = torch.argsort(penalties, dim=1, stable=True)
    count = functools.partial(torch.arange, device=penalties.device)
    draws = key_tensor(keys.to(penalties.device).view(-1, 1, 1, 1), count(restarts).view(1, -1, 1, 1),
                       count(2).view(1, 1, -1, 1), count(2).view(1, 1, 1, -1))
    drawn = (draws.long() & 0xFFFFFFFF) % restarts  # (P, R, 2 parents, 2 drawn)
    drawn_penalty = penalties.gather(1, drawn.view(puzzles, -1)).view(drawn.shape)
    parents = torch.where(drawn_penalty[..., 0] <= drawn_penalty[..., 1], drawn[..., 0], drawn[..., 1])
    elite = min(ELITE, restarts)
    parents[:, :elite] = order[:, :elite].unsqueeze(-1)
    return parents


def label_crossover(first: Tensor, second: Tensor, row: Tensor, rows: int, categories: int) -> Tensor:
    """The children ``(F,)`` (values, −1 where none is placed) of ``rows`` pairs of assignments ``first`` and
    ``second`` (values ``(F,)``; variable v belongs to row ``row[v]``): for t = 0..K−1, row by row, the largest
    class of values d not yet used in the parent whose turn it is (first on even t), counting the variables not
    yet placed, is placed as d, and d is used. One pass a turn for every row at once."""
    child = torch.full_like(first, -1)
    free = torch.ones_like(first, dtype=torch.bool)
    used = torch.zeros(rows, categories, dtype=torch.bool, device=first.device)
    slot = row * categories
    for turn in range(categories):
        parent = first if turn % 2 == 0 else second
        sizes = torch.zeros(rows * categories, device=first.device).index_add_(0, slot + parent, free.float())
        sizes = sizes.view(rows, categories).masked_fill_(used, -1.0)
        largest, value = sizes.max(1)
        chosen = value.index_select(0, row)
        taken = free & (parent == chosen) & (largest > 0).index_select(0, row)
        child = torch.where(taken, chosen, child)
        free &= ~taken
        used[torch.arange(rows, device=first.device), value] |= largest > 0
    return child


def recombined_offsets(problem: "SudokuBatch", modes: Tensor, penalties: Tensor, restarts: int, keys: Tensor) -> Tensor:
    """Initial logit offsets ``(F, K)`` for every row of ``problem`` (P puzzles × ``restarts`` rows, instance
    p·R + r, each instance's variables contiguous and laid out alike) from the rows' best ``modes`` (values
    ``(F,)``) and their ``penalties`` ``(P·R,)``: see the module docstring. ``keys``: one int32 key per puzzle."""
    instance = problem.var_instance
    rows = problem.num_instances
    parents = tournament_parents(penalties.view(-1, restarts), keys)  # (P, R, 2)
    per_row = torch.bincount(instance, minlength=rows)  # each row's variables (its puzzle's free cells)
    puzzle_first_row = (torch.arange(rows, device=instance.device) // restarts) * restarts
    parent_rows = puzzle_first_row.unsqueeze(1) + parents.view(rows, 2)  # (P·R, 2)
    shift = (parent_rows - torch.arange(rows, device=instance.device).unsqueeze(1)) * per_row.unsqueeze(1)
    variables = torch.arange(instance.shape[0], device=instance.device)
    first = modes.index_select(0, variables + shift[instance, 0])
    second = modes.index_select(0, variables + shift[instance, 1])
    child = label_crossover(first, second, instance, rows, problem.num_categories)
    elite = torch.arange(rows, device=instance.device) % restarts < ELITE
    freed = problem.violated_variables(child) & ~elite.index_select(0, instance)
    placed = (child >= 0) & ~freed
    offsets = torch.zeros(instance.shape[0], problem.num_categories, dtype=problem.dtype, device=instance.device)
    return offsets.scatter_(1, child.clamp(min=0).unsqueeze(1), placed.unsqueeze(1).to(offsets.dtype) * STRENGTH)
