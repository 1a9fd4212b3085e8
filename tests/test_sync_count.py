"""The solving loop waits for the device at most once per step (issue 30): counted on CPU by patching every call
that would force a host synchronisation on a GPU (``item``, ``bool``/``int``/``float`` of a tensor, ``tolist``,
``nonzero`` and boolean-mask indexing) while ``solve`` runs.

The CPU-only fast paths of the softmax (``estimators/_softmax.py``), of the mode's one-hot
(``_categorical._first_max_one_hot``), of the divergence test (``solver._finite_on_cpu``), of the mode's pair terms
tracked from step to step (``problems/_pair_terms.py``) and of the kept weighted adjacency's update
(``ConstraintBatch.raise_weights``, which on a GPU only adds), taken only for CPU tensors, read numbers on the host;
on a GPU those branches never run, so their calls are not counted."""

from __future__ import annotations

import sys

import pytest
import torch

from redge_solve.problems import SudokuBatch
from redge_solve.problems.constraints import ConstraintBatch, ConstraintSpec
from redge_solve.problems.queens import queens_spec
from redge_solve.problems.sudoku import grid_from_string
from redge_solve.solver import SolverConfig, solve

HARD = "000000010400000000020000000000050407008000300001090000300400200050100000000806000"
CPU_FAST_PATHS = ("_first_max_one_hot", "_finite_on_cpu", "raise_weights")
SETUP_ALLOWANCE = 40  # syncs outside the steps: the pre-step, batch sizing, results, fresh starts (about 20-30)


class SyncCounter:
    """Counts sync-forcing tensor calls made from the library (not from this test, not from the CPU softmax)."""

    METHODS = ("item", "__bool__", "__int__", "__float__", "__index__", "tolist", "nonzero")

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        for name in self.METHODS:
            self._wrap(monkeypatch, name, lambda *args: True)
        bool_index = lambda self_, index, *rest: _has_bool_mask(index)  # noqa: E731
        self._wrap(monkeypatch, "__getitem__", bool_index)
        self._wrap(monkeypatch, "__setitem__", bool_index)

    def _wrap(self, monkeypatch: pytest.MonkeyPatch, name: str, counts) -> None:
        original = getattr(torch.Tensor, name)
        counter = self

        def wrapped(*args, **kwargs):
            code = sys._getframe(1).f_code
            caller = code.co_filename
            cpu_fast_path = caller.endswith(("_softmax.py", "_pair_terms.py")) or code.co_name in CPU_FAST_PATHS
            if "redge_solve" in caller and not cpu_fast_path and counts(*args):
                counter.count += 1
            return original(*args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapped)


def _has_bool_mask(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, torch.Tensor) and p.dtype == torch.bool and p.dim() > 0 for p in parts)


def _run(monkeypatch, problem, config: SolverConfig) -> tuple[int, int]:
    steps = []
    counter = SyncCounter(monkeypatch)
    solve(problem, config, on_step=lambda p: steps.append(p.step))
    return counter.count, len(steps)


@pytest.mark.parametrize("weight_step", [0.0, 0.01])
def test_at_most_one_sync_per_step_on_sudoku(monkeypatch, weight_step):
    problem = SudokuBatch.from_grids(torch.stack([grid_from_string(HARD)] * 3))
    config = SolverConfig(steps=120, samples=2, restarts=2, early_stop=False, weight_step=weight_step,
                          reset_every=50, max_restarts=8)
    syncs, steps = _run(monkeypatch, problem, config)
    assert steps == 120
    assert syncs <= steps + SETUP_ALLOWANCE  # before: about 13 per step


def test_syncs_do_not_grow_with_the_steps(monkeypatch):
    """The count per step is at most one: doubling the steps adds at most as many syncs as steps."""
    problem = SudokuBatch.from_grids(grid_from_string(HARD).view(1, -1))
    config = SolverConfig(steps=40, samples=2, restarts=2, early_stop=False, reset_every=0, max_restarts=0)
    short, _ = _run(monkeypatch, problem, config)
    long, _ = _run(monkeypatch, problem, SolverConfig(**{**config.__dict__, "steps": 80}))
    assert long - short <= 40


def _cycle_colouring(n: int, colours: int) -> ConstraintSpec:
    """An n-cycle to colour: every vertex exactly one colour, neighbours differ (the sparse differ kernel)."""
    groups = [[v * colours + c for c in range(colours)] for v in range(n)]
    differ = torch.tensor([[v, (v + 1) % n] for v in range(n)])
    return ConstraintSpec.build(n, colours, exactly_one=groups, differ=differ)


@pytest.mark.parametrize("spec", [queens_spec(8), _cycle_colouring(9, 3)], ids=["queens", "colouring"])
def test_at_most_one_sync_per_step_on_constraints(monkeypatch, spec):
    problem = ConstraintBatch.from_specs([spec, spec])
    config = SolverConfig(steps=60, samples=2, restarts=2, early_stop=False, deduce="none", weight_step=0.01,
                          reset_every=0, max_restarts=0)
    syncs, steps = _run(monkeypatch, problem, config)
    assert steps == 60
    assert syncs <= steps + SETUP_ALLOWANCE
