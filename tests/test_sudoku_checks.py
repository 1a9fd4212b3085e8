"""The Sudoku checks that say "solved": ``verify_grid`` and ``grid_violations`` on grids that break exactly one
rule, the record fields ``verified``/``matches_solution`` when they must be False, and the solver's three solved
criteria recomputed from their definitions on the samples and modes the run actually produced."""

from __future__ import annotations

import pytest
import torch
from conftest import BASE_4, grids_4

from redge_solve.problems.sudoku import SudokuBatch, grid_violations, verify_grid
from redge_solve.runs.records import sudoku_records
from redge_solve.solver import SolverConfig, solve

SOLUTION = torch.tensor(BASE_4)
SOLUTION_9 = torch.tensor([int(c) for c in
                           "429578136718693524356241789532764891867159243194382675971425368645837912283916457"])
ROWS_ONLY = torch.tensor([1, 2, 3, 4] * 4)  # every row a permutation, no column or block is
LATIN = torch.tensor([1, 2, 3, 4, 2, 3, 4, 1, 3, 4, 1, 2, 4, 1, 2, 3])  # rows and columns, not the blocks
BLANK = torch.zeros(16, dtype=torch.long)


def relabel(grid: torch.Tensor, perm: list[int]) -> torch.Tensor:
    return torch.tensor([perm[d - 1] for d in grid.tolist()])


def test_valid_grids_verify_with_and_without_their_solution():
    assert verify_grid(SOLUTION, BLANK)
    assert verify_grid(SOLUTION, SOLUTION, SOLUTION)
    clues_9 = SOLUTION_9.clone()
    clues_9[::3] = 0
    assert verify_grid(SOLUTION_9, clues_9, SOLUTION_9)


@pytest.mark.parametrize("grid,broken", [(ROWS_ONLY, "columns and blocks"), (ROWS_ONLY.view(4, 4).T.reshape(-1),
                                                                            "rows and blocks"),
                                         (LATIN, "blocks only")], ids=["rows-only", "columns-only", "latin"])
def test_a_grid_breaking_one_kind_of_unit_is_refused(grid, broken):
    # each of the three unit checks is needed: LATIN passes rows and columns and fails only on blocks
    assert not verify_grid(grid, BLANK), broken
    assert grid_violations(grid.unsqueeze(0)).item() > 0


def test_duplicate_digit_changed_clue_wrong_solution_and_out_of_range_digits_are_refused():
    swapped = SOLUTION.clone()
    swapped[[0, 1]] = swapped[[1, 0]]  # row 1 still a permutation; columns 1, 2 and nothing else broken
    assert not verify_grid(swapped, BLANK)
    assert grid_violations(swapped.unsqueeze(0)).item() == 2  # one extra digit in each of the two columns
    other = relabel(SOLUTION, [2, 1, 3, 4])  # a valid grid
    assert verify_grid(other, BLANK)
    clues = SOLUTION.clone()
    clues[1:] = 0
    assert not verify_grid(other, clues)  # cell 0 is a 1 in the clues and a 2 in the grid
    assert verify_grid(other, BLANK, other) and not verify_grid(other, BLANK, SOLUTION)  # not the known solution
    for bad in (0, 5, -1):
        grid = SOLUTION.clone()
        grid[5] = bad
        assert not verify_grid(grid, BLANK), bad
    # a digit 0 and a digit N + 1 in place of a valid digit: counted as a missing digit, not a repeated one
    blanked = SOLUTION.clone()
    blanked[0] = 0
    assert grid_violations(blanked.unsqueeze(0)).item() == 0


def test_grid_violations_counts_each_extra_digit_in_each_unit():
    # Σ_u Σ_k max(c_{u,k} − 1, 0): all ones has 4 extra 1s in every row, column and block (the grid has 4 each)
    assert grid_violations(torch.ones(1, 16, dtype=torch.long)).item() == 3 * 4 * 3
    assert grid_violations(ROWS_ONLY.unsqueeze(0)).item() == 4 * 3 + 4 * 2  # columns: 3 extra, blocks: 2 extra
    assert grid_violations(LATIN.unsqueeze(0)).item() == 4  # each block holds one digit twice
    assert grid_violations(torch.stack([SOLUTION, LATIN, SOLUTION])).tolist() == [0, 4, 0]


