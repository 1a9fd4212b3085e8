"""Compare gradient estimators on the same instances (Sudoku puzzles, or any solver ``Problem``): every (estimator
spec, seed) run, then one summary row per spec. Never prints; ``cli/compare_cmd.py`` wires it to the command line.
``load_compare_input`` reads a source (puzzle file, hub dataset, graphs, ``queens:N,...``) into a ``CompareInput``
(the problem and the maker of its per-instance records); ``tuning.py`` tunes each estimator before a comparison
and ``diagnostics.py`` measures its gradients against the exact one.

Definitions used in the table (all computed by ``summarise`` from the per-puzzle records of the runs):

- loss: ``penalty`` of the last hard sample(s) of each puzzle (the paper's "loss"), mean ± std over all
  puzzle × seed pairs (population std, ddof 0).
- solved % last / mode / any / found: the share of puzzles solved by the last sample, by the mode (argmax) of the
  final logits, by any sample seen during optimisation, and found by any sample or mode (``found``). Each is
  computed per seed, then mean ± std over seeds (population std, ddof 0; 0 with one seed).
- mean step to solve: mean ``first_solved_step`` over the (puzzle, seed) pairs that were found; None if none.
- ms/step: per run, wall-clock seconds of ``solve`` divided by the number of optimisation steps it executed
  (the largest ``steps_run`` over the puzzles), i.e. milliseconds per step of the whole batch; mean over seeds.
  With early stop the batch shrinks as puzzles are solved, so default-protocol figures are not per-puzzle costs.
- diverged: runs where some puzzle's logits became NaN/inf (``PuzzleResults.diverged_step``); they are kept in
  the JSON with their error and excluded from every other figure of the row.
- curve: per run, percentage of puzzles found by each step; runs that stopped early are padded with their last
  value up to the longest run. elapsed: per run, the wall seconds at the end of each step (tasks and memory-sized
  sub-batches run one after another add up), the time axis of the plot's right panel.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, field, fields, replace
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

import torch

from .atomic import write_atomic
from .config import Protocol, build_config
from .estimators import canonical_name, coerce_params, make_estimator, parameter_defaults
from .executors import Executor, LocalExecutor, TaskFailed, inject_failure
from .paired import BOOTSTRAP_SEED, LEVEL, RESAMPLES, PairsReport, pairs_report, resolve_baseline
from .plots import distinct_colors, new_figure, plot_mean_band, png_bytes
from .problem_defaults import COLOR_DEFAULTS, QUEENS_DEFAULTS
from .problems.sudoku import SudokuBatch, validate_puzzle
from .runs.grouped import SMALLEST_BUDGET
from .runs.outputs import prefixed
from .runs.records import sudoku_records
from .settings import RUN_FIELDS, sudoku_defaults
from .solver import DEFAULTS, Problem, PuzzleResults, SolverConfig, solve

RecordMaker = Callable[[PuzzleResults, slice], list[dict[str, Any]]]
"""(results of a window of the instances, the window) -> one record per instance of the window, with at least the
keys ``summarise`` reads (``penalty``, ``found``, the three ``solved_*``, ``first_solved_step``); a record with an
``error`` key has no result."""

PROTOCOLS = tuple(p.value for p in Protocol)
OVERRIDABLE = (*(name for name in RUN_FIELDS if name != "seed"), "early_stop")  # the seeds are compare's own


@dataclass(frozen=True)
class EstimatorSpec:
    """One estimator with explicit parameter values (only those set; the rest keep their defaults)."""

    name: str
    params: tuple[tuple[str, float | int], ...] = ()

    @property
    def label(self) -> str:
        if not self.params:
            return self.name
        return f"{self.name}(" + ", ".join(f"{k}={v}" for k, v in self.params) + ")"

    @property
    def param_dict(self) -> dict[str, float | int]:
        return dict(self.params)

    def effective_params(self) -> dict[str, Any]:
        """Every parameter with the value the run uses (defaults filled in)."""
        est = make_estimator(self.name, **self.param_dict)
        return {k: getattr(est, k) for k in parameter_defaults(self.name)}


def _split_key(key: str, names: Sequence[str], what: str) -> list[tuple[str, str]]:
    """``"redge.n_steps"`` -> [("redge", "n_steps")]; a bare ``"t_1"`` -> every selected estimator having it."""
    est, dot, param = key.rpartition(".")
    if dot:
        try:
            est = canonical_name(est)
        except ValueError as exc:
            raise ValueError(f"{what} {key!r}: {exc}") from None
        if est not in names:
            raise ValueError(f"{what} {key!r} names estimator {est!r}, which is not among `estimators` "
                             f"({', '.join(names)})")
        if param not in parameter_defaults(est):
            known = ", ".join(parameter_defaults(est)) or "none"
            raise ValueError(f"{what} {key!r}: estimator {est!r} has no parameter {param!r} (its parameters: {known})")
        return [(est, param)]
    targets = [(n, key) for n in names if key in parameter_defaults(n)]
    if not targets:
        raise ValueError(f"{what} {key!r}: none of the selected estimators ({', '.join(names)}) has that parameter; "
                         "write ESTIMATOR.PARAMETER")
    return targets


def _coerce(name: str, param: str, value: Any) -> float | int:
    """``value`` as parameter ``param`` of ``name`` (``coerce_params``), range-checked by the estimator."""
    value = coerce_params(name, {param: value})[param]
    make_estimator(name, **{param: value})  # raises a one-line ValueError on a value out of range
    return value


def expand_specs(
    estimators: Sequence[str],
    params: Mapping[str, Any] | None = None,
    grid: Mapping[str, Sequence[Any]] | None = None,
) -> list[EstimatorSpec]:
    """Estimator names, fixed ``{"est.param": value}`` and grids ``{"est.param": [v1, v2]}`` -> specs.

    A grid over several parameters of one estimator expands to their cartesian product; each estimator keeps its
    own product (``redge.t_1`` does not multiply ``gumbel`` runs). Raises ``ValueError`` (one line) on an unknown
    estimator, parameter or value, or a duplicated estimator.
    """
    names: list[str] = []
    for raw in estimators:
        name = canonical_name(raw)
        if name in names:
            raise ValueError(f"estimator {name!r} is listed twice")
        names.append(name)
    if not names:
        raise ValueError("no estimators selected")
    fixed: dict[str, dict[str, Any]] = {n: {} for n in names}
    for key, value in (params or {}).items():
        for est, param in _split_key(key, names, "`param`"):
            fixed[est][param] = _coerce(est, param, value)
    axes: dict[str, dict[str, list[Any]]] = {n: {} for n in names}
    for key, values in (grid or {}).items():
        values = list(values)
        if not values:
            raise ValueError(f"`grid` {key!r} has no values")
        for est, param in _split_key(key, names, "`grid`"):
            if param in fixed[est]:
                raise ValueError(f"{est}.{param} is given both by `param` and `grid`")
            coerced = [_coerce(est, param, v) for v in values]
            if len(set(coerced)) != len(coerced):
                raise ValueError(f"`grid` {key!r} repeats a value")
            axes[est][param] = coerced
    specs = []
    for name in names:
        order = list(parameter_defaults(name))
        keys = list(axes[name])
        for combo in itertools.product(*(axes[name][k] for k in keys)):
            chosen = dict(fixed[name])
            chosen.update(zip(keys, combo, strict=True))
            params_sorted = tuple((k, chosen[k]) for k in order if k in chosen)
            make_estimator(name, **dict(params_sorted))  # cross-parameter validation (e.g. a range check)
            specs.append(EstimatorSpec(name, params_sorted))
    return specs


def run_config(
    spec: EstimatorSpec, seed: int, protocol: Protocol | str = Protocol.default,
    overrides: Mapping[str, Any] | None = None, defaults: SolverConfig = DEFAULTS,
) -> SolverConfig:
    """The ``SolverConfig`` of one run (``build_config``): ``defaults`` (the problem's product settings: Sudoku's
    ``DEFAULTS``, ``COLOR_DEFAULTS`` or ``QUEENS_DEFAULTS`` for graphs and boards) with the spec's estimator, then
    the protocol, then ``overrides``."""
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    bad = [k for k in overrides if k not in OVERRIDABLE]
    if bad:
        raise ValueError(f"cannot override {', '.join(bad)}; only {', '.join(OVERRIDABLE)}")
    return build_config(defaults, spec.name, spec.param_dict, protocol, seed=seed, **overrides)


@dataclass
class Run:
    """One (spec, seed) run: its config, per-puzzle records and curve of puzzles found by step."""

    spec: EstimatorSpec
    seed: int
    config: SolverConfig
    records: list[dict[str, Any]]
    curve: list[tuple[int, int]]
    seconds: float
    steps: int  # optimisation steps executed (max steps_run)
    error: str | None = None  # set when the run diverged (NaN/inf logits); records and curve are then empty
    elapsed: list[float] = field(default_factory=list)  # wall seconds at each step of ``curve`` (``step_seconds``)

    @property
    def ms_per_step(self) -> float:
        return 1000.0 * self.seconds / max(self.steps, 1)

    def to_json(self) -> dict[str, Any]:
        return {
            "estimator": self.spec.name,
            "params": self.spec.param_dict,
            "label": self.spec.label,
            "seed": self.seed,
            "config": config_dict(self.config),
            "seconds": round(self.seconds, 4),
            "steps": self.steps,
            "ms_per_step": self.ms_per_step,
            "error": self.error,
            "curve": [list(point) for point in self.curve],
            "elapsed": [round(t, 4) for t in self.elapsed],
            "records": self.records,
        }


@dataclass
class RunEvent:
    """Passed to ``on_run`` before (``run is None``) and after each run."""

    index: int  # 0-based position among all runs
    total: int
    spec: EstimatorSpec
    seed: int
    config: SolverConfig
    run: Run | None = None


def config_dict(config: SolverConfig) -> dict[str, Any]:
    out = {}
    for f in fields(config):
        value = getattr(config, f.name)
        out[f.name] = dict(value) if isinstance(value, Mapping) else value
    return out


@dataclass(frozen=True)
class MeanStd:
    """A mean and its population standard deviation (ddof 0); both NaN over no values."""

    mean: float
    std: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "MeanStd":
        """mean = Σ v / n, std = √(Σ (v − mean)² / n)."""
        if not values:
            return cls(math.nan, math.nan)
        mean = sum(values) / len(values)
        return cls(mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)))


CRITERIA = ("solved_last", "solved_mode", "solved_any", "found")
STATS = ("loss", *CRITERIA)
"""The keys of ``SpecSummary.stats``: the loss, then the solve rates (percent) by each criterion."""


@dataclass
class SpecSummary:
    """One row of the comparison table (see the module docstring for the definitions). ``stats`` holds the loss and
    the four solve rates (``STATS``); ``flat`` spells them out as ``loss_mean``, ``loss_std``, ... for the files."""

    label: str
    estimator: str
    params: dict[str, Any]
    seeds: list[int]
    puzzles: int
    stats: dict[str, MeanStd]
    mean_step_to_solve: float | None
    ms_per_step: float
    diverged: int = 0  # runs (seeds) that stopped with NaN/inf logits; excluded from every other figure
    config: dict[str, Any] = field(default_factory=dict)

    def flat(self) -> dict[str, Any]:
        """The row with each statistic as ``NAME_mean`` and ``NAME_std`` (the JSON table row, in file order)."""
        out: dict[str, Any] = dict(label=self.label, estimator=self.estimator, params=self.params, seeds=self.seeds,
                                   puzzles=self.puzzles)
        for name in STATS:
            out[f"{name}_mean"], out[f"{name}_std"] = self.stats[name].mean, self.stats[name].std
        out.update(mean_step_to_solve=self.mean_step_to_solve, ms_per_step=self.ms_per_step,
                   diverged=self.diverged, config=self.config)
        return out


def summarise(runs: Sequence[Run]) -> list[SpecSummary]:
    """One ``SpecSummary`` per spec, in order of first appearance, computed only from the runs' records."""
    groups: dict[EstimatorSpec, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.spec, []).append(run)
    rows = []
    for spec, all_runs in groups.items():
        group = [run for run in all_runs if run.error is None]
        stats = {"loss": MeanStd.of([r["mean_sample_penalty"] for run in group for r in run.records])}
        for key in CRITERIA:
            stats[key] = MeanStd.of([100.0 * sum(bool(r[key]) for r in run.records) / max(len(run.records), 1)
                                     for run in group])
        steps = [r["first_solved_step"] for run in group for r in run.records if r["found"]]
        config = config_dict(all_runs[0].config)
        config.pop("seed", None)
        rows.append(SpecSummary(
            label=spec.label,
            estimator=spec.name,
            params=dict(all_runs[0].config.params),  # what ran: the spec's, and the defaults' kept (build_config)
            seeds=[run.seed for run in group],
            puzzles=len(group[0].records) if group else 0,
            stats=stats,
            mean_step_to_solve=(sum(steps) / len(steps)) if steps else None,
            ms_per_step=(sum(run.ms_per_step for run in group) / len(group)) if group else math.nan,
            diverged=len(all_runs) - len(group),
            config=config,
        ))
    return rows


