"""Puzzles per second of this checkout against another commit, on the same files, in one run (issue 29).

    python benchmarks/bench_throughput.py                              # against 41c19a2, the default samples
    python benchmarks/bench_throughput.py --ref main --graded 40 --seventeen 40 --extreme 10 --max-seconds 300
    python benchmarks/bench_throughput.py --param temperature=1          # this checkout with a setting, the other not
    python benchmarks/bench_throughput.py --graded 0 --seventeen 0 --extreme 100 --only magictour_top1465

The other commit is checked out with ``git worktree add --detach`` in a temporary folder (removed at the end), and
every measurement is a fresh subprocess that imports one of the two checkouts, solves one set as one batch with
the default settings (the checkout's ``DEFAULTS``, the ``sudoku`` command's for 9×9, plus ``--max-seconds`` as a
wall-clock cap of each solve; the allocator policy of the command line's start-up, ``redge_solve.allocator``, where
the checkout has one) and reports its wall-clock seconds and how many puzzles it solved (each solution verified by
the rules and the clues). The two codes run one after the other on each set, ``--repeats`` times, alternating which
goes first, so a change of the load on a shared machine hits both alike; the table shows the median puzzles/s of
each and their ratio, and the ratio of the CPU seconds per solved puzzle (the process's own CPU time: less
sensitive to waiting for a core on a loaded machine). Solved puzzles per second is the figure when a cap stops
unsolved puzzles.

Sets, seeded samples of the dev data in ``../shared/data`` beside the checkout (or ``--data``): graded Sudoku-3M puzzles
(``sudoku3m-dev-graded.csv``), 17-clue puzzles (``sudoku17-dev-500.txt``) and ``--extreme`` puzzles of each source
of ``extreme-dev-856.csv`` (magictour, forum hardest 1106, forum hardest 1905 11+).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET_ENV = "REDGE_MEMORY_BUDGET"  # memory.BUDGET_ENV, the same in both codes (not imported: a worker must import
# only the checkout it measures)
DATA = ROOT.parent / "shared" / "data"
BASE_REF = "41c19a2"


def sample_sets(graded: int, seventeen: int, extreme: int, seed: int, data: Path = DATA) -> dict[str, list[str]]:
    """``{set name: [puzzle, ...]}``, seeded random samples of the dev files in ``data``.

    One stream for all sets, drawn in the order graded, 17 clues, extreme sources: a set's sample depends on the
    sizes asked of the sets before it (``--graded 0`` draws other extreme puzzles than ``--graded 143``).
    """
    import random

    rng = random.Random(seed)
    with open(data / "sudoku3m-dev-graded.csv", newline="") as handle:
        rows = [r["puzzle"] for r in csv.DictReader(handle)]
    sets = {"graded": rng.sample(rows, min(graded, len(rows)))}
    with open(data / "sudoku17-dev-500.txt") as handle:
        rows = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    sets["17 clues"] = rng.sample(rows, min(seventeen, len(rows)))
    with open(data / "extreme-dev-856.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for source in sorted({r["source"] for r in rows}):
        puzzles = [r["puzzle"] for r in rows if r["source"] == source]
        sets[source] = rng.sample(puzzles, min(extreme, len(puzzles)))
    return {name: puzzles for name, puzzles in sets.items() if puzzles}


def worker(root: str, puzzle_file: str, max_seconds: float | None, threads: int,
           params: dict[str, str] | None = None) -> None:
    """In a subprocess: solve the puzzles of ``puzzle_file`` with the checkout at ``root`` (with the estimator's
    ``params`` when given); print one JSON line."""
    sys.path.insert(0, root)
    try:  # what the command line does at start-up, where the checkout has it
        from redge_solve.allocator import keep_freed_memory
    except ImportError:
        pass
    else:
        keep_freed_memory()
    import torch

    torch.set_num_threads(threads)
    from dataclasses import replace

    from redge_solve.problems.sudoku import SudokuBatch, grid_from_string, verify_grid
    from redge_solve.solver import DEFAULTS, solve

    puzzles = [line.strip() for line in Path(puzzle_file).read_text().splitlines() if line.strip()]
    grids = torch.stack([grid_from_string(p) for p in puzzles])
    config = replace(DEFAULTS, max_seconds=max_seconds)
    if params:  # this checkout's runs only, so its one way of building settings
        from redge_solve.config import build_config

        config = build_config(config, params=params)
    start, cpu = time.perf_counter(), time.process_time()
    results = solve(SudokuBatch.from_grids(grids), config)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    solved = sum(bool(results.found[i]) and verify_grid(results.solution[i], grids[i]) for i in range(len(grids)))
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "puzzles": len(puzzles), "solved": solved}))


def measure(root: Path, puzzles: list[str], max_seconds: float | None, threads: int,
            memory_budget: int | None = None, params: list[str] | None = None) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as handle:
        handle.write("\n".join(puzzles) + "\n")
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", str(root), handle.name,
               "--threads", str(threads)] + ([] if max_seconds is None else ["--max-seconds", str(max_seconds)])
    command += [arg for param in params or [] for arg in ("--param", param)]
    try:
        env = dict(os.environ, **({} if memory_budget is None else {BUDGET_ENV: str(memory_budget)}))
        done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=root, env=env)
    finally:
        Path(handle.name).unlink()
    return json.loads(done.stdout.strip().splitlines()[-1])


def checkout(ref: str, folder: Path) -> Path:
    """A detached worktree of ``ref`` of this repository in ``folder``."""
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), ref], check=True,
                   capture_output=True)
    return folder


def table(rows: list[dict], ref: str) -> str:
    lines = [f"| set | puzzles | {ref}: solved, puzzles/s | this checkout: solved, puzzles/s | ratio | "
             "ratio of CPU seconds |", "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['set']} | {row['puzzles']} | {row['base_solved']}, {row['base_rate']:.3g} | "
                     f"{row['new_solved']}, {row['new_rate']:.3g} | {row['ratio']:.2f}× | {row['cpu_ratio']:.2f}× |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> list[dict]:
    sets = sample_sets(args.graded, args.seventeen, args.extreme, args.seed, args.data)
    if args.only:  # after drawing: the same samples as a run of every set
        unknown = set(args.only) - set(sets)
        if unknown:
            raise SystemExit(f"--only: no set {', '.join(sorted(unknown))} (sets: {', '.join(sets)})")
        sets = {name: puzzles for name, puzzles in sets.items() if name in args.only}
    budget = None
    if args.sub_batch is not None:  # in this process only: the workers import their own checkout
        sys.path.insert(0, str(ROOT))
        from redge_solve.memory import bytes_per_puzzle

        budget = args.sub_batch * bytes_per_puzzle(81, 9, restarts=64, samples=2)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        base = checkout(args.ref, Path(tmp) / "base")
        try:
            for name, puzzles in sets.items():  # sample_sets leaves out empty sets (--extreme 0)
                runs: dict[str, list[dict]] = {"base": [], "new": []}
                for repeat in range(args.repeats):
                    order = [("base", base), ("new", ROOT)]
                    for label, root in order if repeat % 2 == 0 else order[::-1]:
                        runs[label].append(measure(root, puzzles, args.max_seconds, args.threads, budget,
                                                   args.param if label == "new" else None))
                        print(f"{name} {label}: {runs[label][-1]}", file=sys.stderr, flush=True)
                rate = {k: statistics.median(r["solved"] / r["seconds"] for r in v) for k, v in runs.items()}
                cpu = {k: statistics.median(r["cpu_seconds"] / max(r["solved"], 1) for r in v) for k, v in runs.items()}
                rows.append({"set": name, "puzzles": len(puzzles), "runs": runs,
                             "base_solved": runs["base"][-1]["solved"], "new_solved": runs["new"][-1]["solved"],
                             "base_rate": rate["base"], "new_rate": rate["new"],
                             "ratio": rate["new"] / rate["base"] if rate["base"] else float("nan"),
                             "cpu_ratio": cpu["base"] / cpu["new"]})
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False,
                           capture_output=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("ROOT", "PUZZLES"), help=argparse.SUPPRESS)
    parser.add_argument("--ref", default=BASE_REF, help=f"the commit to compare with (default {BASE_REF})")
    parser.add_argument("--graded", type=int, default=40)
    parser.add_argument("--seventeen", type=int, default=40)
    parser.add_argument("--extreme", type=int, default=10, help="puzzles per source of extreme-dev-856.csv")
    parser.add_argument("--only", type=lambda text: text.split(","), default=None, metavar="SET,...",
                        help="run only these sets (e.g. forum_hardest_1905_11,magictour_top1465), drawn as in "
                             "a run of every set")
    parser.add_argument("--max-seconds", type=float, default=None, help="wall-clock cap of each solve")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of each subprocess")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sub-batch", type=int, default=None, metavar="N",
                        help=f"a memory budget ({BUDGET_ENV}) of N 9×9 puzzles with 81 free cells at 64 restarts "
                             "(more fit: the pre-step leaves fewer free cells), so that a large file is solved in "
                             "sub-batches (as on a smaller machine or a larger file)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the dev data (default {DATA})")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a parameter of the default estimator for this checkout's runs only (e.g. "
                             "temperature=0.3: the setting to compare, the reference keeps its defaults)")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1], args.max_seconds, args.threads,
               dict(param.split("=", 1) for param in args.param))
        return
    if not args.data.exists():
        sys.exit(f"no dev data at {args.data}; pass --data")
    rows = run(args)
    print(table(rows, args.ref))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
