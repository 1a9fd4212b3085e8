"""Gradient estimators beyond their laws: exact per-sample identities (ReinMax's backward, the hand-written chain
backwards, the official ReinMax package), REINFORCE over batch elements, one-hot samples, shapes/dtypes/seeding,
keyed-noise invariance, ReDGE-Max under repeated use, parameter validation, the registry, the fast argmax and softmax.

The Monte Carlo checks of expected gradients and sample laws (against enumeration and the authors' package, with
stated tolerances) live in ``tests/test_estimator_laws.py``; the two left here are small (20 000 and 30 000 draws).
"""

from __future__ import annotations

from unittest import mock

import pytest
import torch
import torch.nn.functional as F
from conftest import exact_grad, quadratic, quadratic_terms
from hypothesis import example, given, settings
from hypothesis import strategies as st

import redge_solve.estimators._categorical as _categorical
import redge_solve.estimators._softmax as _softmax
from redge_solve.estimators import ESTIMATORS, GENERAL_ESTIMATORS, canonical_name, make_estimator, parameter_defaults
from redge_solve.estimators.compat import SAMPLERS

K = 3
DT = torch.float64
Z_TOL = 5.0  # tolerance in standard errors (max over ≤ 12 entries: a false alarm below 1e-5 per check)


# ----------------------------------------------------------------------------------------------------- helpers
def make_logits(n_vars: int, seed: int = 2) -> torch.Tensor:
    return torch.randn(n_vars, K, generator=torch.Generator().manual_seed(seed), dtype=DT)


def assert_close_mc(mean, target, se, z=Z_TOL, what=""):
    """max |mean − target| / se < z over all entries; ``se`` of a difference of two estimates is their SEs in
    quadrature (``in_quadrature``), never their sum."""
    gap = ((mean - target).abs() / (se + 1e-12)).max().item()
    assert gap < z, f"{what}: max |mean − target| = {gap:.1f} SE (≥ {z})"


# --------------------------------------------------------------------------- 1. exact gradients by enumeration
def test_enumeration_helper_matches_closed_form_for_linear_f():
    # ∇ E[w·X] = Σ_p w per variable: checks the helper itself
    logits, w = make_logits(2), torch.randn(2, K, dtype=DT)
    p = logits.softmax(-1)
    expected = p * w - p * (p * w).sum(-1, keepdim=True)
    assert torch.allclose(exact_grad(lambda x: (x * w).sum((-1, -2)), logits), expected)


def test_reinforce_surrogate_value_and_batch_dims():
    # two independent batch elements, 2 variables each: the gradient of Σ_batch E[f] per element
    logits = torch.stack([make_logits(2, seed=5), make_logits(2, seed=6)])
    f2 = quadratic(2)
    f = lambda x: f2(x.flatten(0, 1)).view(x.shape[0], x.shape[1])  # (S, B, L, K) -> (S, B)
    theta = logits.clone().requires_grad_()
    n = 20_000  # the bias of a mixed-up element is ~40 SE at this size; its unbiasedness is in test_estimator_laws
    out = make_estimator("reinforce").surrogate(f, theta, n, torch.Generator().manual_seed(4))
    assert out.values.shape == (n, 2) and out.samples.shape == (n, 2, 2, K)
    out.loss.backward()
    exact = torch.stack([exact_grad(f2, logits[0]), exact_grad(f2, logits[1])])
    # SE from the per-sample score terms f_s (X_s − p), per batch element (the baseline only lowers the variance)
    terms = out.values[:, :, None, None] * (out.samples - logits.softmax(-1))
    assert_close_mc(theta.grad, exact, terms.std(0) / n**0.5, what="reinforce, two batch elements")
    # the elements are not mixed up: element 0's exact gradient is far from element 1's estimate
    assert ((theta.grad[1] - exact[0]).abs() / (terms[:, 1].std(0) / n**0.5)).max() > 4 * Z_TOL