def curve_percent(run: Run, length: int | None = None) -> list[float]:
    """Percentage of puzzles found after each step 1..length (padded with the last value)."""
    total = max(len(run.records), 1)
    values = [100.0 * found / total for _, found in run.curve]
    return padded(values or [0.0], len(values) if length is None else length)


@dataclass
class Comparison:
    """The runs and table of one comparison. ``settings``: free-form (source, split, ...); ``splits``: the
    instance ids of each split (``{"tune": [...], "test": [...]}`` after tuning); ``tuning``: one JSON-ready
    study per tuned estimator (``tuning.StudyResult.to_json``). All three go into the JSON."""

    runs: list[Run]
    rows: list[SpecSummary]
    protocol: str
    overrides: dict[str, Any]
    puzzle_ids: list[int]
    settings: dict[str, Any] = field(default_factory=dict)
    splits: dict[str, list[int]] = field(default_factory=dict)
    tuning: list[dict[str, Any]] = field(default_factory=list)
    pairs: PairsReport | None = None  # ``add_pairs``: paired differences between the rows

    def add_pairs(self, baseline: str | None = None, resamples: int = RESAMPLES, level: float = LEVEL,
                  seed: int = BOOTSTRAP_SEED) -> PairsReport:
        """Paired differences (``paired.py``) between every two rows, or each row and ``baseline`` (a label or an
        estimator name with one row), under every solve criterion; kept in ``pairs`` and returned."""
        labels = [row.label for row in self.rows]
        if baseline is not None:
            baseline = resolve_baseline(baseline, labels, [row.estimator for row in self.rows])
        self.pairs = pairs_report(self.runs, labels, CRITERIA, baseline, resamples, level, seed)
        return self.pairs

    def to_json(self) -> dict[str, Any]:
        out = {
            "protocol": self.protocol,
            "overrides": self.overrides,
            "puzzles": len(self.puzzle_ids),
            "puzzle_ids": self.puzzle_ids,
            "settings": self.settings,
            "definitions": DEFINITIONS,
            "table": [row.flat() for row in self.rows],
            "runs": [run.to_json() for run in self.runs],
        }
        if self.splits:
            out["splits"] = self.splits
        if self.tuning:
            out["tuning"] = self.tuning
        if self.pairs is not None:
            out["pairs"] = self.pairs.to_json()
        return out


