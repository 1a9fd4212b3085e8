"""Helpers shared by the test files: paths, small puzzles, the CLI in-process and in a subprocess, JSONL files,
timing fields, one-hot enumeration, Monte Carlo tolerances, and signals sent at a known point of a run (never
after a sleep).

Tests import them as ``from conftest import ...`` (pytest puts this folder on ``sys.path`` under its default
``rootdir``-relative import mode; no test file imports another test file).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
PUZZLES = ROOT / "puzzles"

TIMING_FIELDS = frozenset({"seconds", "ms_per_step", "elapsed"})
"""Fields of results/records that measure wall time: they differ between otherwise identical runs."""

BASE_4 = [int(c) for c in "1234341221434321"]
"""A valid 4×4 Sudoku solution, row-major."""


# ------------------------------------------------------------------------------------------------- puzzles
def puzzles_4(count: int, blanks: int = 7, seed: int = 0) -> list[tuple[str, str]]:
    """``count`` distinct 4×4 puzzles (digit relabellings of ``BASE_4``, ``blanks`` cells blanked) with their
    solutions, as ``(puzzle, solution)`` strings; puzzle i's holes come from ``random.Random(seed + i)``."""
    rows = []
    for i, perm in enumerate(itertools.islice(itertools.permutations([1, 2, 3, 4]), count)):
        solution = [perm[d - 1] for d in BASE_4]
        holes = set(random.Random(seed + i).sample(range(16), blanks))
        rows.append(("".join("0" if c in holes else str(v) for c, v in enumerate(solution)),
                     "".join(map(str, solution))))
    return rows


def grids_4(count: int, blanks: int = 7, seed: int = 0) -> torch.Tensor:
    """``puzzles_4`` as an ``(count, 16)`` long tensor of clues."""
    return torch.tensor([[int(c) for c in p] for p, _ in puzzles_4(count, blanks, seed)])


# --------------------------------------------------------------------------------------------------- CLI
def run_cli(*args: str, stdin: str | None = None):
    """The CLI in-process (typer's runner): ``result.exit_code``, ``result.output``."""
    from typer.testing import CliRunner

    from redge_solve.cli import app

    return CliRunner().invoke(app, [str(a) for a in args], input=stdin)


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for ``python -m redge_solve`` in a subprocess: this checkout first on the path, one thread."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", HF_HUB_OFFLINE="1",
               COLUMNS="120")
    env.update(extra)
    return env


def run_subprocess(*args: str, stdin: bytes | None = None, **env: str) -> subprocess.CompletedProcess:
    """``python -m redge_solve ARGS`` to completion, output captured as bytes."""
    return subprocess.run([sys.executable, "-m", "redge_solve", *map(str, args)], input=stdin, capture_output=True,
                          env=subprocess_env(**env), cwd=ROOT, check=False)


SIGNAL_AFTER = """
import importlib, os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as at a terminal, even if started with it ignored
module, attribute, calls, sig = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
owner = importlib.import_module(module)
*path, attribute = attribute.split(".")
for name in path:
    owner = getattr(owner, name)
original, seen = getattr(owner, attribute), [0]

def counted(*args, **kwargs):
    result = original(*args, **kwargs)
    seen[0] += 1
    if seen[0] == calls:
        os.kill(os.getpid(), sig)
    return result

setattr(owner, attribute, counted)
from redge_solve.cli import main
sys.argv = ["redge-solve", *sys.argv[5:]]
main()
"""


