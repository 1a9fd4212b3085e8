"""Measure the solver on Sudoku CSVs (columns ``puzzle``, ``solution``): one batch, every solution verified.

    python benchmarks/tune_sudoku.py --data /path/sudoku.csv --n 100 --estimator st --steps 1000 \
        --samples 4 --restarts 4 --lr 0.05
    python benchmarks/tune_sudoku.py --data ... --n 100 --paper --estimator redge   # the paper's protocol

Unset options keep ``SolverConfig``'s defaults. Prints the settings, then solved counts: ``found`` (a verified
solution was returned), ``any`` (some sample was valid), ``mode`` (the argmax when the puzzle stopped),
``last`` (a sample of the last step), the median first-solved step, wall time and puzzles per second.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from redge_solve.problems.sudoku import SudokuBatch, grid_from_string, verify_grid  # noqa: E402
from redge_solve.solver import SolverConfig, paper_protocol, solve  # noqa: E402


def load(path: str, n: int, offset: int) -> tuple[torch.Tensor, torch.Tensor]:
    puzzles, solutions = [], []
    with open(path, newline="") as handle:
        for index, row in enumerate(csv.DictReader(handle)):
            if index < offset:
                continue
            if len(puzzles) == n:
                break
            puzzles.append(grid_from_string(row["puzzle"]))
            solutions.append(grid_from_string(row["solution"]))
    return torch.stack(puzzles), torch.stack(solutions)


def parse_value(text: str) -> float | int:
    try:
        return int(text)
    except ValueError:
        return float(text)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="CSV with puzzle and solution columns")
    parser.add_argument("--n", type=int, default=100, help="number of puzzles")
    parser.add_argument("--offset", type=int, default=0, help="rows to skip first")
    parser.add_argument("--estimator")
    parser.add_argument("--param", action="append", default=[], metavar="K=V", help="estimator parameter")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--samples", type=int)
    parser.add_argument("--restarts", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--init-std", type=float, help="std of the keyed Gaussian initial logits")
    parser.add_argument("--reset-every", type=int, help="reset unsolved puzzles every this many steps")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--no-early-stop", action="store_true")
    parser.add_argument("--paper", action="store_true", help="apply paper_protocol() after the other options")
    parser.add_argument("--threads", type=int, help="torch.set_num_threads")
    parser.add_argument("--json", help="also write the summary to this JSON file")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    overrides = {
        name: value
        for name, value in dict(
            estimator=args.estimator,
            steps=args.steps,
            samples=args.samples,
            restarts=args.restarts,
            lr=args.lr,
            init_std=args.init_std,
            reset_every=args.reset_every,
            seed=args.seed,
        ).items()
        if value is not None
    }
    if args.param:
        overrides["params"] = {k: parse_value(v) for k, v in (p.split("=", 1) for p in args.param)}
    if args.no_early_stop:
        overrides["early_stop"] = False
    config = SolverConfig(**overrides)
    if args.paper:
        config = paper_protocol(config)

    puzzles, solutions = load(args.data, args.n, args.offset)
    count = puzzles.shape[0]
    ids = torch.arange(args.offset, args.offset + count)
    settings = {k: (dict(v) if k == "params" else v) for k, v in dataclasses.asdict(config).items()}
    print(f"data={args.data} n={count} offset={args.offset} threads={torch.get_num_threads()}")
    print("config " + json.dumps(settings))

    start = time.perf_counter()
    result = solve(SudokuBatch.from_grids(puzzles), config, puzzle_ids=ids)
    seconds = time.perf_counter() - start

    verified = torch.tensor([verify_grid(result.solution[i], puzzles[i], solutions[i]) for i in range(count)])
    if bool((result.found & ~verified).any()):
        print(f"WARNING: {int((result.found & ~verified).sum())} reported solutions fail verification")
    steps = result.first_solved_step[verified].float()
    summary = dict(
        n=count,
        found=int(verified.sum()),
        any=int(result.solved_any.sum()),
        mode=int(result.solved_mode.sum()),
        last=int(result.solved_last.sum()),
        median_first_step=float(steps.median()) if steps.numel() else None,
        seconds=round(seconds, 2),
        puzzles_per_s=round(count / seconds, 2),
        config=settings,
        data=args.data,
        offset=args.offset,
    )
    print(
        f"solved found {summary['found']}/{count}  any {summary['any']}  mode {summary['mode']}  "
        f"last {summary['last']}  median first step {summary['median_first_step']}  "
        f"{seconds:.1f} s  {summary['puzzles_per_s']} puzzles/s"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


if __name__ == "__main__":
    main()