DEFINITIONS = {
    "loss": "penalty of the last hard sample of each puzzle; mean and population std over all puzzle x seed pairs",
    "solved_*_mean/std": "percent of puzzles per seed; mean and population std over seeds",
    "solved_last": "a sample of the last step is a valid solution (the paper's criterion with 1 sample)",
    "solved_mode": "the argmax of the final logits is a valid solution",
    "solved_any": "some sample during optimisation was a valid solution",
    "found": "a valid solution was found by a sample or the mode at some step",
    "mean_step_to_solve": "mean first_solved_step over found (puzzle, seed) pairs",
    "ms_per_step": "run wall seconds / optimisation steps executed (whole batch), mean over seeds",
    "diverged": "runs stopped by NaN/inf logits; excluded from every other figure of the row",
}


def compare(
    problem: Problem,
    make_records: RecordMaker,
    specs: Sequence[EstimatorSpec],
    seeds: Sequence[int],
    protocol: str = "default",
    overrides: Mapping[str, Any] | None = None,
    puzzle_ids: Sequence[int] | None = None,
    on_run: Callable[[RunEvent], None] | None = None,
    on_step: Callable[[Any], None] | None = None,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    defaults: SolverConfig = DEFAULTS,
) -> Comparison:
    """Run every (spec, seed) on the instances of ``problem`` and summarise; ``make_records`` turns each task's
    results into one record per instance (see ``RecordMaker``; ``CompareInput`` bundles both). ``defaults``: the
    settings the protocol starts from (``CompareInput.defaults``: Sudoku's or the other problems').

    puzzle_ids: a stable id per instance (the noise keys and the records' ids; default 0..I−1).
    Every config is built (and validated) before the first run starts, so a bad combination fails at once.
    ``on_run`` gets a ``RunEvent`` before and after each run; ``on_step`` the solver's ``Progress`` per step
    (only when the executor runs tasks in this process). Each run is split into tasks of ``chunk_size`` instances
    (default: all) run by ``executor`` (default: this process); results are batch-invariant, so only the timings
    (``seconds``, ms/step: then the sum over the run's tasks) depend on the split.

    A time budget (``max_seconds`` in ``overrides``) bounds the whole comparison: each task gets an equal share of
    what is left of it when the task is handed out (what is still unsolved at the end of its share stops, unsolved),
    so every (spec, seed) gets about the same time. The tasks solve on the problem's device.
    """
    if not seeds:
        raise ValueError("no seeds")
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds repeat")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    ids = list(range(problem.num_instances)) if puzzle_ids is None else [int(i) for i in puzzle_ids]
    if len(ids) != problem.num_instances:
        raise ValueError(f"{len(ids)} puzzle ids for {problem.num_instances} instances")
    plan = [(spec, seed, run_config(spec, seed, protocol, overrides, defaults)) for spec in specs for seed in seeds]
    executor = executor or LocalExecutor()
    size = max(1, chunk_size or len(ids))
    bounds = [(start, min(start + size, len(ids))) for start in range(0, len(ids), size)]
    task = partial(solve_part, problem=problem, make_records=make_records, ids=ids,
                   on_step=on_step if executor.in_process else None)
    budget = overrides.get("max_seconds")
    deadline = None if budget is None else time.time() + budget

    def parts() -> Iterator[RunPart]:
        handed = 0
        for index, (spec, seed, config) in enumerate(plan):
            if on_run is not None:
                on_run(RunEvent(index, len(plan), spec, seed, config))
            for start, stop in bounds:
                yield RunPart(index, share(config, deadline, len(plan) * len(bounds) - handed), start, stop)
                handed += 1

    runs: list[Run] = []
    outcomes: list[PartResult | TaskFailed] = []
    for part, outcome in executor.imap(task, parts()):
        outcomes.append(outcome)
        if part.stop < len(ids):
            continue
        spec, seed, config = plan[part.run]
        run = merge_parts(spec, seed, config, outcomes)
        outcomes = []
        runs.append(run)
        if on_run is not None:
            on_run(RunEvent(part.run, len(plan), spec, seed, config, run))
    return Comparison(runs, summarise(runs), Protocol(protocol).value, dict(overrides), ids)


