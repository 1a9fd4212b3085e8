"""Hard Straight-Through (Bengio et al., 2013).

    X ~ Cat(p),  p = softmax(θ);   forward X,   backward  ∂/∂θ ≈ Σ_p g = (diag p − p pᵀ) ∇f(X)

i.e. ``X = onehot + p − stopgrad(p)``. Unbiased for linear f only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ._categorical import sample_one_hot, straight_through
from ._noise import Generator
from ._softmax import softmax
from .base import Estimator


@dataclass(frozen=True)
class StraightThrough(Estimator):
    name: ClassVar[str] = "st"
    summary: ClassVar[str] = "hard Straight-Through: onehot + p − sg(p)"

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        probs = softmax(logits)
        return straight_through(sample_one_hot(probs, generator), probs)
