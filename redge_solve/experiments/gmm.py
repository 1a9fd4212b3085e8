"""Variational inference for a Gaussian mixture (the paper's section 4.2, after Liu et al. 2019).

Generative model (D dimensions, K components, N observations):

    z_n ~ Cat(1/K),     μ_k ~ N(0, σ² I_D),     y_n | z, μ ~ N(μ_{z_n}, σ_y² I_D)        (D=2, K=20, σ=15, σ_y=2, N=500)

Variational family: a point mass at μ̂ ``(K, D)`` for the means (a MAP estimate) and the mean-field categorical
q_θ(z) = Π_n Cat(z_n; softmax(θ_n)) over the assignments, θ: ``(N, K)``. The objective minimised over (θ, μ̂) is
the negative ELBO of the assignments plus the negative log prior of the means:

    NELBO(θ, μ̂) = E_{z~q}[ −log p(y | z, μ̂) − log p(z) ] − H(q) − log p(μ̂)

with, for one-hot z_n,

    −log p(y | z, μ̂) = Σ_n ||y_n − z_nᵀ μ̂||² / (2σ_y²) + (N D / 2) log(2π σ_y²)        (the sampled term)
    −log p(z) = N log K,     H(q) = −Σ_n Σ_k q_nk log q_nk,
    −log p(μ̂) = Σ_k ||μ̂_k||² / (2σ²) + (K D / 2) log(2π σ²)                              (exact terms)

Only the first term is estimated, by the estimator under test (its f is quadratic in the relaxed z, so the
estimators differ; the gradient for μ̂ flows through the same samples). The rest is exact. For evaluation the
expectation is exact too: E_q ||y_n − z_nᵀ μ̂||² = Σ_k q_nk ||y_n − μ̂_k||². Curves: ``nelbo`` (exact, per step) and
``loss`` (the sampled objective the optimiser sees). Finals: ``nelbo`` averaged over the last 100 steps (the paper's
Table 1 statistic) and ``accuracy``, the share of points whose argmax assignment matches the true cluster after the
best one-to-one relabelling of the clusters (Hungarian algorithm).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..compare import EstimatorSpec
from .runner import ExperimentConfig, OnStep, RunResult, estimator

PAPER_PARAMS: dict[str, dict[str, float]] = {}
"""The GMM experiment uses every estimator's package defaults."""


@dataclass(frozen=True)
class GMMConfig(ExperimentConfig):
    dim: int = 2
    components: int = 20
    sigma: float = 15.0
    sigma_y: float = 2.0
    observations: int = 500
    samples: int = 1
    lr: float = 0.01
    steps: int = 3000
    data_seed: int = 0
    log_every: int = 1

    counts = ("dim", "components", "observations", "samples", "steps", "log_every")
    positive = ("sigma", "sigma_y", "lr")
    categorical = "components"


@dataclass(frozen=True)
class GMMData:
    y: Tensor  # (N, D) observations
    z: Tensor  # (N,) true cluster of each observation
    mu: Tensor  # (K, D) true means


def sample_gmm(config: GMMConfig) -> GMMData:
    """Draw (z, μ, y) from the generative model with ``config.data_seed`` (the same data for every run)."""
    g = torch.Generator().manual_seed(config.data_seed)
    n, k, d = config.observations, config.components, config.dim
    z = torch.randint(k, (n,), generator=g)
    mu = config.sigma * torch.randn(k, d, generator=g)
    y = mu[z] + config.sigma_y * torch.randn(n, d, generator=g)
    return GMMData(y, z, mu)


def likelihood_term(z: Tensor, means: Tensor, y: Tensor, sigma_y: float) -> Tensor:
    """−log p(y | z, μ̂) = Σ_n ||y_n − z_nᵀ μ̂||²/(2σ_y²) + (N D/2) log(2πσ_y²), z ``(..., N, K)`` -> ``(...)``."""
    n, d = y.shape
    resid = y - z @ means
    return resid.pow(2).sum((-1, -2)) / (2 * sigma_y**2) + 0.5 * n * d * math.log(2 * math.pi * sigma_y**2)


