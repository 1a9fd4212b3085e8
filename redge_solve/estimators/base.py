"""The estimator interface shared by every gradient estimator.

An estimator turns logits θ of shape ``(..., K)`` (a mean-field categorical law π_θ with probabilities
``softmax(θ)`` along the last axis) into hard one-hot samples whose backward pass carries a gradient estimate of
``∇_θ E_{X~π_θ}[f(X)]``.

Two ways to use one:

* ``X = est.sample(logits, num_samples=S)`` returns ``(S, ..., K)`` one-hot samples with the estimator's custom
  backward; ``f(X).sum().backward()`` then leaves the estimate in ``logits.grad``. This is all a pathwise
  estimator needs.
* ``out = est.surrogate(f, logits, num_samples=S)`` calls ``f`` itself and returns a scalar ``out.loss`` whose
  gradient is the estimate of ``∇_θ Σ_batch E[f]`` (the sample mean over the S samples), with ``out.values`` =
  ``f(X)`` of shape ``(S, *batch)`` and the samples. This works for every estimator, REINFORCE included, and is
  what the solving loop uses.

What some estimators need beyond f's values is passed explicitly, keyword-only, and ignored by the others:

* ``groups``: where f maps flattened variables ``(S, F, K)`` to per-instance values ``(S, I)`` (a problem's
  penalty), ``groups (F,)`` gives the instance of each variable; REINFORCE sums log-probabilities per instance.
  Without it, f's batch axes are the logits' leading axes (``(S, *batch, *vars, K) -> (S, *batch)``).
* ``expected``: ``probs (F, K) -> (I,)``, E_{X~π}[f(X)] in closed form under the mean-field law (the ``exact``
  estimator needs it; ``needs_expectation``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Callable, ClassVar

from torch import Tensor

from ._noise import Generator

Objective = Callable[[Tensor], Tensor]
"""f: one-hot samples ``(S, *batch, *vars, K)`` -> values ``(S, *batch)``."""

Expectation = Callable[[Tensor], Tensor]
"""E_{X~π}[f(X)] in closed form: probabilities ``(F, K)`` -> values ``(I,)``."""


@dataclass(frozen=True)
class Surrogate:
    """What ``Estimator.surrogate`` returns.

    loss: scalar; ``loss.backward()`` leaves the gradient estimate of ``Σ_batch E[f]`` in the logits' ``.grad``.
    values: ``f(samples)``, detached, shape ``(S, *batch)``.
    samples: the hard one-hot samples, detached, shape ``(S, *logits.shape)``.
    """

    loss: Tensor
    values: Tensor
    samples: Tensor


def check_positive(name: str, value: float) -> None:
    if not 0 < value < float("inf"):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")


def check_diffusion(n_steps: int, t_1: float) -> None:
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ValueError(f"n_steps must be an integer >= 1, got {n_steps!r}")
    if not 0 < t_1 <= 1:
        raise ValueError(f"t_1 must lie in (0, 1], got {t_1!r}")


def check_num_samples(num_samples: int | None, minimum: int = 1) -> None:
    if num_samples is None and minimum <= 1:
        return
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples < minimum:
        raise ValueError(f"num_samples must be an integer >= {minimum}, got {num_samples!r}")


class Estimator:
    """Base class: subclasses are frozen dataclasses of their parameters and implement ``_sample``."""

    name: ClassVar[str]
    summary: ClassVar[str]
    min_samples: ClassVar[int] = 1  # samples per step that ``surrogate`` needs
    needs_expectation: ClassVar[bool] = False  # works only with ``expected=`` (a closed form)

    @property
    def denoiser_calls(self) -> int:
        """Calls of the closed-form denoiser per sample: the length of the ReDGE family's DDIM chain
        (``DiffusionEstimator``), 0 for the others (what ``memory`` needs to size a batch)."""
        return 0

    def params(self) -> dict[str, float | int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def __str__(self) -> str:
        args = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{self.name}({args})"

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        """One-hot samples with a custom backward; ``logits`` already carries the sample dimension."""
        raise NotImplementedError

    def sample(
        self, logits: Tensor, num_samples: int | None = None, generator: Generator = None
    ) -> Tensor:
        """Hard one-hot samples ``(num_samples, *logits.shape)`` (no sample axis when ``num_samples`` is None)."""
        check_num_samples(num_samples)
        if num_samples is None:
            return self._sample(logits, generator)
        # unsqueeze, then expand: for one sample the backward is a view, not a copy (sum over a size-1 axis)
        return self._sample(logits.unsqueeze(0).expand(num_samples, *logits.shape), generator)

    def surrogate(
        self, f: Objective, logits: Tensor, num_samples: int = 1, generator: Generator = None, *,
        groups: Tensor | None = None, expected: Expectation | None = None,
    ) -> Surrogate:
        """A scalar whose gradient estimates ``∇_θ Σ_batch E_{X~π_θ}[f(X)]``; see the module docstring (a pathwise
        estimator needs neither ``groups`` nor ``expected``)."""
        samples = self.sample(logits, num_samples, generator)
        values = f(samples)
        return Surrogate(loss=values.mean(0).sum(), values=values.detach(), samples=samples.detach())
