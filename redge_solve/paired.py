"""Paired differences between the estimators of one comparison: every estimator ran on the same puzzles with the
same seeds, so "is A better than B here, and by how much" has a paired answer. Never prints.

For a pair (A, B) and a solve criterion (``found``, ``solved_last``, ...), over the P puzzles and the S seeds both
ran without diverging, with a_ps, b_ps ∈ {0, 1} the outcomes of puzzle p under seed s:

- per-puzzle difference d_p = (1/S) Σ_s (a_ps − b_ps), and the difference in solved % Δ = 100 · (1/P) Σ_p d_p
  (the difference of the table's two mean rates, in percentage points);
- a 95 % interval for Δ from a **paired bootstrap over puzzles**: each of the B resamples draws P puzzles with
  replacement, and a drawn puzzle carries all its seeds' outcomes for both estimators (its d_p), so the
  dependence between A and B on one puzzle, and between the seeds of one puzzle, stays inside the resampled unit;
  the interval is the 2.5 and 97.5 percentiles of the B resampled Δ (percentile method; with few puzzles it is
  somewhat too narrow). One resample matrix (seeded) serves every pair and criterion, so a pair's interval does
  not depend on which other pairs are asked for;
- an exact **sign test (McNemar's exact test)** of "neither is better" on the puzzles: k = puzzles with d_p > 0,
  m = puzzles with d_p < 0 (ties, d_p = 0, drop out), p = P(|X − n/2| ≥ |k − n/2|) for X ~ Binomial(n = k + m, ½).

**The unit is the puzzle, not the (puzzle, seed) pair.** McNemar's test assumes independent pairs; the seeds of
one puzzle are not independent (a hard puzzle is failed by both estimators under every seed, an easy one solved),
so counting each (puzzle, seed) as a pair would multiply the evidence of one puzzle by S and make the p-value too
small. The puzzles are the sample drawn from the population the comparison speaks about; the seeds are repeated
measurements of each. With one seed the puzzle-level test is exactly McNemar's test on the discordant (puzzle,
seed) pairs; their counts (``a_only_runs``, ``b_only_runs``) are reported too, as a description. The bootstrap
resamples the same unit, so the interval and the test answer one question.

A difference whose interval covers 0 reads "no clear difference"; otherwise "A better" or "B better".
"""

from __future__ import annotations

import csv
import io
import itertools
import math
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

RESAMPLES = 10_000
LEVEL = 0.95
BOOTSTRAP_SEED = 0
UNIT = ("puzzle: bootstrap resamples puzzles with all their seeds; the sign test counts puzzles whose mean over "
        "seeds differs (with one seed, McNemar's exact test on the discordant (puzzle, seed) pairs)")


def sign_test_p(k: int, n: int) -> float:
    """Two-sided exact binomial p-value of k successes in n trials at probability ½ (McNemar's exact test with k
    and n − k discordant pairs): min(1, 2 · Σ_{i ≤ min(k, n−k)} C(n, i) / 2ⁿ); 1 when n = 0. Exact integer sums."""
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1))
    return min(1.0, 2 * tail / 2**n)


def bootstrap_means(differences: np.ndarray, resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED,
                    chunk: int = 1000) -> np.ndarray:
    """``(resamples, K)``: the column means of ``differences`` ``(P, K)`` over ``resamples`` draws of P rows with
    replacement (rows = puzzles; every column sees the same draws). Vectorised in chunks of draws: each chunk's
    draws become counts per row (``bincount``), then one matrix product."""
    differences = np.asarray(differences, dtype=np.float64)
    if differences.ndim != 2 or differences.shape[0] == 0:
        raise ValueError(f"need a non-empty (puzzles, K) array, got shape {differences.shape}")
    puzzles = differences.shape[0]
    rng = np.random.default_rng(seed)
    out = np.empty((resamples, differences.shape[1]))
    for start in range(0, resamples, chunk):
        size = min(chunk, resamples - start)
        draws = rng.integers(0, puzzles, size=(size, puzzles))
        offsets = draws + puzzles * np.arange(size)[:, None]
        counts = np.bincount(offsets.ravel(), minlength=size * puzzles).reshape(size, puzzles)
        out[start:start + size] = counts @ differences / puzzles
    return out


