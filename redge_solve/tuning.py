"""Tune each estimator before comparing them: an Optuna study per estimator on a tuning split, then the comparison
with the chosen parameters on a disjoint test split. Never prints; ``compare --tune N`` wires it to the CLI.

A study runs ``N`` trials of a seeded TPE sampler over the estimator's own parameters (``SEARCH_SPACE``: τ;
n_steps and t_1) and, if asked, the learning rate. Trial 0 is the package defaults (so the choice is never worse
than them on the tuning split). A trial is one ``compare`` run of the candidate on the tuning split over the
tuning seeds, through the caller's executor (Ray splits each trial's instances over its workers). It scores

    value = rate − δ · loss / (1 + loss),    δ = 50 / (instances · seeds)

where rate is the percent solved by the chosen criterion (mean over seeds) and loss the mean final penalty: δ is
half of what one more solved instance adds, so a higher rate always wins and the loss only breaks ties (and gives
TPE a slope where nothing is solved yet). A candidate seen before is not run again. An estimator with nothing to
tune (ST, REINFORCE without ``tune_lr``) keeps its settings and runs no trial.

Optuna is the optional extra ``.[tune]``; ``import_optuna`` raises ``OptunaMissing`` with the install command.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .atomic import write_atomic
from .compare import (
    CRITERIA,
    CompareInput,
    Comparison,
    EstimatorSpec,
    RunEvent,
    compare,
    csv_value,
    run_config,
    summarise,
    write_outputs,
)
from .config import Protocol
from .estimators import parameter_defaults
from .executors import Executor
from .plots import new_figure, png_bytes
from .runs.outputs import prefixed

INSTALL_HINT = 'Optuna is not installed; install it with: pip install -e ".[tune]"'


class OptunaMissing(RuntimeError):
    """``--tune`` without the ``tune`` extra installed."""


def import_optuna() -> Any:
    """The ``optuna`` module with its per-trial log lines silenced, or ``OptunaMissing`` with the install command."""
    try:
        import optuna
    except ImportError:
        raise OptunaMissing(INSTALL_HINT) from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


@dataclass(frozen=True)
class Dimension:
    """One searched parameter: ``kind`` "int" (uniform integers), "float" (uniform on a grid of 0.01) or "log"
    (log-uniform, the value run rounded to 3 significant digits, so labels stay readable)."""

    kind: str
    low: float
    high: float

    def suggest(self, trial: Any, name: str) -> float | int:
        if self.kind == "int":
            return trial.suggest_int(name, int(self.low), int(self.high))
        if self.kind == "float":
            return round(trial.suggest_float(name, self.low, self.high, step=0.01), 2)
        return float(f"{trial.suggest_float(name, self.low, self.high, log=True):.3g}")

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "low": self.low, "high": self.high}


SEARCH_SPACE: dict[str, Dimension] = {
    "tau": Dimension("log", 0.1, 10.0),
    "n_steps": Dimension("int", 2, 9),
    "t_1": Dimension("float", 0.05, 0.95),
}
"""The range searched for each estimator parameter (every estimator having it)."""
LR_DIMENSION = Dimension("log", 0.005, 0.5)
"""The learning-rate range with ``tune_lr``."""


def search_space(name: str, fixed: Mapping[str, Any] = (), tune_lr: bool = False) -> dict[str, Dimension]:
    """The dimensions searched for estimator ``name``: its parameters not given in ``fixed``, and ``lr``."""
    space = {p: SEARCH_SPACE[p] for p in parameter_defaults(name) if p in SEARCH_SPACE and p not in dict(fixed)}
    if tune_lr:
        space["lr"] = LR_DIMENSION
    return space


@dataclass
class Trial:
    """One trial: its parameters (``lr`` among them when tuned), and what its run on the tuning split gave."""

    number: int
    params: dict[str, float | int]
    value: float | None  # None when the run failed (diverged or a task failed)
    rate: float
    loss: float
    seconds: float
    repeat_of: int | None = None  # an earlier trial with the same parameters (not run again)
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class StudyResult:
    """One estimator's study: the searched space, every trial, and the chosen parameters (``lr`` apart)."""

    estimator: str
    fixed: dict[str, Any]
    space: dict[str, Dimension]
    criterion: str
    trials: list[Trial] = field(default_factory=list)
    interrupted: bool = False

    @property
    def best(self) -> Trial | None:
        """The trial of highest value (the earliest among equals), None before any finished."""
        done = [t for t in self.trials if t.value is not None]
        return max(done, key=lambda t: (t.value, -t.number)) if done else None

    def chosen(self, base_lr: float) -> tuple[EstimatorSpec, float]:
        """The spec and learning rate to compare with: the best trial's, else the fixed settings and ``base_lr``."""
        params = dict(self.fixed)
        lr = base_lr
        if self.best is not None:
            params.update({k: v for k, v in self.best.params.items() if k != "lr"})
            lr = float(self.best.params.get("lr", base_lr))
        order = list(parameter_defaults(self.estimator))
        return EstimatorSpec(self.estimator, tuple((k, params[k]) for k in order if k in params)), lr

    def to_json(self) -> dict[str, Any]:
        best = self.best
        return {
            "estimator": self.estimator,
            "fixed": self.fixed,
            "space": {k: d.to_json() for k, d in self.space.items()},
            "criterion": self.criterion,
            "objective": "rate - delta * loss / (1 + loss), delta = 50 / (instances * seeds)",
            "best_trial": None if best is None else best.number,
            "best_params": None if best is None else best.params,
            "interrupted": self.interrupted,
            "trials": [t.to_json() for t in self.trials],
        }


