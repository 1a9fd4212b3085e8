"""The restarts' growth period, A/B on the throughput benchmark's files in one process (issue 29).

    python benchmarks/growth_period_ab.py --set graded --periods 4,2,1 --rounds 2
    python benchmarks/growth_period_ab.py --set forum_hardest_1106 --periods 4,1 --rounds 1

Solves one of ``bench_throughput.py``'s seeded sets (its sizes: 143 graded, 200 17-clue, 100 per extreme source)
with the 9×9 defaults at each ``growth_period`` (fresh starts per doubling of the restarts), one after the other in
this process, alternating the order each round, and prints each run's wall and CPU seconds, the puzzles solved,
the last step any puzzle ran and the sum of the puzzles' steps (both deterministic). Run it on an idle machine;
one run's time is good to about ±25 % on the 2-core development machines, so read the rounds together.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from bench_throughput import DATA, sample_sets  # noqa: E402

from redge_solve.allocator import keep_freed_memory  # noqa: E402
from redge_solve.problems.sudoku import SudokuBatch, grid_from_string, verify_grid  # noqa: E402
from redge_solve.solver import DEFAULTS, solve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="graded", help="graded, '17 clues', magictour_top1465, forum_hardest_1106 "
                        "or forum_hardest_1905_11")
    parser.add_argument("--periods", default="4,1", help="growth periods to compare, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    if not args.data.exists():
        sys.exit(f"no dev data at {args.data}; pass --data")
    keep_freed_memory()  # as the command line does
    torch.set_num_threads(args.threads)
    puzzles = sample_sets(143, 200, 100, 0, args.data)[args.set]
    grids = torch.stack([grid_from_string(p) for p in puzzles])
    periods = [int(p) for p in args.periods.split(",")]
    for round_ in range(args.rounds):
        for period in periods if round_ % 2 == 0 else periods[::-1]:
            start, cpu = time.perf_counter(), time.process_time()
            results = solve(SudokuBatch.from_grids(grids), replace(DEFAULTS, growth_period=period))
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu
            solved = sum(bool(results.found[i]) and verify_grid(results.solution[i], grids[i])
                         for i in range(len(grids)))
            print(f"{args.set} {len(grids)} growth_period {period}: wall {wall:.2f} s, cpu {cpu:.2f} s, solved "
                  f"{solved}, last step {int(results.steps_run.max())}, sum of steps {int(results.steps_run.sum())}",
                  flush=True)


if __name__ == "__main__":
    main()
