"""Compare gradient estimators on the same Sudoku puzzles: every (estimator spec, seed) run, then one summary row
per spec. Never prints; ``cli/compare_cmd.py`` wires it to the command line and ``plots.py`` draws the curves.

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
  value up to the longest run.
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
from .estimators import canonical_name, make_estimator, parameter_defaults
from .executors import Executor, LocalExecutor, TaskFailed, inject_failure
from .problems.sudoku import SudokuBatch
from .records import sudoku_records
from .solver import Problem, PuzzleResults, SolverConfig, paper_protocol, solve

RecordMaker = Callable[[PuzzleResults, slice], list[dict[str, Any]]]
"""(results of a window of instances, the window) -> one record per instance (``compare``'s other problems)."""

PAPER_ESTIMATORS = ("st", "gumbel", "reinmax", "redge", "redge-max", "redge-cov")
"""The six estimators of the paper's Table 2; the default selection (reinforce is not in Table 2 and needs at
least two samples per step, so it cannot run under the paper protocol's single sample)."""
PROTOCOLS = ("default", "paper")
OVERRIDABLE = ("steps", "samples", "restarts", "lr", "deduce", "weight_step", "reset_every", "max_seconds")


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
            raise ValueError(f"{what} {key!r} names estimator {est!r}, which is not among --estimators "
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
    est = make_estimator(name, **{param: value})  # raises a one-line ValueError on a bad value
    return getattr(est, param)


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
        for est, param in _split_key(key, names, "--param"):
            fixed[est][param] = _coerce(est, param, value)
    axes: dict[str, dict[str, list[Any]]] = {n: {} for n in names}
    for key, values in (grid or {}).items():
        values = list(values)
        if not values:
            raise ValueError(f"--grid {key!r} has no values")
        for est, param in _split_key(key, names, "--grid"):
            if param in fixed[est]:
                raise ValueError(f"{est}.{param} is given both by --param and --grid")
            coerced = [_coerce(est, param, v) for v in values]
            if len(set(coerced)) != len(coerced):
                raise ValueError(f"--grid {key!r} repeats a value")
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
    spec: EstimatorSpec, seed: int, protocol: str = "default", overrides: Mapping[str, Any] | None = None
) -> SolverConfig:
    """The ``SolverConfig`` of one run: the product defaults or the paper protocol, then ``overrides``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose from {', '.join(PROTOCOLS)}")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    bad = [k for k in overrides if k not in OVERRIDABLE]
    if bad:
        raise ValueError(f"cannot override {', '.join(bad)}; only {', '.join(OVERRIDABLE)}")
    config = SolverConfig(estimator=spec.name, params=spec.param_dict, seed=seed)
    return paper_protocol(config, **overrides) if protocol == "paper" else replace(config, **overrides)


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


@dataclass
class SpecSummary:
    """One row of the comparison table (see the module docstring for the definitions)."""

    label: str
    estimator: str
    params: dict[str, Any]
    seeds: list[int]
    puzzles: int
    loss_mean: float
    loss_std: float
    solved_last_mean: float
    solved_last_std: float
    solved_mode_mean: float
    solved_mode_std: float
    solved_any_mean: float
    solved_any_std: float
    found_mean: float
    found_std: float
    mean_step_to_solve: float | None
    ms_per_step: float
    diverged: int = 0  # runs (seeds) that stopped with NaN/inf logits; excluded from every other figure
    config: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


CRITERIA = ("solved_last", "solved_mode", "solved_any", "found")


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    if not values:
        return math.nan, math.nan
    mean = sum(values) / len(values)
    var = sum((v - mean) ** 2 for v in values) / len(values)
    return mean, math.sqrt(var)


def summarise(runs: Sequence[Run]) -> list[SpecSummary]:
    """One ``SpecSummary`` per spec, in order of first appearance, computed only from the runs' records."""
    groups: dict[EstimatorSpec, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.spec, []).append(run)
    rows = []
    for spec, all_runs in groups.items():
        group = [run for run in all_runs if run.error is None]
        losses = [r["mean_sample_penalty"] for run in group for r in run.records]
        loss_mean, loss_std = _mean_std(losses)
        rates = {}
        for key in CRITERIA:
            per_seed = [100.0 * sum(bool(r[key]) for r in run.records) / max(len(run.records), 1) for run in group]
            rates[key] = _mean_std(per_seed)
        steps = [r["first_solved_step"] for run in group for r in run.records if r["found"]]
        config = config_dict(all_runs[0].config)
        config.pop("seed", None)
        rows.append(
            SpecSummary(
                label=spec.label,
                estimator=spec.name,
                params=spec.param_dict,
                seeds=[run.seed for run in group],
                puzzles=len(group[0].records) if group else 0,
                loss_mean=loss_mean,
                loss_std=loss_std,
                solved_last_mean=rates["solved_last"][0],
                solved_last_std=rates["solved_last"][1],
                solved_mode_mean=rates["solved_mode"][0],
                solved_mode_std=rates["solved_mode"][1],
                solved_any_mean=rates["solved_any"][0],
                solved_any_std=rates["solved_any"][1],
                found_mean=rates["found"][0],
                found_std=rates["found"][1],
                mean_step_to_solve=(sum(steps) / len(steps)) if steps else None,
                ms_per_step=(sum(run.ms_per_step for run in group) / len(group)) if group else math.nan,
                diverged=len(all_runs) - len(group),
                config=config,
            )
        )
    return rows


def curve_percent(run: Run, length: int | None = None) -> list[float]:
    """Percentage of puzzles found after each step 1..length (padded with the last value)."""
    total = max(len(run.records), 1)
    values = [100.0 * found / total for _, found in run.curve]
    length = length if length is not None else len(values)
    last = values[-1] if values else 0.0
    return (values + [last] * max(length - len(values), 0))[:length]


@dataclass
class Comparison:
    runs: list[Run]
    rows: list[SpecSummary]
    protocol: str
    overrides: dict[str, Any]
    puzzle_ids: list[int]
    settings: dict[str, Any] = field(default_factory=dict)  # free-form (source, split, ...), for the JSON

    def to_json(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "overrides": self.overrides,
            "puzzles": len(self.puzzle_ids),
            "puzzle_ids": self.puzzle_ids,
            "settings": self.settings,
            "definitions": DEFINITIONS,
            "table": [row.to_json() for row in self.rows],
            "runs": [run.to_json() for run in self.runs],
        }


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
    clues: torch.Tensor | None,
    specs: Sequence[EstimatorSpec],
    seeds: Sequence[int],
    protocol: str = "default",
    overrides: Mapping[str, Any] | None = None,
    puzzle_ids: Sequence[int] | None = None,
    solutions: Sequence[torch.Tensor | None] | None = None,
    metas: Sequence[dict[str, Any]] | None = None,
    on_run: Callable[[RunEvent], None] | None = None,
    on_step: Callable[[Any], None] | None = None,
    executor: Executor | None = None,
    chunk_size: int | None = None,
    problem: Problem | None = None,
    make_records: RecordMaker | None = None,
) -> Comparison:
    """Run every (spec, seed) on the same puzzles ``clues`` ``(B, N²)`` and summarise.

    Every config is built (and validated) before the first run starts, so a bad combination fails at once.
    ``on_run`` gets a ``RunEvent`` before and after each run; ``on_step`` the solver's ``Progress`` per step
    (only when the executor runs tasks in this process). Each run is split into tasks of ``chunk_size`` puzzles
    (default: all) run by ``executor`` (default: this process); results are batch-invariant, so only the timings
    (``seconds``, ms/step: then the sum over the run's tasks) depend on the split.
    Other problems: pass ``problem`` (any solver ``Problem``; ``clues`` is then unused) and ``make_records``
    ((results, window) -> one record per instance of ``window`` with the keys of ``sudoku_records`` that
    ``summarise`` reads).
    """
    if not seeds:
        raise ValueError("no seeds")
    if len(set(seeds)) != len(seeds):
        raise ValueError("seeds repeat")
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    count = problem.num_instances if problem is not None else clues.shape[0]
    ids = list(range(count)) if puzzle_ids is None else [int(i) for i in puzzle_ids]
    plan = [(spec, seed, run_config(spec, seed, protocol, overrides)) for spec in specs for seed in seeds]
    executor = executor or LocalExecutor()
    size = max(1, chunk_size or len(ids))
    bounds = [(start, min(start + size, len(ids))) for start in range(0, len(ids), size)]
    task = partial(solve_part, clues=clues, ids=ids, solutions=solutions, metas=metas,
                   on_step=on_step if executor.in_process else None, problem=problem, make_records=make_records)

    def parts() -> Iterator[RunPart]:
        for index, (spec, seed, config) in enumerate(plan):
            if on_run is not None:
                on_run(RunEvent(index, len(plan), spec, seed, config))
            for start, stop in bounds:
                yield RunPart(index, config, start, stop)

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
    return Comparison(runs, summarise(runs), protocol, dict(overrides), ids)


