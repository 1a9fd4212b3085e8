"""Estimators at the sample counts the solver uses, their sample laws, and the DDIM schedule against its formula.

Every Monte Carlo check draws R independent replicates of an S-sample estimate (row r is one estimate, the mean of
S per-sample gradients), in two ways:

* from a ``torch.Generator`` (the library's default and the diagnostics' draws) at S = 1, 2: the surrogate's
  gradient over an ``(R, L, K)`` leaf;
* **through the solver's keyed noise** at S = 1, 2, 4 (the paper's protocol, Sudoku's and colouring's defaults,
  the other problems' defaults, read from the settings): float32 logits with one row per variable, each row's
  ``KeyedNoise`` stream keyed by ``solver.instance_keys`` (seed, puzzle, restart, position), f a problem's
  penalty with ``groups=``, the replicates from distinct keys (puzzles × 2 restarts) and 3 steps of the streams.

The target is exact where it is known by enumeration:

* ST: ``E[J_p ∇f(X)]`` (exact ``∇E[f]`` when f is linear);  ReinMax: ``E[2 J_{π'} g − ½ J_p g]`` (exact ``∇E[f]``
  for quadratic f at τ = 1);  REINFORCE-LOO: ``∇E[f]`` for any f;  ReDGE / ReDGE-Max with one step: ST / ReinMax.
* Gumbel and the ReDGE family at their defaults: the authors' package (``redge``) on 200 000 draws.

Tolerance: the largest |mean − target| over the L·K entries, in standard errors combined in quadrature
(``sqrt(se_ours² + se_target²)``), must stay under the Bonferroni bound for a false-alarm rate of 1e-4 per test
(``z_threshold``: 4.3 for 6 entries). Seeds are fixed, so the suite is deterministic; the rate says how unlikely
a failure of a correct estimator would be on other seeds. Sample laws: Pearson's chi-square against ``Cat(p)``,
or the two-sample chi-square against the authors' sampler, rejected below the same 1e-4; through the keyed noise,
the joint law of a puzzle's samples × restarts × variables against the product law (their independence).
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace
from typing import Callable

import pytest
import torch
from conftest import (
    chi2_goodness_of_fit,
    chi2_sf,
    chi2_two_sample,
    cubic_exp,
    exact_grad,
    in_quadrature,
    one_hot_configs,
    quadratic,
    z_threshold,
)

from redge_solve.estimators import GENERAL_ESTIMATORS, make_estimator
from redge_solve.estimators._diffusion import ddim_calls, ddim_to_last, schedule
from redge_solve.estimators._noise import KeyedNoise
from redge_solve.problem_defaults import COLOR_DEFAULTS
from redge_solve.settings import CONSTRAINT_DEFAULTS, PAPER_PROTOCOL
from redge_solve.settings import DEFAULTS as SOLVER_DEFAULTS
from redge_solve.solver import instance_keys

K = 3
DT = torch.float64
FALSE_ALARM = 1e-4
DRAWS = 120_000  # R · S per check (0.1–0.6 s each on one core)


def logits_of(n_vars: int, seed: int = 2, scale: float = 1.0) -> torch.Tensor:
    return torch.randn(n_vars, K, generator=torch.Generator().manual_seed(seed), dtype=DT) * scale


def jacobian_product(p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``J_p g = (diag p − p pᵀ) g`` row-wise (the softmax Jacobian at p)."""
    return p * g - p * (p * g).sum(-1, keepdim=True)


def expected_backward(backward, f, logits: torch.Tensor) -> torch.Tensor:
    """``E_{X~π_θ}[backward(X, ∇f(X))]`` by enumerating X (for estimators whose backward is a function of X)."""
    xs = one_hot_configs(logits.shape[0], K).requires_grad_()
    (g,) = torch.autograd.grad(f(xs).sum(), xs)
    prob = (xs.detach() * logits.log_softmax(-1)).sum((-1, -2)).exp()
    return (prob[:, None, None] * backward(xs.detach(), g)).sum(0)


def st_backward(logits: torch.Tensor):
    return lambda x, g: jacobian_product(logits.softmax(-1), g)