def _quadratic_expectation(a: torch.Tensor, b: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """E[vec(X)ᵀ A vec(X) + bᵀ vec(X)] for independent one-hot rows X_v ~ Cat(p_v), in closed form: the
    entries of different variables are independent (E[x_i x_j] = p_i p_j), those of one variable exclusive
    (E[x_vk x_vl] = δ_kl p_vk), so E = pᵀ A p + Σ_v (diag(A_vv) · p_v − p_vᵀ A_vv p_v) + bᵀ p."""
    p, n_vars = probs.flatten(), probs.shape[0]
    blocks = torch.block_diag(*[torch.ones(K, K, dtype=DT)] * n_vars)  # 1 where (i, j) is one variable's pair
    return p @ a @ p + (a.diagonal() * p).sum() - p @ (a * blocks) @ p + b @ p


def test_exact_estimator_gradient_is_the_enumerated_gradient_of_the_expectation():
    # two instances (2 variables each) of quadratic objectives, f (S, 4, K) -> (S, 2) with groups: the exact
    # estimator's gradient is ∇_θ Σ_i E[f_i] with no noise, whatever the samples; its samples are drawn from the
    # generator (seeded: reproducible), one per requested sample, and f's values at them are returned detached
    terms = [quadratic_terms(2, seed=s) for s in (11, 12)]
    fs = [quadratic(2, seed=s) for s in (11, 12)]
    w = torch.ones((), dtype=DT, requires_grad=True)  # a parameter inside f: the values must come back detached
    f = lambda x: torch.stack([fs[0](x[..., :2, :]), fs[1](x[..., 2:, :])], -1) * w
    expected = lambda p: torch.stack([_quadratic_expectation(*terms[i], p[2 * i: 2 * i + 2]) for i in (0, 1)])
    logits = torch.randn(4, K, generator=torch.Generator().manual_seed(13), dtype=DT) * 2
    est = make_estimator("exact")
    runs = []
    for _ in range(2):
        theta = logits.clone().requires_grad_()
        out = est.surrogate(f, theta, 5, torch.Generator().manual_seed(14), groups=torch.tensor([0, 0, 1, 1]),
                            expected=expected)
        (grad,) = torch.autograd.grad(out.loss, theta)
        runs.append((out, grad))
    (out, grad), (again, grad_again) = runs
    target = torch.cat([exact_grad(fs[0], logits[:2]), exact_grad(fs[1], logits[2:])])
    assert torch.allclose(grad, target, rtol=1e-10, atol=1e-12)
    assert out.samples.shape == (5, 4, K) and bool((out.samples.sum(-1) == 1).all())
    assert torch.equal(out.samples, again.samples) and torch.equal(grad, grad_again)
    assert not torch.equal(out.samples, est.surrogate(f, logits, 5, torch.Generator().manual_seed(15),
                                                       expected=expected).samples)
    assert out.values.shape == (5, 2) and not out.values.requires_grad
    assert torch.equal(out.values, f(out.samples).detach())
    assert est.surrogate(f, logits, expected=expected).values.shape == (1, 2)  # one sample by default
    with pytest.raises(ValueError) as info:
        est.surrogate(f, logits, 2)
    assert str(info.value) == "the exact estimator needs a penalty with a closed-form expectation (`expected`)"


# ------------------------------------------------------------------------------------------- 2. paper identities
def test_reinmax_tau1_backward_formula():
    # ½[Σ_p g + ((X − p)·g)(X − p)] exactly, per sample
    logits = make_logits(4)
    leaf = logits.expand(1000, 4, K).clone().requires_grad_()
    x = make_estimator("reinmax").sample(leaf, generator=torch.Generator().manual_seed(0))
    g = torch.randn(1000, 4, K, dtype=DT)
    (x * g).sum().backward()
    p = logits.softmax(-1)
    d = x.detach() - p
    expected = 0.5 * (p * g - p * (p * g).sum(-1, keepdim=True) + (d * g).sum(-1, keepdim=True) * d)
    assert torch.allclose(leaf.grad, expected, atol=1e-12)


# ------------------------------------------------------------------------------- 2b. hand-written chain backwards
def _cov_chain_by_autograd(logits, noise, n_steps, t_1):
    """ReDGE-Cov's D_{t_1} written as the formulas of its docstring, differentiated by autograd."""
    from redge_solve.estimators._diffusion import ddim_to_last
    from redge_solve.estimators.redge_cov import MIN_VARIANCE

    probs = logits.softmax(-1)
    variance = (probs * (1 - probs)).clamp(min=MIN_VARIANCE)

    def posterior(x, alpha, sigma):
        return (logits + (alpha * x - alpha * sigma * probs - alpha**2 / 2) / (variance * sigma**2)).softmax(-1)

    x, alpha, sigma = ddim_to_last(probs + variance.sqrt() * noise, posterior, n_steps, t_1)
    return posterior(x, alpha, sigma)


@pytest.mark.parametrize("n_steps,t_1", [(1, 0.5), (2, 0.5), (3, 0.5), (5, 0.5), (9, 0.9), (4, 0.7)])
def test_hand_written_chain_backwards_equal_autograd(n_steps, t_1):
    # standard_chain (ReDGE, ReDGE-Max) and cov_chain (ReDGE-Cov) write their backward out; in float64 they must
    # agree with autograd through the plain formulas to rounding, values and gradients, and leave the noise alone
    from redge_solve.estimators._diffusion import ddim_to_last, standard_chain, standard_denoiser
    from redge_solve.estimators.redge_cov import cov_chain

    gen = torch.Generator().manual_seed(n_steps)
    logits = (2 * torch.randn(3, 6, 5, generator=gen, dtype=DT)).requires_grad_()  # p(1-p) on both sides of 0.1
    noise, weights = torch.randn(2, 3, 6, 5, generator=gen, dtype=DT)
    kept = noise.clone()
    pairs = [(standard_chain(logits, noise, n_steps, t_1)[0],
              ddim_to_last(noise, standard_denoiser(logits), n_steps, t_1)[0]),
             (cov_chain(logits, noise, n_steps, t_1), _cov_chain_by_autograd(logits, noise, n_steps, t_1))]
    for fast, plain in pairs:
        assert torch.allclose(fast, plain, rtol=0, atol=1e-14)
        if plain.requires_grad:
            (g_fast,) = torch.autograd.grad((fast * weights).sum(), logits)
            (g_plain,) = torch.autograd.grad((plain * weights).sum(), logits)
            assert torch.allclose(g_fast, g_plain, rtol=1e-12, atol=1e-14)
            assert g_plain.abs().max() > 1e-3  # a gradient that is there
    assert torch.equal(noise, kept)


# ------------------------------------------------------------------------------------------------- 3. sample law
@pytest.mark.parametrize("name", sorted(GENERAL_ESTIMATORS))
def test_samples_are_exactly_one_hot(name):
    logits = torch.randn(4, 5, 7, dtype=torch.float32) * 3
    x = make_estimator(name).sample(logits, 64, torch.Generator().manual_seed(0))
    assert x.shape == (64, 4, 5, 7)
    assert bool(((x == 0) | (x == 1)).all())
    assert bool((x.sum(-1) == 1).all())


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_st_samples_from_the_tempered_law_and_backpropagates_through_the_plain_softmax(temperature):
    """``st`` with a sampling temperature T: the samples' frequencies are softmax(θ / T), not softmax(θ) (10 standard
    errors apart at these logits), and the gradient of Σ ⟨c, X⟩ is Σ_p c = (diag p − p pᵀ) c with p = softmax(θ)."""
    logits = torch.tensor([[1.0, 0.0, -1.0, 0.5]], dtype=DT).repeat(3, 1).requires_grad_(True)
    n = 40_000
    x = make_estimator("st", temperature=temperature).sample(logits, n, torch.Generator().manual_seed(0))
    freq = x.detach().mean(0)
    tempered, plain = (logits.detach() / temperature).softmax(-1), logits.detach().softmax(-1)
    se = 0.5 / n**0.5
    assert (freq - tempered).abs().max() < 5 * se
    assert (tempered - plain).abs().max() > 10 * se  # the test can tell the two laws apart
    c = torch.tensor([0.3, -1.0, 2.0, 0.7], dtype=DT)
    (grad,) = torch.autograd.grad((x * c).sum(), logits)
    p = plain
    assert torch.allclose(grad, n * (p * c - p * (p * c).sum(-1, keepdim=True)), rtol=1e-9, atol=1e-9)


def test_st_at_temperature_one_is_the_plain_estimator_bit_for_bit():
    logits = torch.randn(6, 9, generator=torch.Generator().manual_seed(3), dtype=DT)
    plain = make_estimator("st").sample(logits, 4, torch.Generator().manual_seed(1))
    tempered = make_estimator("st", temperature=1.0).sample(logits, 4, torch.Generator().manual_seed(1))
    other = make_estimator("st", temperature=0.5).sample(logits, 4, torch.Generator().manual_seed(1))
    assert torch.equal(plain, tempered) and not torch.equal(plain, other)


def redge_law_gap(n_steps: float, t_1: float, n: int) -> float:
    logits = torch.randn(3, K, generator=torch.Generator().manual_seed(0), dtype=DT)
    est = make_estimator("redge", n_steps=n_steps, t_1=t_1)
    freq = est.sample(logits, n, torch.Generator().manual_seed(1)).mean(0)
    return (freq - logits.softmax(-1)).abs().max().item()


def test_redge_law_converges_to_softmax_with_more_steps():
    # Checked first (S=200k, also reproduced with the authors' package): the deterministic DDIM chain's
    # discretisation error shows in the law. Max |freq − p| on these logits ≈ 0.027 at (9, 0.05), ≈ 0.007 at
    # (30, 0.05), ≈ 0.014 at (3, 0.5), and ≈ 0.001 (pure MC noise) at (3, 0.9), since t_1 near 1 is close to the
    # exact one-step chain. So NOT "further from softmax at (3, 0.9)": the opposite holds, and we assert that.
    n, se = 30_000, 0.5 / 30_000**0.5  # se bounds sqrt(p(1−p)/n)
    coarse, fine = redge_law_gap(9, 0.05, n), redge_law_gap(30, 0.05, n)
    assert coarse > 8 * se  # biased, well outside MC error
    assert fine < coarse / 2  # approaching softmax as the chain is refined
    assert redge_law_gap(3, 0.9, n) < Z_TOL * se  # t_1 near 1: indistinguishable from Cat(p)


# ----------------------------------------------------------------------------------- 4. the authors' packages
@pytest.mark.parametrize("tau", [0.5, 1.0, 2.0])
def test_reinmax_matches_official_package_per_sample(tau):
    # The official package draws its own sample; feed our sample's backward the same one-hot and compare exactly.
    reinmax = pytest.importorskip("reinmax", reason="official ReinMax package `reinmax` not installed").reinmax
    logits = torch.randn(2000, K, dtype=DT) * 2
    g = torch.randn(2000, K, dtype=DT)
    theirs_leaf = logits.clone().requires_grad_()
    torch.manual_seed(0)
    sample, _ = reinmax(theirs_leaf, tau)
    (sample * g).sum().backward()
    from redge_solve.estimators._categorical import reinmax_one_hot

    ours_leaf = logits.clone().requires_grad_()
    (reinmax_one_hot(ours_leaf, sample.detach(), tau) * g).sum().backward()
    assert torch.allclose(ours_leaf.grad, theirs_leaf.grad, atol=1e-10)


# ------------------------------------------------------------------------------------------ 5. shapes and dtypes
@pytest.mark.parametrize("name", sorted(GENERAL_ESTIMATORS))
@pytest.mark.parametrize("shape", [(K,), (5, K), (2, 3, 4, K)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_dtypes_and_gradient_shape(name, shape, dtype):
    est = make_estimator(name)
    logits = torch.randn(shape, dtype=dtype, requires_grad=True)
    if name != "reinforce":
        x = est.sample(logits)  # no sample axis
        assert x.shape == shape and x.dtype == dtype
    x = est.sample(logits, 3)
    assert x.shape == (3, *shape) and x.dtype == dtype
    w = torch.randn(shape, dtype=dtype)
    f = lambda x: (x * w).flatten(1).sum(1)
    out = est.surrogate(f, logits, 32, torch.Generator().manual_seed(0))
    assert out.values.shape == (32,) and out.samples.shape == (32, *shape)
    out.loss.backward()
    assert logits.grad.shape == shape and logits.grad.dtype == dtype
    assert bool(torch.isfinite(logits.grad).all()) and logits.grad.abs().sum() > 0


@pytest.mark.parametrize("name", sorted(GENERAL_ESTIMATORS))
def test_seeded_generator_reproduces_samples_and_gradients(name):
    est, f = make_estimator(name), quadratic(2)

    def run():
        theta = make_logits(2).requires_grad_()
        out = est.surrogate(lambda x: f(x), theta, 16, torch.Generator().manual_seed(42))
        out.loss.backward()
        return out.samples, theta.grad

    (x1, g1), (x2, g2) = run(), run()
    assert torch.equal(x1, x2) and torch.equal(g1, g2)
    # without a sample axis (num_samples=None) the draw comes from the given generator too
    single = [est.sample(make_logits(20), generator=torch.Generator().manual_seed(43)) for _ in range(2)]
    assert torch.equal(*single)


@pytest.mark.parametrize("name", sorted(GENERAL_ESTIMATORS))
def test_keyed_noise_reproducible_and_per_row_invariant(name):
    from redge_solve.estimators._noise import KeyedNoise, key_tensor

    est = make_estimator(name)
    rows = 6
    keys = key_tensor(3, torch.arange(rows))
    logits = torch.randn(rows, K, dtype=DT, generator=torch.Generator().manual_seed(0))
    w = torch.randn(rows, K, dtype=DT)

    def run(keep):
        theta = logits[keep].clone().requires_grad_()
        x = est.sample(theta, 8, KeyedNoise(keys).select(keep) if keep is not None else KeyedNoise(keys))
        if name != "reinforce":
            ((x * w[keep]) ** 2).sum().backward()
        return x.detach(), theta.grad

    x_all, g_all = run(torch.ones(rows, dtype=torch.bool))
    x_again, g_again = run(torch.ones(rows, dtype=torch.bool))
    assert torch.equal(x_all, x_again)
    keep = torch.tensor([False, True, False, True, True, False])
    x_sub, g_sub = run(keep)
    assert torch.equal(x_sub, x_all[:, keep])
    if name != "reinforce":
        assert torch.equal(g_all, g_again)
        assert torch.allclose(g_sub, g_all[keep], atol=1e-12)


# ---------------------------------------------------------------------------------- 6. ReDGE-Max under reuse
def _train(steps: int, seed: int) -> list[torch.Tensor]:
    est, f = make_estimator("redge-max"), quadratic(3)
    theta = make_logits(3).requires_grad_()
    opt = torch.optim.SGD([theta], lr=0.1)
    gen = torch.Generator().manual_seed(seed)
    grads = []
    for _ in range(steps):
        opt.zero_grad()
        est.surrogate(f, theta, 8, gen).loss.backward()
        grads.append(theta.grad.clone())
        opt.step()
    return grads


def test_redge_max_repeated_optimiser_steps_are_reproducible():
    a, b = _train(6, seed=0), _train(6, seed=0)
    for ga, gb in zip(a, b, strict=True):
        assert torch.equal(ga, gb)
    assert not torch.equal(a[0], a[1])  # different draws each step


def test_redge_max_two_backwards_add_without_double_counting():
    est, f = make_estimator("redge-max"), quadratic(3)

    def grad_of(seeds):
        theta = make_logits(3).requires_grad_()
        for s in seeds:
            f(est.sample(theta, 4, torch.Generator().manual_seed(s))).sum().backward()
        return theta.grad.clone()

    g1, g2, both = grad_of([1]), grad_of([2]), grad_of([1, 2])
    assert torch.allclose(both, g1 + g2, atol=1e-12)
    assert not torch.allclose(g1, g2)


# ------------------------------------------------------------------------------------- 7. parameter validation
@pytest.mark.parametrize("name,params,message", [
    ("gumbel", dict(tau=0.0), "tau must be a finite number > 0, got 0.0"),
    ("gumbel", dict(tau=-1.0), "tau must be a finite number > 0, got -1.0"),
    ("reinmax", dict(tau=float("inf")), "tau must be a finite number > 0, got inf"),
    ("redge", dict(n_steps=0), "n_steps must be an integer >= 1, got 0"),
    ("redge-max", dict(n_steps=2.5), "n_steps must be an integer >= 1, got 2.5"),
    ("redge-cov", dict(n_steps=-3), "n_steps must be an integer >= 1, got -3"),
    ("redge", dict(t_1=0.0), "t_1 must lie in (0, 1], got 0.0"),
    ("redge-max", dict(t_1=1.5), "t_1 must lie in (0, 1], got 1.5"),
    ("redge", dict(n_steps="abc"), "redge.n_steps must be an integer, got 'abc'"),  # text, as from a CLI
    ("redge", dict(n_steps="2.5"), "redge.n_steps must be an integer, got '2.5'"),
    ("redge", dict(t_1="x"), "redge.t_1 must be a number, got 'x'"),
    ("redge", dict(tau=1.0), "estimator 'redge' has no parameter 'tau' (its parameters: n_steps, t_1)"),
    ("reinforce", dict(n_steps=3), "estimator 'reinforce' has no parameter 'n_steps' (its parameters: none)"),
    ("st", dict(n_steps=3), "estimator 'st' has no parameter 'n_steps' (its parameters: temperature)"),
    ("st", dict(temperature=0.0), "temperature must be a finite number > 0, got 0.0"),
])
def test_parameter_errors_name_the_parameter_and_its_domain(name, params, message):
    # the one place the estimators' parameter checks are tested (the commands and SolverConfig hand them on)
    with pytest.raises(ValueError) as info:
        make_estimator(name, **params)
    assert str(info.value) == message


def test_string_parameters_are_coerced():
    assert make_estimator("redge", n_steps="7", t_1="0.25").params() == {"n_steps": 7, "t_1": 0.25}
    assert make_estimator("gumbel", tau="2").params() == {"tau": 2.0}
    assert make_estimator("redge", n_steps="5.0").params() == {"n_steps": 5, "t_1": 0.5}  # a whole number in text


def test_unknown_estimator_and_num_samples():
    with pytest.raises(ValueError) as info:
        make_estimator("nope")
    choices = "st, gumbel, reinmax, redge, redge-max, redge-cov, reinforce, exact"
    assert str(info.value) == f"unknown estimator 'nope'; choose from {choices}"
    logits = torch.zeros(2, K)
    with pytest.raises(ValueError, match="num_samples"):
        make_estimator("reinforce").surrogate(lambda x: x.sum((-1, -2)), logits, 1)
    with pytest.raises(ValueError, match="num_samples"):
        make_estimator("st").sample(logits, 0)
    with pytest.raises(ValueError) as info:  # None (the one-sample default elsewhere) is not enough for reinforce
        make_estimator("reinforce").surrogate(lambda x: x.sum((-1, -2)), logits, None)
    assert str(info.value) == "num_samples must be an integer >= 2, got None"
    for count in (True, 2.0):  # a flag or a float is not a sample count, whatever its value
        with pytest.raises(ValueError, match="num_samples must be an integer"):
            make_estimator("st").sample(logits, count)


def test_compat_samplers_accept_authors_names_and_reject_soft():
    logits = torch.randn(4, K, requires_grad=True)
    cfgs = {"gumbel": dict(tau=0.5), "reinmax": dict(tau=1.0), "redge": dict(n_steps=3, t_1=0.5),
            "redge_cov": dict(n_steps=5, t_1=0.5), "reindge": dict(n_steps=5, t_1=0.5), "st": {}}
    for key, cfg in cfgs.items():
        x = SAMPLERS[key](logits=logits, **cfg)
        assert x.shape == logits.shape and bool((x.sum(-1) == 1).all())
        (x * torch.arange(K)).sum().backward()
        with pytest.raises(ValueError) as info:
            SAMPLERS[key](logits=logits, hard=False, **cfg)
        assert str(info.value) == "redge-solve implements the hard estimators only (hard=True)"
    assert logits.grad is not None and logits.grad.abs().sum() > 0
    # a generator is used (seeded draws repeat), and each sampler is named as a function of the authors' package
    wide = torch.randn(50, K)
    draws = [SAMPLERS["redge-max"](logits=wide, generator=torch.Generator().manual_seed(6)) for _ in range(2)]
    assert torch.equal(*draws)
    assert SAMPLERS["redge-cov"].__name__ == SAMPLERS["redge_cov"].__name__ == "redge_cov"
    assert SAMPLERS["reindge"].__name__ == "reindge" and SAMPLERS["st"].__name__ == "st"
    with pytest.raises(ValueError, match="tau must be a finite number > 0, got 0.0"):  # the config is passed on
        SAMPLERS["gumbel"](logits=wide, tau=0.0)


# ---------------------------------------------------------------------------------------------- 8. registry
def test_registry_defaults_are_the_authors():
    assert set(GENERAL_ESTIMATORS) == {"st", "gumbel", "reinmax", "redge", "redge-max", "redge-cov", "reinforce"}
    assert set(ESTIMATORS) == {*GENERAL_ESTIMATORS, "exact"}
    assert parameter_defaults("redge") == {"n_steps": 3, "t_1": 0.5}
    assert parameter_defaults("redge-max") == {"n_steps": 5, "t_1": 0.5}
    assert parameter_defaults("redge-cov") == {"n_steps": 5, "t_1": 0.5}
    assert parameter_defaults("gumbel") == {"tau": 0.5}
    assert parameter_defaults("reinmax") == {"tau": 1.0}
    assert parameter_defaults("st") == {"temperature": 1.0} and parameter_defaults("reinforce") == {}
    for name in ESTIMATORS:
        assert make_estimator(name).params() == parameter_defaults(name)
    for alias, target in [("redge_cov", "redge-cov"), ("reindge", "redge-max"), ("REDGE", "redge")]:
        assert canonical_name(alias) == target


# ------------------------------------------------------------------------------------ 9. one-hot of the argmax
@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 2.0, float("nan"), float("inf"), float("-inf")]),
                         min_size=1, max_size=5),
                min_size=1, max_size=6).filter(lambda rows: len({len(r) for r in rows}) == 1))