@dataclass(frozen=True)
class RunPart:
    """One task of ``compare``: run number ``run`` (its ``config``) on the puzzles ``start:stop``."""

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


def solve_part(part: RunPart, clues: torch.Tensor | None, ids: Sequence[int],
               solutions: Sequence[torch.Tensor | None] | None = None,
               metas: Sequence[dict[str, Any]] | None = None,
               on_step: Callable[[Any], None] | None = None,
               problem: Problem | None = None,
               make_records: RecordMaker | None = None) -> PartResult:
    """One task (here or on a Ray worker): solve puzzles ``start:stop`` (of ``clues``, or of ``problem``'s
    instances with ``make_records``) with the part's config."""
    window = slice(part.start, part.stop)
    inject_failure(ids[window])
    if problem is None:
        sub: Problem = SudokuBatch.from_grids(clues[window])
    else:
        keep = torch.zeros(problem.num_instances, dtype=torch.bool)
        keep[window] = True
        sub = problem if keep.all() else problem.select(keep)
    start = time.perf_counter()
    results = solve(sub, part.config, puzzle_ids=torch.tensor(ids[window], dtype=torch.long), on_step=on_step)
    seconds = time.perf_counter() - start
    diverged = results.diverged_step[results.diverged_step >= 0]
    if len(diverged):  # one diverging (spec, seed) must not lose the rest of the comparison
        error = f"logits became NaN/inf at step {int(diverged.min())} in {len(diverged)} puzzle(s)"
        return PartResult([], [], seconds, 0, error=error)
    if make_records is not None:
        records = make_records(results, window)
    else:
        records = sudoku_records(results, clues[window], ids[window],
                                 None if solutions is None else solutions[window],
                                 None if metas is None else metas[window])
    return PartResult(records, list(results.curve), seconds, int(results.steps_run.max()))


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
    return Run(spec, seed, config, records, curve, seconds, max(p.steps for p in done))


