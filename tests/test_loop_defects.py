"""Defects of the solving loop (issue 27, 1–3), each pinned by a test that failed before its fix."""

import pytest
import torch

from redge_solve import solver
from redge_solve.problems import SudokuBatch, verify_grid
from redge_solve.solver import SolverConfig, solve

SOLVED_4 = "1234341221434321"


def one_blank(position: int = 5) -> torch.Tensor:
    """A 4×4 puzzle: a valid grid with one cell blanked (one free variable, four values)."""
    grid = torch.tensor([int(c) for c in SOLVED_4])
    grid[position] = 0
    return grid.view(1, -1)


def test_a_puzzle_solved_before_it_diverges_keeps_its_solution(monkeypatch):
    """Defect 1: with early stop off, a puzzle that was solved and later diverges stays found, with its solution."""
    calls = {"n": 0}
    original = solver._Batch.bound_logits

    def poison_at_step_4(self):
        original(self)
        calls["n"] += 1
        if calls["n"] == 4:
            with torch.no_grad():
                self.logits.fill_(float("nan"))

    monkeypatch.setattr(solver._Batch, "bound_logits", poison_at_step_4)
    puzzle = one_blank()
    config = SolverConfig(steps=8, samples=2, restarts=2, lr=0.1, early_stop=False, deduce="none",
                          weight_step=0.0, reset_every=0, max_restarts=0)
    result = solve(SudokuBatch.from_grids(puzzle), config)
    assert 1 <= int(result.first_solved_step[0]) < 4
    assert int(result.diverged_step[0]) == 4
    assert bool(result.found[0])
    assert verify_grid(result.solution[0], puzzle[0])


def test_breakout_weights_never_decide_solved(monkeypatch):
    """Defect 2: weights below one (here 0.01) must not make a wrong sample pass as solved, and the progress
    reports the unweighted penalty (an integer on hard samples)."""
    original = solver._Batch.reset

    def small_weights(self):
        original(self)
        if self.weights is not None:
            self.weights.mul_(0.01)

    monkeypatch.setattr(solver._Batch, "reset", small_weights)
    puzzles = torch.tensor([[int(c) for c in "1000000000030000"], [int(c) for c in "0200000400100003"]])
    seen = []
    config = SolverConfig(steps=3, samples=2, restarts=2, lr=0.01, deduce="none", weight_step=0.01,
                          reset_every=0, max_restarts=0)
    result = solve(SudokuBatch.from_grids(puzzles), config, on_step=seen.append)
    for i in range(2):
        if bool(result.found[i]):
            assert verify_grid(result.solution[i], puzzles[i])
    assert seen and all(p.best_penalty == round(p.best_penalty) for p in seen)
    assert any(p.best_penalty >= 1 for p in seen)


@pytest.mark.parametrize("estimator", ["st", "exact", "reinforce"])
def test_float64_problems_solve_in_their_dtype(estimator):
    """Defect 3: a float64 problem runs (its logits and penalties in float64) and ST solves it."""
    puzzle = torch.tensor([[int(c) for c in "1000000000030000"]])
    config = SolverConfig(estimator=estimator, steps=200, samples=2, restarts=2, lr=0.2, deduce="none")
    result = solve(SudokuBatch.from_grids(puzzle, dtype=torch.float64), config)
    assert result.penalty.dtype == torch.float64
    if estimator == "st":
        assert bool(result.found[0]) and verify_grid(result.solution[0], puzzle[0])


def test_other_dtypes_are_refused_in_one_line():
    problem = SudokuBatch.from_grids(torch.tensor([[int(c) for c in "1000000000030000"]]), dtype=torch.float16)
    with pytest.raises(ValueError, match="float32 or float64"):
        solve(problem, SolverConfig(steps=2))


def test_float64_diagnostics_follow_the_problem_dtype():
    from redge_solve.diagnostics import exact_trajectory

    problem = SudokuBatch.from_grids(torch.tensor([[int(c) for c in "1000000000030000"]]), dtype=torch.float64)
    (_, logits), = exact_trajectory(problem, [2], lr=0.1)
    assert logits.dtype == torch.float64


def test_divergence_is_a_nan_or_infinite_logit_in_any_restart_and_never_a_large_finite_one():
    """``_diverged`` flags a puzzle when any logit of any of its restarts is NaN, +inf or −inf, and not for the
    largest finite logits (whose plain row sum would overflow to inf)."""
    grids = torch.zeros(4, 16, dtype=torch.long)
    problem = SudokuBatch.from_grids(grids).repeat(2)  # 4 puzzles x 2 restarts, 16 cells each
    logits = torch.zeros(problem.num_variables, 4)
    big = torch.finfo(torch.float32).max
    logits[problem.var_instance == 0] = big  # puzzle 0: every logit the largest float (finite)
    logits[(problem.var_instance == 3).nonzero()[5], 2] = float("nan")  # puzzle 1, restart 1
    logits[(problem.var_instance == 4).nonzero()[0], 0] = float("inf")  # puzzle 2, restart 0
    logits[(problem.var_instance == 7).nonzero()[15], 3] = -float("inf")  # puzzle 3, restart 1
    assert solver._diverged(logits, problem, 2).tolist() == [False, True, True, True]
    logits[(problem.var_instance == 1).nonzero()[0], 1] = -big
    assert solver._diverged(logits, problem, 2).tolist() == [False, True, True, True]

