"""The two hard puzzle files of `docs/compare.md`'s tuned product-loop comparison, drawn from the dev data.

    python benchmarks/modern_sets.py OUT_DIR            # writes OUT_DIR/BAND68-33.csv and OUT_DIR/EXTREME-33.csv

BAND68-33.csv: 40 puzzles of difficulty >= 6 from ``sudoku3m-dev-graded.csv`` (puzzle, solution, difficulty),
shuffled with ``random.Random(33)``. EXTREME-33.csv: 14 magictour, 13 forum-hardest-1106 and 13 forum-hardest-1905
puzzles from ``extreme-dev-856.csv`` (each source shuffled with ``random.Random(33)``, its first n taken), then the
40 shuffled together with ``random.Random(34)`` (puzzle, solution, source). The dev data live outside the
repository (``../shared/data`` beside a checkout, or ``--data``).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
SOURCES = [("magictour_top1465", 14), ("forum_hardest_1106", 13), ("forum_hardest_1905_11", 13)]


def shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    order = list(range(len(frame)))
    random.Random(seed).shuffle(order)
    return frame.iloc[order]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.is_dir():
        raise SystemExit(f"the dev data are not at {args.data} (give --data)")
    args.out.mkdir(parents=True, exist_ok=True)
    text = {"puzzle": str, "solution": str}  # a puzzle starting with 0 must stay a string
    graded = pd.read_csv(args.data / "sudoku3m-dev-graded.csv", dtype=text)
    band = graded[graded.difficulty >= 6][["puzzle", "solution", "difficulty"]].reset_index(drop=True)
    shuffled(band, 33).iloc[:40].to_csv(args.out / "BAND68-33.csv", index=False)
    extreme = pd.read_csv(args.data / "extreme-dev-856.csv", dtype=str)
    parts = [shuffled(extreme[extreme.source == name].reset_index(drop=True), 33).iloc[:n] for name, n in SOURCES]
    shuffled(pd.concat(parts).reset_index(drop=True), 34).to_csv(args.out / "EXTREME-33.csv", index=False)


if __name__ == "__main__":
    main()