def share(config: SolverConfig, deadline: float | None, tasks_left: int) -> SolverConfig:
    """``config`` for the next of ``tasks_left`` tasks sharing a run's time budget that ends at ``deadline`` (a
    ``time.time()`` reading; None: no budget): an equal share of the time left, at least ``SMALLEST_BUDGET``."""
    if deadline is None:
        return config
    left = (deadline - time.time()) / max(tasks_left, 1)
    return replace(config, max_seconds=max(left, SMALLEST_BUDGET))


@dataclass(frozen=True)
class RunPart:
    """One task of ``compare``: run number ``run`` (its ``config``) on the instances ``start:stop``."""

    run: int
    config: SolverConfig
    start: int
    stop: int


@dataclass
class PartResult:
    records: list[dict[str, Any]]
    curve: list[tuple[int, int]]
    seconds: float
    steps: int
    error: str | None = None
    elapsed: list[float] = field(default_factory=list)


def step_seconds(parts: Sequence[Sequence[float]]) -> list[float]:
    """Wall seconds at each step of batches run one after another (a run's tasks, or the memory-sized
    sub-batches of one ``solve``), each list a batch's seconds from its start to the end of each of its steps:
    at step t the sum over batches of each one's seconds at min(t, its last step) (the run's ``seconds`` at the
    last step, as the curve sums each batch's count at min(t, its last step))."""
    longest = max((len(p) for p in parts), default=0)
    return [sum(p[min(t, len(p)) - 1] for p in parts if p) for t in range(1, longest + 1)]


