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

from ._softmax import softmax, softmax_vjp
from .base import Estimator, check_diffusion

Denoiser = Callable[[Tensor, float, float], Tensor]
"""(x_t, α_t, σ_t) -> posterior probabilities D_t(x_t)."""


def schedule(n_steps: int, t_1: float) -> tuple[list[float], list[float]]:
    """``(alphas, sigmas)`` of the times visited after the start: index 0 is t = 0, the last index the start."""
    if n_steps == 1:
        return [1.0, 0.0], [0.0, 1.0]
    alphas = [1.0] + torch.linspace(1.0 - t_1, 1e-4, n_steps - 1, dtype=torch.float64).tolist()
    return alphas, [1.0 - a for a in alphas]


def ddim_calls(n_steps: int, t_1: float) -> list[tuple[float, float, float, float]]:
    """``(α_t, σ_t, c_x, c_D)`` for every denoiser call, from the start; the last one is at t_1.

    DDIM from t to the next time s: ``x_s = α_s D + σ_s (x_t − α_t D) / σ_t = c_x x_t + c_D D`` with
    ``c_x = σ_s / σ_t`` and ``c_D = α_s − σ_s α_t / σ_t`` (after the last call nobody uses them).
    """
    alphas, sigmas = schedule(n_steps, t_1)
    return [(alphas[t], sigmas[t], sigmas[t - 1] / sigmas[t], alphas[t - 1] - sigmas[t - 1] * alphas[t] / sigmas[t])
            for t in range(len(alphas) - 1, 0, -1)]


def ddim_to_last(x: Tensor, denoise: Denoiser, n_steps: int, t_1: float) -> tuple[Tensor, float, float]:
    """Run DDIM from ``x`` (the start) down to the last time; returns ``(x_{t_1}, α_{t_1}, σ_{t_1})``.

    The final denoiser call ``D_{t_1}(x_{t_1})`` is left to the caller, which also draws the hard sample there.
    """
    *chain, (alpha, sigma, _, _) = ddim_calls(n_steps, t_1)
    for a_t, s_t, c_x, c_d in chain:
        x = torch.add(x * c_x, denoise(x, a_t, s_t), alpha=c_d)  # two passes
    return x, alpha, sigma


class DiffusionEstimator(Estimator):
    """Base of the ReDGE family: a subclass declares the dataclass fields ``n_steps`` and ``t_1`` (with its own
    defaults) and runs the DDIM chain of ``ddim_calls(n_steps, t_1)``."""

    n_steps: int
    t_1: float

    def __post_init__(self) -> None:
        check_diffusion(self.n_steps, self.t_1)

    @property
    def denoiser_calls(self) -> int:
        """``len(ddim_calls(n_steps, t_1))``: n_steps − 1, and 1 for n_steps = 1."""
        return len(ddim_calls(self.n_steps, self.t_1))


def standard_chain(logits: Tensor, noise: Tensor, n_steps: int, t_1: float) -> tuple[Tensor, float, float]:
    """``ddim_to_last(noise, standard_denoiser(logits), n_steps, t_1)`` with a hand-written backward.

    Same values; the gradient is the same chain rule (checked against autograd in the tests) in fewer passes.
    Call j maps x_j to ``x_{j+1} = c_x x_j + c_D D_j`` with ``D_j = softmax(θ + a_j x_j)``, ``a = α_t / σ_t²``,
    ``c_x = σ_s / σ_t``, ``c_D = α_s − σ_s α_t / σ_t``. Given ``g = ∂L/∂x_{j+1}``, with ``J_j`` the softmax Jacobian
    at D_j (symmetric):  ``∂L/∂θ += c_D J_j g``  and  ``∂L/∂x_j = c_x g + a_j c_D J_j g``. Only the D_j are kept.
    """
    *chain, (alpha, sigma, _, _) = ddim_calls(n_steps, t_1)
    calls = [(a_t / s_t**2, c_x, c_d) for a_t, s_t, c_x, c_d in chain]  # (a, c_x, c_D) per call before the last
    x = _StandardChain.apply(logits, noise, calls) if calls else noise
    return x, alpha, sigma


class _StandardChain(torch.autograd.Function):
    """The DDIM chain of ``standard_chain``: forward in place on x, backward from the saved denoiser outputs."""

    @staticmethod
    def forward(ctx, logits: Tensor, noise: Tensor, calls: list[tuple[float, float, float]]) -> Tensor:  # type: ignore[override]
        x, outputs = noise, []
        for a, c_x, c_d in calls:
            d = softmax(torch.add(logits, x, alpha=a))
            x = (x.mul_(c_x) if outputs else x.mul(c_x)).add_(d, alpha=c_d)  # the caller's noise is not touched
            outputs.append(d)
        ctx.save_for_backward(*outputs)
        ctx.calls = calls
        return x

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        outputs, grad_logits = ctx.saved_tensors, None
        for j, ((a, c_x, c_d), d) in enumerate(zip(reversed(ctx.calls), reversed(outputs), strict=True)):
            jg = softmax_vjp(g, d).mul_(c_d)  # c_D J g,  J g = D ⊙ (g − D·g)
            g = (g.mul(c_x) if j == 0 else g.mul_(c_x)).add_(jg, alpha=a)  # autograd's incoming g is not touched
            grad_logits = jg if grad_logits is None else grad_logits.add_(jg)
        return grad_logits, None, None


def standard_denoiser(logits: Tensor) -> Denoiser:
    """``D_t(x) = softmax(θ + α_t x / σ_t²)`` for the standard Gaussian base law."""

    def denoise(x: Tensor, alpha: float, sigma: float) -> Tensor:
        return softmax(denoiser_logits(logits, x, alpha, sigma))

    return denoise


def denoiser_logits(logits: Tensor, x: Tensor, alpha: float, sigma: float) -> Tensor:
    """The logits of ``D_t(x)`` for the standard Gaussian base law: ``θ + α x / σ²`` (just θ at t = 1)."""
    if alpha == 0.0:
        return logits.expand_as(x) if x.dim() >= logits.dim() else logits
    return torch.add(logits, x, alpha=alpha / sigma**2)  # one pass