def test_one_hot_argmax_is_one_hot_of_the_first_maximum(rows):
    # the fast path compares with the row max; ties and NaN rows must give exactly what argmax gives
    from redge_solve.estimators._categorical import one_hot_argmax

    x = torch.tensor(rows)  # e.g. a NaN row (no mark) beside a tied row (two marks): found by this test
    expected = F.one_hot(x.argmax(-1), x.shape[-1]).to(x.dtype)
    for fast_from in (_categorical.FIRST_MAX_FROM, 1):  # as it is, and with the CPU fast path taken at any size
        with mock.patch.object(_categorical, "FIRST_MAX_FROM", fast_from):
            assert torch.equal(one_hot_argmax(x), expected)
            assert torch.equal(one_hot_argmax(x.unsqueeze(0)), expected.unsqueeze(0))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from([-2.5, -0.0, 0.0, 1e-30, 3.0, 1e38, float("inf"), float("nan")]), min_size=1,
                max_size=12), st.integers(1, 10), st.sampled_from([torch.float32, torch.float64]))
def test_a_column_spread_along_rows_is_the_column_repeated(values, width, dtype):
    # the sampler's thresholds and the mode's maxima are compared with contiguous copies made by an outer product
    column = torch.tensor(values, dtype=dtype).view(-1, 1)
    spread = _softmax.spread_along_rows(column, width)
    assert spread.is_contiguous() and spread.shape == (len(values), width)
    assert torch.equal(spread.nan_to_num(7.0), column.expand(-1, width).nan_to_num(7.0))
    batched = _softmax.spread_along_rows(column.view(1, -1, 1), width)
    assert torch.equal(batched.nan_to_num(7.0), spread.view(1, -1, width).nan_to_num(7.0))


