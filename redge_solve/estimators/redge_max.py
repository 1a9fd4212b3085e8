"""ReDGE-Max: ReDGE whose last, categorical step uses ReinMax instead of straight-through.

With x = x_{t_1} from the DDIM chain (as in ReDGE) and D = softmax(θ + α x / σ²), X ~ Cat(D):

    ∂/∂θ ≈ ½ [Σ_D g + ((X − D)·g)(X − D)]        (ReinMax through θ, x held fixed)
         + (∂x/∂θ)ᵀ J_x D(x)ᵀ g                  (straight-through through x, θ held fixed in the last call)

Built from a custom ``torch.autograd.Function`` (no hooks on the logits), so it is safe under repeated calls.
With one step from t = 1 (``n_steps=1``) x carries no θ and this is exactly ReinMax (τ = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ._categorical import one_hot_like, reinmax_one_hot, sample_index, straight_through
from ._diffusion import DiffusionEstimator, denoiser_logits, standard_chain
from ._noise import Generator, normal
from ._softmax import softmax


@dataclass(frozen=True)
class ReDGEMax(DiffusionEstimator):
    n_steps: int = 5
    t_1: float = 0.5

    name: ClassVar[str] = "redge-max"
    summary: ClassVar[str] = "ReDGE-Max: ReinMax at the end of the ReDGE chain"

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        noise = normal(logits, generator)
        x, alpha, sigma = standard_chain(logits, noise, self.n_steps, self.t_1)
        through_theta = denoiser_logits(logits, x.detach(), alpha, sigma)
        through_x = softmax(denoiser_logits(logits.detach(), x, alpha, sigma))  # = softmax(through_theta)
        index = sample_index(through_x, generator)
        sample = reinmax_one_hot(through_theta, one_hot_like(index, through_x), 1.0, through_x, index)
        return straight_through(sample, through_x)  # the ReinMax gradient into θ, ST's into x