def reinmax_backward(logits: torch.Tensor, tau: float):
    """ReinMax (Liu et al. 2023): ``2 J_{π'} g − ½ J_p g`` with ``π' = ½ (softmax(θ/τ) + X)``."""
    p = logits.softmax(-1)
    return lambda x, g: 2 * jacobian_product(0.5 * ((logits / tau).softmax(-1) + x), g) - 0.5 * jacobian_product(p, g)


def replicates(name: str, f, logits: torch.Tensor, num_samples: int, seed: int = 0, **params) -> torch.Tensor:
    """``(R, L, K)``: R = DRAWS / S independent S-sample surrogate gradients, as the solver computes them."""
    count = DRAWS // num_samples
    theta = logits.expand(count, *logits.shape).clone().requires_grad_()
    objective = lambda x: f(x.flatten(0, 1)).view(num_samples, count)  # (S, R, L, K) -> (S, R)
    est = make_estimator(name, **params)
    est.surrogate(objective, theta, num_samples, torch.Generator().manual_seed(seed)).loss.backward()
    return theta.grad


AUTHORS_KEYS = {"gumbel": "gumbel", "redge": "redge", "redge-max": "reindge", "redge-cov": "redge_cov"}


@lru_cache(maxsize=None)
def authors_gradient(name: str, params: tuple, n_vars: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and SE of the authors' per-sample gradient on ``quadratic(n_vars, seed=seed)``, 200 000 draws."""
    redge = pytest.importorskip("redge", reason="the authors' package redge==0.1.0 (dev extra) is not installed")
    n, logits, f = 200_000, logits_of(n_vars), quadratic(n_vars, seed=seed)
    torch.manual_seed(1234)
    leaf = logits.expand(n, *logits.shape).clone().requires_grad_()
    f(redge.SAMPLERS[AUTHORS_KEYS[name]](logits=leaf, **dict(params))).sum().backward()
    return leaf.grad.mean(0), leaf.grad.std(0) / n**0.5


DEFAULTS = {"gumbel": dict(tau=0.5), "redge": dict(n_steps=3, t_1=0.5), "redge-max": dict(n_steps=5, t_1=0.5),
            "redge-cov": dict(n_steps=5, t_1=0.5)}
CASES = [  # (estimator, its parameters, the target)
    ("st", {}, "st"),
    ("reinmax", dict(tau=1.0), "exact"),
    ("reinmax", dict(tau=2.0), "reinmax"),
    ("redge", dict(n_steps=1), "st"),
    ("redge-max", dict(n_steps=1), "exact"),
    ("reinforce", {}, "exact"),
    *[(name, params, "authors") for name, params in DEFAULTS.items()],
]


def target_of(name: str, params: dict, kind: str, f, logits: torch.Tensor):
    """``(target, its SE)``: exact targets have SE 0."""
    zero = torch.zeros_like(logits)
    if kind == "exact":
        return exact_grad(f, logits), zero
    if kind == "st":
        return expected_backward(st_backward(logits), f, logits), zero
    if kind == "reinmax":
        return expected_backward(reinmax_backward(logits, params["tau"]), f, logits), zero
    return authors_gradient(name, tuple(sorted(params.items())), logits.shape[0], 4)


def objective_of(name: str) -> tuple[int, Callable[[torch.Tensor], torch.Tensor]]:
    """``(L, f)``: REINFORCE on a non-quadratic f of 3 variables (it is unbiased for any f), the others on a
    quadratic of 2 (with cross terms between the variables, so their noise must be independent)."""
    return (3, cubic_exp(3)) if name == "reinforce" else (2, quadratic(2, seed=4))


def z_off_target(grads: torch.Tensor, name: str, params: dict, kind: str, f, logits: torch.Tensor) -> float:
    """The largest |mean − target| over the entries of ``grads`` ``(R, L, K)``, in SEs combined in quadrature."""
    mean, se = grads.mean(0), grads.std(0) / grads.shape[0] ** 0.5
    target, target_se = target_of(name, params, kind, f, logits)
    return ((mean - target).abs() / in_quadrature(se, target_se)).max().item()


def skip_below_minimum(name: str, num_samples: int) -> None:
    if num_samples < make_estimator(name).min_samples:
        pytest.skip(f"{name} needs at least {make_estimator(name).min_samples} samples")


@pytest.mark.parametrize("num_samples", [1, 2])
@pytest.mark.parametrize("name,params,kind", CASES, ids=[f"{c[0]}{c[1] or ''}" for c in CASES])
def test_expected_gradient_from_a_torch_generator(name, params, kind, num_samples):
    # the torch.Generator path (diagnostics' draws, the library's default), at the diagnostics' sample counts
    skip_below_minimum(name, num_samples)
    n_vars, f = objective_of(name)
    logits = logits_of(n_vars)
    grads = replicates(name, f, logits, num_samples, seed=num_samples, **params)
    z = z_off_target(grads, name, params, kind, f, logits)
    bound = z_threshold(FALSE_ALARM, logits.numel())
    assert z < bound, f"{name}{params} at S={num_samples}: max |mean − target| = {z:.1f} SE (bound {bound:.1f})"


# ------------------------------------------------------------------------------ through the solver's keyed noise
SOLVER_SAMPLES = sorted({PAPER_PROTOCOL["samples"], SOLVER_DEFAULTS.samples, CONSTRAINT_DEFAULTS.samples,
                         COLOR_DEFAULTS.samples})
"""The samples per step the solver runs with: 1 (the paper's protocol), 2 (Sudoku's and colouring's defaults),
4 (the other constraint problems')."""
KEYED_STEPS, KEYED_RESTARTS = 3, 2


def keyed_rows(puzzles: int, n_vars: int, seed: int) -> tuple[KeyedNoise, torch.Tensor]:
    """The solver's noise for ``puzzles`` × ``KEYED_RESTARTS`` instances of ``n_vars`` variables, one row per
    variable keyed by ``solver.instance_keys`` (seed, puzzle, restart, position), and each row's instance."""
    instances = puzzles * KEYED_RESTARTS
    var_instance = torch.arange(instances).repeat_interleave(n_vars)
    layout = SimpleNamespace(var_instance=var_instance, num_instances=instances, num_variables=instances * n_vars)
    return KeyedNoise(instance_keys(torch.arange(puzzles), KEYED_RESTARTS, layout, seed)), var_instance


def keyed_replicates(name: str, f, logits: torch.Tensor, num_samples: int, seed: int = 0, **params) -> torch.Tensor:
    """``(R, L, K)``: R ≈ DRAWS / S S-sample surrogate gradients drawn as the solver draws them: float32 logits, one
    row per variable, the rows' ``KeyedNoise`` from ``instance_keys``, f a penalty (S, F, K) -> (S, I) with ``groups=``,
    at steps 1, 2, 3 of the streams (the replicates are the instances × the steps)."""
    n_vars = logits.shape[0]
    puzzles = DRAWS // (num_samples * KEYED_STEPS * KEYED_RESTARTS)
    noise, var_instance = keyed_rows(puzzles, n_vars, seed)
    instances = puzzles * KEYED_RESTARTS

    def penalty(x: torch.Tensor) -> torch.Tensor:
        return f(x.double().view(num_samples * instances, n_vars, K)).view(num_samples, instances).to(x.dtype)

    est, grads = make_estimator(name, **params), []
    for _ in range(KEYED_STEPS):
        noise.next_step()  # as the solver: a new step, then the estimator's draws
        theta = logits.float().repeat(instances, 1).requires_grad_()
        (grad,) = torch.autograd.grad(est.surrogate(penalty, theta, num_samples, noise, groups=var_instance).loss,
                                       theta)
        grads.append(grad.double().view(instances, n_vars, K))
    return torch.cat(grads)


@pytest.mark.parametrize("num_samples", SOLVER_SAMPLES)
@pytest.mark.parametrize("name,params,kind", CASES, ids=[f"{c[0]}{c[1] or ''}" for c in CASES])
def test_expected_gradient_through_the_solvers_keyed_noise(name, params, kind, num_samples):
    # the same targets and tolerance as above, with the draws the solver makes: float32 logits (the target is
    # taken at the same float32 values), every variable's noise keyed on its own, replicates from distinct keys
    # and steps. A key shared by two variables (or two samples) of an instance biases the quadratic's cross terms
    skip_below_minimum(name, num_samples)
    n_vars, f = objective_of(name)
    logits = logits_of(n_vars).float().double()
    grads = keyed_replicates(name, f, logits, num_samples, seed=10 + num_samples, **params)
    z = z_off_target(grads, name, params, kind, f, logits)
    bound = z_threshold(FALSE_ALARM, logits.numel())
    assert z < bound, f"{name}{params} at S={num_samples}: max |mean − target| = {z:.1f} SE (bound {bound:.1f})"


def test_the_keyed_gradient_check_has_teeth():
    # ST is biased on a quadratic: its keyed estimate is rejected against the exact gradient, at S = 1 and 4
    n_vars, f = objective_of("st")
    logits = logits_of(n_vars).float().double()
    for num_samples in (1, 4):
        grads = keyed_replicates("st", f, logits, num_samples, seed=3)
        assert z_off_target(grads, "st", {}, "exact", f, logits) > 3 * z_threshold(FALSE_ALARM, logits.numel())


def joint_codes(x: torch.Tensor, puzzles: int, n_vars: int) -> torch.Tensor:
    """Binary one-hot samples ``(2, puzzles · restarts · L, 2)`` -> one code per puzzle in [0, 2^(2 · restarts · L)):
    the bits of its (sample, restart, variable) values."""
    bits = x[..., 1].long().view(2, puzzles, KEYED_RESTARTS, n_vars).permute(1, 0, 2, 3).flatten(1)
    return (bits << torch.arange(bits.shape[1])).sum(1)


def product_law(probs: torch.Tensor) -> torch.Tensor:
    """``(2^(2 · restarts · L),)``: the probability of each code when every value is an independent draw from
    ``probs`` (``(L, 2)``) of its variable."""
    p1 = probs[:, 1].repeat(2 * KEYED_RESTARTS)  # the variable of each bit, in code order
    codes = torch.arange(2 ** p1.numel())
    bits = (codes[:, None] >> torch.arange(p1.numel())) & 1
    return torch.where(bits == 1, p1, 1 - p1).prod(1)


@pytest.mark.parametrize("name", sorted(GENERAL_ESTIMATORS))
def test_keyed_samples_are_independent_draws_of_the_law(name):
    # the joint law of a puzzle's 2 samples × 2 restarts × 2 binary variables (256 cells), drawn as the solver
    # draws them: for the laws known to be Cat(softmax θ), Pearson's chi-square against the product law; for the
    # multi-step ReDGE chains, the two-sample chi-square against the same estimator on a torch.Generator (whose
    # draws are independent by construction; their marginal law is checked against the authors' above). A
    # stream shared by two samples, restarts or variables (a key or counter that collides) makes cells empty
    est, n_vars, puzzles = make_estimator(name), 2, 50_000
    logits = torch.tensor([[0.0, 0.4], [0.3, -0.2]])  # p ∈ [0.4, 0.6]: every cell expects > 30 puzzles
    noise, _ = keyed_rows(puzzles, n_vars, seed=21)
    noise.next_step()
    instances = puzzles * KEYED_RESTARTS
    x = est.sample(logits.repeat(instances, 1), 2, noise)
    counts = torch.bincount(joint_codes(x, puzzles, n_vars), minlength=256).double()
    if name in ("st", "reinmax", "gumbel", "reinforce"):
        statistic, df = chi2_goodness_of_fit(counts[None], product_law(logits.double().softmax(-1))[None])
        # the same test rejects draws whose second sample repeats the first (a sample key that collides)
        repeated = torch.bincount(joint_codes(x[:1].expand(2, -1, -1), puzzles, n_vars), minlength=256).double()
        off, _ = chi2_goodness_of_fit(repeated[None], product_law(logits.double().softmax(-1))[None])
        assert chi2_sf(off, df) < FALSE_ALARM
    else:
        torch_draws = est.sample(logits.repeat(instances, 1), 2, torch.Generator().manual_seed(22))
        reference = torch.bincount(joint_codes(torch_draws, puzzles, n_vars), minlength=256).double()
        statistic, df = chi2_two_sample(counts[None], reference[None])
    assert chi2_sf(statistic, df) > FALSE_ALARM, f"{name}: chi2 = {statistic:.1f} on {df} df"


def test_leave_one_out_baseline_leaves_the_sample_out_at_two_samples():
    # With S = 2 the baseline of sample s is the other sample's value exactly: each estimate is
    # ½ Σ_s (f_s − f_{1−s}) ∇ log π(X_s), written out here for 200 draws (a baseline that included f_s itself
    # would halve it, a sum instead of a mean over S would double it)
    logits, f, rows = logits_of(3, seed=5), cubic_exp(3), 200
    theta = logits.expand(rows, 3, K).clone().requires_grad_()
    out = make_estimator("reinforce").surrogate(lambda x: f(x.flatten(0, 1)).view(2, rows), theta, 2,
                                                torch.Generator().manual_seed(6))
    out.loss.backward()
    x, v = out.samples, out.values[:, :, None, None]
    score = x - logits.softmax(-1)  # ∇_θ log π(X) for a one-hot X
    expected = 0.5 * ((v[0] - v[1]) * score[0] + (v[1] - v[0]) * score[1])
    assert (v[0] != v[1]).sum() > rows / 2  # most draws have two different values
    assert torch.allclose(theta.grad, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,params", [("st", {}), ("redge", dict(n_steps=1)), ("redge", dict(n_steps=2, t_1=1.0))])
@pytest.mark.parametrize("num_samples", [1, 2, 4, 1000])
def test_straight_through_is_exact_for_linear_f(name, params, num_samples):
    # f(X) = Σ w ⊙ X: ST's backward is J_p w whatever X is drawn, so every estimate equals ∇E[f] = J_p w exactly
    logits, w = logits_of(4, seed=7, scale=2.0), torch.randn(4, K, dtype=DT, generator=torch.Generator().manual_seed(8))
    theta = logits.clone().requires_grad_()
    est = make_estimator(name, **params)
    est.surrogate(lambda x: (x * w).sum((-1, -2)), theta, num_samples, torch.Generator().manual_seed(9)).loss.backward()
    assert torch.allclose(theta.grad, jacobian_product(logits.softmax(-1), w), rtol=1e-12, atol=1e-14)
    assert torch.allclose(exact_grad(lambda x: (x * w).sum((-1, -2)), logits), theta.grad, rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------------------------- sample laws
EXACT_LAWS = [("st", {}), ("reinmax", {}), ("reinmax", dict(tau=2.0)), ("gumbel", {}), ("gumbel", dict(tau=3.0)),
              ("reinforce", {}), ("redge", dict(n_steps=1)), ("redge", dict(n_steps=2, t_1=1.0)),
              ("redge-max", dict(n_steps=1)), ("redge-cov", dict(n_steps=1)), ("exact", {})]


@pytest.mark.parametrize("name,params", EXACT_LAWS, ids=[f"{n}{p or ''}" for n, p in EXACT_LAWS])
def test_sample_law_is_the_categorical_of_the_softmax(name, params):
    # Pearson's chi-square over 4 independent variables (df = 8) against Cat(softmax θ), false alarm 1e-4; the
    # same counts reject a law 3% off in temperature, so the test can fail
    logits, n = logits_of(4, seed=11, scale=1.5), 100_000
    x = make_estimator(name, **params).sample(logits, n, torch.Generator().manual_seed(12))
    counts = x.sum(0)
    statistic, df = chi2_goodness_of_fit(counts, logits.softmax(-1))
    assert chi2_sf(statistic, df) > FALSE_ALARM, f"{name}{params}: chi2 = {statistic:.1f} on {df} df"
    off, _ = chi2_goodness_of_fit(counts, (logits * 1.03).softmax(-1))
    assert chi2_sf(off, df) < FALSE_ALARM


AUTHORS_LAWS = [("redge", dict(n_steps=3, t_1=0.5)), ("redge", dict(n_steps=9, t_1=0.05)),
                ("redge-max", dict(n_steps=5, t_1=0.5)), ("redge-cov", dict(n_steps=5, t_1=0.5)),
                ("redge-cov", dict(n_steps=9, t_1=0.05))]


@pytest.mark.parametrize("name,params", AUTHORS_LAWS, ids=[f"{n}{p}" for n, p in AUTHORS_LAWS])
def test_diffusion_sample_law_is_the_authors(name, params):
    # the DDIM chain's law is not Cat(p) (discretisation error): compare with the authors' sampler by the
    # two-sample chi-square (df = 8), false alarm 1e-4
    redge = pytest.importorskip("redge", reason="the authors' package redge==0.1.0 (dev extra) is not installed")
    logits, n = logits_of(4, seed=11, scale=1.5), 100_000
    ours = make_estimator(name, **params).sample(logits, n, torch.Generator().manual_seed(13)).sum(0)
    torch.manual_seed(14)
    leaf = logits.expand(n, *logits.shape).clone().requires_grad_()
    theirs = redge.SAMPLERS[AUTHORS_KEYS[name]](logits=leaf, **params)
    theirs = (theirs[0] if isinstance(theirs, tuple) else theirs).detach().sum(0)
    statistic, df = chi2_two_sample(ours, theirs)
    assert chi2_sf(statistic, df) > FALSE_ALARM, f"{name}{params}: chi2 = {statistic:.1f} on {df} df"


def test_coarse_diffusion_law_is_visibly_not_the_softmax():
    # the check above has teeth: at (9, 0.05) the law is far from Cat(p), beyond any sampling error
    logits, n = logits_of(4, seed=11, scale=1.5), 100_000
    counts = make_estimator("redge", n_steps=9, t_1=0.05).sample(logits, n, torch.Generator().manual_seed(13)).sum(0)
    statistic, df = chi2_goodness_of_fit(counts, logits.softmax(-1))
    assert chi2_sf(statistic, df) < 1e-12


# ------------------------------------------------------------------------------------------- DDIM schedule
SCHEDULES = [(2, 0.5), (3, 0.5), (5, 0.5), (9, 0.9), (4, 0.3), (6, 1.0)]


@pytest.mark.parametrize("n_steps,t_1", SCHEDULES)
def test_schedule_is_its_formula(n_steps, t_1):
    # α = [1, linspace(1 − t_1, 1e-4, n_steps − 1)], σ = 1 − α, written out term by term
    alphas, sigmas = schedule(n_steps, t_1)
    m = n_steps - 1
    expected = [1.0] + [(1 - t_1) + ((1e-4) - (1 - t_1)) * i / (m - 1) if m > 1 else 1 - t_1 for i in range(m)]
    assert alphas == pytest.approx(expected, rel=0, abs=1e-15)
    assert sigmas == pytest.approx([1 - a for a in expected], rel=0, abs=1e-15)
    assert alphas[1] == pytest.approx(1 - t_1) and sigmas[1] == pytest.approx(t_1)  # t_1 is the first time after 0


def test_one_step_schedule_is_the_single_call_from_t_equal_one():
    assert schedule(1, 0.5) == ([1.0, 0.0], [0.0, 1.0])
    assert ddim_calls(1, 0.5) == [(0.0, 1.0, 0.0, 1.0)]  # D_1 = softmax(θ); c_x = σ_0/σ_1 = 0, c_D = α_0 = 1


@pytest.mark.parametrize("n_steps,t_1", SCHEDULES)
def test_ddim_calls_are_the_ddim_update_from_the_largest_time_down(n_steps, t_1):
    # call j is at time index T − j (T = n_steps − 1 the start), and maps x_t to
    # x_s = α_s D + σ_s (x_t − α_t D) / σ_t = c_x x_t + c_D D with s the next smaller time
    alphas, sigmas = schedule(n_steps, t_1)
    calls = ddim_calls(n_steps, t_1)
    assert len(calls) == n_steps - 1
    x, d = 0.37, 0.81  # any two numbers: the update is affine in both
    for j, (a_t, s_t, c_x, c_d) in enumerate(calls):
        t = n_steps - 1 - j
        assert (a_t, s_t) == (alphas[t], sigmas[t])
        assert c_x * x + c_d * d == pytest.approx(alphas[t - 1] * d + sigmas[t - 1] * (x - a_t * d) / s_t, abs=1e-14)
    assert calls[-1][:2] == pytest.approx((1 - t_1, t_1))  # the last call at t_1


@pytest.mark.parametrize("n_steps,t_1", [(3, 0.5), (5, 0.5), (9, 0.05)])
def test_ddim_to_last_visits_every_time_and_applies_each_update(n_steps, t_1):
    alphas, sigmas = schedule(n_steps, t_1)
    visited = []

    def denoise(x, alpha, sigma):
        visited.append((alpha, sigma))
        return torch.full_like(x, 0.25) + 0.5 * x  # any denoiser: the chain must apply it at each time

    x0 = torch.tensor([0.3, -1.2], dtype=DT)
    x, alpha, sigma = ddim_to_last(x0, denoise, n_steps, t_1)
    by_hand = x0
    for t in range(n_steps - 1, 1, -1):
        d = 0.25 + 0.5 * by_hand
        by_hand = alphas[t - 1] * d + sigmas[t - 1] * (by_hand - alphas[t] * d) / sigmas[t]
    assert visited == [(alphas[t], sigmas[t]) for t in range(n_steps - 1, 1, -1)]
    assert (alpha, sigma) == (alphas[1], sigmas[1])
    assert torch.allclose(x, by_hand, rtol=0, atol=1e-14)


@pytest.mark.parametrize("n_steps,t_1", SCHEDULES)
def test_schedule_and_update_are_the_authors(n_steps, t_1):
    ddim = pytest.importorskip("redge.ddim", reason="the authors' package redge==0.1.0 (dev extra) is not installed")
    alphas, sigmas = ddim.mk_schedule(n_steps=n_steps, t_1=t_1)  # float32 there, float64 here
    ours_a, ours_s = schedule(n_steps, t_1)
    assert ours_a == pytest.approx(alphas.tolist(), abs=1e-6) and ours_s == pytest.approx(sigmas.tolist(), abs=1e-6)
    x, d = torch.tensor([0.37, -2.0], dtype=DT), torch.tensor([0.81, 0.1], dtype=DT)
    a64, s64 = torch.tensor(ours_a, dtype=DT), torch.tensor(ours_s, dtype=DT)
    for j, (_, _, c_x, c_d) in enumerate(ddim_calls(n_steps, t_1)[:-1]):
        t = n_steps - 1 - j
        theirs = ddim.ddim_step(x, d, t - 1, t, a64, s64)
        assert torch.allclose(c_x * x + c_d * d, theirs, rtol=0, atol=1e-12)


def test_min_variance_is_the_authors():
    redge_cov = pytest.importorskip("redge.redge_cov", reason="the authors' package redge==0.1.0 is not installed")
    from redge_solve.estimators.redge_cov import MIN_VARIANCE

    assert MIN_VARIANCE == redge_cov.MIN_VAR


def test_surrogate_sample_counts_default_to_the_fewest_each_estimator_needs():
    logits, f = logits_of(2), quadratic(2)
    assert make_estimator("reinforce").surrogate(f, logits).values.shape == (2,)  # leave-one-out needs two
    for name in ("st", "gumbel", "reinmax", "redge", "redge-max", "redge-cov"):
        assert make_estimator(name).surrogate(f, logits).values.shape == (1,)
        assert make_estimator(name).sample(logits).shape == logits.shape  # no sample axis by default


def test_reinforce_on_a_problem_penalty_sums_log_probabilities_per_instance():
    # f = a problem's penalty (with groups=) maps flat variables (S, F, K) to (S, I): log π(X_s) of puzzle i
    # is the sum over its own free cells, and each cell's gradient is its puzzle's (f − baseline) times its score
    from conftest import grids_4

    from redge_solve.problems.sudoku import SudokuBatch

    batch = SudokuBatch.from_grids(grids_4(3, blanks=6), dtype=DT)
    logits = torch.randn(batch.num_variables, 4, dtype=DT, generator=torch.Generator().manual_seed(21))
    theta = logits.clone().requires_grad_()
    out = make_estimator("reinforce").surrogate(batch.penalty, theta, 4, torch.Generator().manual_seed(22),
                                                groups=batch.var_instance)
    out.loss.backward()
    v = out.values  # (S, I)
    baseline = (v.sum(0, keepdim=True) - v) / 3
    weight = (v - baseline)[:, batch.var_instance]  # (S, F): each cell takes its puzzle's weight
    expected = (weight[..., None] * (out.samples - logits.softmax(-1))).mean(0)
    assert (v[:, 0] != v[:, 1]).any() or (v[:, 1] != v[:, 2]).any()  # puzzles with different values
    assert torch.allclose(theta.grad, expected, rtol=1e-12, atol=1e-14)


def test_reinforce_surrogate_passes_the_pathwise_gradient_to_parameters_inside_f():
    # f(X; w) = Σ w ⊙ X: besides the score-function term for θ, ∂loss/∂w = mean_s X_s (the ordinary gradient)
    logits = logits_of(3)
    w = torch.randn(3, K, dtype=DT, generator=torch.Generator().manual_seed(23)).requires_grad_()
    out = make_estimator("reinforce").surrogate(lambda x: (x * w).sum((-1, -2)), logits.clone().requires_grad_(),
                                                 5, torch.Generator().manual_seed(24))
    out.loss.backward()
    assert torch.allclose(w.grad, out.samples.mean(0), rtol=0, atol=1e-15)


def test_one_hot_argmax_of_a_nan_row_beside_a_tied_row():
    # a NaN row has no mark and a tied row two: the mark count is right but the rows are wrong, so the NaN check
    # must send this to argmax (hypothesis found it once; pinned here as a fixed example)
    from redge_solve.estimators._categorical import one_hot_argmax

    x = torch.tensor([[float("nan"), 0.0, 1.0], [2.0, 2.0, 0.0], [0.0, 1.0, 3.0]])
    assert torch.equal(one_hot_argmax(x), torch.nn.functional.one_hot(x.argmax(-1), 3).float())


@pytest.mark.parametrize("which", ["standard", "cov"])
def test_chain_backwards_leave_the_incoming_gradient_alone(which):
    # the hand-written backwards work in place on their own buffers, never on the gradient autograd hands them
    from redge_solve.estimators._diffusion import standard_chain
    from redge_solve.estimators.redge_cov import cov_chain

    gen = torch.Generator().manual_seed(31)
    logits = torch.randn(4, 5, dtype=DT, generator=gen).requires_grad_()
    noise = torch.randn(4, 5, dtype=DT, generator=gen)
    out = standard_chain(logits, noise, 5, 0.5)[0] if which == "standard" else cov_chain(logits, noise, 5, 0.5)
    incoming = torch.randn(4, 5, dtype=DT, generator=gen)
    kept = incoming.clone()
    torch.autograd.grad(out, logits, grad_outputs=incoming)
    assert torch.equal(incoming, kept)


@pytest.mark.parametrize("tau", [1.0, 2.0])
def test_reinmax_backward_per_sample_when_a_category_is_never_drawn(tau):
    # 2 J_{π'} g − ½ J_p g per sample, on rows whose last category has probability ~e^-30 (never drawn), and
    # reinmax_one_hot's defaults: temperature 1, the categories read off the sample's last axis
    from redge_solve.estimators._categorical import reinmax_one_hot

    logits = torch.randn(5, 100, K, dtype=DT, generator=torch.Generator().manual_seed(32))  # rows on two axes
    logits[..., -1] = -30.0
    leaf = logits.clone().requires_grad_()
    x = make_estimator("reinmax", tau=tau).sample(leaf, generator=torch.Generator().manual_seed(33))
    assert x[..., -1].sum() == 0
    g = torch.randn(5, 100, K, dtype=DT, generator=torch.Generator().manual_seed(34))
    (x * g).sum().backward()
    assert torch.allclose(leaf.grad, reinmax_backward(logits, tau)(x.detach(), g), rtol=1e-10, atol=1e-12)
    if tau == 1.0:
        default = logits.clone().requires_grad_()
        (reinmax_one_hot(default, x.detach()) * g).sum().backward()
        assert torch.allclose(default.grad, leaf.grad, rtol=1e-12, atol=1e-14)


def test_an_estimator_prints_as_its_name_and_parameters():
    assert str(make_estimator("redge")) == "redge(n_steps=3, t_1=0.5)"
    assert str(make_estimator("gumbel", tau=2)) == "gumbel(tau=2.0)"
    assert str(make_estimator("reinforce")) == "reinforce()" and str(make_estimator("st")) == "st(temperature=1.0)"


def test_numbers_of_the_other_kind_are_coerced_to_the_parameter_s_type():
    # from a YAML/JSON config a whole float may come for an integer and an int for a float: stored as the type
    steps, tau = make_estimator("redge", n_steps=7.0).n_steps, make_estimator("gumbel", tau=2).tau
    assert (steps, type(steps)) == (7, int) and (tau, type(tau)) == (2.0, float)
    assert type(make_estimator("redge", t_1="0.5").t_1) is float
    assert type(make_estimator("redge", n_steps="3").n_steps) is int
