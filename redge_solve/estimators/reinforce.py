"""REINFORCE with the leave-one-out baseline (Kool et al., 2019): the unbiased reference.

With S ≥ 2 samples X_s ~ π_θ and f_s = f(X_s):

    ∇_θ E[f] ≈ (1/S) Σ_s (f_s − (1/(S−1)) Σ_{r≠s} f_r) ∇_θ log π_θ(X_s)

Needs f's values, so only ``surrogate`` carries the gradient; ``sample`` returns plain samples without one.
Any parameters inside f itself still get their ordinary pathwise gradient from the surrogate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from torch import Tensor

from ._categorical import sample_one_hot
from ._noise import Generator
from .base import Estimator, Expectation, Objective, Surrogate, check_num_samples


@dataclass(frozen=True)
class ReinforceLOO(Estimator):
    name: ClassVar[str] = "reinforce"
    summary: ClassVar[str] = "REINFORCE leave-one-out: unbiased, needs ≥ 2 samples"
    min_samples: ClassVar[int] = 2

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        return sample_one_hot(logits.softmax(-1), generator)

    def surrogate(
        self, f: Objective, logits: Tensor, num_samples: int = 2, generator: Generator = None, *,
        groups: Tensor | None = None, expected: Expectation | None = None,
    ) -> Surrogate:
        check_num_samples(num_samples, minimum=self.min_samples)
        samples = self.sample(logits, num_samples, generator)
        values = f(samples)
        log_prob = (samples * logits.log_softmax(-1)).sum(-1)
        while log_prob.dim() > values.dim():  # sum over the variables of each batch element
            log_prob = log_prob.sum(-1)
        if groups is not None:
            # f is a problem's penalty over flattened variables (S, F, K) -> (S, I): log π(X_s) of instance i is
            # the sum over the variables v with groups[v] = i
            log_prob = log_prob.new_zeros(values.shape).index_add_(-1, groups, log_prob)
        detached = values.detach()
        baseline = (detached.sum(0, keepdim=True) - detached) / (num_samples - 1)
        loss = ((detached - baseline) * log_prob + values).mean(0).sum()
        return Surrogate(loss=loss, values=detached, samples=samples)
