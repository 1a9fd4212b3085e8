"""Big Sudoku grids (16×16, 25×25) by blank fraction: solved %, median step, seconds a puzzle, with and without the
exact pre-step, under each size's own default settings (``settings.sudoku_defaults``).

    python benchmarks/bench_big.py                     # 10 puzzles per band, the data in ../shared/data
    python benchmarks/bench_big.py --per-band 5 --max-seconds 300 --json benchmarks/big-<date>.json
    python benchmarks/bench_big.py --bands 25x25-55 --set weight_step=0.1 --deduce singles

Bands: ``big-dev-16x16.txt`` (60, 65 and 70 % of the cells blank) and ``big-dev-25x25.txt`` (50 and 55 %), one
``puzzle::solution`` a line; a band is named by the grid and its blank percentage (``16x16-65``), read from each
puzzle. The puzzles are random valid grids with seeded blanks, so a puzzle may have other solutions than the one
given: a result is verified against the rules and the clues (``verify_grid`` without the solution). Each band is
its first ``--per-band`` puzzles, solved as one batch with the size's defaults plus any ``--set NAME=VALUE``, once
per ``--deduce`` level; ``--max-seconds`` caps each batch (the puzzles it stops count as unsolved). Seconds a
puzzle = the batch's wall-clock seconds / its puzzles. The machine's speed is printed as a reference measured in
the same run (``reference_seconds``: a fixed 9×9 workload), so timings taken under different loads can be compared
as ratios. The dev data live outside the repository (``../shared/data`` beside a checkout, or ``--data``).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from bench_hard import add_band_options, overrides_of, with_overrides  # noqa: E402

from redge_solve.formats import Puzzle, read_puzzles  # noqa: E402
from redge_solve.problems.sudoku import SudokuBatch, grid_from_string, grid_violations, verify_grid  # noqa: E402
from redge_solve.settings import DEFAULTS, SolverConfig, sudoku_defaults  # noqa: E402
from redge_solve.solver import solve  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
FILES = ("big-dev-16x16.txt", "big-dev-25x25.txt")
REFERENCE = "000020050300000100000006000060050020100400300000000000000108000020000070000300400"
"""The 17-clue 9×9 puzzle of puzzles/hard.txt: the reference workload is 300 steps of it without early stop."""


def bands(data: Path, per_band: int, skip: int = 0) -> dict[str, list[Puzzle]]:
    """``{"16x16-65": [puzzle, ...], ...}``: ``per_band`` puzzles of each grid size and blank percentage, after its
    first ``skip``."""
    out: dict[str, list[Puzzle]] = {}
    for name in FILES:
        for entry in read_puzzles(str(data / name)):
            if isinstance(entry, Puzzle):
                blanks = round(100 * int((entry.clues == 0).sum()) / entry.clues.numel())
                out.setdefault(f"{entry.side}x{entry.side}-{blanks}", []).append(entry)
    return {band: puzzles[skip:skip + per_band] for band, puzzles in out.items()}


def reference_seconds() -> float:
    """Wall-clock seconds of a fixed workload (the 9×9 ``REFERENCE`` puzzle, 300 steps, 8 restarts, no early
    stop): the machine's speed at the time of the run."""
    config = dataclasses.replace(DEFAULTS, steps=300, early_stop=False, deduce="none")
    start = time.perf_counter()
    solve(SudokuBatch.from_grids(grid_from_string(REFERENCE).unsqueeze(0)), config)
    return time.perf_counter() - start


def run_band(puzzles: list[Puzzle], config: SolverConfig) -> dict:
    """Solve one band as a batch; every result verified against the rules and clues. ``violations``: of each
    reported grid (a found one, else the final mode of the restart with the lowest penalty; 0 when solved), a
    measure of how far the unsolved ones got; ``lowest_penalty``: the lowest sample penalty any step of the batch
    reached (0 once a puzzle is solved)."""
    grids = torch.stack([p.clues for p in puzzles])
    lowest = [float("inf")]

    def on_step(progress) -> None:
        lowest[0] = min(lowest[0], progress.best_penalty)

    start = time.perf_counter()
    results = solve(SudokuBatch.from_grids(grids), config, puzzle_ids=torch.tensor([p.index for p in puzzles]),
                    on_step=on_step)
    seconds = time.perf_counter() - start
    verified = [bool(results.found[i]) and verify_grid(results.solution[i], grids[i]) for i in range(len(puzzles))]
    steps = [int(results.first_solved_step[i]) if ok else -1 for i, ok in enumerate(verified)]
    solved_steps = [s for s in steps if s > 0]
    return dict(puzzles=len(puzzles), solved=sum(verified), median_step=statistics.median(solved_steps)
                if solved_steps else None, seconds=seconds, seconds_per_puzzle=seconds / len(puzzles), steps=steps,
                violations=grid_violations(results.solution).tolist(), steps_run=results.steps_run.tolist(),
                lowest_penalty=lowest[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_band_options(parser, 10, "comma-separated bands to run, e.g. 16x16-65 (default: all)",
                     "SolverConfig field over the size's defaults (params as JSON), repeatable")
    parser.add_argument("--max-seconds", type=float, default=None, help="time budget of each band's batch")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N puzzles of each band")
    parser.add_argument("--json", help="write the table as JSON here")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the dev data folder (default {DATA})")
    args = parser.parse_args()
    if not all((args.data / name).is_file() for name in FILES):
        print(f"no big-grid dev data at {args.data}: this benchmark needs {' and '.join(FILES)}")
        return
    overrides = overrides_of(args.set)
    if args.max_seconds is not None:
        overrides["max_seconds"] = args.max_seconds
    samples = bands(args.data, args.per_band, args.skip)
    wanted = [b for b in args.bands.split(",") if b] or list(samples)
    reference = reference_seconds()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; reference workload {reference:.2f} s; "
          f"overrides {overrides}", flush=True)
    print(f"{'band':10s} {'deduce':8s} {'solved':>7s} {'%':>6s} {'med step':>8s} {'s/puzzle':>8s}  "
          "lowest penalty, violations left", flush=True)
    rows = []
    for level in args.deduce.split(","):
        for band in wanted:
            side = samples[band][0].side
            config = with_overrides(sudoku_defaults(side), {**overrides, "deduce": level})
            row = dict(band=band, deduce=level, **run_band(samples[band], config))
            rows.append(row)
            median = "-" if row["median_step"] is None else f"{row['median_step']:g}"
            print(f"{band:10s} {level:8s} {row['solved']:>3d}/{row['puzzles']:<3d} "
                  f"{100 * row['solved'] / row['puzzles']:6.1f} {median:>8s} {row['seconds_per_puzzle']:8.1f}  "
                  f"{row['lowest_penalty']:g}, {row['violations']}", flush=True)
    if args.json:
        settings = {side: {k: v for k, v in dataclasses.asdict(sudoku_defaults(side)).items() if k != "params"}
                    for side in (16, 25)}
        Path(args.json).write_text(json.dumps(dict(defaults=settings, overrides=overrides, torch=torch.__version__,
                                                   threads=torch.get_num_threads(), reference_seconds=reference,
                                                   rows=rows), indent=1))


if __name__ == "__main__":
    main()
