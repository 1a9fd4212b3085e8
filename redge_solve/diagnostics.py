"""Gradient diagnostics: how far each estimator's gradient is from the exact gradient of E[f], on real instances.

Along one trajectory (Adam on the exact gradient ``g* = ∇_θ Σ_i E_{X~π_θ}[f_i(X)]``, from zero logits, so every
estimator is judged at the same logits), at each checkpoint step, M independent estimates ``g_1..g_M`` of each
estimator (one ``surrogate`` call with S samples each) give, with ``ḡ = Σ g_m / M`` and
``tr Σ̂ = Σ_m ‖g_m − ḡ‖² / (M − 1)`` (the total variance of one estimate):

    cosine     = ⟨ḡ, g*⟩ / (‖ḡ‖ ‖g*‖)
    bias       = ‖ḡ − g*‖ / ‖g*‖
    bias_se    = √(tr Σ̂ / M) / ‖g*‖         the size of ḡ's own noise: what ``bias`` reads for an unbiased
                                              estimator (E‖ḡ − g*‖² = ‖E g − g*‖² + tr Σ / M)
    variance   = tr Σ̂ / ‖g*‖²                relative variance of one estimate

So an unbiased estimator (REINFORCE) shows ``bias ≈ bias_se``, and a biased one ``bias ≫ bias_se`` once M is large.
The exact gradient comes from the problem's ``expected_penalty`` (closed form under the mean-field law; Sudoku and
the generic constraint problems have one), as for the ``exact`` estimator.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from .atomic import write_atomic
from .compare import EstimatorSpec, csv_value
from .estimators import Estimator, make_estimator
from .optim import Adam
from .plots import new_figure, png_bytes
from .runs.outputs import prefixed
from .solver import Problem


def expected_objective(problem: Problem) -> Callable[[Tensor], Tensor]:
    """``probs (F, K) -> E[f] (I,)`` of ``problem`` in closed form (``expected_penalty``); raises
    ``ValueError`` for a problem without one."""
    if hasattr(problem, "expected_penalty"):
        return problem.expected_penalty
    raise ValueError(f"{type(problem).__name__} has no closed-form expected penalty to diagnose against")


def exact_gradient(problem: Problem, logits: Tensor) -> Tensor:
    """``∇_θ Σ_i E_{X~π_θ}[f_i(X)]`` at ``logits`` ``(F, K)``, by autograd through the closed form."""
    objective = expected_objective(problem)
    theta = logits.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(objective(theta.softmax(-1)).sum(), theta)
    return grad


def exact_trajectory(problem: Problem, checkpoints: Sequence[int], lr: float) -> list[tuple[int, Tensor]]:
    """Logits at each checkpoint step of Adam (``lr``) on the exact gradient, from zero logits (step 0)."""
    wanted = sorted(set(int(c) for c in checkpoints))
    if not wanted or wanted[0] < 0:
        raise ValueError(f"checkpoints must be steps >= 0, got {list(checkpoints)}")
    logits = torch.zeros(problem.num_variables, problem.num_categories, dtype=getattr(problem, "dtype", torch.float32))
    optimizer = Adam(logits, lr)
    out = []
    for step in range(wanted[-1] + 1):
        if step in wanted:
            out.append((step, logits.detach().clone()))
        if step < wanted[-1]:
            optimizer.step(exact_gradient(problem, logits))
    return out


@dataclass(frozen=True)
class Diagnosis:
    """One estimator at one checkpoint (definitions in the module docstring)."""

    step: int
    label: str
    estimator: str
    samples: int
    draws: int
    cosine: float
    bias: float
    bias_se: float
    variance: float
    exact_norm: float


def gradient_draws(problem: Problem, estimator: Estimator, logits: Tensor, draws: int, samples: int,
                   generator: torch.Generator, block: int = 64) -> Tensor:
    """``draws`` independent estimates ``(draws, F, K)`` of ``∇_θ Σ_i E[f_i]`` by ``estimator`` at ``logits``.

    ``block`` draws at a time in one call: the problem repeated (instance ``i·M + r`` is draw r of instance i, as
    the solver's restarts), each copy with the same logits and its own samples; the gradient of the sum over the
    copies is then, copy by copy, one estimate each (estimators work row by row, baselines instance by instance).
    """
    out = torch.empty(draws, *logits.shape)
    starts = _instance_starts(problem.var_instance, problem.num_instances)
    done = 0
    while done < draws:
        count = min(block, draws - done)
        copies = problem.repeat(count)
        instance = copies.var_instance
        copy_starts = _instance_starts(instance, copies.num_instances)
        original = starts[instance // count] + torch.arange(instance.shape[0]) - copy_starts[instance]
        theta = logits.detach()[original].requires_grad_(True)
        loss = estimator.surrogate(copies.penalty, theta, samples, generator, groups=instance,
                                   expected=getattr(copies, "expected_penalty", None)).loss
        (grad,) = torch.autograd.grad(loss, theta)
        out[done + instance % count, original] = grad
        done += count
    return out


def _instance_starts(var_instance: Tensor, instances: int) -> Tensor:
    """The first variable of each instance (variables are grouped by instance, in order)."""
    starts = torch.zeros(instances, dtype=torch.long)
    starts[1:] = torch.bincount(var_instance, minlength=instances).cumsum(0)[:-1]
    return starts


def measure(estimates: Tensor, exact: Tensor) -> dict[str, float]:
    """cosine, bias, bias_se and variance of ``estimates`` ``(M, ...)`` against ``exact`` (module docstring)."""
    draws = estimates.shape[0]
    flat, target = estimates.reshape(draws, -1).double(), exact.reshape(-1).double()
    mean = flat.mean(0)
    norm = float(target.norm())
    spread = float((flat - mean).square().sum() / max(draws - 1, 1))
    cosine = float(mean @ target / (mean.norm() * target.norm())) if float(mean.norm()) > 0 and norm > 0 else math.nan
    scale = norm if norm > 0 else math.nan
    return dict(cosine=cosine, bias=float((mean - target).norm()) / scale,
                bias_se=math.sqrt(spread / draws) / scale, variance=spread / scale**2, exact_norm=norm)


def diagnose(
    problem: Problem,
    specs: Sequence[EstimatorSpec],
    checkpoints: Sequence[int] = (0, 10, 100, 1000),
    draws: int = 200,
    samples: int = 1,
    lr: float = 0.05,
    seed: int = 0,
    on_result: Callable[[Diagnosis], None] | None = None,
) -> list[Diagnosis]:
    """Every spec at every checkpoint of the exact trajectory (module docstring). Each estimate uses
    ``max(samples, the estimator's minimum)`` samples (REINFORCE needs 2); draws come from a generator seeded by
    (seed, checkpoint, spec position), so a result does not depend on the other specs or checkpoints."""
    if draws < 2:
        raise ValueError(f"diagnostics need at least 2 draws, got {draws}")
    results = []
    for step, logits in exact_trajectory(problem, checkpoints, lr):
        exact = exact_gradient(problem, logits)
        for position, spec in enumerate(specs):
            estimator = make_estimator(spec.name, **spec.param_dict)
            count = max(samples, estimator.min_samples)
            generator = torch.Generator().manual_seed(seed * 1_000_003 + step * 1009 + position)
            estimates = gradient_draws(problem, estimator, logits, draws, count, generator)
            result = Diagnosis(step, spec.label, spec.name, count, draws, **measure(estimates, exact))
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


# ---- files -------------------------------------------------------------------------------------------------------

COLUMNS = tuple(f for f in Diagnosis.__dataclass_fields__)


def diagnostics_csv(results: Sequence[Diagnosis]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for result in results:
        writer.writerow([csv_value(getattr(result, c)) for c in COLUMNS])
    return buffer.getvalue()


def diagnostics_png(results: Sequence[Diagnosis]) -> bytes:
    """Three panels against the checkpoint step: cosine, relative bias (dotted: its noise level bias_se, where an
    unbiased estimator lies), relative variance."""
    figure = new_figure(13, 4)
    panels = figure.subplots(1, 3)
    labels = list(dict.fromkeys(r.label for r in results))
    for label in labels:
        rows = [r for r in results if r.label == label]
        steps = [r.step for r in rows]
        panels[0].plot(steps, [r.cosine for r in rows], "o-", label=label)
        (line,) = panels[1].plot(steps, [r.bias for r in rows], "o-", label=label)
        panels[1].plot(steps, [r.bias_se for r in rows], ":", color=line.get_color(), linewidth=1)
        panels[2].plot(steps, [r.variance for r in rows], "o-", label=label)
    titles = ("cosine(mean estimate, exact)", "relative bias ‖mean − exact‖/‖exact‖ (dotted: noise level)",
              "relative variance of one estimate")
    for axes, title in zip(panels, titles, strict=True):
        axes.set_title(title, fontsize="small")
        axes.set_xlabel("step of the exact trajectory")
        axes.set_xscale("symlog", linthresh=10)
        axes.grid(True, alpha=0.3)
    panels[1].set_yscale("log")
    panels[2].set_yscale("log")
    panels[0].legend(loc="best", fontsize="x-small")
    return png_bytes(figure)


DIAGNOSTICS_SUFFIXES = ("-diagnostics.csv", "-diagnostics.json", "-diagnostics.png")
"""What ``write_diagnostics`` adds to the prefix."""


def write_diagnostics(results: Sequence[Diagnosis], prefix: str | os.PathLike, settings: dict[str, Any],
                      plot: bool = True) -> list[Path]:
    """``PREFIX-diagnostics.csv``, ``.json`` (with the settings and the definitions) and ``.png``."""
    csv_path, json_path, png_path = prefixed(prefix, DIAGNOSTICS_SUFFIXES)
    write_atomic(csv_path, diagnostics_csv(results), make_parents=True)
    payload = {"settings": settings, "definitions": DEFINITIONS, "results": [asdict(r) for r in results]}
    write_atomic(json_path, json.dumps(payload, indent=1, allow_nan=True) + "\n", make_parents=True)
    if not plot:
        return [csv_path, json_path]
    write_atomic(png_path, diagnostics_png(results), make_parents=True)
    return [csv_path, json_path, png_path]


DEFINITIONS = {
    "trajectory": "Adam on the exact gradient of sum_i E[f_i] from zero logits; step = its checkpoint",
    "cosine": "<mean, exact> / (|mean| |exact|), mean = average of the draws",
    "bias": "|mean - exact| / |exact|",
    "bias_se": "sqrt(tr Cov / draws) / |exact|: what bias reads for an unbiased estimator",
    "variance": "tr Cov / |exact|^2, Cov = sample covariance of one estimate over the draws",
    "samples": "samples per estimate (at least the estimator's minimum)",
}
