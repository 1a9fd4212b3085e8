"""The closed-form categorical denoiser and the deterministic DDIM sampler shared by the ReDGE family.

Linear interpolant ``x_t = α_t X_0 + σ_t Z`` with ``α_t = 1 − t, σ_t = t``. For one-hot ``X_0 ~ Cat(softmax θ)`` and
``Z ~ N(0, I)`` the posterior mean of ``X_0`` given ``x_t`` is, row-wise,

    D_t(x) = softmax(θ + α_t x / σ_t²).

DDIM (deterministic) from ``t`` to ``s < t``:  ``x_s = α_s D + σ_s (x_t − α_t D) / σ_t`` with ``D = D_t(x_t)``.

Schedule as in the authors' package: ``α = [1, linspace(1 − t_1, 1e-4, n_steps − 1)]``, ``σ = 1 − α``; the chain
starts at the largest time and makes ``n_steps − 1`` denoiser calls, the last one at ``t_1``. ``n_steps = 1``
(which their code does not accept) is the one-step chain from ``t = 1``: a single call ``D_1 = softmax(θ)``,
so ReDGE reduces to straight-through and ReDGE-Max to ReinMax exactly.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

Denoiser = Callable[[Tensor, float, float], Tensor]
"""(x_t, α_t, σ_t) -> posterior probabilities D_t(x_t)."""


def schedule(n_steps: int, t_1: float) -> tuple[list[float], list[float]]:
    """``(alphas, sigmas)`` of the times visited after the start: index 0 is t = 0, the last index the start."""
    if n_steps == 1:
        return [1.0, 0.0], [0.0, 1.0]
    alphas = [1.0] + torch.linspace(1.0 - t_1, 1e-4, n_steps - 1, dtype=torch.float64).tolist()
    return alphas, [1.0 - a for a in alphas]


def ddim_to_last(x: Tensor, denoise: Denoiser, n_steps: int, t_1: float) -> tuple[Tensor, float, float]:
    """Run DDIM from ``x`` (the start) down to the last time; returns ``(x_{t_1}, α_{t_1}, σ_{t_1})``.

    The final denoiser call ``D_{t_1}(x_{t_1})`` is left to the caller, which also draws the hard sample there.
    """
    alphas, sigmas = schedule(n_steps, t_1)
    for t in range(len(alphas) - 1, 1, -1):
        a_t, s_t, a_s, s_s = alphas[t], sigmas[t], alphas[t - 1], sigmas[t - 1]
        d = denoise(x, a_t, s_t)
        # x_s = α_s D + σ_s (x_t − α_t D) / σ_t, collected as (σ_s/σ_t) x_t + (α_s − σ_s α_t / σ_t) D: two passes
        x = torch.add(x * (s_s / s_t), d, alpha=a_s - s_s * a_t / s_t)
    return x, alphas[1], sigmas[1]


def standard_denoiser(logits: Tensor) -> Denoiser:
    """``D_t(x) = softmax(θ + α_t x / σ_t²)`` for the standard Gaussian base law."""

    def denoise(x: Tensor, alpha: float, sigma: float) -> Tensor:
        return denoiser_logits(logits, x, alpha, sigma).softmax(-1)

    return denoise


def denoiser_logits(logits: Tensor, x: Tensor, alpha: float, sigma: float) -> Tensor:
    """The logits of ``D_t(x)`` for the standard Gaussian base law: ``θ + α x / σ²`` (just θ at t = 1)."""
    if alpha == 0.0:
        return logits.expand_as(x) if x.dim() >= logits.dim() else logits
    return torch.add(logits, x, alpha=alpha / sigma**2)  # one pass
