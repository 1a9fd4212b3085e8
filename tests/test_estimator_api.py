"""What ``memory`` reads from an estimator, held to what the estimator does: the memory its sampling keeps for the
backward pass (measured with saved-tensor hooks) grows with the chain exactly when ``denoiser_calls`` does, and the
per-puzzle estimate covers it; ``memory`` takes plain numbers, so it imports neither the solver nor the
estimators."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from redge_solve.estimators import GENERAL_ESTIMATORS, make_estimator
from redge_solve.estimators._noise import KeyedNoise, key_tensor
from redge_solve.memory import bytes_per_puzzle
from redge_solve.problems.sudoku import SudokuBatch

PUZZLES, SAMPLES = 4, 4


def kept_for_backward(name: str, **params) -> tuple[int, int]:
    """``(bytes kept, bytes estimated)`` for one solver step of ``PUZZLES`` blank 9×9 Sudoku: the storages the
    surrogate's graph saves for the backward pass (each counted once), and ``bytes_per_puzzle`` for them."""
    est = make_estimator(name, **params)
    problem = SudokuBatch.from_grids(torch.zeros(PUZZLES, 81, dtype=torch.long))
    logits = torch.zeros(problem.num_variables, problem.num_categories, requires_grad=True)
    noise = KeyedNoise(key_tensor(0, torch.arange(problem.num_variables)), step=1)
    storages: dict[int, int] = {}

    def keep(tensor: torch.Tensor) -> torch.Tensor:
        storages[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(keep, lambda tensor: tensor):
        est.surrogate(problem.penalty, logits, SAMPLES, noise, groups=problem.var_instance)
    estimate = PUZZLES * bytes_per_puzzle(81, 9, restarts=1, samples=SAMPLES, calls=est.denoiser_calls)
    return sum(storages.values()), estimate


@pytest.mark.parametrize("name", sorted(GENERAL_ESTIMATORS))
def test_the_memory_estimate_covers_what_sampling_keeps_for_the_backward(name):
    kept, estimate = kept_for_backward(name)
    assert 0 < kept <= estimate


@pytest.mark.parametrize("name", ["redge", "redge-max", "redge-cov"])
def test_denoiser_calls_grow_with_the_memory_a_longer_chain_keeps(name):
    # every call of the chain keeps its denoiser output: from 3 to 12 steps the kept bytes grow, and the estimate
    # (through denoiser_calls) must grow by at least as much (an estimator that reported a fixed count would not)
    short, short_estimate = kept_for_backward(name, n_steps=3)
    long, long_estimate = kept_for_backward(name, n_steps=12)
    assert long > short
    assert long_estimate - short_estimate >= long - short
    assert make_estimator(name, n_steps=12).denoiser_calls > make_estimator(name, n_steps=3).denoiser_calls
    assert make_estimator("st").denoiser_calls == 0  # no chain: nothing per call


def test_memory_imports_neither_the_solver_nor_the_estimators():
    code = ("import sys, redge_solve.memory; "
            "print(sorted(m for m in sys.modules if m.startswith('redge_solve.') and m != 'redge_solve.memory'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
