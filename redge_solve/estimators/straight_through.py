"""Hard Straight-Through (Bengio et al., 2013).

    X ~ Cat(p),  p = softmax(θ);   forward X,   backward  ∂/∂θ ≈ Σ_p g = (diag p − p pᵀ) ∇f(X)

i.e. ``X = onehot + p − stopgrad(p)``. Unbiased for linear f only. The S samples of a step share one law, so p is
computed once and its backward runs once, on Σ_s ∇f(X_s) (the same gradient as S backward passes summed, up to
rounding; the softmax and its backward on CPU are the step's costliest passes at K = 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ._categorical import sample_one_hot, straight_through
from ._noise import Generator
from ._softmax import softmax
from .base import Estimator, check_num_samples


@dataclass(frozen=True)
class StraightThrough(Estimator):
    name: ClassVar[str] = "st"
    summary: ClassVar[str] = "hard Straight-Through: onehot + p − sg(p)"

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        return self.sample(logits, None, generator)

    def sample(self, logits: Tensor, num_samples: int | None = None, generator: Generator = None) -> Tensor:
        check_num_samples(num_samples)
        probs = softmax(logits)  # once for the S samples, which share the law
        hard = sample_one_hot(probs, generator, num_samples)
        return straight_through(hard, probs.expand_as(hard))
