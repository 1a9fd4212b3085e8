"""Hard Straight-Through (Bengio et al., 2013), with an optional sampling temperature T.

    X ~ Cat(softmax(θ / T)),  p = softmax(θ);   forward X,   backward  ∂/∂θ ≈ Σ_p g = (diag p − p pᵀ) ∇f(X)

i.e. ``X = onehot + p − stopgrad(p)``. With T = 1 (the default) the samples come from p itself and this is the
plain estimator, unbiased for linear f only. T < 1 draws samples closer to the mode (a search setting, not a
gradient estimator of E_p f: the backward is still p's); measured per band in docs/hard-sudoku.md ("Screens of a
restart's chance"). The S samples of a step share one law, so p is computed once and its backward runs once, on
Σ_s ∇f(X_s) (the same gradient as S backward passes summed, up to rounding; the softmax and its backward on CPU
are the step's costliest passes at K = 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ._categorical import sample_one_hot, straight_through
from ._noise import Generator
from ._softmax import softmax
from .base import Estimator, check_num_samples, check_positive


@dataclass(frozen=True)
class StraightThrough(Estimator):
    temperature: float = 1.0  # of the sampling law softmax(θ / T); the backward is softmax(θ)'s whatever T

    name: ClassVar[str] = "st"
    summary: ClassVar[str] = "hard Straight-Through: onehot + p − sg(p), samples from softmax(θ / T)"

    def __post_init__(self) -> None:
        check_positive("temperature", self.temperature)

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        return self.sample(logits, None, generator)

    def sample(self, logits: Tensor, num_samples: int | None = None, generator: Generator = None) -> Tensor:
        check_num_samples(num_samples)
        probs = softmax(logits)  # once for the S samples, which share the law
        law = probs if self.temperature == 1 else softmax(logits.detach() / self.temperature)  # sampled only: no graph
        hard = sample_one_hot(law, generator, num_samples)
        return straight_through(hard, probs)