def exact_terms(logits: Tensor, means: Tensor, sigma: float) -> Tensor:
    """−log p(z) − H(q) − log p(μ̂): N log K + Σ q log q + Σ_k ||μ̂_k||²/(2σ²) + (K D/2) log(2πσ²)."""
    n, k = logits.shape
    log_q = logits.log_softmax(-1)
    neg_entropy = (log_q.exp() * log_q).sum()
    d = means.shape[-1]
    neg_log_prior = means.pow(2).sum() / (2 * sigma**2) + 0.5 * k * d * math.log(2 * math.pi * sigma**2)
    return n * math.log(k) + neg_entropy + neg_log_prior


def nelbo(logits: Tensor, means: Tensor, y: Tensor, sigma: float, sigma_y: float) -> Tensor:
    """The exact objective: E_q[−log p(y|z,μ̂)] (via Σ_k q_nk ||y_n − μ̂_k||²) plus ``exact_terms``."""
    n, d = y.shape
    sq = (y[:, None, :] - means[None, :, :]).pow(2).sum(-1)  # (N, K)
    expected = (logits.softmax(-1) * sq).sum() / (2 * sigma_y**2) + 0.5 * n * d * math.log(2 * math.pi * sigma_y**2)
    return expected + exact_terms(logits, means, sigma)


def assignment(cost: Tensor) -> list[int]:
    """Hungarian algorithm: ``perm`` minimising Σ_i cost[i, perm[i]] for a square ``cost`` ``(K, K)``, O(K³)."""
    k = cost.shape[0]
    a = cost.tolist()
    inf = float("inf")
    u, v, p, way = [0.0] * (k + 1), [0.0] * (k + 1), [0] * (k + 1), [0] * (k + 1)
    for i in range(1, k + 1):
        p[0], j0 = i, 0
        minv, used = [inf] * (k + 1), [False] * (k + 1)
        while True:
            used[j0] = True
            i0, delta, j1 = p[j0], inf, 0
            for j in range(1, k + 1):
                if not used[j]:
                    cur = a[i0 - 1][j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j], way[j] = cur, j0
                    if minv[j] < delta:
                        delta, j1 = minv[j], j
            for j in range(k + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    perm = [0] * k
    for j in range(1, k + 1):
        perm[p[j] - 1] = j - 1
    return perm


def clustering_accuracy(predicted: Tensor, true: Tensor, k: int) -> float:
    """max over relabellings π of mean_n [π(predicted_n) = true_n] (one-to-one; Hungarian on the confusion)."""
    confusion = torch.zeros(k, k)
    confusion.index_put_((predicted.cpu(), true.cpu()), torch.ones(len(true)), accumulate=True)
    perm = assignment(-confusion)
    return float(sum(confusion[i, perm[i]] for i in range(k)) / len(true))


def run_gmm(spec: EstimatorSpec, seed: int, config: GMMConfig, data: GMMData | None = None,
            on_step: OnStep | None = None, device: torch.device | str = "cpu") -> RunResult:
    """One optimisation run on ``device`` from a random start (θ ~ N(0, 1), μ̂ ~ N(0, σ² I)); every draw (data,
    start, noise) is made on the CPU and moved, so a seed gives the same draws everywhere; see the module
    docstring."""
    data = data if data is not None else sample_gmm(config)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    est = estimator(spec)
    y = data.y.to(device)
    logits = torch.randn(config.observations, config.components, generator=generator).to(device).requires_grad_()
    means = (config.sigma * torch.randn(config.components, config.dim, generator=generator)).to(device)
    means.requires_grad_()
    optimiser = torch.optim.Adam([logits, means], lr=config.lr)
    f = lambda z: likelihood_term(z, means, y, config.sigma_y)
    curve: list[tuple[int, float]] = []
    losses: list[tuple[int, float]] = []
    for step in range(1, config.steps + 1):
        optimiser.zero_grad(set_to_none=True)
        out = est.surrogate(f, logits, config.samples, generator)
        loss = out.loss + exact_terms(logits, means, config.sigma)
        loss.backward()
        optimiser.step()
        value = loss.item()
        if step % config.log_every == 0 or step == config.steps:
            with torch.no_grad():
                curve.append((step, float(nelbo(logits, means, y, config.sigma, config.sigma_y))))
            losses.append((step, value))
        if on_step is not None:
            on_step(step, config.steps, value)
    tail = [v for s, v in curve if s > config.steps - 100]
    accuracy = clustering_accuracy(logits.detach().argmax(-1), data.z, config.components)
    return RunResult(curves={"nelbo": curve, "loss": losses},
                     final={"nelbo": sum(tail) / len(tail), "accuracy": accuracy})