def test_the_mode_s_fast_path_on_a_large_batch_with_ties_is_argmax_s_one_hot():
    # the sizes where the solver takes the CPU fast path: rows tied at their maximum (colouring's are, often) keep
    # their first maximum, excluded values at −1e4 are never the maximum, and a NaN or infinite maximum anywhere
    # (even with as many marks in all as rows) hands the whole batch to max's first index
    from redge_solve.estimators._categorical import one_hot_argmax

    generator = torch.Generator().manual_seed(5)
    x = torch.randint(0, 4, (4000, 9), generator=generator).float()  # many ties
    x[torch.rand(4000, 9, generator=generator) < 0.4] = -1e4
    x[7] = -1e4  # a row of one value only
    assert x.numel() >= _categorical.FIRST_MAX_FROM
    unique = torch.randn(4000, 9, generator=generator)
    for case in (x, unique, torch.where(torch.rand(4000, 1, generator=generator) < 0.5, x, unique)):
        assert _categorical._first_max_one_hot(case) is not None
        assert torch.equal(one_hot_argmax(case), F.one_hot(case.argmax(-1), 9).float())
    for value in (float("nan"), float("inf"), float("-inf")):
        odd = unique.clone()
        odd[11] = value  # a whole row: NaN (no mark), or every entry tied at ±inf
        odd[12, :2] = odd[12].max() + 1  # a tied row: with the NaN row, as many marks as rows
        assert _categorical._first_max_one_hot(odd) is None
        assert torch.equal(one_hot_argmax(odd), F.one_hot(odd.argmax(-1), 9).float())