def window_of(problem: Problem, window: slice) -> Problem:
    """The instances ``window`` of ``problem`` (the problem itself when the window covers it)."""
    keep = torch.zeros(problem.num_instances, dtype=torch.bool, device=problem.var_instance.device)
    keep[window] = True
    return problem if keep.all() else problem.select(keep)


def solve_part(part: RunPart, problem: Problem, make_records: RecordMaker, ids: Sequence[int],
               on_step: Callable[[Any], None] | None = None) -> PartResult:
    """One task (here or on a Ray worker): solve instances ``start:stop`` of ``problem`` with the part's config."""
    window = slice(part.start, part.stop)
    inject_failure(ids[window])
    batches: list[list[float]] = []  # per sub-batch of ``solve``, seconds at each of its steps

    def timed(progress: Any) -> None:
        if progress.step == progress.from_step:  # a (sub-)batch starts: at step 1, or a part of one going on
            batches.append([0.0] * (progress.step - 1))  # from a later step (none of its time before that)
        batches[-1].append(progress.elapsed)
        if on_step is not None:
            on_step(progress)

    start = time.perf_counter()
    results = solve(window_of(problem, window), part.config, puzzle_ids=torch.tensor(ids[window], dtype=torch.long),
                    on_step=timed)
    seconds = time.perf_counter() - start
    diverged = results.diverged_step[results.diverged_step >= 0]
    if len(diverged):  # one diverging (spec, seed) must not lose the rest of the comparison
        error = f"logits became NaN/inf at step {int(diverged.min())} in {len(diverged)} puzzle(s)"
        return PartResult([], [], seconds, 0, error=error)
    return PartResult(make_records(results, window), list(results.curve), seconds, int(results.steps_run.max()),
                      elapsed=step_seconds(batches))


