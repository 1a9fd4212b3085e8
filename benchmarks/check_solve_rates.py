"""Solve rates of the paper protocol for every estimator, to check that a speed change left the results alone.

    python benchmarks/check_solve_rates.py                      # this checkout
    python benchmarks/check_solve_rates.py --root /tmp/old      # another checkout (e.g. a git worktree of a commit)

The first ``--n`` puzzles of the 34-clue dev file, 1000 steps, lr 0.05, one sample, no early stop, seeds 0 and 1,
one thread; prints found / solved-by-the-last-sample / solved-by-the-final-mode per estimator and seed.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="checkout to import")
parser.add_argument("--n", type=int, default=300)
parser.add_argument("--data", default="/work/shared/data/sudoku3m-dev-1000-34clues.csv")
args = parser.parse_args()
sys.path.insert(0, args.root)

import torch  # noqa: E402

import redge_solve  # noqa: E402
from redge_solve.problems.sudoku import SudokuBatch, grid_from_string  # noqa: E402
from redge_solve.solver import SolverConfig, solve  # noqa: E402

assert redge_solve.__file__.startswith(args.root), f"imported {redge_solve.__file__}, not from {args.root}"
torch.set_num_threads(1)
with open(args.data, newline="") as handle:
    puzzles = [row["puzzle"] for _, row in zip(range(args.n), csv.DictReader(handle), strict=False)]
batch = SudokuBatch.from_grids(torch.stack([grid_from_string(p) for p in puzzles]))
PARAMS = {"st": {}, "gumbel": {"tau": 0.5}, "reinmax": {"tau": 1.0}, "redge": {"n_steps": 3, "t_1": 0.5},
          "redge-max": {"n_steps": 5, "t_1": 0.5}, "redge-cov": {"n_steps": 5, "t_1": 0.5}}
for name, params in PARAMS.items():
    for seed in (0, 1):
        start = time.time()
        result = solve(batch, SolverConfig(estimator=name, params=params, steps=1000, samples=1, restarts=1, lr=0.05,
                                           early_stop=False, seed=seed))
        rate = {k: float(getattr(result, k).float().mean()) * 100 for k in ("found", "solved_last", "solved_mode")}
        print(f"{name:10s} seed {seed} found {rate['found']:5.1f}% last {rate['solved_last']:5.1f}% "
              f"mode {rate['solved_mode']:5.1f}%  {time.time() - start:.0f}s", flush=True)
