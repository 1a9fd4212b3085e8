"""Does a restart's early penalty tell whether it will solve? Culling stalled restarts, judged offline.

    python benchmarks/restart_penalties.py --band 6-8.5 --puzzles 32 --copies 24 --steps 1000
    python benchmarks/restart_penalties.py --band forum1106 --puzzles 16 --copies 256 --steps 1500

The setting of ``restart_curves.py`` (each puzzle solved ``--copies`` times as keyed one-restart instances, no fresh
starts), recording besides each copy's first solved step the penalty of its mode at every step (through a wrapper
of the loop's per-step decision, ``solver._decide``, which sees every row's verdict; nothing else changes). Two
tables from it:

- **Prediction**: at step t, the copies not yet solved split into quartiles of their lowest mode penalty so far,
  and how many of each quartile solve later (by ``--steps``).
- **Culling**: the fixed fresh-start period c (every restart starts afresh every c steps) against a rule that
  checks each restart at age c1 and starts it afresh there if its lowest mode penalty so far is above a threshold,
  else lets it run to c2. Restarts are independent trials, so a rule's efficiency is

      solutions by the rule / Σ_restarts (steps each runs under the rule)       (solutions per 10⁴ row-steps)

Counts are deterministic (keyed noise); a loaded machine changes only the seconds.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from bench_hard import bands, overrides_of, with_overrides  # noqa: E402
from restart_curves import add_copy_options  # noqa: E402

import redge_solve.solver as solver  # noqa: E402
from redge_solve.problems.sudoku import SudokuBatch, grid_from_string  # noqa: E402
from redge_solve.settings import sudoku_defaults  # noqa: E402


def trajectories(grids: torch.Tensor, copies: int, steps: int, overrides: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """``first`` ``(P, C)``: each copy's first solved step (``steps + 1``: never); ``mode`` ``(P, C, steps)``: its
    mode's penalty at each step (0 after it solved)."""
    grids = grids.repeat_interleave(copies, 0)
    count = len(grids)
    mode = torch.zeros(count, steps)
    step = [0]
    decide = solver._decide

    def recording(results, active, verdict, last_step, early_stop):
        mode[active, step[0]] = verdict.mode_penalty.float()
        step[0] += 1
        return decide(results, active, verdict, last_step, early_stop)

    defaults = sudoku_defaults(math.isqrt(grids.shape[-1]))
    config = with_overrides(defaults, {**overrides, "steps": steps, "restarts": 1, "reset_every": 0,
                                        "max_restarts": 0, "early_stop": True})
    solver._decide = recording
    try:
        results = solver.solve(SudokuBatch.from_grids(grids), config, puzzle_ids=torch.arange(count))
    finally:
        solver._decide = decide
    first = torch.where(results.found, results.first_solved_step, torch.full_like(results.first_solved_step,
                                                                                   steps + 1))
    puzzles = count // copies
    return first.view(puzzles, copies), mode.view(puzzles, copies, steps)


def efficiency(solved: torch.Tensor, cost: torch.Tensor) -> float:
    """Solutions per 10⁴ row-steps."""
    return 1e4 * float(solved.sum()) / float(cost.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_copy_options(parser)
    args = parser.parse_args()
    if not (args.data / "sudoku3m-dev-graded.csv").exists():
        sys.exit(f"no dev data in {args.data} (give --data); nothing measured")
    torch.set_num_threads(1)
    grids = torch.stack([grid_from_string(p) for p, _ in bands(args.puzzles, args.seed, args.data)[args.band]])
    first, mode = trajectories(grids, args.copies, args.steps, overrides_of(args.set))
    first, mode = first.flatten().float(), mode.flatten(0, 1)
    print(f"band {args.band}: {len(grids)} puzzles x {args.copies} restarts, {args.steps} steps; restarts solved: "
          f"{int((first <= args.steps).sum())}")
    print("prediction: lowest mode penalty so far at step t, by quartile of the copies unsolved at t "
          "(copies : of them solved later)")
    for t in (100, 200, 300, 400):
        if t >= args.steps:
            continue
        alive = first > t
        lowest = mode[:, :t].min(1).values
        edges = [-1.0, *torch.quantile(lowest[alive], torch.tensor([0.25, 0.5, 0.75])).tolist(), math.inf]
        cells = []
        for low, high in itertools.pairwise(edges):
            group = alive & (lowest > low) & (lowest <= high)
            cells.append(f"({low:g}, {high:g}] {int(group.sum())} : {int((group & (first <= args.steps)).sum())}")
        print(f"  t {t:4d}: " + " | ".join(cells))
    solved = (first <= args.steps).nonzero().flatten()
    at = first[solved].long() - 1  # the solving step's index
    before = mode[solved, (at - 1).clamp(min=0)].long().tolist()
    print(f"solutions found by the mode: {int((mode[solved, at] == 0).sum())} of {len(solved)}; the mode's penalty "
          f"the step before: {dict(sorted(Counter(before).items()))}")
    steps_before = torch.arange(args.steps) < (first.unsqueeze(1) - 1)
    near = {p: int(((mode == p) & steps_before).sum()) for p in (4, 6, 8)}
    print(f"row-steps with the mode at penalty 4 / 6 / 8 before a solution (or the end): {near[4]} / {near[6]} / "
          f"{near[8]} of {int(steps_before.sum())}")
    print("culling: solutions, per 10^4 row-steps")
    for cycle in (300, 500, 700, 1000):
        if cycle <= args.steps:
            print(f"  fresh start every {cycle:4d}: {int((first <= cycle).sum()):4d}, "
                  f"{efficiency(first <= cycle, first.clamp(max=cycle)):.3f}")
    for check, live in ((200, 400), (200, 500), (250, 500), (300, 500), (300, 700)):
        if live > args.steps:
            continue
        for threshold in (4, 6, 8):
            cut = torch.where(mode[:, :check].min(1).values > threshold, float(check), float(live))
            solved = first <= torch.where(first <= check, float(check), cut)
            cost = torch.minimum(first, torch.where(first <= check, float(check), cut))
            print(f"  check at {check}, afresh if > {threshold}, else to {live}: {int(solved.sum()):4d}, "
                  f"{efficiency(solved, cost):.3f}")


if __name__ == "__main__":
    main()
