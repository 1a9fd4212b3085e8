"""Solve rates and throughput of ``batch`` with the product's default settings (not a test).

    python benchmarks/bench_batch.py --n 200            # first 200 puzzles of the dev set (21–28 clues, hard)
    python benchmarks/bench_batch.py --data other.csv --n 1000 --chunk-size 500

Runs the same library code as ``redge-solve batch`` (``open_source`` → ``iter_chunks`` → ``run_batch``) into a
temporary JSONL file and prints the solve rate by criterion and puzzles per second.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redge_solve.data import iter_chunks, open_source  # noqa: E402
from redge_solve.report import CRITERIA, CRITERION_LABELS, summarize  # noqa: E402
from redge_solve.runs.batch import default_chunk_size, run_batch  # noqa: E402
from redge_solve.solver import SolverConfig  # noqa: E402

DEFAULT_DATA = "/work/shared/data/sudoku3m-dev-1000.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=DEFAULT_DATA, help="a local file or hf:NAME (default: the dev set)")
    parser.add_argument("--n", type=int, default=1000, help="number of puzzles (from the first row)")
    parser.add_argument("--chunk-size", type=int, default=None, help="puzzles per batch (default: as batch)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    config = SolverConfig(seed=args.seed)
    dataset = open_source(args.data)
    size = args.chunk_size or default_chunk_size(config)
    n = min(args.n, len(dataset))
    print(f"data {args.data}: {n} puzzles, chunk size {size}", flush=True)
    print("settings: " + ", ".join(f"{k}={v}" for k, v in asdict(config).items()), flush=True)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "bench.jsonl"
        started = time.perf_counter()
        records = []
        for chunk in run_batch(iter_chunks(dataset, size, limit=n), config, out):
            records.extend(chunk.records)
            elapsed = time.perf_counter() - started
            print(f"  {chunk.rows_done}/{n} rows, {chunk.solved} solved, {elapsed:.1f} s", flush=True)
        elapsed = time.perf_counter() - started
    summary = summarize(records).total
    rates = ", ".join(f"{CRITERION_LABELS[c]} {summary.rate(c) or 0:.1f} %" for c in CRITERIA)
    print(f"solved: {rates}  (errors {summary.errors})")
    if summary.steps:
        print(f"first solved step: median {summary.median_step:.0f}, mean {summary.mean_step:.1f}")
    print(f"throughput: {n / elapsed:.2f} puzzles/s ({elapsed:.1f} s for {n} puzzles)")


if __name__ == "__main__":
    main()
