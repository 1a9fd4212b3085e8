"""Solver options shared by the solving commands (``sudoku``, ``latin``, ``queens``, ``color``, ``solve``), and
the one place that turns them into a ``SolverConfig`` over a command's own defaults."""

from __future__ import annotations

import dataclasses
from typing import Optional

import typer

from ..solver import DEFAULTS, SolverConfig, paper_protocol
from .common import fail, parse_assignments

PARAM_OPTION = typer.Option(None, "--param", "-p", metavar="NAME=VALUE",
                            help="Estimator parameter, repeatable (e.g. -p n_steps=5).")
JSON_OPTION = typer.Option(None, "--json", metavar="PATH",
                           help="Write one JSON record per instance (JSON Lines); '-' for stdout.")
QUIET_OPTION = typer.Option(False, "--quiet", "-q", help="No progress, boards or summary; errors only.")
MAX_SECONDS_OPTION = typer.Option(None, "--max-seconds", metavar="S", show_default=False,
                                  help="Time budget in seconds for the whole run: what is still unsolved when it is "
                                  "spent stops, unsolved (default: no limit).")


def estimator_option(defaults: SolverConfig = DEFAULTS):
    return typer.Option(defaults.estimator, "--estimator", "-e",
                        help="Gradient estimator (see `redge-solve estimators`).")


def steps_option(defaults: SolverConfig = DEFAULTS):
    return typer.Option(None, "--steps", show_default=False, help=f"Adam steps (default: {defaults.steps})")


def samples_option(defaults: SolverConfig = DEFAULTS):
    return typer.Option(None, "--samples", show_default=False, help=f"Samples per step (default: {defaults.samples})")


def restarts_option(defaults: SolverConfig = DEFAULTS):
    return typer.Option(None, "--restarts", show_default=False,
                        help=f"Independent restarts per instance (default: {defaults.restarts})")


def lr_option(defaults: SolverConfig = DEFAULTS):
    return typer.Option(None, "--lr", show_default=False, help=f"Adam learning rate (default: {defaults.lr})")


def seed_option(defaults: SolverConfig = DEFAULTS):
    return typer.Option(None, "--seed", show_default=False, help=f"Random seed (default: {defaults.seed})")


def make_config(defaults: SolverConfig, estimator: str, params: Optional[list[str]], steps: Optional[int],
                samples: Optional[int], restarts: Optional[int], lr: Optional[float], seed: Optional[int],
                no_early_stop: bool = False, paper: bool = False, max_seconds: Optional[float] = None
                ) -> SolverConfig:
    """``defaults`` with the estimator and its ``NAME=VALUE`` parameters, then the paper protocol if asked, then
    every option given explicitly. A bad value is a one-line usage error (exit 2)."""
    parsed = parse_assignments(params or [], "--param")
    explicit = dict(steps=steps, samples=samples, restarts=restarts, lr=lr, seed=seed, max_seconds=max_seconds)
    overrides = {k: v for k, v in explicit.items() if v is not None}
    if no_early_stop:
        overrides["early_stop"] = False
    try:  # one step, so a combination is validated whole (e.g. reinforce needs samples >= 2 under any protocol)
        if paper:
            return paper_protocol(defaults, estimator=estimator, params=parsed, **overrides)
        return dataclasses.replace(defaults, estimator=estimator, params=parsed, **overrides)
    except ValueError as error:
        fail(str(error))