def merge_parts(spec: EstimatorSpec, seed: int, config: SolverConfig,
                parts: Sequence[PartResult | TaskFailed]) -> Run:
    """The ``Run`` of a (spec, seed) from its tasks in puzzle order: records concatenated, curves summed (a part
    that stopped early keeps its last count), seconds summed, steps the largest; an error in any part (a
    divergence, or a task that kept failing) makes the whole run an error."""
    seconds = sum(p.seconds for p in parts if isinstance(p, PartResult))
    for p in parts:
        if isinstance(p, TaskFailed) or p.error is not None:
            error = f"task failed: {p.reason}" if isinstance(p, TaskFailed) else p.error
            return Run(spec, seed, config, [], [], seconds, 0, error=error)
    done = [p for p in parts if isinstance(p, PartResult)]
    length = max(len(p.curve) for p in done)
    curve = [(step, sum(p.curve[min(step, len(p.curve)) - 1][1] for p in done if p.curve))
             for step in range(1, length + 1)]
    records = [r for p in done for r in p.records]
    return Run(spec, seed, config, records, curve, seconds, max(p.steps for p in done),
               elapsed=step_seconds([p.elapsed for p in done]))


# ---- inputs ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SudokuRecords:
    """``RecordMaker`` of Sudoku puzzles: ``sudoku_records`` of a window (clues ``(I, N²)``, ids, optional known
    solutions and per-row metadata, all in instance order). A plain object, so Ray can ship it to workers."""

    clues: torch.Tensor
    ids: tuple[int, ...]
    solutions: tuple[torch.Tensor | None, ...] | None = None
    metas: tuple[dict[str, Any], ...] | None = None

    def __call__(self, results: PuzzleResults, window: slice) -> list[dict[str, Any]]:
        return sudoku_records(results, self.clues[window], self.ids[window],
                              None if self.solutions is None else self.solutions[window],
                              None if self.metas is None else self.metas[window])

    def subset(self, window: slice) -> "SudokuRecords":
        return SudokuRecords(self.clues[window], self.ids[window],
                             None if self.solutions is None else self.solutions[window],
                             None if self.metas is None else self.metas[window])


@dataclass(frozen=True)
class InstanceRecords:
    """``RecordMaker`` of named instances (colouring, queens, ...): ``instance_records`` of a window."""

    instances: tuple[Any, ...]  # runs.instances.Instance
    ids: tuple[int, ...]

    def __call__(self, results: PuzzleResults, window: slice) -> list[dict[str, Any]]:
        from .runs.instances import instance_records

        return instance_records(results, self.instances[window], self.ids[window])

    def subset(self, window: slice) -> "InstanceRecords":
        return InstanceRecords(self.instances[window], self.ids[window])


@dataclass(frozen=True)
class CompareInput:
    """What ``compare`` runs on: the problem, the maker of its records, and each instance's id (its row in the
    source; the noise keys). ``kind``: "sudoku" or "instances"."""

    problem: Problem
    make_records: SudokuRecords | InstanceRecords
    ids: tuple[int, ...]
    kind: str
    defaults: SolverConfig = DEFAULTS  # the product settings of this kind of problem (the default protocol's)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, window: slice) -> "CompareInput":
        """The instances ``window`` (e.g. a tuning or a test split), ids and records kept with them."""
        return replace(self, problem=window_of(self.problem, window), make_records=self.make_records.subset(window),
                       ids=self.ids[window])

    def split(self, fraction: float) -> tuple["CompareInput", "CompareInput"]:
        """The first ``round(fraction · I)`` instances and the rest: disjoint, together all of them, neither empty.
        Raises ``ValueError`` when there are too few instances to split so."""
        if not 0 < fraction < 1:
            raise ValueError(f"the tuning fraction must lie strictly between 0 and 1, got {fraction}")
        cut = round(fraction * len(self))
        if not 0 < cut < len(self):
            raise ValueError(f"cannot split {len(self)} instance(s) {fraction:g} / {1 - fraction:g} into two "
                             "non-empty parts; use more instances")
        return self.subset(slice(0, cut)), self.subset(slice(cut, len(self)))


