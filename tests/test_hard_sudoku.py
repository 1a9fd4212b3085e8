"""The hard-Sudoku machinery: the exact pre-step (candidates, singles), candidate masking in the loop, the exact
estimator's closed-form expectation, the time budget, and the paper protocol that none of it may touch."""

from __future__ import annotations

import csv
import itertools
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from conftest import grids_4
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redge_solve import solver
from redge_solve.estimators import GENERAL_ESTIMATORS, make_estimator
from redge_solve.estimators._noise import KeyedNoise, key_tensor
from redge_solve.problems.sudoku import SudokuBatch, candidates_of, deduce, grid_from_string, verify_grid
from redge_solve.settings import DEFAULTS, samples_with
from redge_solve.solver import PAPER_PROTOCOL, SolverConfig, paper_protocol, restarts_at, solve

ROOT = Path(__file__).resolve().parent.parent
with open(ROOT / "puzzles" / "sample.csv", newline="") as handle:
    ROWS = list(csv.DictReader(handle))
SOLUTIONS = torch.stack([grid_from_string(row["solution"]) for row in ROWS])
PUZZLES = torch.stack([grid_from_string(row["puzzle"]) for row in ROWS])
SOLUTION_4 = torch.tensor([1, 2, 3, 4, 3, 4, 1, 2, 2, 1, 4, 3, 4, 3, 2, 1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(which=st.integers(0, len(ROWS) - 1), blanks=st.lists(st.booleans(), min_size=81, max_size=81),
       level=st.sampled_from(["candidates", "singles"]))
def test_deduction_never_removes_the_true_digit_nor_places_a_wrong_one(which, blanks, level):
    # any clue subset of a valid grid has that grid among its solutions: deduction must keep its digits
    solution = SOLUTIONS[which]
    puzzle = torch.where(torch.tensor(blanks), torch.zeros_like(solution), solution)
    grids, allowed = deduce(puzzle.unsqueeze(0), level)
    assert allowed[0].gather(-1, (solution - 1).unsqueeze(-1)).all()
    placed = grids[0] != 0
    assert torch.equal(grids[0][placed], solution[placed])
    assert torch.equal(grids[0][puzzle != 0], puzzle[puzzle != 0])  # the clues stay
    if level == "candidates":
        assert torch.equal(grids, puzzle.unsqueeze(0))


def test_candidates_are_exactly_the_digits_no_unit_holds():
    grid = SOLUTION_4.clone()
    grid[[0, 5, 10]] = 0  # row 1 lacks 1; cell 5 (row 2, col 2, block 1) lacks 4; cell 10 lacks 4
    allowed = candidates_of(grid.unsqueeze(0))[0]
    assert allowed[0].tolist() == [True, False, False, False]
    assert allowed[5].tolist() == [False, False, False, True]
    assert allowed[1].tolist() == [False, True, False, False]  # a clue allows its own digit only
    blank = torch.zeros(16, dtype=torch.long)
    assert candidates_of(blank.unsqueeze(0)).all()


def test_singles_solve_the_easy_sample_and_candidates_alone_do_not():
    grids, _ = deduce(PUZZLES, "singles")
    solved = (grids != 0).all(1)
    assert solved.sum() >= 1
    for grid, clues, solution in zip(grids[solved], PUZZLES[solved], SOLUTIONS[solved], strict=True):
        assert verify_grid(grid, clues, solution)
    assert torch.equal(deduce(PUZZLES, "candidates")[0], PUZZLES)
    with pytest.raises(ValueError, match="deduce must be one of"):
        deduce(PUZZLES, "all")


def test_a_cell_offered_two_digits_at_once_gets_neither_then():
    # no solution: cell 4 (row 1, column 4) is the only place for 1 in column 4 and for 2 in block 2; that round
    # must not write a mixture of the two (1 + 2 = 3) into it; a later round may place one of them
    grid = torch.tensor([0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 1, 0, 0, 1, 2, 0])
    out, _ = deduce(grid.unsqueeze(0), "singles")
    assert int(out[0, 3]) in (0, 1, 2)
    assert torch.equal(out[0][grid != 0], grid[grid != 0])


def _enumerated_expectation(batch: SudokuBatch, probs: torch.Tensor) -> torch.Tensor:
    total = torch.zeros(batch.num_instances, dtype=probs.dtype)
    variables, categories = probs.shape
    for assignment in itertools.product(range(categories), repeat=variables):
        index = torch.tensor(assignment)
        x = torch.nn.functional.one_hot(index, categories).to(probs.dtype).unsqueeze(0)
        weight = probs[torch.arange(variables), index].prod()
        total = total + weight * batch.penalty(x)[0]
    return total


def _tiny_batch() -> SudokuBatch:
    first, second = SOLUTION_4.clone(), SOLUTION_4.clone()
    first[[0, 5, 15]] = 0
    second[[2, 3]] = 0
    return SudokuBatch.from_grids(torch.stack([first, second]), dtype=torch.float64)


def test_expected_penalty_equals_enumeration():
    batch = _tiny_batch()
    gen = torch.Generator().manual_seed(0)
    probs = (3 * torch.randn(batch.num_variables, 4, generator=gen, dtype=torch.float64)).softmax(-1)
    torch.testing.assert_close(batch.expected_penalty(probs), _enumerated_expectation(batch, probs),
                               rtol=1e-12, atol=1e-12)


def test_exact_estimator_gradient_is_the_gradient_of_the_enumerated_expectation():
    batch = _tiny_batch()
    gen = torch.Generator().manual_seed(1)
    logits = (2 * torch.randn(batch.num_variables, 4, generator=gen, dtype=torch.float64)).requires_grad_(True)
    out = make_estimator("exact").surrogate(batch.penalty, logits, 3, gen, groups=batch.var_instance,
                                            expected=batch.expected_penalty)
    (ours,) = torch.autograd.grad(out.loss, logits)
    (exact,) = torch.autograd.grad(_enumerated_expectation(batch, logits.softmax(-1)).sum(), logits)
    torch.testing.assert_close(ours, exact, rtol=1e-10, atol=1e-12)
    assert out.samples.shape == (3, batch.num_variables, 4) and out.values.shape == (3, 2)
    torch.testing.assert_close(out.values, batch.penalty(out.samples))
    with pytest.raises(ValueError, match="closed-form expectation"):
        make_estimator("exact").surrogate(batch.penalty, logits, 1, gen)


@pytest.mark.parametrize("name", sorted(GENERAL_ESTIMATORS))
def test_every_estimator_leaves_excluded_digits_alone(name):
    # an excluded digit's logit is EXCLUDED_LOGIT: never sampled, and its gradient is exactly zero
    batch = SudokuBatch.from_grids(PUZZLES[:2])
    allowed = candidates_of(PUZZLES[:2])[batch.var_instance, batch.var_cell]
    logits = torch.randn(batch.num_variables, 9, generator=torch.Generator().manual_seed(3))
    logits = logits.masked_fill(~allowed, solver.EXCLUDED_LOGIT).requires_grad_(True)
    noise = KeyedNoise(key_tensor(0, torch.arange(batch.num_variables)))
    noise.next_step()
    out = make_estimator(name).surrogate(batch.penalty, logits, 4, noise, groups=batch.var_instance,
                                         expected=batch.expected_penalty)
    (grad,) = torch.autograd.grad(out.loss, logits)
    assert not out.samples[:, ~allowed].any()
    assert torch.all(grad[~allowed] == 0)
    assert grad[allowed].abs().sum() > 0


@pytest.mark.parametrize("level", ["candidates", "singles"])
def test_solving_with_deduction_only_ever_uses_candidates_and_verifies(level):
    config = SolverConfig(steps=40, samples=2, restarts=2, deduce=level, early_stop=False)
    results = solve(SudokuBatch.from_grids(PUZZLES), config)
    allowed = candidates_of(PUZZLES)
    chosen = allowed.gather(-1, (results.solution - 1).clamp(min=0).unsqueeze(-1)).squeeze(-1)
    assert chosen.all()
    for grid, clues, solution, found in zip(results.solution, PUZZLES, SOLUTIONS, results.found, strict=True):
        assert bool(found) == verify_grid(grid, clues, solution)


def test_puzzles_solved_by_deduction_alone_finish_at_the_first_step():
    grids, _ = deduce(PUZZLES, "singles")
    done = (grids != 0).all(1)
    results = solve(SudokuBatch.from_grids(PUZZLES[done]), SolverConfig(deduce="singles"))
    assert results.found.all() and (results.steps_run == 1).all()


def test_the_paper_protocol_switches_every_new_knob_off():
    assert PAPER_PROTOCOL == dict(steps=1000, samples=1, restarts=1, lr=0.05, early_stop=False, init_std=0.0,
                                  reset_every=0, deduce="none", weight_step=0.0, max_restarts=0, max_logit=0.0,
                                  recombine=False)
    config = paper_protocol(SolverConfig(deduce="singles", restarts=8, init_std=1.0, weight_step=0.1,
                                         max_restarts=64, max_logit=5.0, recombine=True))
    assert (config.deduce, config.restarts, config.init_std, config.reset_every) == ("none", 1, 0.0, 0)
    assert config.weight_step == 0 and config.max_restarts == 0 and config.max_logit == 0 and not config.recombine


def test_the_time_budget_stops_unsolved_puzzles(monkeypatch):
    # a clock that advances one second each time it is read: the budget of 5 s is spent after a few steps
    ticks = itertools.count()
    monkeypatch.setattr(solver.time, "perf_counter", lambda: float(next(ticks)))
    results = solve(SudokuBatch.from_grids(torch.zeros(1, 81, dtype=torch.long)),
                    SolverConfig(steps=1000, max_seconds=5.0))
    assert 1 <= int(results.steps_run[0]) <= 5
    with pytest.raises(ValueError, match="max_seconds"):
        SolverConfig(max_seconds=0)


def test_weighted_penalty_and_its_gradient_are_the_weighted_sum_of_terms():
    batch = SudokuBatch.from_grids(PUZZLES[:3], dtype=torch.float64)
    gen = torch.Generator().manual_seed(4)
    x = torch.rand(2, batch.num_variables, 9, generator=gen, dtype=torch.float64).requires_grad_(True)
    weights = 1 + 3 * torch.rand(3, 27 * 9, generator=gen, dtype=torch.float64)
    value = batch.penalty(x, weights)
    torch.testing.assert_close(value, (batch.terms(x) * weights).sum(-1))
    torch.testing.assert_close(batch.terms(x).sum(-1), batch.penalty(x))
    (ours,) = torch.autograd.grad(value.sum(), x)
    # the same through plain autograd: counts by a dense incidence product
    dense = batch._incidence[0].to_dense()
    counts = torch.stack([dense @ sample for sample in x]) + batch._clue_counts
    reference = ((counts - 1).square().view(2, 3, -1) * weights).sum(-1)
    (theirs,) = torch.autograd.grad(reference.sum(), x)
    torch.testing.assert_close(ours, theirs)


def test_weighted_expected_penalty_equals_enumeration():
    batch = _tiny_batch()
    gen = torch.Generator().manual_seed(5)
    probs = (3 * torch.randn(batch.num_variables, 4, generator=gen, dtype=torch.float64)).softmax(-1)
    weights = 1 + torch.rand(2, 12 * 4, generator=gen, dtype=torch.float64)
    total = torch.zeros(2, dtype=torch.float64)
    for assignment in itertools.product(range(4), repeat=batch.num_variables):
        index = torch.tensor(assignment)
        x = torch.nn.functional.one_hot(index, 4).to(torch.float64).unsqueeze(0)
        total = total + probs[torch.arange(batch.num_variables), index].prod() * batch.penalty(x, weights)[0]
    torch.testing.assert_close(batch.expected_penalty(probs, weights), total, rtol=1e-12, atol=1e-12)


def test_breakout_weights_grow_on_the_terms_the_mode_violates_and_restart_with_the_logits():
    batch = SudokuBatch.from_grids(PUZZLES[:2])
    config = SolverConfig(weight_step=0.5, restarts=2, samples=1)
    state = solver._Batch(batch, config, torch.arange(2))
    mode = torch.nn.functional.one_hot(torch.zeros(state.problem.num_variables, dtype=torch.long), 9).float()
    state.raise_weights(mode.unsqueeze(0))
    torch.testing.assert_close(state.weights, 1 + 0.5 * state.problem.terms(mode.unsqueeze(0))[0])
    assert state.weights.max() > 1
    state.shrink(torch.tensor([False, True]))
    assert state.weights.shape == (2, 27 * 9)
    state.reset()
    assert torch.all(state.weights == 1)
    results = solve(batch, SolverConfig(weight_step=0.05, deduce="singles", steps=30))
    for grid, clues, solution, found in zip(results.solution, PUZZLES[:2], SOLUTIONS[:2], results.found, strict=True):
        assert bool(found) == verify_grid(grid, clues, solution)


def test_restarts_double_every_fourth_fresh_start_up_to_the_cap():
    config = SolverConfig(restarts=8, reset_every=500, max_restarts=64)
    # fresh starts at steps 501, 1001, ...: the 4th (step 2001) doubles, the 8th (4001) again, the 12th (6001) caps
    steps = [1, 2000, 2001, 4000, 4001, 6000, 6001, 50000]
    assert [restarts_at(config, s) for s in steps] == [8, 8, 16, 16, 32, 32, 64, 64]
    assert restarts_at(replace(config, max_restarts=40), 6001) == 40  # a cap between two doublings
    for off in (replace(config, max_restarts=0), replace(config, max_restarts=8), replace(config, reset_every=0)):
        assert restarts_at(off, 50000) == 8
    with pytest.raises(ValueError, match="max_restarts"):
        SolverConfig(max_restarts=-1)


def test_restarts_double_at_every_growth_period_th_fresh_start():
    every = SolverConfig(restarts=8, reset_every=500, max_restarts=256, growth_period=1)  # 9×9's defaults
    steps = [1, 500, 501, 1000, 1001, 1501, 2001, 2500, 2501, 100000]
    assert [restarts_at(every, s) for s in steps] == [8, 8, 16, 16, 32, 64, 128, 128, 256, 256]
    every_2nd = replace(every, growth_period=2)
    assert [restarts_at(every_2nd, s) for s in (1000, 1001, 2000, 2001, 3001)] == [8, 16, 16, 32, 64]
    assert restarts_at(DEFAULTS, 501) == 2 * DEFAULTS.restarts and DEFAULTS.growth_period == 1
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="growth_period"):
            SolverConfig(growth_period=bad)


GROWTH = SolverConfig(steps=100, samples=1, restarts=2, reset_every=10, max_restarts=8, deduce="none",
                      weight_step=0.05, lr=0.5, seed=3)


def test_before_the_first_doubling_a_growing_run_is_the_plain_run():
    grids = torch.stack([PUZZLES[0], PUZZLES[1]])
    first_growth = 4 * GROWTH.reset_every  # the restarts double at step 41
    short = replace(GROWTH, steps=first_growth, early_stop=False)
    grown, plain = solve(SudokuBatch.from_grids(grids), short), solve(SudokuBatch.from_grids(grids),
                                                                       replace(short, max_restarts=0))
    for name in ("found", "solution", "first_solved_step", "penalty", "steps_run"):
        assert torch.equal(getattr(grown, name), getattr(plain, name)), name
    longer = replace(short, steps=first_growth + 3)
    assert not torch.equal(solve(SudokuBatch.from_grids(grids), longer).penalty,
                           solve(SudokuBatch.from_grids(grids), replace(longer, max_restarts=0)).penalty)


def test_the_tail_draws_tail_samples_once_the_restarts_grow(monkeypatch):
    tail = replace(DEFAULTS, tail_samples=4)
    assert [samples_with(tail, r) for r in (8, 16, 256)] == [2, 4, 4]
    assert samples_with(DEFAULTS, 16) == 2  # off by default
    assert samples_with(replace(tail, samples=8), 16) == 8  # never fewer than asked for
    asked = []
    estimator = type(GROWTH.make_estimator())
    surrogate = estimator.surrogate

    def counting(self, f, logits, samples, *args, **kwargs):
        asked.append(samples)
        return surrogate(self, f, logits, samples, *args, **kwargs)

    monkeypatch.setattr(estimator, "surrogate", counting)
    config = replace(GROWTH, tail_samples=3, steps=60, early_stop=False)
    solve(SudokuBatch.from_grids(PUZZLES[:1]), config)
    first_growth = 4 * GROWTH.reset_every  # the restarts double at step 41
    assert asked == [1] * first_growth + [3] * (60 - first_growth)
    with pytest.raises(ValueError, match="tail_samples"):
        SolverConfig(tail_samples=-1)
    with pytest.raises(ValueError, match="tail_samples"):
        SolverConfig(estimator="reinforce", samples=2, tail_samples=1)


def test_a_growing_run_of_a_puzzle_does_not_depend_on_its_batch():
    grids = grids_4(6, blanks=8, seed=0)
    together = solve(SudokuBatch.from_grids(grids), GROWTH)
    assert together.found.all() and len(set(together.steps_run.tolist())) > 1  # they left the batch one by one,
    assert int(together.steps_run.max()) > 4 * GROWTH.reset_every  # one after the restarts grew
    for i in (0, 1, 2):
        alone = solve(SudokuBatch.from_grids(grids[i:i + 1]), GROWTH, puzzle_ids=torch.tensor([i]))
        for name in ("found", "solution", "first_solved_step", "penalty", "steps_run"):
            assert torch.equal(getattr(alone, name)[0], getattr(together, name)[i]), (i, name)


def test_grown_batch_has_the_new_restarts_in_every_part_and_still_shrinks():
    batch = SudokuBatch.from_grids(PUZZLES[:3])
    state = solver._Batch(batch, replace(GROWTH, weight_step=0.5), torch.arange(3))
    state.shrink(torch.tensor([True, False, True]))
    for _ in range(3):
        state.noise.next_step()
    state.grow(8)
    assert state.noise.step == 3  # the streams go on, they do not replay their first draws
    state.reset()
    free = int((PUZZLES[0] == 0).sum() + (PUZZLES[2] == 0).sum())
    assert state.problem.num_instances == 2 * 8 and state.logits.shape == (8 * free, 9)
    assert state.noise.keys.shape == (8 * free,) and state.weights.shape == (16, 27 * 9)
    state.shrink(torch.tensor([False, True]))
    assert state.problem.num_instances == 8 and state.logits.shape[0] == 8 * int((PUZZLES[2] == 0).sum())
