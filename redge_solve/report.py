"""Summaries of a results JSONL file (what ``batch`` writes): solve rates by criterion, steps, time, breakdowns.

Rates are over the rows that were solved at all (error rows excluded, counted apart). Steps-to-solve statistics
are over the rows with ``found``. The clue count comes from the puzzle string; the difficulty from the
``difficulty`` meta column when the source has one.
"""

from __future__ import annotations

import io
import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from .atomic import write_atomic
from .symbols import BLANKS

CRITERIA = ("found", "solved_any", "solved_mode", "solved_last")
CRITERION_LABELS = {"found": "found", "solved_any": "any", "solved_mode": "mode", "solved_last": "last"}


FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "index": (int,), "puzzle": (str,), "error": (str,), "found": (bool,), "solved_any": (bool,),
    "solved_mode": (bool,), "solved_last": (bool,), "first_solved_step": (int, type(None)),
    "seconds": (int, float), "meta": (dict,),
}


class ReportError(ValueError):
    """The results file cannot be read; one line for the user."""


def iter_records(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a results file, streamed; a cut last line (a killed run) is skipped, any other bad line is an
    error."""
    path = Path(path)
    if not path.is_file():
        raise ReportError(f"no such file: {path}")
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or "index" not in record:
                    raise ValueError
            except ValueError:
                if any(rest.strip() for rest in handle):
                    raise ReportError(f"{path}: line {number} is not a result record") from None
                return
            wrong = [name for name, kinds in FIELD_TYPES.items() if name in record and
                     not isinstance(record[name], kinds)]
            if wrong:
                raise ReportError(f"{path}: line {number}: field {wrong[0]!r} is not a "
                                  f"{' or '.join(k.__name__ for k in FIELD_TYPES[wrong[0]])}")
            yield record


def load_records(path: Path) -> list[dict[str, Any]]:
    return list(iter_records(path))


def clue_count(puzzle: str) -> int:
    return sum(1 for char in puzzle if char not in BLANKS)


@dataclass
class Summary:
    rows: int = 0
    errors: int = 0
    solved: dict[str, int] = field(default_factory=lambda: {c: 0 for c in CRITERIA})
    steps: list[int] = field(default_factory=list)  # first_solved_step of found rows
    seconds: list[float] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return self.rows - self.errors

    def rate(self, criterion: str) -> float | None:
        return 100.0 * self.solved[criterion] / self.attempted if self.attempted else None

    @property
    def median_step(self) -> float | None:
        return float(statistics.median(self.steps)) if self.steps else None

    @property
    def mean_step(self) -> float | None:
        return statistics.fmean(self.steps) if self.steps else None

    @property
    def mean_seconds(self) -> float | None:
        return statistics.fmean(self.seconds) if self.seconds else None

    def add(self, record: dict[str, Any]) -> None:
        self.rows += 1
        if "error" in record:
            self.errors += 1
            return
        for criterion in CRITERIA:
            self.solved[criterion] += bool(record.get(criterion))
        if record.get("found") and record.get("first_solved_step") is not None:
            self.steps.append(int(record["first_solved_step"]))
        if record.get("seconds") is not None:
            self.seconds.append(float(record["seconds"]))


@dataclass
class Report:
    total: Summary
    by_clues: dict[int, Summary]
    by_difficulty: dict[str, Summary]  # empty when no row has a difficulty meta value


def summarize(records: Iterable[dict[str, Any]], difficulty_key: str = "difficulty") -> Report:
    total, by_clues, by_difficulty = Summary(), {}, {}
    for record in records:
        total.add(record)
        by_clues.setdefault(clue_count(str(record.get("puzzle", ""))), Summary()).add(record)
        value = (record.get("meta") or {}).get(difficulty_key)
        if value not in (None, ""):
            by_difficulty.setdefault(str(value), Summary()).add(record)
    by_clues = dict(sorted(by_clues.items()))
    by_difficulty = dict(sorted(by_difficulty.items(), key=lambda kv: _sort_key(kv[0])))
    return Report(total, by_clues, by_difficulty)


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), value)
    except ValueError:
        return (1, 0.0, value)


def write_histogram(records: Iterable[dict[str, Any]], path: Path, title: str = "steps to solve") -> int:
    """A PNG histogram of ``first_solved_step`` over found rows, written atomically; returns the count plotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = [int(r["first_solved_step"]) for r in records
             if "error" not in r and r.get("found") and r.get("first_solved_step") is not None]
    figure, axes = plt.subplots(figsize=(7, 4))
    if steps:
        axes.hist(steps, bins=min(50, max(5, len(set(steps)))), color="#3a7bd5", edgecolor="white")
    else:
        axes.text(0.5, 0.5, "no solved puzzles", ha="center", va="center", transform=axes.transAxes)
    axes.set_xlabel("first step with a valid solution")
    axes.set_ylabel("puzzles")
    axes.set_title(f"{title} (n = {len(steps)})")
    figure.tight_layout()
    buffer = io.BytesIO()
    try:
        figure.savefig(buffer, format="png", dpi=100)
    finally:
        plt.close(figure)
    write_atomic(path, buffer.getvalue())
    return len(steps)