# ---- files -------------------------------------------------------------------------------------------------------

CSV_COLUMNS = (
    "label", "estimator", "params", "seeds", "puzzles", "loss_mean", "loss_std",
    "solved_last_mean", "solved_last_std", "solved_mode_mean", "solved_mode_std",
    "solved_any_mean", "solved_any_std", "found_mean", "found_std", "mean_step_to_solve", "ms_per_step", "diverged",
    "steps", "samples", "restarts", "lr", "early_stop",
)


def table_csv(rows: Sequence[SpecSummary]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        data = row.to_json()
        data["params"] = json.dumps(row.params, sort_keys=False)
        data["seeds"] = " ".join(str(s) for s in row.seeds)
        for key in ("steps", "samples", "restarts", "lr", "early_stop"):
            data[key] = row.config.get(key)
        writer.writerow(["" if data[c] is None else _csv_value(data[c]) for c in CSV_COLUMNS])
    return buffer.getvalue()


def _csv_value(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def write_outputs(comparison: Comparison, prefix: str | os.PathLike, plot: bool = True) -> list[Path]:
    """``PREFIX.csv`` (table), ``PREFIX.json`` (table + every run's records and curve), ``PREFIX.png`` (curves)."""
    prefix = Path(prefix)
    written = []
    csv_path = prefix.with_name(prefix.name + ".csv")
    write_atomic(csv_path, table_csv(comparison.rows), make_parents=True)
    written.append(csv_path)
    json_path = prefix.with_name(prefix.name + ".json")
    write_atomic(json_path, json.dumps(comparison.to_json(), indent=1, allow_nan=True) + "\n", make_parents=True)
    written.append(json_path)
    if plot:
        from .plots import comparison_png

        png_path = prefix.with_name(prefix.name + ".png")
        write_atomic(png_path, comparison_png(comparison), make_parents=True)
        written.append(png_path)
    return written
