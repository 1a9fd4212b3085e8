"""Gradient estimators for mean-field categorical models, one module each, one registry by name.

>>> est = make_estimator("redge", n_steps=5)
>>> X = est.sample(logits, num_samples=4)          # (4, *logits.shape), one-hot forward
>>> f(X).sum().backward()                          # estimate of ∇ E[f] in logits.grad
>>> est.surrogate(f, logits, num_samples=4).loss.backward()   # works for REINFORCE too
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .base import Estimator, Objective, ProblemObjective, Surrogate
from .exact import ExactGradient
from .gumbel import GumbelSoftmax
from .redge import ReDGE
from .redge_cov import ReDGECov
from .redge_max import ReDGEMax
from .reinforce import ReinforceLOO
from .reinmax import ReinMax
from .straight_through import StraightThrough

ESTIMATORS: dict[str, type[Estimator]] = {
    cls.name: cls
    for cls in (StraightThrough, GumbelSoftmax, ReinMax, ReDGE, ReDGEMax, ReDGECov, ReinforceLOO, ExactGradient)
}
GENERAL_ESTIMATORS = tuple(name for name, cls in ESTIMATORS.items() if not cls.needs_expectation)
"""The estimators that work on any f (``exact`` needs a penalty with a closed-form expectation)."""
ALIASES = {"redge_cov": "redge-cov", "redge_max": "redge-max", "reindge": "redge-max", "straight-through": "st"}


def canonical_name(name: str) -> str:
    """The registry name for ``name`` (aliases such as the authors' ``reindge``/``redge_cov`` accepted)."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
    return key


def parameter_defaults(name: str) -> dict[str, Any]:
    """``{parameter: default}`` of an estimator, in declaration order."""
    return {f.name: f.default for f in dataclasses.fields(ESTIMATORS[canonical_name(name)])}


def _coerce(name: str, param: str, value: Any, default: Any) -> Any:
    kind = type(default)
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text) if kind is float else int(text)
        except ValueError:
            kind_name = "an integer" if kind is int else "a number"
            raise ValueError(f"{name}.{param} must be {kind_name}, got {text!r}") from None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def make_estimator(name: str, **params: Any) -> Estimator:
    """Build an estimator by registry name; parameters may be given as numbers or strings (from a CLI)."""
    key = canonical_name(name)
    defaults = parameter_defaults(key)
    for param in params:
        if param not in defaults:
            known = ", ".join(defaults) or "none"
            raise ValueError(f"estimator {key!r} has no parameter {param!r} (its parameters: {known})")
    coerced = {p: _coerce(key, p, v, defaults[p]) for p, v in params.items()}
    return ESTIMATORS[key](**coerced)


__all__ = [
    "ESTIMATORS",
    "Estimator",
    "ExactGradient",
    "GENERAL_ESTIMATORS",
    "GumbelSoftmax",
    "Objective",
    "ProblemObjective",
    "ReDGE",
    "ReDGECov",
    "ReDGEMax",
    "ReinMax",
    "ReinforceLOO",
    "StraightThrough",
    "Surrogate",
    "canonical_name",
    "make_estimator",
    "parameter_defaults",
]
