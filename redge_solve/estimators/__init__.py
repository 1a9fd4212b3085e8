"""Gradient estimators for mean-field categorical models, one module each, one registry by name.

>>> est = make_estimator("redge", n_steps=5)
>>> X = est.sample(logits, num_samples=4)          # (4, *logits.shape), one-hot forward
>>> f(X).sum().backward()                          # estimate of ∇ E[f] in logits.grad
>>> est.surrogate(f, logits, num_samples=4).loss.backward()   # works for REINFORCE too
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from .base import Estimator, Expectation, Objective, Surrogate
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
PAPER_ESTIMATORS = ("st", "gumbel", "reinmax", "redge", "redge-max", "redge-cov")
"""The six estimators of the paper's Table 2, the default selection of ``compare`` and ``bench`` (reinforce is not
in Table 2 and needs at least two samples per step, so it cannot run under the paper protocol's single sample)."""


def canonical_name(name: str) -> str:
    """The registry name for ``name`` (aliases such as the authors' ``reindge``/``redge_cov`` accepted)."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in ESTIMATORS:
        raise ValueError(f"unknown estimator {name!r}; choose from {', '.join(ESTIMATORS)}")
    return key


def parameter_defaults(name: str) -> dict[str, Any]:
    """``{parameter: default}`` of an estimator, in declaration order."""
    return {f.name: f.default for f in dataclasses.fields(ESTIMATORS[canonical_name(name)])}


def coerce_params(name: str, params: Mapping[str, Any]) -> dict[str, float | int]:
    """``params`` of estimator ``name`` checked and converted to each parameter's type: a string (from a command
    line) is read as that type (``"5"`` -> 5 for an integer parameter, -> 5.0 for a float one), an integral float
    (or ``"5.0"``) becomes an int for an integer parameter, an int a float for a float one. Raises a one-line
    ``ValueError`` on an unknown estimator or parameter, or a value of the wrong kind (ranges are the estimator's
    own check)."""
    key = canonical_name(name)
    defaults = parameter_defaults(key)
    unknown = [param for param in params if param not in defaults]
    if unknown:
        known = ", ".join(defaults) or "none"
        raise ValueError(f"estimator {key!r} has no parameter {unknown[0]!r} (its parameters: {known})")
    return {param: _coerce(key, param, value, type(defaults[param])) for param, value in params.items()}


def _coerce(name: str, param: str, value: Any, kind: type) -> Any:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text) if kind is float else _integer(text)
        except ValueError:
            kind_name = "an integer" if kind is int else "a number"
            raise ValueError(f"{name}.{param} must be {kind_name}, got {text!r}") from None
    if kind is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    return value


def _integer(text: str) -> int:
    """``"5"`` or ``"5.0"`` -> 5; anything else raises ``ValueError``."""
    try:
        return int(text)
    except ValueError:
        value = float(text)
        if not value.is_integer():
            raise
        return int(value)


def make_estimator(name: str, **params: Any) -> Estimator:
    """Build an estimator by registry name; parameters may be given as numbers or strings (from a CLI)."""
    key = canonical_name(name)
    return ESTIMATORS[key](**coerce_params(key, params))


__all__ = [
    "ESTIMATORS",
    "PAPER_ESTIMATORS",
    "Estimator",
    "Expectation",
    "ExactGradient",
    "GENERAL_ESTIMATORS",
    "GumbelSoftmax",
    "Objective",
    "ReDGE",
    "ReDGECov",
    "ReDGEMax",
    "ReinMax",
    "ReinforceLOO",
    "StraightThrough",
    "Surrogate",
    "canonical_name",
    "coerce_params",
    "make_estimator",
    "parameter_defaults",
]
