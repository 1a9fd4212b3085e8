"""The one way to build a ``SolverConfig`` from what a user chose: defaults, estimator, protocol, explicit values.

Every command and library entry point that turns options into solver settings goes through ``build_config``:

    config = defaults  ←  estimator and its parameters (coerced to their types; the defaults' own parameters
                          stay under the parameters given only while the estimator and the protocol are the defaults')
                       ←  the protocol's settings (``Protocol.paper``: the paper's Table 2)
                       ←  every value given explicitly (``None`` = not given)

as one ``dataclasses.replace``, so the combination is validated whole (e.g. ``reinforce`` needs ``samples >= 2``
under any protocol) and an explicit value always wins over the protocol's.
"""

from __future__ import annotations

import enum
from dataclasses import replace
from typing import Any, Mapping

from .settings import DEFAULTS, PAPER_PROTOCOL, SolverConfig


class Protocol(str, enum.Enum):
    """Which settings a run starts from: ``default`` (the defaults passed to ``build_config``, the product's
    tuned ones for Sudoku) or ``paper`` (1000 steps, 1 sample, 1 restart, lr 0.05, no early stop, no resets)."""

    default = "default"
    paper = "paper"

    @property
    def settings(self) -> dict[str, Any]:
        """The ``SolverConfig`` fields this protocol sets (none for ``default``)."""
        return dict(PAPER_PROTOCOL) if self is Protocol.paper else {}


def build_config(defaults: SolverConfig = DEFAULTS, estimator: str | None = None,
                 params: Mapping[str, Any] | None = None, protocol: Protocol | str = Protocol.default,
                 **explicit: Any) -> SolverConfig:
    """``defaults`` with ``estimator`` (kept when None) and its ``params`` (strings such as ``"5"`` are read as the
    parameter's type), then ``protocol``'s settings, then every field of ``explicit`` that is not None.

    ``params`` go on top of ``defaults.params`` while the estimator is ``defaults.estimator`` and the protocol the
    default one (Sudoku's ST keeps its sampling temperature under ``-p`` of another parameter or ``-e st``); another
    estimator, or the paper protocol, starts from the estimator's own parameter defaults.

    Raises a one-line ``ValueError`` for an unknown protocol, estimator, parameter or field, or an invalid value or
    combination (``SolverConfig``'s own checks)."""
    try:
        protocol = Protocol(protocol)
    except ValueError:
        raise ValueError(f"unknown protocol {protocol!r}; choose from "
                         f"{', '.join(p.value for p in Protocol)}") from None
    from .estimators import canonical_name, coerce_params  # torch: only when settings are built, not for --help

    name = defaults.estimator if estimator is None else canonical_name(estimator)
    inherited = defaults.params if name == defaults.estimator and protocol is Protocol.default else {}
    fields = dict(estimator=name, params=coerce_params(name, {**inherited, **(params or {})}), **protocol.settings)
    given = {key: value for key, value in explicit.items() if value is not None}
    unknown = [key for key in given if not hasattr(defaults, key)]
    if unknown:
        raise ValueError(f"no solver setting {unknown[0]!r}")
    return replace(defaults, **{**fields, **given})
