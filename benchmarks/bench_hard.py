"""Hard Sudoku by difficulty band: solved %, median step, puzzles/s, with and without the exact pre-step.

    python benchmarks/bench_hard.py                         # default settings, 100 puzzles per band
    python benchmarks/bench_hard.py --per-band 20 --set estimator=exact --set restarts=16
    python benchmarks/bench_hard.py --deduce singles,none --json benchmarks/hard-<date>.json
    python benchmarks/bench_hard.py --per-band 30 --bands magictour,forum1106,forum1905   # the hardest, per source

Bands: the easiest Sudoku-3M band (difficulty 0-1, ``sudoku3m-dev-1000.csv``), the graded bands 2-3 ... 5-6 and
6-8.5 (``sudoku3m-dev-graded.csv``, by its difficulty column), 17-clue puzzles (``sudoku17-dev-500.txt``, no
solution column: a result is verified against the rules and the clues, which for these unique-solution puzzles is
the same), and the hardest collections, one band per source of ``extreme-dev-856.csv`` (``magictour``: magictour
top1465; ``forum1106``: forum hardest 1106; ``forum1905``: forum hardest 1905 rated 11+; none falls to singles).
Each band is a seeded random sample of ``--per-band`` puzzles, solved as one batch with the product's default
settings (``DEFAULTS``, the ``sudoku`` command's for 9×9) plus any ``--set NAME=VALUE``, once per
``--deduce`` level. Every solution is verified directly (``verify_grid``). Time is wall-clock seconds of the
batch's ``solve``; puzzles/s = band size / that time. The dev data live outside the repository (in
``../shared/data`` beside a checkout); without them the benchmark says so and exits.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from redge_solve.config import build_config  # noqa: E402
from redge_solve.problems.sudoku import SudokuBatch, grid_from_string, verify_grid  # noqa: E402
from redge_solve.solver import DEFAULTS, SolverConfig, solve  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
GRADED_BANDS = [(2, 3), (3, 4), (4, 5), (5, 6), (6, 8.5)]
EXTREME_SOURCES = {"magictour": "magictour_top1465", "forum1106": "forum_hardest_1106",
                   "forum1905": "forum_hardest_1905_11"}
"""The bands of the hardest collections: their name here and their ``source`` in ``extreme-dev-856.csv``."""


def bands(per_band: int, seed: int, data: Path = DATA) -> dict[str, list[tuple[str, str | None]]]:
    """``{band: [(puzzle, solution or None), ...]}``, a seeded sample of each band."""
    out: dict[str, list[tuple[str, str | None]]] = {}
    with open(data / "sudoku3m-dev-1000.csv", newline="") as handle:
        out["0-1"] = [(r["puzzle"], r["solution"]) for r in csv.DictReader(handle)]
    with open(data / "sudoku3m-dev-graded.csv", newline="") as handle:
        graded = list(csv.DictReader(handle))
    for low, high in GRADED_BANDS:
        rows = [r for r in graded if low <= float(r["difficulty"]) < high or float(r["difficulty"]) == high == 8.5]
        out[f"{low}-{high:g}"] = [(r["puzzle"], r["solution"]) for r in rows]
    with open(data / "sudoku17-dev-500.txt") as handle:
        out["17 clues"] = [(line.strip(), None) for line in handle if line.strip() and not line.startswith("#")]
    with open(data / "extreme-dev-856.csv", newline="") as handle:
        extreme = list(csv.DictReader(handle))
    for band, source in EXTREME_SOURCES.items():
        out[band] = [(r["puzzle"], r["solution"]) for r in extreme if r["source"] == source]
    generator = torch.Generator().manual_seed(seed)
    return {band: [rows[i] for i in torch.randperm(len(rows), generator=generator)[:per_band].tolist()]
            for band, rows in out.items()}


def run_band(rows: list[tuple[str, str | None]], config: SolverConfig, every: int = 0) -> dict:
    grids = torch.stack([grid_from_string(p) for p, _ in rows])
    start = time.perf_counter()

    def report(progress) -> None:
        if progress.step % every == 0:
            print(f"  step {progress.step}: {progress.solved}/{progress.total} found, {progress.elapsed:.0f} s",
                  file=sys.stderr, flush=True)

    results = solve(SudokuBatch.from_grids(grids), config, on_step=report if every else None)
    seconds = time.perf_counter() - start
    verified = [bool(results.found[i]) and verify_grid(results.solution[i], grids[i],
                                                       None if s is None else grid_from_string(s))
                for i, (_, s) in enumerate(rows)]
    steps = [int(results.first_solved_step[i]) for i in range(len(rows)) if verified[i]]
    return dict(puzzles=len(rows), solved=sum(verified), found=int(results.found.sum()),
                median_step=statistics.median(steps) if steps else None,
                max_step=max(steps) if steps else None, seconds=seconds, puzzles_per_second=len(rows) / seconds,
                steps=[int(results.first_solved_step[i]) if verified[i] else -1 for i in range(len(rows))])


def parse_value(field: dataclasses.Field, text: str):
    if field.name == "params":
        return json.loads(text)
    kind = str(field.type)
    if "bool" in kind:
        return text.lower() in ("1", "true", "yes")
    if "int" in kind and "float" not in kind:
        return int(text)
    if "float" in kind:
        return float(text)
    return text


def add_band_options(parser: argparse.ArgumentParser, per_band: int, bands_help: str, set_help: str) -> None:
    """The options this benchmark shares with ``bench_big.py``: ``--per-band``, ``--bands``, ``--deduce``, ``--set``."""
    parser.add_argument("--per-band", type=int, default=per_band, help=f"puzzles per band (default {per_band})")
    parser.add_argument("--bands", default="", help=bands_help)
    parser.add_argument("--deduce", default="singles,none", help="pre-step levels to run, comma-separated")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help=set_help)


def overrides_of(items: list[str]) -> dict:
    """``--set NAME=VALUE`` items as ``SolverConfig`` fields with values of the field's type."""
    fields = {f.name: f for f in dataclasses.fields(SolverConfig)}
    overrides = {}
    for item in items:
        name, _, value = item.partition("=")
        overrides[name] = parse_value(fields[name], value)
    return overrides


