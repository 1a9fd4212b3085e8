"""The solver's step time at a fixed batch of forum-hardest puzzles × restarts: ms a step and µs a row-step.

    python benchmarks/step_rows.py --puzzles 16,32,64 --restarts 256 --threads 2
    GLIBC_TUNABLES= python benchmarks/step_rows.py --puzzles 64      # glibc's own allocator (see docs/threads.md)

Each size runs ``SolverConfig()`` (Sudoku's defaults but ST at temperature 1, as when the recorded figures were
taken) with fixed restarts (no fresh starts, no growth, no early stop): a 10-step run and a 60-step run, timed,
after a 20-step warm-up; their difference per step is the loop without the batch's setup. The process applies the
command line's allocator policy (``redge_solve.allocator``) unless glibc's variables are set.
Puzzles: the first of the forum-hardest sources of ``extreme-dev-856.csv`` in the dev data.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redge_solve.allocator import keep_freed_memory  # noqa: E402

POLICY = keep_freed_memory()  # before torch allocates anything, as the command line does

import torch  # noqa: E402

from redge_solve.problems.sudoku import SudokuBatch, grid_from_string  # noqa: E402
from redge_solve.settings import SolverConfig  # noqa: E402
from redge_solve.solver import solve  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--puzzles", default="16,32,64", help="batch sizes in puzzles, comma-separated")
    parser.add_argument("--restarts", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    source = args.data / "extreme-dev-856.csv"
    if not source.exists():
        sys.exit(f"no dev data at {source} (give --data); nothing measured")
    torch.set_num_threads(args.threads)
    with open(source, newline="") as handle:
        puzzles = [row["puzzle"] for row in csv.DictReader(handle) if row["source"].startswith("forum")]
    print(f"allocator policy {'on' if POLICY else 'off'}, {args.threads} threads, {args.restarts} restarts")
    for count in (int(text) for text in args.puzzles.split(",")):
        problem = SudokuBatch.from_grids(torch.stack([grid_from_string(p) for p in puzzles[:count]]))
        config = replace(SolverConfig(), restarts=args.restarts, max_restarts=0, reset_every=0, early_stop=False)
        solve(problem, replace(config, steps=20))
        seconds = []
        for steps in (10, 60):
            start = time.perf_counter()
            solve(problem, replace(config, steps=steps))
            seconds.append(time.perf_counter() - start)
        ms = (seconds[1] - seconds[0]) / 50 * 1000
        rows = count * args.restarts
        print(f"{count} puzzles x {args.restarts} = {rows} rows: {ms:.2f} ms a step, {ms * 1000 / rows:.1f} us a "
              f"row-step", flush=True)


if __name__ == "__main__":
    main()