def start_signalled(args: Iterable[Any], hook: str, calls: int, sig: int, **env: str) -> subprocess.Popen:
    """``python -m redge_solve ARGS`` in a subprocess that sends itself ``sig`` right after its ``calls``-th call
    of ``hook`` (``"module:attribute"``, e.g. ``"redge_solve.runs.batch:append_records"`` once per chunk written,
    ``"redge_solve.optim:Adam.step"`` once per solver step): the signal arrives at a known
    point of the run, as a Ctrl-C or ``kill`` would, with no clock involved. stdout/stderr are text pipes.

    SIGINT gets Python's usual handler first: a shell starts background jobs with SIGINT ignored, and a Python
    started that way would never see the Ctrl-C (the run would go on for its million steps)."""
    module, attribute = hook.split(":")
    command = [sys.executable, "-c", SIGNAL_AFTER, module, attribute, str(calls), str(int(sig)), *map(str, args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=subprocess_env(**env), cwd=ROOT)


# ------------------------------------------------------------------------------------------------- files
def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a JSONL file, one per non-empty line."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def without_timing(value: Any) -> Any:
    """``value`` with every timing field (``TIMING_FIELDS``) dropped, recursively through dicts and lists."""
    if isinstance(value, dict):
        return {k: without_timing(v) for k, v in value.items() if k not in TIMING_FIELDS}
    if isinstance(value, (list, tuple)):
        return [without_timing(v) for v in value]
    return value


# ------------------------------------------------------------------------------- enumeration and statistics
def one_hot_configs(n_vars: int, k: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """All ``k ** n_vars`` one-hot assignments of ``n_vars`` variables, ``(k ** n_vars, n_vars, k)``."""
    idx = torch.tensor(list(itertools.product(range(k), repeat=n_vars)), dtype=torch.long).view(-1, n_vars)
    return F.one_hot(idx, k).to(dtype)


def in_quadrature(*errors: torch.Tensor) -> torch.Tensor:
    """The standard error of a sum or difference of independent estimates: ``sqrt(Σ se_i²)``."""
    return torch.stack([torch.as_tensor(e, dtype=torch.float64) for e in errors]).square().sum(0).sqrt()


def z_threshold(false_alarm: float, comparisons: int) -> float:
    """The two-sided z bound that ``comparisons`` independent normal z-scores all stay under with probability
    ``1 − false_alarm`` (Bonferroni): ``Φ⁻¹(1 − false_alarm / (2 · comparisons))``."""
    return float(torch.special.ndtri(torch.tensor(1 - false_alarm / (2 * comparisons), dtype=torch.float64)))


def chi2_sf(statistic: float, df: int) -> float:
    """The chi-square survival function ``P(χ²_df ≥ statistic) = Q(df/2, statistic/2)``."""
    return float(torch.special.gammaincc(torch.tensor(df / 2, dtype=torch.float64),
                                         torch.tensor(statistic / 2, dtype=torch.float64)))


def chi2_goodness_of_fit(counts: torch.Tensor, probs: torch.Tensor) -> tuple[float, int]:
    """Pearson's statistic ``Σ (O − E)² / E`` of category counts ``(..., K)`` against ``probs`` (rows summing to
    one, each row an independent variable) and its degrees of freedom ``rows · (K − 1)``."""
    n = counts.sum(-1, keepdim=True)
    expected = n * probs
    return float(((counts - expected).square() / expected).sum()), math.prod(counts.shape[:-1]) * (counts.shape[-1] - 1)


def chi2_two_sample(a: torch.Tensor, b: torch.Tensor) -> tuple[float, int]:
    """Two-sample statistic ``Σ (A − B)² / (A + B)`` of category counts from two equal-size samples ``(..., K)``
    (the same law under the null) and its degrees of freedom (categories seen in either sample, minus one, per row)."""
    seen = (a + b) > 0
    statistic = float(((a - b).square() / (a + b).clamp(min=1)).sum())
    return statistic, int((seen.sum(-1) - 1).clamp(min=0).sum())


# ------------------------------------------------------------------------------ objectives for estimator tests
def quadratic_terms(n_vars: int, k: int = 3, seed: int = 0, scale: float = 2.0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(A, b)`` of ``quadratic``: a random symmetric ``(n_vars·k, n_vars·k)`` A and a random b, float64."""
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n_vars * k, n_vars * k, generator=g, dtype=torch.float64) * scale
    b = torch.randn(n_vars * k, generator=g, dtype=torch.float64)
    return (a + a.T) / 2, b


def quadratic(n_vars: int, k: int = 3, seed: int = 0, scale: float = 2.0) -> Callable[[torch.Tensor], torch.Tensor]:
    """``f(X) = vec(X)ᵀ A vec(X) + bᵀ vec(X)`` with a random symmetric A, ``(..., n_vars, k) -> (...)``, float64."""
    a, b = quadratic_terms(n_vars, k, seed, scale)

    def f(x: torch.Tensor) -> torch.Tensor:
        flat = x.flatten(-2)
        return ((flat @ a) * flat).sum(-1) + flat @ b

    return f


def cubic_exp(n_vars: int, k: int = 3, seed: int = 1) -> Callable[[torch.Tensor], torch.Tensor]:
    """A non-quadratic objective: ``exp(wᵀ vec X) + 3 X[0,0] X[1,1] X[-1,2]`` (a triple product across variables)."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(n_vars * k, generator=g, dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:
        return (x.flatten(-2) @ w).exp() + 3.0 * x[..., 0, 0] * x[..., 1, 1] * x[..., -1, 2]

    return f


def exact_grad(f: Callable[[torch.Tensor], torch.Tensor], logits: torch.Tensor) -> torch.Tensor:
    """``∇_θ E_{X~π_θ}[f(X)]`` by enumeration of every configuration; ``f`` maps ``(C, L, K) -> (C,)``."""
    theta = logits.detach().clone().requires_grad_()
    xs = one_hot_configs(theta.shape[0], theta.shape[1], theta.dtype)
    prob = (xs * theta.log_softmax(-1)).sum((-1, -2)).exp()
    (grad,) = torch.autograd.grad((prob * f(xs)).sum(), theta)
    return grad
