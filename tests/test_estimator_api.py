"""What ``memory`` reads from an estimator, stated explicitly: each estimator says how many denoiser calls it makes,
and ``memory`` takes plain numbers, so it imports neither the solver nor the estimators."""

from __future__ import annotations

import subprocess
import sys

from redge_solve.estimators import ESTIMATORS, make_estimator
from redge_solve.estimators._diffusion import ddim_calls
from redge_solve.memory import bytes_per_puzzle


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