class TuningInterrupted(KeyboardInterrupt):
    """Ctrl-C during tuning: ``studies`` holds every study so far, the last one with its finished trials only."""

    def __init__(self, studies: list[StudyResult], splits: dict[str, list[int]]) -> None:
        super().__init__()
        self.studies, self.splits = studies, splits


@dataclass(frozen=True)
class TrialEvent:
    """Passed to ``on_trial`` after each trial."""

    estimator: str
    trial: Trial
    done: int
    total: int
    best: Trial | None


def objective_value(rate: float, loss: float, instances: int, seeds: int) -> float:
    """``rate − δ · loss / (1 + loss)`` with ``δ = 50 / (instances · seeds)`` (see the module docstring)."""
    return rate - 50.0 / (instances * seeds) * loss / (1.0 + loss)


@dataclass(frozen=True)
class TuneSettings:
    """How every study runs: ``trials`` per estimator, scored by ``criterion`` under ``protocol`` (with
    ``overrides``) over ``seeds``; the learning rate searched too with ``tune_lr``; TPE seeded by ``sampler_seed``;
    ``storage`` an Optuna URL (e.g. ``sqlite:///tune.db``) that keeps the studies between processes."""

    trials: int
    criterion: str = "solved_last"
    protocol: Protocol | str = Protocol.default
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    tune_lr: bool = False
    sampler_seed: int = 0
    storage: str | None = None

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise ValueError(f"unknown criterion {self.criterion!r}; choose from {', '.join(CRITERIA)}")
        if self.trials < 1:
            raise ValueError(f"the number of trials must be >= 1, got {self.trials}")
        if not self.seeds:
            raise ValueError("no tuning seeds")
        object.__setattr__(self, "overrides", {k: v for k, v in dict(self.overrides).items() if v is not None})
        object.__setattr__(self, "seeds", tuple(self.seeds))
        object.__setattr__(self, "protocol", Protocol(self.protocol).value)  # a plain name (the study's name)


