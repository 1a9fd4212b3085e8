"""ReDGE, hard variant: straight-through at the end of a differentiable DDIM chain (see ``_diffusion``).

    x_1 = Z ~ N(0, I);   x_s = α_s D_t(x_t) + σ_s (x_t − α_t D_t(x_t)) / σ_t   down to t_1
    D = D_{t_1}(x_{t_1}) = softmax(θ + α_{t_1} x_{t_1} / σ_{t_1}²);   X ~ Cat(D);   X = onehot + D − sg(D)

Gradients flow through every denoiser call (the chain is reparameterised by Z). With one step from t = 1
(``n_steps=1``, or ``n_steps=2, t_1=1``) D = softmax(θ) and this is exactly hard straight-through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ._categorical import sample_one_hot, straight_through
from ._diffusion import DiffusionEstimator, denoiser_logits, standard_chain
from ._noise import Generator, normal
from ._softmax import softmax


@dataclass(frozen=True)
class ReDGE(DiffusionEstimator):
    n_steps: int = 3
    t_1: float = 0.5

    name: ClassVar[str] = "redge"
    summary: ClassVar[str] = "ReDGE: ST at the end of a closed-form-denoiser DDIM chain"

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        noise = normal(logits, generator)
        x, alpha, sigma = standard_chain(logits, noise, self.n_steps, self.t_1)
        probs = softmax(denoiser_logits(logits, x, alpha, sigma))
        return straight_through(sample_one_hot(probs, generator), probs)