def with_overrides(defaults: SolverConfig, overrides: dict) -> SolverConfig:
    """``defaults`` under ``--set`` values the command line's way (``build_config``): ``params`` go on top of the
    defaults' own while the estimator stays theirs; another ``estimator`` starts from its own parameters."""
    rest = dict(overrides)
    return build_config(defaults, rest.pop("estimator", None), rest.pop("params", None), **rest)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_band_options(parser, 100, "comma-separated band names to run (default: all)",
                     "SolverConfig field over the defaults (params as JSON), repeatable")
    parser.add_argument("--seed", type=int, default=0, help="seed of the band samples")
    parser.add_argument("--json", help="write the table as JSON here")
    parser.add_argument("--progress", type=int, default=0, metavar="N",
                        help="print the found count every N steps to stderr (0: never)")
    parser.add_argument("--data", type=Path, default=DATA, help=f"the dev data folder (default {DATA})")
    parser.add_argument("--part", default="1/1", metavar="I/N",
                        help="solve only the I-th of N contiguous parts of each band's sample, to run a large band as "
                             "N processes (a puzzle's noise is keyed by its position in its part: a part gives what "
                             "that part solved alone gives, the same whatever runs beside it)")
    args = parser.parse_args()
    part, parts = (int(x) for x in args.part.split("/"))
    if not args.data.is_dir():
        print(f"no dev data at {args.data}: this benchmark needs the shared Sudoku-3M, 17-clue and extreme samples")
        return
    overrides = overrides_of(args.set)
    samples = {band: rows[(part - 1) * len(rows) // parts: part * len(rows) // parts]
               for band, rows in bands(args.per_band, args.seed, args.data).items()}
    wanted = [b for b in args.bands.split(",") if b] or list(samples)
    rows = []
    base = with_overrides(DEFAULTS, overrides)
    shown = {k: v for k, v in dataclasses.asdict(base).items() if k != "deduce"}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; settings (deduce per row): {shown}",
          flush=True)
    print(f"{'band':9s} {'deduce':10s} {'solved':>9s} {'%':>6s} {'med step':>8s} {'max step':>8s} {'s':>7s} "
          f"{'puzzles/s':>9s}", flush=True)
    for level in args.deduce.split(","):
        config = with_overrides(DEFAULTS, {**overrides, "deduce": level})
        for band in wanted:
            row = dict(band=band, deduce=level, **run_band(samples[band], config, args.progress))
            rows.append(row)
            median = "-" if row["median_step"] is None else f"{row['median_step']:g}"
            most = "-" if row["max_step"] is None else f"{row['max_step']:d}"
            print(f"{band:9s} {level:10s} {row['solved']:>4d}/{row['puzzles']:<4d} "
                  f"{100 * row['solved'] / row['puzzles']:6.1f} {median:>8s} {most:>8s} {row['seconds']:7.1f} "
                  f"{row['puzzles_per_second']:9.2f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(settings={**shown, "params": dict(base.params)},
                                                   overrides=sorted(overrides), part=args.part, torch=torch.__version__,
                                                   threads=torch.get_num_threads(), rows=rows), indent=1))


if __name__ == "__main__":
    main()
