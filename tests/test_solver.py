"""The solving loop on small Sudoku: it solves them, its bookkeeping is consistent, and it is batch-invariant."""

from dataclasses import replace

import pytest
import torch

from redge_solve.problems import SudokuBatch, verify_grid
from redge_solve.solver import SolverConfig, paper_protocol, solve

# 4×4 puzzles (0 = blank) and their unique solutions
PUZZLES_4 = [
    ("1000000000030000", None),
    ("0200000400100003", None),
    ("1234000000000000", None),
]


def grids(rows: list[str]) -> torch.Tensor:
    return torch.tensor([[int(c) for c in row] for row in rows])


def assert_each_alone_equals_batch(puzzles: torch.Tensor, config: SolverConfig, together) -> None:
    """Each puzzle solved alone (with its batch index as id) gives exactly its result in the whole batch."""
    for i in range(puzzles.shape[0]):
        alone = solve(SudokuBatch.from_grids(puzzles[i : i + 1]), config, puzzle_ids=torch.tensor([i]))
        assert torch.equal(alone.solution[0], together.solution[i])
        assert alone.first_solved_step[0] == together.first_solved_step[i]
        assert alone.penalty[0] == together.penalty[i]


def test_solves_4x4_and_every_reported_solution_verifies():
    puzzles = grids([p for p, _ in PUZZLES_4])
    config = SolverConfig(estimator="st", steps=400, samples=2, restarts=2, lr=0.2)
    result = solve(SudokuBatch.from_grids(puzzles), config)
    assert bool(result.found.all())
    for i in range(len(PUZZLES_4)):
        assert verify_grid(result.solution[i], puzzles[i])
    assert bool((result.first_solved_step >= 1).all())
    assert bool((result.steps_run == result.first_solved_step).all())  # early stop at the solving step


def test_results_do_not_depend_on_the_rest_of_the_batch():
    puzzles = grids([p for p, _ in PUZZLES_4])
    config = SolverConfig(estimator="redge", steps=60, samples=2, restarts=2, seed=3)
    together = solve(SudokuBatch.from_grids(puzzles), config)
    assert_each_alone_equals_batch(puzzles, config, together)


def test_paper_protocol_runs_every_step_without_early_stop():
    # a puzzle one cell from solved is solved at step 1 (a valid sample, else the mode: Adam's first step raises
    # exactly the missing digit's logit): with early stop the run ends there, under the paper's protocol it runs
    # all 50 steps, and the solution found at step 1 is kept
    puzzles = grids(["1234341221434320"])
    config = replace(paper_protocol(SolverConfig(estimator="st", seed=1)), steps=50)
    assert config.samples == 1 and config.restarts == 1 and not config.early_stop
    for early_stop, steps in [(True, 1), (False, 50)]:
        seen = []
        result = solve(SudokuBatch.from_grids(puzzles), replace(config, early_stop=early_stop),
                       on_step=lambda progress, seen=seen: seen.append(progress.step))
        assert seen == list(range(1, steps + 1)) and int(result.steps_run[0]) == steps
        assert bool(result.found[0]) and int(result.first_solved_step[0]) == 1
        assert result.solution[0].flatten().tolist() == [int(c) for c in "1234341221434321"]
@pytest.mark.parametrize(
    "kwargs, word",
    [
        ({"steps": 0}, "steps"),
        ({"samples": -1}, "samples"),
        ({"lr": 0.0}, "lr"),
        ({"estimator": "nope"}, "unknown estimator"),
        ({"estimator": "gumbel", "params": {"tau": -1}}, "tau"),  # the estimator's own checks: test_estimators.py
    ],
)
def test_bad_settings_are_refused_before_any_work(kwargs, word):
    with pytest.raises(ValueError, match=word):
        SolverConfig(**kwargs)


def test_random_init_is_batch_invariant_and_reproducible():
    puzzles = grids([p for p, _ in PUZZLES_4])
    config = SolverConfig(estimator="st", steps=40, samples=2, restarts=2, seed=5, init_std=0.5)
    together = solve(SudokuBatch.from_grids(puzzles), config)
    again = solve(SudokuBatch.from_grids(puzzles), config)
    assert torch.equal(together.penalty, again.penalty) and torch.equal(together.solution, again.solution)
    assert_each_alone_equals_batch(puzzles, config, together)


