"""Per-restart success curves: how often one restart solves a puzzle, and by which step, without fresh starts.

    python benchmarks/restart_curves.py --band 6-8.5 --puzzles 32 --copies 24 --steps 1000
    python benchmarks/restart_curves.py --band forum1106 --puzzles 8 --copies 256 --steps 1500 --set lr=0.2
    python benchmarks/restart_curves.py --band 16x16-65 --puzzles 20 --copies 6 --steps 6000

Each of ``--puzzles`` puzzles of a band (``bench_hard.py``'s bands and seeded samples, or ``bench_big.py``'s
16×16 and 25×25 bands, their first puzzles, under that size's defaults) is solved ``--copies`` times
as separate instances with one restart each, keyed apart (copy c of puzzle p has noise id ``p * copies + c``), with
the band's defaults plus any ``--set NAME=VALUE`` but no fresh starts and no growing restarts, for ``--steps``
steps; early stop ends each copy at its first solution. A copy is then one restart's trajectory, and the
solver's fixed fresh-start period c can be judged offline: a restart that solves by step c costs its steps, one
that does not costs c, so

    efficiency(c) = restarts solved by step c / Σ_restarts min(first solved step, c)     (solutions per row-step)

(restarts are independent: a fresh start draws new keyed noise). Printed per c, pooled over the band and as the
sum over puzzles of row-steps per solution (the puzzle-level cost, which the hardest puzzles dominate; puzzles
with no solved copy are counted apart). Counts are deterministic, so a loaded machine changes only the seconds.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_big  # noqa: E402
import torch  # noqa: E402
from bench_hard import DATA, bands, overrides_of, with_overrides  # noqa: E402

from redge_solve.problems.sudoku import SudokuBatch, grid_from_string  # noqa: E402
from redge_solve.settings import SolverConfig, sudoku_defaults  # noqa: E402
from redge_solve.solver import solve  # noqa: E402

CYCLES = (150, 200, 250, 300, 350, 400, 500, 700, 1000, 1500, 2000, 3000, 6000)


def first_solved_steps(grids: torch.Tensor, copies: int, steps: int, defaults: SolverConfig,
                       overrides: dict) -> torch.Tensor:
    """``(puzzles, copies)`` long: the step each copy of each puzzle of ``grids`` ``(P, N²)`` first solved it,
    ``steps + 1`` if it did not."""
    puzzles = len(grids)
    grids = grids.repeat_interleave(copies, 0)
    config = with_overrides(defaults, {**overrides, "steps": steps, "restarts": 1, "reset_every": 0,
                                        "max_restarts": 0, "early_stop": True})
    results = solve(SudokuBatch.from_grids(grids), config, puzzle_ids=torch.arange(len(grids)))
    first = torch.where(results.found, results.first_solved_step, torch.full_like(results.first_solved_step,
                                                                                   steps + 1))
    return first.view(puzzles, copies)


def efficiency_table(first: torch.Tensor, steps: int) -> list[dict]:
    """One row per fresh-start period c ≤ ``steps``: restarts solved by c, pooled solutions per 10⁴ row-steps, and
    the sum over the puzzles with a solved copy of their row-steps per solution (thousands)."""
    rows = []
    for cycle in (c for c in CYCLES if c <= steps):
        solved = (first <= cycle).sum(1)
        cost = first.clamp(max=cycle).sum(1)
        some = solved > 0
        rows.append({"cycle": cycle, "solved": int(solved.sum()), "puzzles_with_one": int(some.sum()),
                     "per_1e4_row_steps": round(1e4 * int(solved.sum()) / int(cost.sum()), 3),
                     "row_steps_per_solution_k": round(float((cost[some] / solved[some]).sum()) / 1e3, 1)})
    return rows


def add_copy_options(parser: argparse.ArgumentParser) -> None:
    """The options of a run of keyed one-restart copies (shared with ``restart_penalties.py``)."""
    parser.add_argument("--band", default="6-8.5", help="a band of bench_hard.py (e.g. 5-6, 6-8.5, forum1106)")
    parser.add_argument("--puzzles", type=int, default=32)
    parser.add_argument("--copies", type=int, default=24)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0, help="of the band's sample")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--data", type=Path, default=DATA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_copy_options(parser)
    parser.add_argument("--json", type=Path, help="write the first solved steps and the table here")
    args = parser.parse_args()
    if not (args.data / "sudoku3m-dev-graded.csv").exists():
        sys.exit(f"no dev data in {args.data} (give --data); nothing measured")
    torch.set_num_threads(1)
    overrides = overrides_of(args.set)
    if args.band.startswith(("16x16", "25x25")):
        entries = bench_big.bands(args.data, args.puzzles)[args.band]
        grids = torch.stack([entry.clues for entry in entries])
    else:
        grids = torch.stack([grid_from_string(p) for p, _ in bands(args.puzzles, args.seed, args.data)[args.band]])
    defaults = sudoku_defaults(math.isqrt(grids.shape[-1]))
    first = first_solved_steps(grids, args.copies, args.steps, defaults, overrides)
    table = efficiency_table(first, args.steps)
    print(f"band {args.band}: {len(grids)} puzzles x {args.copies} restarts, {args.steps} steps, overrides "
          f"{overrides}; restarts solved: {int((first <= args.steps).sum())}")
    print(f"{'cycle':>6} {'solved':>7} {'puzzles':>8} {'per 1e4 row-steps':>18} {'row-steps/solution (k)':>23}")
    for row in table:
        print(f"{row['cycle']:>6} {row['solved']:>7} {row['puzzles_with_one']:>8} {row['per_1e4_row_steps']:>18} "
              f"{row['row_steps_per_solution_k']:>23}")
    if args.json:
        args.json.write_text(json.dumps({"band": args.band, "puzzles": len(grids), "copies": args.copies,
                                         "steps": args.steps, "overrides": {k: str(v) for k, v in overrides.items()},
                                         "first_solved": first.tolist(), "table": table}, indent=1) + "\n")


if __name__ == "__main__":
    main()
