"""``compare --diagnose``: the exact reference, the vectorised draws, the figures' formulas, and the point of it all:
REINFORCE-LOO's bias is within its noise of 0 and straight-through's is not."""

import itertools
import json
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from typer.testing import CliRunner

from redge_solve.cli import app
from redge_solve.compare import EstimatorSpec
from redge_solve.diagnostics import diagnose, exact_gradient, exact_trajectory, gradient_draws, measure
from redge_solve.estimators.base import Estimator, Surrogate
from redge_solve.problems.sudoku import SudokuBatch

GRIDS = torch.tensor([[1, 0, 0, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0, 0, 2],
                      [0, 0, 0, 1, 0, 2, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0]])


def test_exact_gradient_is_autograd_through_the_enumerated_expectation():
    grid = torch.tensor([[1, 2, 0, 4, 3, 0, 1, 2, 2, 1, 0, 3, 0, 3, 2, 1]])  # four blanks: 4^4 assignments
    problem = SudokuBatch.from_grids(grid, torch.float64)
    logits = torch.randn(problem.num_variables, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    theta = logits.clone().requires_grad_(True)
    probs = theta.softmax(-1)
    values = torch.tensor(list(itertools.product(range(4), repeat=problem.num_variables)))
    onehots = torch.nn.functional.one_hot(values, 4).double()
    expectation = ((onehots * probs).sum(-1).prod(-1) * problem.penalty(onehots)[:, 0]).sum()
    (want,) = torch.autograd.grad(expectation, theta)
    assert torch.allclose(exact_gradient(problem, logits), want, atol=1e-10)


def test_the_trajectory_starts_at_zero_and_moves_by_the_exact_gradient():
    problem = SudokuBatch.from_grids(GRIDS)
    points = exact_trajectory(problem, [2, 0], lr=0.1)
    assert [step for step, _ in points] == [0, 2]
    assert torch.equal(points[0][1], torch.zeros(problem.num_variables, 4))
    assert not torch.equal(points[1][1], points[0][1])
    with pytest.raises(ValueError, match="checkpoints"):
        exact_trajectory(problem, [-1], lr=0.1)


@dataclass(frozen=True)
class Relaxed(Estimator):
    """Deterministic: the gradient of f at the probabilities (not an estimator of anything; a probe of the
    bookkeeping that turns copies of the problem back into draws)."""

    name: ClassVar[str] = "relaxed"

    def surrogate(self, f, logits, num_samples=1, generator=None, *, groups=None, expected=None):
        values = f(logits.softmax(-1).unsqueeze(0))
        return Surrogate(values.sum(), values.detach(), logits.detach())


def test_each_vectorised_draw_belongs_to_its_own_copy_and_variable():
    problem = SudokuBatch.from_grids(GRIDS)
    logits = torch.randn(problem.num_variables, 4, generator=torch.Generator().manual_seed(0))
    theta = logits.clone().requires_grad_(True)
    (want,) = torch.autograd.grad(problem.penalty(theta.softmax(-1).unsqueeze(0)).sum(), theta)
    draws = gradient_draws(problem, Relaxed(), logits, 7, 1, torch.Generator(), block=3)
    assert draws.shape == (7, problem.num_variables, 4)
    for draw in draws:
        assert torch.allclose(draw, want, atol=1e-6)


def test_the_figures_follow_their_definitions():
    exact = torch.tensor([3.0, 4.0])
    assert measure(torch.stack([exact * 2] * 5), exact) == pytest.approx(
        dict(cosine=1.0, bias=1.0, bias_se=0.0, variance=0.0, exact_norm=5.0))
    noisy = torch.stack([exact + torch.tensor([1.0, 0.0]), exact - torch.tensor([1.0, 0.0])])  # mean = exact
    figures = measure(noisy, exact)
    # tr Σ̂ = (1 + 1) / (2 − 1) = 2: variance 2 / 25, bias_se √(2 / 2) / 5
    assert figures["bias"] == pytest.approx(0.0) and figures["cosine"] == pytest.approx(1.0)
    assert figures["variance"] == pytest.approx(2 / 25) and figures["bias_se"] == pytest.approx(0.2)


def test_reinforce_bias_is_within_noise_of_zero_and_straight_through_is_not():
    problem = SudokuBatch.from_grids(GRIDS)
    results = diagnose(problem, [EstimatorSpec("reinforce"), EstimatorSpec("st")], checkpoints=[20], draws=400,
                       lr=0.2)
    by_name = {r.estimator: r for r in results}
    reinforce, st = by_name["reinforce"], by_name["st"]
    assert reinforce.samples == 2 and st.samples == 1  # each at least its minimum
    assert reinforce.bias < 2 * reinforce.bias_se  # E‖ḡ − g*‖² = tr Σ / M for an unbiased estimator
    assert st.bias > 10 * st.bias_se and st.bias > 0.5
    assert st.cosine < 0.95  # its mean estimate points elsewhere, not only by noise (bias_se is small)


def test_cli_diagnose_writes_its_table_and_files(tmp_path):
    source = tmp_path / "two.csv"
    source.write_text("puzzle\n" + "\n".join("".join(map(str, g.tolist())) for g in GRIDS) + "\n")
    result = CliRunner().invoke(app, [
        "compare", str(source), "-e", "st,reinforce", "--seeds", "1", "--steps", "5", "--samples", "2",
        "--diagnose", "--checkpoints", "0,3", "--draws", "20", "--out", str(tmp_path / "d")])
    assert result.exit_code == 0, result.output
    assert "gradient diagnostics" in result.stdout
    saved = json.loads((tmp_path / "d-diagnostics.json").read_text())
    assert [(r["step"], r["estimator"]) for r in saved["results"]] == [
        (0, "st"), (0, "reinforce"), (3, "st"), (3, "reinforce")]
    assert saved["settings"]["draws"] == 20 and saved["settings"]["puzzles"] == [0, 1]
    assert (tmp_path / "d-diagnostics.png").read_bytes()[:4] == b"\x89PNG"
    bad = CliRunner().invoke(app, ["compare", "missing.csv", "--diagnose", "--checkpoints", "x"])
    assert bad.exit_code == 2 and "--checkpoints must list steps" in bad.output