# -------------------------------------------------------------------------------------------- 10. fast softmax
@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.sampled_from([-200.0, -75.0, -30.0, -1.0, 0.0, 0.3, 5.0, 40.0, 70.0, 90.0, float("inf"),
                                          float("-inf"), float("nan")]), min_size=1, max_size=9),
                min_size=1, max_size=5).filter(lambda rows: len({len(r) for r in rows}) == 1),
       st.sampled_from([torch.float32, torch.float64]))
@example(rows=[[-200.0, 70.0], [-30.0, 5.0]], dtype=torch.float32)  # an entry subnormal after the shift (found once)
def test_fast_softmax_equals_torch_softmax_in_value_and_gradient(rows, dtype):
    # exp / row sum without the max shift where every row sum is in range, torch's softmax elsewhere (overflow,
    # underflow of a whole row, inf, NaN): the same values up to rounding either way, and up to the documented
    # absolute error where an entry's exp is subnormal: a subnormal's spacing over the smallest row sum allowed,
    # 2⁻¹⁴⁹ / 1e-30 ≈ 1.4e-15 in float32 (e.g. exp(−100) / exp(−65) comes out 6.41e-16 instead of 6.31e-16)
    from redge_solve.estimators._softmax import SUM_RANGE, softmax

    x = torch.tensor(rows, dtype=dtype)
    expected = x.softmax(-1)
    subnormal_error = (2.0**-149 if dtype == torch.float32 else 2.0**-1074) / SUM_RANGE[0]
    assert torch.allclose(softmax(x), expected, rtol=1e-5, atol=max(subnormal_error, 1e-30), equal_nan=True)
    # gradients: against the float64 gradient, within a few rounding units of the largest |g| (an entry of
    # p ⊙ (g − p·g) can be a difference of nearly equal numbers, so a relative bound per entry would be wrong);
    # torch's own gradient is held to the same bound
    leaf, ref, exact = x.clone().requires_grad_(), x.clone().requires_grad_(), x.double().requires_grad_()
    g = torch.linspace(-1, 1, x.numel(), dtype=dtype).view_as(x)
    (softmax(leaf) * g).sum().backward()
    (ref.softmax(-1) * g).sum().backward()
    (exact.softmax(-1) * g.double()).sum().backward()
    bound = 8 * torch.finfo(dtype).eps * float(g.abs().max())
    for grad in (leaf.grad, ref.grad):
        assert torch.allclose(grad.double(), exact.grad, rtol=0, atol=bound, equal_nan=True)