def sudoku_input(clues: torch.Tensor, ids: Sequence[int] | None = None,
                 solutions: Sequence[torch.Tensor | None] | None = None,
                 metas: Sequence[dict[str, Any]] | None = None,
                 device: torch.device | str | None = None) -> CompareInput:
    """Puzzles ``(I, N²)`` (0 = blank) as a ``CompareInput`` solved on ``device`` (ids default to 0..I−1), from the
    grid size's own defaults (``settings.sudoku_defaults``: 16×16 and 25×25 differ from 9×9), as ``sudoku`` runs."""
    ids = tuple(range(clues.shape[0])) if ids is None else tuple(int(i) for i in ids)
    records = SudokuRecords(clues, ids, None if solutions is None else tuple(solutions),
                            None if metas is None else tuple(metas))
    problem = SudokuBatch.from_grids(clues, device=device)
    return CompareInput(problem, records, ids, "sudoku", sudoku_defaults(problem.side))


class CompareInputError(ValueError):
    """A source ``compare`` cannot read (one line for the user)."""


def load_compare_input(source: str, colors: int | None = None, split: str = "train", offset: int = 0,
                       limit: int | None = None, puzzle_column: str = "puzzle",
                       solution_column: str | None = "solution",
                       device: torch.device | str | None = None) -> CompareInput:
    """The instances named by ``source``: a DIMACS ``.col`` file or a directory of them (coloured with ``colors``
    or each file's chromatic number), ``queens:N1,N2,...``, else Sudoku rows ``offset .. offset+limit`` of a
    puzzle file or ``hf:`` dataset (``split``, the two columns). Every puzzle is checked (symbols, size, clues that
    break a rule) before any run; the problem is built on ``device`` (default: the CPU). Raises
    ``CompareInputError`` (one line) on anything it cannot use."""
    from .data import SourceError, iter_chunks, open_source
    from .problems.textfile import ProblemFileError
    from .runs.instances import QUEENS_PREFIX, batch, problem_source

    if offset < 0:
        raise CompareInputError(f"the offset must be >= 0, got {offset}")
    if limit is not None and limit < 1:
        raise CompareInputError(f"the limit must be >= 1, got {limit}")
    try:
        instances = problem_source(source, colors)
    except ProblemFileError as exc:
        raise CompareInputError(str(exc)) from None
    if instances is not None:
        instances = instances[offset:None if limit is None else offset + limit]
        if not instances:
            raise CompareInputError(f"no instances in {source} from {offset}")
        ids = tuple(range(offset, offset + len(instances)))
        defaults = QUEENS_DEFAULTS if source.startswith(QUEENS_PREFIX) else COLOR_DEFAULTS
        return CompareInput(batch(instances, device), InstanceRecords(tuple(instances), ids), ids, "instances",
                            defaults)
    try:
        dataset = open_source(source, split, puzzle_column, solution_column or None)
        rows = [row for chunk in iter_chunks(dataset, 1000, offset, limit, puzzle_column, solution_column or None)
                for row in chunk]
    except SourceError as exc:
        raise CompareInputError(str(exc)) from None
    if not rows:
        raise CompareInputError(f"no puzzles in {source} from row {offset}")
    clues, solutions = [], []
    for row in rows:
        parsed = validate_puzzle(row.puzzle, row.solution)  # symbols, size, clues that break a rule, the solution
        if isinstance(parsed, str):
            raise CompareInputError(f"row {row.index}: {parsed}")
        clues.append(parsed[0])
        solutions.append(parsed[1])
    if len({c.numel() for c in clues}) != 1:
        raise CompareInputError("compare needs puzzles of one size; select rows with `offset`/`limit`")
    return sudoku_input(torch.stack(clues), [r.index for r in rows], solutions, [r.meta for r in rows], device)


# ---- files -------------------------------------------------------------------------------------------------------

CONFIG_COLUMNS = ("steps", "samples", "restarts", "lr", "early_stop")
CSV_COLUMNS = (
    "label", "estimator", "params", "seeds", "puzzles", *(f"{s}_{m}" for s in STATS for m in ("mean", "std")),
    "mean_step_to_solve", "ms_per_step", "diverged", *CONFIG_COLUMNS,
)


