"""ReinMax (Liu et al., 2023): a second-order (Heun) correction of straight-through.

    X ~ Cat(p),  p = softmax(θ),  π' = ½ (softmax(θ/τ) + X)
    backward:  ∂/∂θ ≈ 2 Σ_{π'} g − ½ Σ_p g        (Σ_q = diag q − q qᵀ,  g = ∇f(X))

With τ = 1 this is ½ [Σ_p g + ((X − p)·g)(X − p)], whose expectation is the exact gradient of E[f] for quadratic f.
The τ handling follows the official ``reinmax`` package.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ._categorical import one_hot_like, reinmax_one_hot, sample_index
from ._noise import Generator
from ._softmax import softmax
from .base import Estimator, check_positive


@dataclass(frozen=True)
class ReinMax(Estimator):
    tau: float = 1.0

    name: ClassVar[str] = "reinmax"
    summary: ClassVar[str] = "ReinMax: ½[Σ_p g + ((X−p)·g)(X−p)] at τ=1"

    def __post_init__(self) -> None:
        check_positive("tau", self.tau)

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        probs = softmax(logits.detach())
        index = sample_index(probs, generator)
        return reinmax_one_hot(logits, one_hot_like(index, probs), self.tau, probs, index)