def test_fast_softmax_leaves_empty_and_half_precision_tensors_to_torch():
    # an empty batch (every puzzle solved) has no row sums to range-check; in half precision the fast path's row
    # sums would round in half (off by up to 4e-3 in bfloat16), torch's kernel accumulates in float32: its values
    from redge_solve.estimators._softmax import softmax

    assert softmax(torch.empty(0, 9)).shape == (0, 9) and softmax(torch.empty(2, 0, 9)).shape == (2, 0, 9)
    x = 3 * torch.randn(4, 5, 9, generator=torch.Generator().manual_seed(44))
    for dtype in (torch.float16, torch.bfloat16):
        assert torch.equal(softmax(x.to(dtype)), x.to(dtype).softmax(-1))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_fast_exp_is_exp_bit_for_bit(dtype):
    # float32 entries below −87 skip torch's slow subnormal path: exactly 0 at or below −104, computed apart in
    # between; float64 (no such cliff there) is plain exp. Either way the same bits as x.exp(), NaN and inf kept
    from redge_solve.estimators._softmax import _exp

    x = torch.tensor([[-200.0, -104.0, -103.9, -100.0, -90.0, -87.5], [-87.0, -86.9, -1.0, 0.0, 5.0, 80.0],
                      [float("nan"), float("-inf"), float("inf"), -95.0, -3.0, 1.0]], dtype=dtype)
    torch.testing.assert_close(_exp(x), x.exp(), rtol=0, atol=0, equal_nan=True)
    assert float(_exp(x)[0, 4]) > 0  # exp(−90) is a subnormal float32, not 0
    assert _exp(torch.empty(0, 3, dtype=dtype)).shape == (0, 3)
    ordinary = 20 * torch.randn(64, 9, generator=torch.Generator().manual_seed(3), dtype=dtype).clamp(min=-86)
    assert torch.equal(_exp(ordinary), ordinary.exp())  # nothing below −87: the masked path is plain exp too