def table_csv(rows: Sequence[SpecSummary]) -> str:
    """The table as CSV (``CSV_COLUMNS``): params as JSON, seeds space-separated, floats as ``repr``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        data = row.flat()
        data["params"] = json.dumps(row.params, sort_keys=False)
        data["seeds"] = " ".join(str(s) for s in row.seeds)
        data.update({key: row.config.get(key) for key in CONFIG_COLUMNS})
        writer.writerow(["" if data[c] is None else csv_value(data[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()


def csv_value(value: Any) -> Any:
    """A CSV cell: floats as ``repr`` (every digit kept), the rest as they are."""
    return repr(value) if isinstance(value, float) else value


OUTPUT_SUFFIXES = (".csv", ".json", ".png")
"""What ``write_outputs`` adds to the prefix (``outputs.prefixed``), and ``PAIRS_SUFFIX`` with paired differences."""
PAIRS_SUFFIX = "-pairs.csv"


def write_outputs(comparison: Comparison, prefix: str | os.PathLike, plot: bool = True) -> list[Path]:
    """``PREFIX.csv`` (table), ``PREFIX.json`` (table + every run's records and curve), ``PREFIX.png`` (curves),
    and ``PREFIX-pairs.csv`` when the comparison has paired differences (``Comparison.add_pairs``)."""
    csv_path, json_path, png_path = prefixed(prefix, OUTPUT_SUFFIXES)
    write_atomic(csv_path, table_csv(comparison.rows), make_parents=True)
    write_atomic(json_path, json.dumps(comparison.to_json(), indent=1, allow_nan=True) + "\n", make_parents=True)
    written = [csv_path, json_path]
    if comparison.pairs is not None:
        (pairs_path,) = prefixed(prefix, [PAIRS_SUFFIX])
        write_atomic(pairs_path, comparison.pairs.csv(), make_parents=True)
        written.append(pairs_path)
    if plot:
        write_atomic(png_path, comparison_png(comparison), make_parents=True)
        written.append(png_path)
    return written


def comparison_png(comparison: Comparison, title: str | None = None) -> bytes:
    """Puzzles found (%) against steps (left) and against wall seconds (right): one line per estimator spec (mean
    over seeds), band = min..max over seeds. On the right a step sits at the mean over the spec's seeds of the
    seconds each run had spent at its end (``Run.elapsed``; a run that stopped early keeps its last value)."""
    figure = new_figure(12, 5)
    by_step, by_time = figure.subplots(1, 2, sharey=True)
    distinct_colors((by_step, by_time), len(comparison.rows))
    length = max((len(run.curve) for run in comparison.runs), default=0)
    steps = list(range(1, length + 1))
    for row in comparison.rows:
        runs = [run for run in comparison.runs if run.spec.label == row.label and run.error is None]
        curves = [curve_percent(run, length) for run in runs]
        if not curves or not steps:
            continue
        label = f"{row.label} ({row.stats['found'].mean:.1f}%)"
        plot_mean_band(by_step, steps, curves, label)
        timed = [(padded(run.elapsed, length), curve) for run, curve in zip(runs, curves, strict=True) if run.elapsed]
        if timed:
            seconds = [sum(column) / len(column) for column in zip(*(times for times, _ in timed), strict=True)]
            plot_mean_band(by_time, seconds, [curve for _, curve in timed], label)
    seeds = len({run.seed for run in comparison.runs})
    config = comparison.rows[0].config if comparison.rows else {}
    figure.suptitle(
        title
        or f"{comparison.protocol} protocol: {len(comparison.puzzle_ids)} puzzles, {seeds} seed(s), "
        f"{config.get('samples')} sample(s), {config.get('restarts')} restart(s)"
    )
    by_step.set_xlabel("step")
    by_time.set_xlabel("wall seconds (mean over seeds)")
    by_step.set_ylabel("puzzles solved so far (%, sample or mode)")
    for axes in (by_step, by_time):
        axes.set_ylim(-2, 102)
        axes.grid(True, alpha=0.3)
    by_step.legend(loc="best", fontsize="small")
    return png_bytes(figure)


def padded(values: Sequence[float], length: int) -> list[float]:
    """``values`` extended to ``length`` with its last value."""
    values = list(values)
    return (values + values[-1:] * max(length - len(values), 0))[:length]
