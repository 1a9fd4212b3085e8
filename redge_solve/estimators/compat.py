"""Drop-in for the authors' package ``redge`` 0.1.0: ``SAMPLERS[name](logits=..., **cfg)`` returns one hard sample.

Keys as theirs (``st``, ``gumbel``, ``reinmax``, ``redge``, ``redge_cov``, ``reindge``) plus our hyphenated names.
Only the hard estimators exist here: ``hard=False`` raises ``ValueError``.
"""

from __future__ import annotations

from typing import Any, Callable

from torch import Tensor

from . import ALIASES, ESTIMATORS, make_estimator


def _sampler(name: str) -> Callable[..., Tensor]:
    def sample(logits: Tensor, hard: bool = True, generator: Any = None, **cfg: Any) -> Tensor:
        if not hard:
            raise ValueError("redge-solve implements the hard estimators only (hard=True)")
        return make_estimator(name, **cfg).sample(logits, generator=generator)

    sample.__name__ = name.replace("-", "_")
    return sample


SAMPLERS: dict[str, Callable[..., Tensor]] = {name: _sampler(name) for name in [*ESTIMATORS, *ALIASES]}