def test_fast_exp_finds_a_lone_entry_between_the_floors():
    # the float test |x + 95.5| < 8.5 for "some entry in (−104, −87)", checked on every float32 from −128 to −64
    # (outside, x + 95.5 is at least 31.5 away), and a single such entry in a tensor is computed, not zeroed
    from redge_solve.estimators._softmax import BETWEEN_HALF_WIDTH, BETWEEN_MIDDLE, _exp

    bits = torch.arange(torch.tensor(-64.0).view(torch.int32).item(), torch.tensor(-128.0).view(torch.int32).item() + 1,
                        dtype=torch.int32)
    x = bits.view(torch.float32)
    assert torch.equal((x - BETWEEN_MIDDLE).abs() < BETWEEN_HALF_WIDTH, (x < -87.0) & (x > -104.0))
    for lone in (float(torch.nextafter(torch.tensor(-87.0), torch.tensor(-200.0))), -95.5, -103.0):
        x = torch.tensor([[0.0, -1e4, -87.0], [1.0, -104.0, lone]])
        assert torch.equal(_exp(x), x.exp()) and float(_exp(x)[1, 2]) > 0


def test_fast_softmax_takes_the_fast_path_on_ordinary_logits():
    # the point of it: moderate logits do not fall back (a fallback would also be correct, but slow)
    from redge_solve.estimators import _softmax

    x = torch.randn(1000, 9, generator=torch.Generator().manual_seed(0)) * 5
    calls, exps = [], []
    original, original_exp = torch.Tensor.softmax, _softmax._exp
    try:
        torch.Tensor.softmax = lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
        _softmax._exp = lambda t: exps.append(1) or original_exp(t)
        for shift, passes in ((0.0, 1), (80.0, 2), (-40.0, 1)):  # large logits take one shift for the whole tensor
            exps.clear()
            assert torch.allclose(_softmax.softmax(x + shift), original(x + shift, -1), rtol=1e-5, atol=1e-30)
            assert len(exps) == passes, shift  # row sums in range: no shift, a single exp pass
        assert not calls
        _softmax.softmax(torch.cat([x, x[:1] - 100]))  # one row 100 below the rest: torch's per-row shift
        assert calls
    finally:
        torch.Tensor.softmax, _softmax._exp = original, original_exp


