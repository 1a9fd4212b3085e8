"""ReDGE-Cov: ReDGE started from a parameter-dependent Gaussian fitted to Cat(p) by moment matching.

    p = softmax(θ),  v = max(p (1 − p), 0.1),   x_1 = p + √v ⊙ Z   (differentiable in θ)
    D_t(x) = softmax(θ + (α_t x − α_t σ_t p − α_t²/2) / (v σ_t²))
    same DDIM chain and hard last step as ReDGE:  X ~ Cat(D_{t_1}),  X = onehot + D − sg(D)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ._categorical import sample_one_hot, straight_through
from ._diffusion import ddim_to_last
from ._noise import Generator, normal
from .base import Estimator, check_diffusion

MIN_VARIANCE = 0.1


@dataclass(frozen=True)
class ReDGECov(Estimator):
    n_steps: int = 5
    t_1: float = 0.5

    name: ClassVar[str] = "redge-cov"
    summary: ClassVar[str] = "ReDGE-Cov: ReDGE from N(p, p(1−p)) instead of N(0, I)"

    def __post_init__(self) -> None:
        check_diffusion(self.n_steps, self.t_1)

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        probs = logits.softmax(-1)
        variance = (probs * (1 - probs)).clamp(min=MIN_VARIANCE)
        precision = variance.reciprocal()

        def posterior_logits(x: Tensor, alpha: float, sigma: float) -> Tensor:
            # θ + (α x − α σ p − α²/2) / (v σ²) = θ + (α / σ²) (x − σ p − α/2) / v, in four passes
            centred = torch.add(x, probs, alpha=-sigma).sub_(alpha / 2)
            return torch.add(logits, centred * precision, alpha=alpha / sigma**2)

        start = probs + variance.sqrt() * normal(logits, generator)
        denoise = lambda x, alpha, sigma: posterior_logits(x, alpha, sigma).softmax(-1)  # noqa: E731
        x, alpha, sigma = ddim_to_last(start, denoise, self.n_steps, self.t_1)
        last = posterior_logits(x, alpha, sigma).softmax(-1)
        return straight_through(sample_one_hot(last, generator), last)