def tune_estimator(
    data: CompareInput,
    spec: EstimatorSpec,
    settings: TuneSettings,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
    on_step: Callable[[Any], None] | None = None,
    into: StudyResult | None = None,
) -> StudyResult:
    """The study of ``spec``'s estimator on ``data`` (the tuning split), see the module docstring; ``spec.params``
    stay fixed. With ``settings.storage`` a rerun loads the trials already told and runs only the missing ones.
    ``into``: the ``StudyResult`` to fill (the caller keeps it on Ctrl-C, which is re-raised after the last
    finished trial)."""
    optuna = import_optuna()
    trials, criterion, protocol = settings.trials, settings.criterion, settings.protocol
    overrides, seeds, storage = dict(settings.overrides), settings.seeds, settings.storage
    base = run_config(spec, seeds[0], protocol, overrides, data.defaults)
    space = search_space(spec.name, spec.param_dict, settings.tune_lr)
    result = into or StudyResult(spec.name, spec.param_dict, space, criterion)
    result.fixed, result.space, result.criterion = spec.param_dict, space, criterion
    if not space:
        return result
    sampler = optuna.samplers.TPESampler(seed=settings.sampler_seed, n_startup_trials=max(2, min(10, trials // 3)))
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage,
                                study_name=f"{spec.label}/{criterion}/{protocol}", load_if_exists=storage is not None)
    _reload(study, result, optuna)
    if not study.trials:
        defaults = {**parameter_defaults(spec.name), "lr": base.lr}
        study.enqueue_trial({k: defaults[k] for k in space})
    seen = {json.dumps(t.params, sort_keys=True): t.number for t in result.trials if t.repeat_of is None}
    while len(result.trials) < trials:
        trial = study.ask()
        params = {name: dim.suggest(trial, name) for name, dim in space.items()}
        key = json.dumps(params, sort_keys=True)
        if key in seen:
            first = result.trials[seen[key]]
            record = replace(first, number=trial.number, seconds=0.0, repeat_of=first.number)
        else:
            record = _run_trial(data, spec, params, trial.number, criterion, protocol, overrides, seeds, executor,
                                chunk_size, on_step)
            seen[key] = len(result.trials)
        for name in ("params", "rate", "loss", "seconds", "repeat_of", "error"):  # a stored study reloads these
            trial.set_user_attr(name, getattr(record, name))
        if record.value is None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        else:
            study.tell(trial, record.value)
        result.trials.append(record)
        if on_trial is not None:
            on_trial(TrialEvent(spec.name, record, len(result.trials), trials, result.best))
    return result


def _reload(study: Any, result: StudyResult, optuna: Any) -> None:
    """Trials a stored study already holds (a rerun), as ``Trial`` records; unfinished ones are dropped."""
    for frozen in study.trials:
        if frozen.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.FAIL):
            continue
        attrs = frozen.user_attrs
        # the parameters run (rounded, see Dimension), not Optuna's raw suggestion
        result.trials.append(Trial(frozen.number, dict(attrs.get("params", frozen.params)), frozen.value,
                                   attrs.get("rate", math.nan), attrs.get("loss", math.nan),
                                   attrs.get("seconds", 0.0), attrs.get("repeat_of"), attrs.get("error")))


def _run_trial(data: CompareInput, spec: EstimatorSpec, params: dict[str, Any], number: int, criterion: str,
               protocol: str, overrides: dict[str, Any], seeds: Sequence[int], executor: Executor | None,
               chunk_size: int | None, on_step: Callable[[Any], None] | None) -> Trial:
    chosen = {**spec.param_dict, **{k: v for k, v in params.items() if k != "lr"}}
    candidate = EstimatorSpec(spec.name, tuple((k, chosen[k]) for k in parameter_defaults(spec.name) if k in chosen))
    trial_overrides = {**overrides, **({"lr": params["lr"]} if "lr" in params else {})}
    start = time.perf_counter()
    result = compare(data.problem, data.make_records, [candidate], seeds, protocol, trial_overrides,
                     puzzle_ids=data.ids, on_step=on_step, executor=executor, chunk_size=chunk_size,
                     defaults=data.defaults)
    seconds = time.perf_counter() - start
    row = result.rows[0]
    errors = [run.error for run in result.runs if run.error]
    if not row.seeds:  # every seed failed
        return Trial(number, params, None, math.nan, math.nan, seconds, error=errors[0])
    rate, loss = row.stats[criterion].mean, row.stats["loss"].mean
    value = objective_value(rate, loss, len(data), len(row.seeds))
    return Trial(number, params, value, rate, loss, seconds, error=errors[0] if errors else None)


def tune_and_compare(
    data: CompareInput,
    specs: Sequence[EstimatorSpec],
    seeds: Sequence[int],
    settings: TuneSettings,
    fraction: float = 0.5,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    on_trial: Callable[[TrialEvent], None] | None = None,
    on_run: Callable[[RunEvent], None] | None = None,
    on_step: Callable[[Any], None] | None = None,
) -> Comparison:
    """Split ``data`` (the first ``fraction`` to tune, the rest to test), tune every spec on the tuning split
    (``tune_estimator``), then ``compare`` each with its chosen parameters (and learning rate) on the test split
    over ``seeds``. The comparison carries the studies and both splits. Ctrl-C raises ``TuningInterrupted`` with
    the studies so far while tuning; during the final runs the ``KeyboardInterrupt`` passes through."""
    tune_part, test_part = data.split(fraction)
    splits = {"tune": list(tune_part.ids), "test": list(test_part.ids)}
    protocol, overrides = settings.protocol, dict(settings.overrides)
    studies: list[StudyResult] = []
    for spec in specs:
        run_config(spec, seeds[0], protocol, overrides, data.defaults)  # every spec valid before the first trial
    try:
        for spec in specs:
            studies.append(StudyResult(spec.name, spec.param_dict, {}, settings.criterion))
            tune_estimator(tune_part, spec, settings, executor, chunk_size, on_trial, on_step, into=studies[-1])
    except KeyboardInterrupt:
        if studies:
            studies[-1].interrupted = True
        raise TuningInterrupted(studies, splits) from None
    base_lr = run_config(specs[0], seeds[0], protocol, overrides, data.defaults).lr
    runs = []
    for position, study in enumerate(studies):
        spec, lr = study.chosen(base_lr)

        def shifted(event: RunEvent, position: int = position) -> None:
            if on_run is not None:
                on_run(replace(event, index=event.index + position * len(seeds), total=len(studies) * len(seeds)))

        part = compare(test_part.problem, test_part.make_records, [spec], seeds, protocol, {**overrides, "lr": lr},
                       puzzle_ids=test_part.ids, on_run=shifted, on_step=on_step, executor=executor,
                       chunk_size=chunk_size, defaults=data.defaults)
        runs += part.runs
    return Comparison(runs, summarise(runs), Protocol(protocol).value, overrides, list(test_part.ids), splits=splits,
                      tuning=[s.to_json() for s in studies])


# ---- files -------------------------------------------------------------------------------------------------------

TRIAL_COLUMNS = ("estimator", "trial", "value", "rate", "loss", "seconds", "repeat_of", "error", "chosen", "params")


def trials_csv(studies: Sequence[StudyResult | Mapping[str, Any]]) -> str:
    """Every trial of every study, one row each (``TRIAL_COLUMNS``; params as JSON, ``chosen`` on the best)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRIAL_COLUMNS)
    for study in studies:
        data = study.to_json() if isinstance(study, StudyResult) else study
        for trial in data["trials"]:
            row = {**trial, "estimator": data["estimator"], "trial": trial["number"],
                   "chosen": trial["number"] == data["best_trial"], "params": json.dumps(trial["params"])}
            writer.writerow(["" if row[c] is None else csv_value(row[c]) for c in TRIAL_COLUMNS])
    return buffer.getvalue()


def splits_csv(splits: Mapping[str, Sequence[int]]) -> str:
    """One row per instance: ``split,index``."""
    return "split,index\n" + "".join(f"{name},{index}\n" for name, ids in splits.items() for index in ids)


def study_png(studies: Sequence[StudyResult | Mapping[str, Any]]) -> bytes:
    """One panel per study: each trial's rate (dots; failed trials as crosses at 0), the rate of the best trial so
    far, and each trial's loss (grey, right axis: the tie-break)."""
    data = [s.to_json() if isinstance(s, StudyResult) else s for s in studies]
    data = [s for s in data if s["trials"]] or data[:1]
    columns = min(3, max(len(data), 1))
    rows = -(-max(len(data), 1) // columns)
    figure = new_figure(4.2 * columns, 3.2 * rows)
    axes_grid = figure.subplots(rows, columns, squeeze=False)
    for axes, study in zip(axes_grid.flat, data, strict=False):
        numbers = [t["number"] for t in study["trials"]]
        ok = [t for t in study["trials"] if t["value"] is not None]
        failed = [t["number"] for t in study["trials"] if t["value"] is None]
        axes.plot([t["number"] for t in ok], [t["rate"] for t in ok], "o", markersize=4, label="trial")
        if failed:
            axes.plot(failed, [0.0] * len(failed), "x", color="red", label="failed")
        best, running = -math.inf, []
        for t in study["trials"]:
            if t["value"] is not None and t["value"] > best:
                best, best_rate = t["value"], t["rate"]
            running.append(best_rate if best > -math.inf else math.nan)
        axes.step(numbers, running, where="post", label="best so far")
        loss_axes = axes.twinx()  # the tie-break TPE also sees: the mean final penalty
        loss_axes.plot([t["number"] for t in ok], [t["loss"] for t in ok], ".", color="grey", markersize=3)
        loss_axes.set_ylabel("loss (grey, log)", fontsize="small")
        if ok and min(t["loss"] for t in ok) > 0:
            loss_axes.set_yscale("log")
        chosen = study["best_params"] or study["fixed"] or {}
        text = ", ".join(f"{k}={_short(v)}" for k, v in chosen.items()) or "nothing to tune"
        axes.set_title(f"{study['estimator']}: {text}", fontsize="small")
        axes.set_xlabel("trial")
        axes.set_ylabel(f"{study['criterion']} (%)")
        axes.grid(True, alpha=0.3)
    for axes in list(axes_grid.flat)[len(data):]:
        axes.set_visible(False)
    axes_grid.flat[0].legend(loc="best", fontsize="x-small")
    return png_bytes(figure)


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


TUNING_SUFFIXES = ("-trials.csv", "-splits.csv", "-tuning.png")
"""What ``write_tuning`` adds to the prefix."""


def write_tuning(studies: Sequence[StudyResult | Mapping[str, Any]], splits: Mapping[str, Sequence[int]],
                 prefix: str | os.PathLike, plot: bool = True) -> list[Path]:
    """``PREFIX-trials.csv``, ``PREFIX-splits.csv`` and ``PREFIX-tuning.png`` (also what Ctrl-C leaves)."""
    trials_path, splits_path, png_path = prefixed(prefix, TUNING_SUFFIXES)
    write_atomic(trials_path, trials_csv(studies), make_parents=True)
    write_atomic(splits_path, splits_csv(splits), make_parents=True)
    if not plot:
        return [trials_path, splits_path]
    write_atomic(png_path, study_png(studies), make_parents=True)
    return [trials_path, splits_path, png_path]


def write_tuned_comparison(comparison: Comparison, prefix: str | os.PathLike, plot: bool = True) -> list[Path]:
    """``write_outputs`` (table, JSON with the studies and splits, curves) and ``write_tuning``."""
    return write_outputs(comparison, prefix, plot) + write_tuning(comparison.tuning, comparison.splits, prefix, plot)
