"""Polynomial programming (the paper's section 4.1; settings of Liu et al. 2023, ReinMax).

L categorical variables with K categories (values 0..K−1), mean-field law π_θ with ``p = softmax(θ)`` per row,
θ: ``(L, K)`` initialised at zero. The objective, for a one-hot sample X ``(L, K)`` and its values x_l = Σ_k k X_lk:

    f(X) = (1/L) Σ_l |x_l − t|^p          (t = 0.45 target, p ∈ {1.5, 2, 3})

and since f is separable its expectation is exact and cheap:

    E_{X~π_θ}[f(X)] = (1/L) Σ_l Σ_k p_lk |k − t|^p,     minimum min_k |k − t|^p = t^p (all mass on 0, for t < ½).

Each step draws S samples (the paper's "batch 256") with the estimator, takes the gradient of their mean f, and
applies Adam (lr 0.05). Curves: ``loss`` (that sample mean, what the optimiser sees) and ``gap`` (the exact
E[f] above minus its minimum). Finals: ``expected`` (E[f]) and ``gap`` (E[f] − optimum) at the last step, and
``loss_last100``, the logged sample loss averaged over the last 100 steps (the authors' summary).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from ..compare import EstimatorSpec
from .runner import ExperimentConfig, OnStep, RunResult, estimator

PAPER_PARAMS: dict[str, dict[str, float]] = {
    "redge": {"t_1": 0.1}, "redge-max": {"t_1": 0.8}, "redge-cov": {"t_1": 0.2}, "gumbel": {"tau": 0.02},
}
"""Estimator parameters the authors' polynomial-programming script sweeps to (others: package defaults)."""
POWERS = (1.5, 2.0, 3.0)


@dataclass(frozen=True)
class PolyConfig(ExperimentConfig):
    length: int = 128
    categories: int = 2
    target: float = 0.45
    samples: int = 256
    lr: float = 0.05
    steps: int = 1000
    log_every: int = 1

    counts = ("length", "samples", "steps", "log_every")
    positive = ("lr",)


def poly_objective(samples: Tensor, target: float, power: float) -> Tensor:
    """f(X) = (1/L) Σ_l |Σ_k k X_lk − t|^p for one-hot ``samples`` ``(..., L, K)`` -> ``(...)``."""
    values = samples @ torch.arange(samples.shape[-1], dtype=samples.dtype, device=samples.device)
    return (values - target).abs().pow(power).mean(-1)


def expected_loss(logits: Tensor, target: float, power: float) -> Tensor:
    """E_{X~π_θ}[f(X)] = (1/L) Σ_l Σ_k p_lk |k − t|^p, exactly, for logits ``(..., L, K)`` -> ``(...)``."""
    costs = (torch.arange(logits.shape[-1], dtype=logits.dtype, device=logits.device) - target).abs().pow(power)
    return (logits.softmax(-1) @ costs).mean(-1)


def optimum(categories: int, target: float, power: float) -> float:
    """min_θ E[f] = min_k |k − t|^p (a point mass on the category nearest the target)."""
    return min(abs(k - target) ** power for k in range(categories))


def run_poly(power: float, spec: EstimatorSpec, seed: int, config: PolyConfig,
             on_step: OnStep | None = None, device: torch.device | str = "cpu") -> RunResult:
    """One optimisation run on ``device`` (the noise is drawn on the CPU, so a seed gives the same stream
    everywhere); see the module docstring."""
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    est = estimator(spec)
    logits = torch.zeros(config.length, config.categories, device=device, requires_grad=True)
    optimiser = torch.optim.Adam([logits], lr=config.lr)
    f = lambda x: poly_objective(x, config.target, power)
    losses: list[tuple[int, float]] = []
    gaps: list[tuple[int, float]] = []
    best = optimum(config.categories, config.target, power)
    for step in range(1, config.steps + 1):
        optimiser.zero_grad(set_to_none=True)
        out = est.surrogate(f, logits, config.samples, generator)
        out.loss.backward()
        optimiser.step()
        loss = float(out.values.mean())
        if step % config.log_every == 0 or step == config.steps:
            with torch.no_grad():
                gaps.append((step, float(expected_loss(logits, config.target, power)) - best))
            losses.append((step, loss))
        if on_step is not None:
            on_step(step, config.steps, loss)
    tail = [v for s, v in losses if s > config.steps - 100]
    return RunResult(curves={"gap": gaps, "loss": losses},
                     final={"expected": gaps[-1][1] + best, "gap": gaps[-1][1], "loss_last100": sum(tail) / len(tail)})
