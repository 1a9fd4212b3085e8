"""Measure the solver's real peak memory per puzzle, to calibrate ``redge_solve.memory.bytes_per_puzzle``.

Each configuration runs in a fresh subprocess: peak resident memory (ru_maxrss) after a few steps on N puzzles,
minus the same run on 1 puzzle, over N − 1, against the estimate. Usage: python benchmarks/measure_memory.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "sudoku3m-dev-1000.csv"

CHILD = r"""
import csv, json, resource, sys, torch
sys.path.insert(0, sys.argv[1])
from redge_solve.memory import bytes_per_puzzle
from redge_solve.problems.sudoku import SudokuBatch, grid_from_string
from redge_solve.solver import SolverConfig, solve
torch.set_num_threads(1)
n, side, spec = int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
config = SolverConfig(steps=3, early_stop=False, **spec)
if side == 9:
    rows = list(csv.DictReader(open(sys.argv[5])))[:n]
    grids = torch.stack([grid_from_string(r["puzzle"]) for r in rows])
else:
    grids = torch.zeros(n, side * side, dtype=torch.long)
problem = SudokuBatch.from_grids(grids)
solve(problem, config, memory_budget=1 << 60)
free = int(torch.bincount(problem.var_instance).float().mean())
print(json.dumps(dict(rss=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      estimate=bytes_per_puzzle(free, side, restarts=config.restarts, samples=config.samples,
                                                calls=config.make_estimator().denoiser_calls))))
"""


def peak(n: int, side: int, spec: dict) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT), str(n), str(side), json.dumps(spec), str(DATA)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def main() -> None:
    specs = [dict(estimator="st", samples=4, restarts=4), dict(estimator="gumbel", samples=4, restarts=4),
             dict(estimator="reinmax", samples=4, restarts=4),
             dict(estimator="redge", samples=4, restarts=4), dict(estimator="redge-cov", samples=4, restarts=4),
             dict(estimator="redge-max", samples=4, restarts=4, params=dict(n_steps=9)),
             dict(estimator="reinforce", samples=4, restarts=4)]
    cases = [(9, 400)] + [(16, 40), (25, 8)]
    for side, n in cases:
        for spec in specs if side == 9 else specs[:1] + specs[4:5]:
            small, big = peak(1, side, spec), peak(n, side, spec)
            measured = (big["rss"] - small["rss"]) / (n - 1)
            print(f"{side}x{side} n={n} {json.dumps(spec)}: measured {measured / 1e3:.0f} kB/puzzle, "
                  f"estimate {big['estimate'] / 1e3:.0f} kB ({big['estimate'] / max(measured, 1):.2f}x)", flush=True)


if __name__ == "__main__":
    main()