@pytest.mark.parametrize("kernel", [True, False], ids=["private-kernel", "public-formula"])
def test_softmax_vjp_is_the_softmax_backward(kernel, monkeypatch):
    # J g = p ⊙ (g − p·g): torch's private kernel when it passes the probe, else the public formula (the fallback
    # if the kernel's signature changes, forced here): both must equal autograd's softmax backward, over the last
    # axis of a 3-D tensor (so that no other axis would do)
    from redge_solve.estimators import _softmax

    if not kernel:
        monkeypatch.setattr(_softmax, "_private_kernel", lambda: None)
    gen = torch.Generator().manual_seed(41)
    x = (3 * torch.randn(2, 4, 5, generator=gen, dtype=DT)).requires_grad_()
    g = torch.randn(2, 4, 5, generator=gen, dtype=DT)
    (expected,) = torch.autograd.grad(x.softmax(-1), x, g)
    assert torch.allclose(_softmax.softmax_vjp(g, x.softmax(-1).detach()), expected, rtol=1e-12, atol=1e-14)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 4), st.integers(1, 30), st.integers(2, 12), st.integers(0, 2**31 - 1),
       st.booleans())
def test_samples_from_one_law_are_the_draws_from_the_law_expanded(samples, rows, categories, seed, keyed):
    """``sample_index(probs, num_samples=S)`` (one CDF for the S draws) gives the very indices of drawing from
    ``probs`` expanded to ``(S, *probs.shape)``, with the keyed noise and with a torch generator; and ST's samples
    and gradient, computed with one softmax for the S samples, equal the generic per-sample path's."""
    from redge_solve.estimators._categorical import sample_index
    from redge_solve.estimators._noise import KeyedNoise, key_tensor
    from redge_solve.estimators.base import Estimator

    def generator():
        if keyed:
            noise = KeyedNoise(key_tensor(seed, torch.arange(rows)))
            noise.next_step()
            return noise
        return torch.Generator().manual_seed(seed)

    logits = 2 * torch.randn(rows, categories, generator=torch.Generator().manual_seed(seed))
    probs = logits.softmax(-1)
    shared = sample_index(probs, generator(), samples)
    assert shared.shape == (samples, rows)
    assert torch.equal(shared, sample_index(probs.expand(samples, rows, categories), generator()))

    st_ = make_estimator("st")
    target = torch.randn(rows, categories, generator=torch.Generator().manual_seed(seed + 1))
    results = []
    for sample in (st_.sample, lambda *a: Estimator.sample(st_, *a)):  # ST's own, and the base's expand-then-sample
        theta = logits.clone().requires_grad_(True)
        x = sample(theta, samples, generator())
        (grad,) = torch.autograd.grad((x * target).sum(), theta)
        results.append((x.detach(), grad))
    assert torch.equal(results[0][0], results[1][0])
    torch.testing.assert_close(results[0][1], results[1][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("samples", [1, 2, 3])
def test_straight_through_hands_a_shared_law_the_sum_of_the_samples_gradients(samples):
    """A ``soft`` shared by S samples gets Σ_s of their gradients (for two, one add), equal to torch's sum over the
    sample axis (zeros compare equal whatever their sign); a ``soft`` of the samples' own shape gets the gradient
    unchanged."""
    from redge_solve.estimators._categorical import straight_through

    gen = torch.Generator().manual_seed(samples)
    grad = torch.randn(samples, 6, 4, generator=gen)
    grad[:, :2] = -0.0  # signed zeros, as a penalty's backward makes them
    sample = torch.zeros(samples, 6, 4)
    soft = torch.rand(6, 4, generator=gen).requires_grad_(True)
    (shared,) = torch.autograd.grad(straight_through(sample, soft), soft, grad)
    assert torch.equal(shared, grad.sum(0))
    own = soft.detach().expand(samples, 6, 4).clone().requires_grad_(True)
    (unchanged,) = torch.autograd.grad(straight_through(sample, own), own, grad)
    assert torch.equal(unchanged, grad)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from([None, 1, 3]), st.integers(1, 30), st.integers(1, 12), st.integers(0, 2**31 - 1),
       st.floats(0.0, 0.9))
def test_one_hot_samples_are_the_sampled_indices(samples, rows, categories, seed, excluded):
    """``sample_one_hot`` (the first difference of the CDF comparison) is the one-hot of ``sample_index`` (the count
    of CDF entries below the threshold) for the same uniforms, also on rows with values of probability exactly 0
    (a Sudoku cell's excluded digits) and unnormalised rows; every draw has exactly one 1, on a value of positive
    probability."""
    from redge_solve.estimators._categorical import one_hot_like, sample_index, sample_one_hot

    gen = torch.Generator().manual_seed(seed)
    probs = torch.rand(rows, categories, generator=gen, dtype=DT) * 3
    probs[torch.rand(rows, categories, generator=gen) < excluded] = 0.0
    probs[:, torch.randint(categories, (1,), generator=gen)] += 0.1  # every row keeps a value it may take
    one_hot = sample_one_hot(probs, torch.Generator().manual_seed(seed), samples)
    index = sample_index(probs, torch.Generator().manual_seed(seed), samples)
    assert torch.equal(one_hot, one_hot_like(index, probs if samples is None else probs.expand(samples, -1, -1)))
    assert torch.equal(one_hot.sum(-1), torch.ones_like(one_hot[..., 0]))
    assert bool((probs.expand_as(one_hot)[one_hot.bool()] > 0).all())
