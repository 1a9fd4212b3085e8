"""The tables of `docs/compare.md`'s tuned product-loop comparison, from `compare --tune ... -o PREFIX` outputs.

    python benchmarks/modern_tables.py benchmarks/modern-2026-12-02/BAND68
    python benchmarks/modern_tables.py benchmarks/modern-2026-12-02/EXTREME --sources EXTREME-33.csv

For each estimator row of ``PREFIX.json`` (the test puzzles, every seed): the parameters and learning rate tuning
chose, puzzles found (mean over seeds, of N), per source when ``--sources`` names a CSV with ``puzzle`` and
``source`` columns, the median step and median wall seconds to a found puzzle, the run's wall seconds (mean over
seeds), ms/step, puzzles found per minute of the run, and the paired difference from ``--baseline`` by ``found``
(``PREFIX-pairs.csv``: 95 % paired-bootstrap interval, exact sign-test p). Markdown on stdout.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections import defaultdict
from pathlib import Path


def fmt(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def rows(prefix: Path, sources: dict[str, str], baseline: str) -> list[str]:
    data = json.loads(prefix.with_suffix(".json").read_text())
    pairs = {}
    pairs_path = prefix.parent / f"{prefix.name}-pairs.csv"
    if pairs_path.exists():
        with open(pairs_path, newline="") as handle:
            for row in csv.DictReader(handle):
                if row["criterion"] == "found" and row["b"] == baseline:
                    pairs[row["a"]] = row
    by_label: dict[str, list[dict]] = defaultdict(list)
    for run in data["runs"]:
        by_label[run["label"]].append(run)
    names = sorted({sources[r["puzzle"]] for run in data["runs"] for r in run["records"] if r["puzzle"] in sources})
    head = ["estimator", "chosen", "lr", "found", *names, "median step", "median s to solve", "run s", "ms/step",
            "found/min", f"− {baseline} (found, points)", "p"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for label, runs in by_label.items():
        seeds, puzzles = len(runs), len(runs[0]["records"])
        found = [r for run in runs for r in run["records"] if r["found"]]
        per_source = [sum(1 for r in found if sources.get(r["puzzle"]) == name) / seeds for name in names]
        totals = [sum(1 for r in runs[0]["records"] if sources.get(r["puzzle"]) == name) for name in names]
        run_seconds = statistics.mean(run["seconds"] for run in runs)
        pair = pairs.get(label)
        difference = "" if pair is None else "{:+.1f} [{:+.1f}, {:+.1f}]".format(
            *(round(float(pair[key]), 1) + 0.0 for key in ("difference", "low", "high")))  # no "-0.0"
        lines.append("| " + " | ".join([
            runs[0]["estimator"],
            ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in runs[0]["params"].items())
            or "—",
            f"{runs[0]['config']['lr']:.3g}",
            f"{len(found) / seeds:.1f}/{puzzles}",
            *(f"{n:.1f}/{t}" for n, t in zip(per_source, totals, strict=True)),
            fmt(median([r["first_solved_step"] for r in found]), 0),
            fmt(median([r["seconds"] for r in found])),
            fmt(run_seconds),
            fmt(statistics.mean(run["ms_per_step"] for run in runs)),
            fmt(60 * len(found) / seeds / run_seconds),
            difference,
            "" if pair is None else f"{float(pair['p_value']):.2g}",
        ]) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("prefix", type=Path, help="the -o PREFIX of a compare run (PREFIX.json, PREFIX-pairs.csv)")
    parser.add_argument("--sources", type=Path, help="a CSV with puzzle and source columns")
    parser.add_argument("--baseline", default="st")
    args = parser.parse_args()
    sources: dict[str, str] = {}
    if args.sources:
        with open(args.sources, newline="") as handle:
            sources = {row["puzzle"]: row["source"] for row in csv.DictReader(handle)}
    print("\n".join(rows(args.prefix, sources, args.baseline)))


if __name__ == "__main__":
    main()
