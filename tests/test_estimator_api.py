"""What the solver and ``memory`` read from an estimator, stated explicitly: REINFORCE's grouping of variables into
instances is passed (``groups=``), and each estimator says how many denoiser calls it makes; ``memory`` takes plain
numbers, so it imports neither the solver nor the estimators."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from redge_solve.estimators import ESTIMATORS, make_estimator
from redge_solve.estimators._diffusion import ddim_calls
from redge_solve.memory import bytes_per_puzzle
from redge_solve.problems.sudoku import SudokuBatch, grid_from_string


def test_reinforce_sums_log_probabilities_over_each_instances_variables():
    batch = SudokuBatch.from_grids(torch.stack([grid_from_string("...3..2.3..1..32"),
                                                grid_from_string("4...21...24...1.")]))
    logits = torch.randn(batch.num_variables, 4, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    est = make_estimator("reinforce")
    out = est.surrogate(batch.penalty, logits, 3, torch.Generator().manual_seed(1), groups=batch.var_instance)
    # the same loss written out: log π(X_s) of puzzle i = Σ over its free cells
    log_prob = (out.samples * logits.log_softmax(-1)).sum(-1)  # (S, F)
    per_puzzle = torch.stack([log_prob[:, batch.var_instance == i].sum(-1) for i in range(2)], dim=1)
    values = batch.penalty(out.samples)
    baseline = (values.sum(0, keepdim=True) - values) / 2
    expected = ((values - baseline) * per_puzzle + values).mean(0).sum()
    torch.testing.assert_close(out.loss, expected)
    with pytest.raises(ValueError, match="pass groups="):
        est.surrogate(batch.penalty, logits, 3, torch.Generator().manual_seed(1))


def test_each_estimator_states_its_denoiser_calls_and_memory_counts_them():
    for name in ESTIMATORS:
        est = make_estimator(name)
        expected = len(ddim_calls(est.n_steps, est.t_1)) if hasattr(est, "n_steps") else 0
        assert est.denoiser_calls == expected, name
    assert make_estimator("redge", n_steps=7).denoiser_calls == 6
    assert make_estimator("redge-cov", n_steps=1).denoiser_calls == 1  # one call, D_1 = softmax(θ)
    plain = bytes_per_puzzle(64, 9, restarts=4, samples=4)
    chain = bytes_per_puzzle(64, 9, restarts=4, samples=4, calls=make_estimator("redge-max").denoiser_calls)
    assert chain == plain + 4 * 64 * 9 * 4 * 4 * 20 * 4  # 4 calls × b = 20 bytes per sample and entry


def test_memory_imports_neither_the_solver_nor_the_estimators():
    code = ("import sys, redge_solve.memory; "
            "print(sorted(m for m in sys.modules if m.startswith('redge_solve.') and m != 'redge_solve.memory'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out