def test_penalty_and_violations_of_the_batch_match_grid_violations_on_complete_assignments():
    # the solver's f and its "solved" test on one-hot assignments against the count on the digits
    clues = grids_4(3, blanks=8)
    batch = SudokuBatch.from_grids(clues)
    digits = torch.randint(1, 5, (6, batch.num_variables), generator=torch.Generator().manual_seed(0))
    x = torch.nn.functional.one_hot(digits - 1, 4).float()
    grids = batch.fill(x)  # (6, 3, 16)
    expected = grid_violations(grids.view(-1, 16)).view(6, 3)
    assert torch.equal(batch.violations(x), expected.float())
    assert torch.equal(batch.penalty(x) == 0, expected == 0)
    assert (expected > 0).any()


def test_records_say_false_when_the_grid_is_wrong():
    # a results object whose "solution" breaks the rules, and one that is valid but not the source's solution
    clues = torch.stack([SOLUTION.clone(), BLANK])
    clues[0, :4] = 0
    results = solve(SudokuBatch.from_grids(clues), SolverConfig(steps=1, samples=1, restarts=1))
    results.solution[0] = LATIN  # keeps no clue rule: blocks broken
    results.solution[1] = relabel(SOLUTION, [2, 1, 3, 4])  # valid, keeps the (empty) clues, not the solution
    records = sudoku_records(results, clues, [0, 1], [SOLUTION, SOLUTION])
    assert records[0]["verified"] is False and records[0]["matches_solution"] is False
    assert records[0]["violations"] == 4
    assert records[1]["verified"] is False and records[1]["matches_solution"] is False
    assert records[1]["violations"] == 0
    records = sudoku_records(results, clues, [0, 1], [None, None])
    assert records[1]["verified"] is True and records[1]["matches_solution"] is None


def test_solved_criteria_are_their_definitions_on_the_run_s_own_samples(monkeypatch):
    # every penalty call of the run is recorded: the S sample penalties (the surrogate's) and the mode's
    calls: list[tuple[int, torch.Tensor]] = []
    original = SudokuBatch.penalty

    def recording(self, x, *args, **kwargs):
        values = original(self, x, *args, **kwargs)
        calls.append((x.shape[0], values.detach().clone()))
        return values

    monkeypatch.setattr(SudokuBatch, "penalty", recording)
    clues = grids_4(6, blanks=9, seed=3)
    samples, restarts, steps = 2, 2, 20
    config = SolverConfig(steps=steps, samples=samples, restarts=restarts, lr=0.3, early_stop=False, reset_every=0,
                          weight_step=0.0)  # without breakout weights the loop calls penalty for both
    results = solve(SudokuBatch.from_grids(clues), config)
    calls = calls[:2 * steps]  # (after the last step the loop may evaluate f once more, for the records)
    assert [n for n, _ in calls] == [samples, 1] * steps  # per step: the samples, then the mode
    ok = [(v < 0.5).view(v.shape[0], 6, restarts) for _, v in calls]  # (n, puzzle, restart)
    sample_ok = torch.stack([ok[2 * t].any(0).any(-1) for t in range(steps)])  # (step, puzzle)
    mode_ok = torch.stack([ok[2 * t + 1].any(0).any(-1) for t in range(steps)])
    assert torch.equal(results.solved_any, sample_ok.any(0))
    assert torch.equal(results.solved_last, sample_ok[-1])
    assert torch.equal(results.solved_mode, mode_ok[-1])
    assert torch.equal(results.found, (sample_ok | mode_ok).any(0))
    either = sample_ok | mode_ok
    first = torch.where(either.any(0), either.float().argmax(0) + 1, torch.full((6,), -1))
    assert torch.equal(results.first_solved_step, first)
    # the run is a mix in which the three criteria all differ (so a criterion computed from another's data fails)
    criteria = [results.solved_any, results.solved_last, results.solved_mode]
    assert all(not torch.equal(a, b) for i, a in enumerate(criteria) for b in criteria[i + 1:])


def test_repeat_and_select_keep_the_batch_s_dtype_and_order():
    clues = grids_4(3, blanks=6)
    batch = SudokuBatch.from_grids(clues, torch.float64)
    repeated = batch.repeat(2)
    assert repeated.dtype == torch.float64 and torch.equal(repeated.grids, clues.repeat_interleave(2, 0))
    kept = batch.select(torch.tensor([True, False, True]))
    assert kept.dtype == torch.float64 and torch.equal(kept.grids, clues[[0, 2]])
    x = torch.nn.functional.one_hot(torch.zeros(1, kept.num_variables, dtype=torch.long), 4).double()
    assert kept.penalty(x).dtype == torch.float64
