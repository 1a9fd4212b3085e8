"""The exact gradient of a penalty whose mean-field expectation has a closed form (quadratic penalties).

For f(X) = Σ_u ‖c_u − 1‖² with counts c_u = b_u + Σ_{i ∈ u} X_i (constants b_u, independent one-hot X_i ~ Cat(p_i)),

    E[f] = Σ_u ‖E c_u − 1‖² + Σ_u Σ_k Var(c_{u,k}) = Σ_u ‖b_u + Σ_{i∈u} p_i − 1‖² + Σ_u Σ_{i∈u} Σ_k p_{ik}(1 − p_{ik})

so ∇_θ E[f] is computed deterministically by autograd through p = softmax(θ): no estimator noise, no bias. The
samples it returns (drawn from π_θ, carrying no gradient) only let the solver judge them, as for every estimator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ._categorical import sample_one_hot
from ._noise import Generator
from ._softmax import softmax
from .base import Estimator, Expectation, Objective, Surrogate, check_num_samples


@dataclass(frozen=True)
class ExactGradient(Estimator):
    name: ClassVar[str] = "exact"
    summary: ClassVar[str] = "exact ∇E[f] from f's closed-form expectation (quadratic penalties): no noise, no bias"
    needs_expectation: ClassVar[bool] = True

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        return sample_one_hot(logits.softmax(-1), generator)

    def surrogate(
        self, f: Objective, logits: Tensor, num_samples: int = 1, generator: Generator = None, *,
        groups: Tensor | None = None, expected: Expectation | None = None,
    ) -> Surrogate:
        check_num_samples(num_samples)
        if expected is None:
            raise ValueError("the exact estimator needs a penalty with a closed-form expectation (`expected`)")
        probs = softmax(logits)
        samples = self.sample(logits.detach(), num_samples, generator)
        values = f(samples)
        return Surrogate(loss=expected(probs).sum(), values=values.detach(), samples=samples)
