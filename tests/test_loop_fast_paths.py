"""The loop's faster kernels give the very numbers of the plain ones (they must not change a result)."""

from dataclasses import replace

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from redge_solve.estimators._softmax import _exp


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=-2e4, max_value=100, width=32), min_size=1, max_size=60),
       st.sampled_from([-1e4, -150.0, -104.0, -103.9, -95.0, -87.0, -86.9, 0.0]))
def test_exp_without_the_underflow_path_is_exp_bit_for_bit(values, extra):
    x = torch.tensor(values + [extra] * 7, dtype=torch.float32)
    assert torch.equal(_exp(x), x.exp())


def test_exp_keeps_nan_and_infinities():
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), -1e4, -100.0, 3.0])
    assert torch.equal(_exp(x).nan_to_num(7.0), x.exp().nan_to_num(7.0))


def _count_unweighted_penalties(monkeypatch, on_step):
    """Solve a colouring with breakout weights (30 steps, no early stop) and count the evaluations of its penalty
    without weights on samples (the modes are judged from their terms, not ``penalty``)."""
    from redge_solve.problems.coloring import COLOR_DEFAULTS, Graph, coloring_spec
    from redge_solve.problems.constraints import ConstraintBatch
    from redge_solve.solver import solve

    calls = []
    original = ConstraintBatch.penalty

    def counting(self, x, weights=None):
        if weights is None:
            calls.append(x.shape[0])
        return original(self, x, weights)

    monkeypatch.setattr(ConstraintBatch, "penalty", counting)
    graph = Graph.from_edges(6, [(0, 1), (1, 2), (2, 0), (2, 3), (3, 4), (4, 5), (5, 3)])
    problem = ConstraintBatch.from_specs([coloring_spec(graph, 2)])  # two triangles: never solved with 2 colours
    config = replace(COLOR_DEFAULTS, steps=30, early_stop=False)
    assert config.weight_step > 0
    result = solve(problem, config, on_step=on_step)
    return calls, result


def test_a_weighted_run_evaluates_its_unweighted_penalty_only_when_it_is_read(monkeypatch):
    """With breakout weights the samples' unweighted penalty costs an evaluation of its own (a fifth of a colouring
    step): it is made at a stopping step (the result's penalty) and when ``Progress.best_penalty`` is read, once a
    step however often it is read, and not otherwise."""
    calls, quiet = _count_unweighted_penalties(monkeypatch, None)
    assert calls == [2]  # the last step's samples: the result's penalty
    read = []
    calls, shown = _count_unweighted_penalties(monkeypatch, lambda p: read.append((p.best_penalty, p.best_penalty)))
    assert calls == [2] * 30
    assert all(a == b >= 1 for a, b in read)  # two triangles in 2 colours: every sample breaks an edge
    assert torch.equal(quiet.penalty, shown.penalty) and float(quiet.penalty[0]) >= 1


def test_every_is_true_at_the_first_call_then_once_a_period():
    from redge_solve.cli.progress import Every

    never_again, always = Every(float("inf")), Every(0.0)
    assert [never_again() for _ in range(4)] == [True, False, False, False]
    assert all(always() for _ in range(4))
