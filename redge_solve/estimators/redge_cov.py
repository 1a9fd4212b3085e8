"""ReDGE-Cov: ReDGE started from a parameter-dependent Gaussian fitted to Cat(p) by moment matching.

    p = softmax(θ),  v = max(p (1 − p), 0.1),   x_1 = p + √v ⊙ Z   (differentiable in θ)
    D_t(x) = softmax(θ + (α_t x − α_t σ_t p − α_t²/2) / (v σ_t²))
    same DDIM chain and hard last step as ReDGE:  X ~ Cat(D_{t_1}),  X = onehot + D − sg(D)

The map θ ↦ D_{t_1} (for fixed Z) is one autograd Function, ``_CovChain``, whose backward is the chain rule written
out (``tests/test_estimators.py`` checks it against autograd through the formulas above, in float64).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ._categorical import sample_one_hot, straight_through
from ._diffusion import DiffusionEstimator, ddim_calls
from ._noise import Generator, normal
from ._softmax import softmax, softmax_vjp

MIN_VARIANCE = 0.1


@dataclass(frozen=True)
class ReDGECov(DiffusionEstimator):
    n_steps: int = 5
    t_1: float = 0.5

    name: ClassVar[str] = "redge-cov"
    summary: ClassVar[str] = "ReDGE-Cov: ReDGE from N(p, p(1−p)) instead of N(0, I)"

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        last = cov_chain(logits, normal(logits, generator), self.n_steps, self.t_1)
        return straight_through(sample_one_hot(last, generator), last)


def cov_chain(logits: Tensor, noise: Tensor, n_steps: int, t_1: float) -> Tensor:
    """``D_{t_1}``: the last denoiser output of the ReDGE-Cov chain started at ``p + √v ⊙ noise``.

    Denoiser call j (from the start, the last one at t_1) at (α, σ), with ``r = 1/v``, ``b = α/σ²``:
    ``c_j = x_j − σ p − α/2``,  ``D_j = softmax(θ + b c_j ⊙ r)``, then (but after the last) the DDIM update
    ``x_{j+1} = (σ_s/σ_t) x_j + (α_s − σ_s α_t/σ_t) D_j``.
    """
    return _CovChain.apply(logits, noise, ddim_calls(n_steps, t_1))  # the last call has no update


class _CovChain(torch.autograd.Function):
    """θ ↦ D_{t_1} of ``cov_chain``. Backward, from g = ∂L/∂D_{t_1}, with ``J_j g = D_j ⊙ (g − D_j·g)``:

        per call, last first:  h = J_j g_D;  ∂θ += h;  ∂x_j = c_x ∂x_{j+1} + b r ⊙ h;  ∂p −= σ b r ⊙ h;  ∂r += b c_j ⊙ h
        (g_D = g for the last call, c_D ∂x_{j+1} before it); then through the start and the moments:
        ∂p += ∂x_1;  ∂v = ∂x_1 ⊙ Z / (2√v) − ∂r ⊙ r²;  ∂p += ∂v ⊙ (1 − 2p) where p(1 − p) ≥ 0.1;  ∂θ += J_p ∂p
    """

    @staticmethod
    def forward(ctx, logits: Tensor, noise: Tensor, calls: list[tuple[float, float, float, float]]) -> Tensor:  # type: ignore[override]
        probs = softmax(logits)
        moment = probs * (1 - probs)
        variance = moment.clamp(min=MIN_VARIANCE)
        root = variance.sqrt()
        precision = variance.reciprocal()
        x = torch.addcmul(probs, root, noise)
        centred, outputs = [], []
        for j, (alpha, sigma, c_x, c_d) in enumerate(calls):
            c = torch.add(x, probs, alpha=-sigma).sub_(alpha / 2)
            d = softmax(torch.addcmul(logits, c, precision, value=alpha / sigma**2))
            centred.append(c)
            outputs.append(d)
            if j < len(calls) - 1:
                x = x.mul_(c_x).add_(d, alpha=c_d)  # x is this function's own tensor
        ctx.save_for_backward(probs, moment, root, precision, noise, *centred, *outputs)
        ctx.calls = calls
        return outputs[-1]

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        probs, moment, root, precision, noise, *saved = ctx.saved_tensors
        calls = ctx.calls
        centred, outputs = saved[: len(calls)], saved[len(calls):]
        grad_logits = grad_x = grad_probs = grad_precision = Tensor()
        for j in reversed(range(len(calls))):
            alpha, sigma, c_x, c_d = calls[j]
            b, last = alpha / sigma**2, j == len(calls) - 1
            h = softmax_vjp(g if last else grad_x.mul(c_d), outputs[j])
            scaled = h * precision  # r ⊙ h
            if last:
                grad_logits, grad_x = h, scaled.mul(b)
                grad_probs, grad_precision = scaled.mul_(-sigma * b), centred[j].mul(h).mul_(b)
            else:
                grad_logits.add_(h)
                grad_x.mul_(c_x).add_(scaled, alpha=b)
                grad_probs.add_(scaled, alpha=-sigma * b)
                grad_precision.addcmul_(centred[j], h, value=b)
        grad_probs.add_(grad_x)
        grad_variance = grad_x.mul_(noise).div_(root).mul_(0.5)  # ∂x_1 ⊙ Z / (2√v)
        grad_variance.addcmul_(grad_precision, precision.square(), value=-1.0)
        grad_probs.addcmul_(grad_variance.mul_(moment >= MIN_VARIANCE), probs.mul(-2.0).add_(1.0))
        grad_logits.add_(softmax_vjp(grad_probs, probs))
        return grad_logits, None, None