def percentile_interval(means: np.ndarray, level: float = LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """The (1 − level)/2 and (1 + level)/2 quantiles of ``means`` ``(B, K)`` per column."""
    if not 0 < level < 1:
        raise ValueError(f"the level must lie strictly between 0 and 1, got {level}")
    low, high = np.quantile(means, [(1 - level) / 2, (1 + level) / 2], axis=0)
    return low, high


@dataclass(frozen=True)
class PairedDifference:
    """A − B under one criterion (see the module docstring). Percentages and the difference are in percent /
    percentage points; ``a_better`` / ``b_better``: puzzles whose mean over seeds favours A / B (the sign test's
    counts); ``a_only_runs`` / ``b_only_runs``: (puzzle, seed) pairs solved by A only / B only."""

    a: str
    b: str
    criterion: str
    seeds: list[int]
    puzzles: int
    a_percent: float
    b_percent: float
    difference: float
    low: float
    high: float
    a_better: int
    b_better: int
    a_only_runs: int
    b_only_runs: int
    p_value: float

    @property
    def clear(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0

    @property
    def verdict(self) -> str:
        if not self.seeds:
            return "no common seed"
        if not self.clear:
            return "no clear difference"
        return f"{self.a} better" if self.difference > 0 else f"{self.b} better"

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


CSV_COLUMNS = tuple(f.name for f in PairedDifference.__dataclass_fields__.values()) + ("verdict",)


@dataclass
class PairsReport:
    """Every ``PairedDifference`` of a comparison, with the settings that produced them."""

    differences: list[PairedDifference]
    resamples: int = RESAMPLES
    level: float = LEVEL
    seed: int = BOOTSTRAP_SEED
    baseline: str | None = None
    unit: str = UNIT
    criteria: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"resamples": self.resamples, "level": self.level, "seed": self.seed, "baseline": self.baseline,
                "unit": self.unit, "criteria": self.criteria, "pairs": [d.to_json() for d in self.differences]}

    def csv(self) -> str:
        """One row per (pair, criterion) (``CSV_COLUMNS``): seeds space-separated, floats as ``repr``."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for d in self.differences:
            row = d.to_json()
            row["seeds"] = " ".join(str(s) for s in d.seeds)
            writer.writerow([repr(v) if isinstance(v, float) else v for v in (row[c] for c in CSV_COLUMNS)])
        return buffer.getvalue()


def resolve_baseline(baseline: str, labels: Sequence[str], estimators: Sequence[str]) -> str:
    """The label ``baseline`` names: a label itself, else the one row of that estimator (``estimators[i]`` is
    the canonical estimator name of ``labels[i]``). Raises ``ValueError`` (one line) otherwise."""
    if baseline in labels:
        return baseline
    from .estimators import canonical_name

    try:
        name = canonical_name(baseline)
    except ValueError as exc:
        raise ValueError(f"`baseline` {baseline!r}: {exc}") from None
    matches = [label for label, est in zip(labels, estimators, strict=True) if est == name]
    if not matches:
        raise ValueError(f"`baseline` {baseline!r} is not among the compared estimators ({', '.join(labels)})")
    if len(matches) > 1:
        raise ValueError(f"`baseline` {baseline!r} matches {len(matches)} rows; name one of: {', '.join(matches)}")
    return matches[0]


def pair_list(labels: Sequence[str], baseline: str | None = None) -> list[tuple[str, str]]:
    """Every (A, B) with A before B in ``labels``; with a baseline, (other, baseline) for every other label."""
    if baseline is None:
        return list(itertools.combinations(labels, 2))
    return [(label, baseline) for label in labels if label != baseline]


def outcome_table(runs: Sequence[Any], criterion: str) -> dict[str, dict[int, np.ndarray]]:
    """label -> seed -> bool ``(P,)`` outcomes under ``criterion`` of each run that did not diverge, all in one
    puzzle order (checked: every run must list the same instance ids)."""
    table: dict[str, dict[int, np.ndarray]] = {}
    ids = None
    for run in runs:
        if run.error is not None:
            continue
        run_ids = [r["index"] for r in run.records]
        if ids is None:
            ids = run_ids
        elif run_ids != ids:
            raise ValueError(f"run {run.spec.label} seed {run.seed} has other instances than the first run")
        table.setdefault(run.spec.label, {})[run.seed] = np.array([bool(r[criterion]) for r in run.records])
    return table


def paired_differences(runs: Sequence[Any], pairs: Sequence[tuple[str, str]], criteria: Sequence[str],
                       resamples: int = RESAMPLES, level: float = LEVEL,
                       seed: int = BOOTSTRAP_SEED) -> list[PairedDifference]:
    """A ``PairedDifference`` per (pair, criterion), in that order, from the runs (``compare.Run``: ``spec.label``,
    ``seed``, ``error``, ``records``). Only seeds that both estimators ran without diverging count."""
    if resamples < 1:
        raise ValueError(f"need at least one bootstrap resample, got {resamples}")
    tables: Mapping[str, dict[str, dict[int, np.ndarray]]] = {c: outcome_table(runs, c) for c in criteria}
    columns: list[np.ndarray] = []
    partial: list[dict[str, Any]] = []
    for (a, b), criterion in itertools.product(pairs, criteria):
        table = tables[criterion]
        runs_a, runs_b = table.get(a, {}), table.get(b, {})
        seeds = [s for s in runs_a if s in runs_b]
        if not seeds:
            partial.append(dict(a=a, b=b, criterion=criterion, seeds=[], column=None))
            continue
        xa = np.stack([runs_a[s] for s in seeds], axis=1).astype(np.float64)  # (P, S)
        xb = np.stack([runs_b[s] for s in seeds], axis=1).astype(np.float64)
        d = (xa - xb).mean(axis=1)  # per-puzzle difference, the seeds kept together
        partial.append(dict(
            a=a, b=b, criterion=criterion, seeds=seeds, column=len(columns), puzzles=int(d.shape[0]),
            a_percent=100.0 * float(xa.mean()), b_percent=100.0 * float(xb.mean()),
            difference=100.0 * float(d.mean()), a_better=int((d > 0).sum()), b_better=int((d < 0).sum()),
            a_only_runs=int(((xa == 1) & (xb == 0)).sum()), b_only_runs=int(((xa == 0) & (xb == 1)).sum()),
        ))
        columns.append(d)
    if columns:
        low, high = percentile_interval(100.0 * bootstrap_means(np.stack(columns, axis=1), resamples, seed), level)
    out = []
    for item in partial:
        column = item.pop("column")
        if column is None:
            nan = math.nan
            out.append(PairedDifference(**item, puzzles=0, a_percent=nan, b_percent=nan, difference=nan, low=nan,
                                        high=nan, a_better=0, b_better=0, a_only_runs=0, b_only_runs=0,
                                        p_value=nan))
            continue
        p = sign_test_p(item["a_better"], item["a_better"] + item["b_better"])
        out.append(PairedDifference(**item, low=float(low[column]), high=float(high[column]), p_value=p))
    return out


def pairs_report(runs: Sequence[Any], labels: Sequence[str], criteria: Sequence[str], baseline: str | None = None,
                 resamples: int = RESAMPLES, level: float = LEVEL, seed: int = BOOTSTRAP_SEED) -> PairsReport:
    """The ``PairsReport`` of every pair of ``labels`` (or each against ``baseline``, a label) under ``criteria``."""
    differences = paired_differences(runs, pair_list(labels, baseline), criteria, resamples, level, seed)
    return PairsReport(differences, resamples, level, seed, baseline, criteria=list(criteria))