def test_init_std_draws_every_initial_logit_from_its_own_keyed_normal():
    # the documented law of the start: each logit N(0, init_std²), independent across restarts (Kolmogorov–Smirnov
    # at a fixed seed, false alarm 1e-4; a std 5 % off is rejected), zero logits without it, and `solve` starts
    # from those logits: after one step of a negligible lr the reported mode is their argmax
    from scipy import stats

    from redge_solve.solver import _Batch

    problem = SudokuBatch.from_grids(torch.zeros(20, 81, dtype=torch.long))  # 20 · 81 cells · 9 digits
    config = SolverConfig(estimator="st", steps=1, samples=1, restarts=4, seed=2, init_std=0.7, deduce="none")
    logits = _Batch(problem, config, torch.arange(20)).logits.detach().double()
    assert stats.kstest(logits.flatten().numpy(), "norm", args=(0, 0.7)).pvalue > 1e-4
    assert stats.kstest(logits.flatten().numpy(), "norm", args=(0, 0.7 * 1.05)).pvalue < 1e-4
    restarts = logits.view(20, 4, 81, 9)
    pair_sum = (restarts[:, 0] + restarts[:, 1]).flatten().numpy()
    assert stats.kstest(pair_sum, "norm", args=(0, 0.7 * 2**0.5)).pvalue > 1e-4  # restarts independent
    assert not _Batch(problem, replace(config, init_std=0.0), torch.arange(20)).logits.any()

    one = grids([PUZZLES_4[0][0]])
    base = replace(config, restarts=1, lr=1e-6, early_stop=False, init_std=3.0)
    start = _Batch(SudokuBatch.from_grids(one), base, torch.arange(1)).logits.detach()
    result = solve(SudokuBatch.from_grids(one), base)
    free = one[0] == 0
    assert not bool(result.found[0])  # the reported solution is the mode, not a lucky sample
    assert torch.equal(result.solution[0].flatten()[free] - 1, start.argmax(-1))
    assert paper_protocol(SolverConfig(init_std=0.3)).init_std == 0.0
    with pytest.raises(ValueError, match="init_std"):
        SolverConfig(init_std=-1.0)


def test_periodic_resets_are_batch_invariant_and_paper_protocol_switches_them_off():
    puzzles = grids([p for p, _ in PUZZLES_4])
    config = SolverConfig(estimator="st", steps=60, samples=2, restarts=2, seed=7, init_std=0.3, reset_every=7)
    together = solve(SudokuBatch.from_grids(puzzles), config)
    assert_each_alone_equals_batch(puzzles, config, together)
    assert paper_protocol(config).reset_every == 0
    with pytest.raises(ValueError, match="reset_every"):
        SolverConfig(reset_every=-2)


@pytest.mark.parametrize("fused", [True, False])
def test_adam_is_torch_adam_and_select_continues_it(fused, monkeypatch):
    # the loop's Adam is torch's: bit for bit the fused kernel (torch.optim.Adam(fused=True)), or to rounding
    # torch's unfused steps where the kernel is missing; select() keeps the step count and the kept moments
    from redge_solve import optim

    if fused and not optim.fused_adam_available(torch.device("cpu")):
        pytest.skip("this torch has no fused Adam on CPU")
    monkeypatch.setitem(optim._FUSED_ADAM, torch.device("cpu"), fused)
    gen = torch.Generator().manual_seed(0)
    grads = [torch.randn(6, 4, generator=gen) for _ in range(12)]
    ours, theirs = torch.zeros(6, 4), torch.zeros(6, 4, requires_grad=True)
    adam = optim.Adam(ours, lr=0.05)
    reference = torch.optim.Adam([theirs], lr=0.05, **({"fused": True} if fused else {"foreach": False}))
    keep = torch.tensor([True, False, True, True, False, True])
    for i, grad in enumerate(grads):
        if i == 6:  # solved rows leave: continue on the kept ones, against a reference continued by hand
            ours = ours[keep]
            adam = adam.select(ours, keep)
            state = reference.state[theirs]
            theirs = theirs.detach()[keep].requires_grad_()
            reference = torch.optim.Adam([theirs], lr=0.05, **({"fused": True} if fused else {"foreach": False}))
            reference.state[theirs] = {**state, "exp_avg": state["exp_avg"][keep],
                                       "exp_avg_sq": state["exp_avg_sq"][keep]}
        if i >= 6:
            grad = grad[keep]
        adam.step(grad)
        theirs.grad = grad
        reference.step()
        if fused:
            assert torch.equal(ours, theirs.detach())
        else:
            torch.testing.assert_close(ours, theirs.detach(), rtol=1e-6, atol=1e-7)
    assert int(adam.steps) == 12


def test_a_changed_fused_adam_signature_falls_back_to_the_unfused_steps(monkeypatch):
    # torch._fused_adam_ is private: a signature change (TypeError) must select the unfused path, not crash
    from redge_solve import optim

    def changed(*args, **kwargs):
        raise TypeError("_fused_adam_() got an unexpected keyword argument 'amsgrad'")

    monkeypatch.setattr(torch, "_fused_adam_", changed)
    monkeypatch.setattr(optim, "_FUSED_ADAM", {})
    assert not optim.fused_adam_available(torch.device("cpu"))
    logits, grad = torch.zeros(3, 2), torch.ones(3, 2)
    optim.Adam(logits, lr=0.1).step(grad)
    torch.testing.assert_close(logits, torch.full((3, 2), -0.1))  # Adam's first step: lr · sign(g)


def test_solving_does_not_import_torch_dynamo():
    # torch.optim imports torch._dynamo on first use (~2 s at every start of the command line); the loop must not
    import subprocess
    import sys

    code = "\n".join([
        "import sys, torch",
        "from redge_solve.problems import SudokuBatch",
        "from redge_solve.solver import SolverConfig, solve",
        "solve(SudokuBatch.from_grids(torch.tensor([[1] + [0] * 15])), SolverConfig(steps=3))",
        "assert 'torch._dynamo' not in sys.modules, 'torch._dynamo was imported'",
    ])
    subprocess.run([sys.executable, "-c", code], check=True)
