"""Seeds × estimators → curves, shared by the paper's other experiments (``poly``, ``gmm``, ``vae``).

An experiment is a function ``run_one(setting, spec, seed, on_step) -> RunResult``; ``run_bench`` calls it for every
(setting, estimator spec, seed), in that order, and ``summarise`` turns the finished runs into one row per
(setting, spec): the mean ± population std over seeds of each final metric. ``write_outputs`` writes
``PREFIX.csv`` (the summary), ``PREFIX-curves.csv`` (every curve point, long format), ``PREFIX.json`` (config,
summary and curves) and ``PREFIX.png`` (one panel per setting, one line per estimator = mean over seeds, band =
min..max over seeds). Never prints. A ``KeyboardInterrupt`` stops the grid but keeps the finished runs.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import torch

from ..atomic import write_atomic
from ..compare import EstimatorSpec, expand_specs
from ..estimators import Estimator, make_estimator
from ..plots import new_figure, plot_mean_band, png_bytes
from ..runs.outputs import prefixed

OnStep = Callable[[int, int, float], None]
"""``on_step(step, steps, value)``: called after each optimisation step with the step's training loss."""

class ExperimentConfig:
    """Base of the experiments' frozen config dataclasses: ``counts`` must be integers >= 1, ``positive`` numbers
    > 0, ``categorical`` (if any) at least 2; a bad value is a one-line ``ValueError``."""

    counts: ClassVar[tuple[str, ...]] = ()
    positive: ClassVar[tuple[str, ...]] = ()
    categorical: ClassVar[str | None] = "categories"

    def __post_init__(self) -> None:
        for name in self.counts:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in self.positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.categorical and getattr(self, self.categorical) < 2:
            raise ValueError(f"{self.categorical} must be >= 2, got {getattr(self, self.categorical)}")

    def to_json(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass
class RunResult:
    """One run: ``curves[name] = [(step, value), ...]`` and the final metrics ``final[name]``."""

    curves: dict[str, list[tuple[int, float]]]
    final: dict[str, float]
    seconds: float = 0.0


@dataclass
class Run:
    setting: str
    spec: EstimatorSpec
    seed: int
    result: RunResult

    def to_json(self) -> dict[str, Any]:
        return {"setting": self.setting, "estimator": self.spec.name, "label": self.spec.label,
                "params": self.spec.param_dict, "seed": self.seed, "seconds": round(self.result.seconds, 3),
                "final": self.result.final,
                "curves": {k: [[s, v] for s, v in pts] for k, pts in self.result.curves.items()}}


@dataclass
class Row:
    """Mean ± population std over seeds of each final metric of one (setting, spec)."""

    setting: str
    label: str
    seeds: list[int]
    mean: dict[str, float]
    std: dict[str, float]
    seconds: float  # mean wall seconds per run


@dataclass
class Bench:
    experiment: str
    config: dict[str, Any]
    runs: list[Run]
    rows: list[Row]
    primary: str  # the curve plotted and the metric named first
    interrupted: bool = False
    notes: dict[str, str] = field(default_factory=dict)
    max_seconds: float | None = None  # the grid's time budget, if one was given
    budget_spent: bool = False  # it ended the grid: the run in flight was dropped, the rest not started

    def to_json(self) -> dict[str, Any]:
        budget = {} if self.max_seconds is None else {"max_seconds": self.max_seconds,
                                                      "budget_spent": self.budget_spent}
        return {"experiment": self.experiment, "config": self.config, "primary": self.primary,
                "interrupted": self.interrupted, **budget, "definitions": self.notes,
                "summary": [vars(row) for row in self.rows], "runs": [run.to_json() for run in self.runs]}


class _BudgetSpent(Exception):
    """Raised from a run's step when the grid's time budget is spent (caught by ``run_bench``)."""


def build_specs(names: Sequence[str], defaults: dict[str, dict[str, Any]],
                params: dict[str, str] | None = None) -> list[EstimatorSpec]:
    """Specs for ``names`` with the experiment's paper defaults ``{estimator: {param: value}}``, then ``params``
    (``{"est.param" or "param": value}``, as ``compare --param``) on top. Raises a one-line ``ValueError``."""
    specs = expand_specs(names, params)
    out = []
    for spec in specs:
        chosen = {**defaults.get(spec.name, {}), **spec.param_dict}
        out.append(expand_specs([spec.name], {f"{spec.name}.{k}": v for k, v in chosen.items()})[0])
    return out


def estimator(spec: EstimatorSpec) -> Estimator:
    return make_estimator(spec.name, **spec.param_dict)


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and population std (ddof 0); NaN for no values."""
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def run_bench(experiment: str, settings: Sequence[str], specs: Sequence[EstimatorSpec], seeds: Sequence[int],
              run_one: Callable[[str, EstimatorSpec, int, OnStep | None], RunResult], config: dict[str, Any],
              primary: str, on_run: Callable[[int, int, str, EstimatorSpec, int, Run | None], None] | None = None,
              on_step: OnStep | None = None, notes: dict[str, str] | None = None,
              max_seconds: float | None = None) -> Bench:
    """Every (setting, spec, seed) through ``run_one``; ``on_run(index, total, setting, spec, seed, run)`` is called
    before (``run=None``) and after each run. Ctrl-C ends the grid early: the finished runs are kept. So does the
    time budget ``max_seconds`` of the whole grid: checked at every step, it drops the run in flight (a run cut
    short has no final figures) and starts no other (``Bench.budget_spent``)."""
    plan = [(setting, spec, seed) for setting in settings for spec in specs for seed in seeds]
    runs: list[Run] = []
    interrupted = spent = False
    deadline = None if max_seconds is None else time.perf_counter() + max_seconds

    def step(index: int, steps: int, value: float) -> None:
        if deadline is not None and time.perf_counter() >= deadline:
            raise _BudgetSpent
        if on_step is not None:
            on_step(index, steps, value)

    try:
        for index, (setting, spec, seed) in enumerate(plan):
            if on_run is not None:
                on_run(index, len(plan), setting, spec, seed, None)
            start = time.perf_counter()
            with torch.random.fork_rng():  # runs seed torch themselves; the caller's global state is left as it was
                result = run_one(setting, spec, seed, step if deadline is not None else on_step)
            result.seconds = time.perf_counter() - start
            runs.append(Run(setting, spec, seed, result))
            if on_run is not None:
                on_run(index, len(plan), setting, spec, seed, runs[-1])
    except KeyboardInterrupt:
        interrupted = True
    except _BudgetSpent:
        spent = True
    return Bench(experiment, config, runs, summarise(runs), primary, interrupted, dict(notes or {}), max_seconds,
                 spent)


def summarise(runs: Sequence[Run]) -> list[Row]:
    groups: dict[tuple[str, str], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.setting, run.spec.label), []).append(run)
    rows = []
    for (setting, label), group in groups.items():
        mean, std = {}, {}
        for key in group[0].result.final:
            mean[key], std[key] = mean_std([run.result.final[key] for run in group])
        rows.append(Row(setting, label, [run.seed for run in group], mean, std,
                        sum(run.result.seconds for run in group) / len(group)))
    return rows


# ---- files -------------------------------------------------------------------------------------------------------

def summary_csv(bench: Bench) -> str:
    metrics = list(bench.rows[0].mean) if bench.rows else []
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["experiment", "setting", "estimator", "seeds", *[f"{m}_{s}" for m in metrics
                                                                      for s in ("mean", "std")], "seconds_per_run"])
    for row in bench.rows:
        writer.writerow([bench.experiment, row.setting, row.label, " ".join(map(str, row.seeds)),
                         *[repr(d[m]) for m in metrics for d in (row.mean, row.std)], f"{row.seconds:.3f}"])
    return buffer.getvalue()


def curves_csv(bench: Bench) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["setting", "estimator", "seed", "curve", "step", "value"])
    for run in bench.runs:
        for name, points in run.result.curves.items():
            for step, value in points:
                writer.writerow([run.setting, run.spec.label, run.seed, name, step, repr(value)])
    return buffer.getvalue()


def curves_png(bench: Bench, curve: str | None = None, ylabel: str | None = None, log_y: bool = False) -> bytes:
    """One panel per setting; per estimator the mean curve over seeds and a min..max band (seeds > 1)."""
    curve = curve or bench.primary
    settings = list(dict.fromkeys(run.setting for run in bench.runs)) or [""]
    figure = new_figure(5.5 * len(settings), 4.2)
    axes_list = figure.subplots(1, len(settings), squeeze=False)[0]
    for axes, setting in zip(axes_list, settings, strict=True):
        labels = list(dict.fromkeys(run.spec.label for run in bench.runs if run.setting == setting))
        for label in labels:
            group = [run.result.curves.get(curve, []) for run in bench.runs
                     if run.setting == setting and run.spec.label == label]
            length = min(len(points) for points in group)
            if length == 0:
                continue
            steps = [step for step, _ in group[0][:length]]
            plot_mean_band(axes, steps, [[value for _, value in points[:length]] for points in group], label, 1.3)
        seeds = len({run.seed for run in bench.runs})
        axes.set_title(f"{bench.experiment} {setting} ({seeds} seed{'s' if seeds != 1 else ''})".strip())
        axes.set_xlabel("step")
        axes.set_ylabel(ylabel or curve)
        if log_y:
            axes.set_yscale("log")
        axes.grid(True, alpha=0.3)
        axes.legend(loc="best", fontsize="small")
    return png_bytes(figure)


OUTPUT_SUFFIXES = (".csv", "-curves.csv", ".json", ".png")
"""What ``write_outputs`` adds to the prefix, in order (``outputs.prefixed``)."""


def write_outputs(bench: Bench, prefix: str | os.PathLike, ylabel: str | None = None,
                  log_y: bool = False) -> list[Path]:
    """``PREFIX.csv``, ``PREFIX-curves.csv``, ``PREFIX.json`` and ``PREFIX.png``, each written atomically."""
    data = [summary_csv(bench), curves_csv(bench), json.dumps(bench.to_json(), indent=1, allow_nan=True) + "\n",
            curves_png(bench, ylabel=ylabel, log_y=log_y)]
    paths = prefixed(prefix, OUTPUT_SUFFIXES)
    for path, content in zip(paths, data, strict=True):
        write_atomic(path, content, make_parents=True)
    return paths
