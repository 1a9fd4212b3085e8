"""The options of ``compare``, declared as ``Annotated`` aliases so that its signature reads one line per option,
and its solver knobs, whose defaults depend on the source (``options.per_source_default``). Torch-free."""

from __future__ import annotations

from typing import Annotated, Any, Optional

import typer

from ..config import Protocol
from . import options as opt

Source = Annotated[str, typer.Argument(
    help="Puzzle file (csv/tsv/parquet/json/jsonl) or hf:OWNER/NAME; or a DIMACS .col file or a directory of them "
    "(graph colouring); or queens:N1,N2,...")]
Colors = Annotated[Optional[int], typer.Option(
    "--colors", min=1, help="Colours for .col graphs (default: each file's 'c chromatic number').")]
Split = Annotated[str, typer.Option("--split", help="Dataset split (hub or local).")]
Offset = Annotated[int, typer.Option("--offset", min=0, help="First row to use.")]
Limit = Annotated[Optional[int], typer.Option("--limit", min=1, help="Number of rows to use (default: all).")]
PuzzleColumn = Annotated[str, typer.Option("--puzzle-column")]
SolutionColumn = Annotated[str, typer.Option("--solution-column")]
Param = Annotated[Optional[list[str]], typer.Option(
    "--param", "-p", callback=opt.assignments, metavar="EST.NAME=VALUE", help="ESTIMATOR.PARAM=VALUE (repeatable).")]
Grid = Annotated[Optional[list[str]], typer.Option(
    "--grid", callback=opt.assignments, help="ESTIMATOR.PARAM=V1,V2,... (repeatable; cartesian product).")]
Tune = Annotated[Optional[int], typer.Option(
    "--tune", min=1, metavar="N",
    help="Tune each estimator first: an Optuna study of N trials (seeded TPE) on the first --tune-fraction of the "
    "puzzles, then the table with the chosen parameters on the rest (needs the optional 'tune' extra).")]
TuneFraction = Annotated[float, typer.Option(
    "--tune-fraction", min=0.0, max=1.0, help="Share of the puzzles (the first ones) used for tuning.")]
TuneLr = Annotated[bool, typer.Option("--tune-lr", help="Tune the learning rate too (log-uniform 0.005..0.5).")]
TuneSeeds = Annotated[str, typer.Option("--tune-seeds", callback=opt.seed_list,
                                        help="Seeds of each trial: a count or a list like 0,5.")]
Criterion = Annotated[str, typer.Option(
    "--criterion", help="What tuning maximises: solved_last, solved_mode, solved_any or found (ties broken by the "
    "mean final penalty).")]
TuneStorage = Annotated[Optional[str], typer.Option(
    "--tune-storage", metavar="URL",
    help="Optuna storage (e.g. sqlite:///tune.db): a rerun resumes its studies instead of starting over.")]
Diagnose = Annotated[bool, typer.Option(
    "--diagnose", help="Then measure each estimator's gradient against the exact one (cosine, relative bias ± its "
    "noise, relative variance) at --checkpoints of an exact-gradient trajectory on the first --diagnose-puzzles.")]
DiagnoseOnly = Annotated[bool, typer.Option(
    "--diagnose-only", help="Only the diagnostics, no comparison runs (so reinforce may join with the paper "
    "protocol's one sample: each estimate uses at least its minimum).")]
Checkpoints = Annotated[str, typer.Option("--checkpoints", help="Steps at which --diagnose measures.")]
Draws = Annotated[int, typer.Option("--draws", min=2, help="Gradient estimates per estimator and checkpoint.")]
DiagnosePuzzles = Annotated[int, typer.Option(
    "--diagnose-puzzles", min=1, help="Puzzles (the first of the compared ones) --diagnose uses.")]
Out = Annotated[Optional[str], typer.Option(
    "--out", "-o", metavar="PREFIX", callback=opt.output_directory,
    help="Write PREFIX.csv, PREFIX.json and PREFIX.png (with --tune also PREFIX-trials.csv, PREFIX-splits.csv, "
    "PREFIX-tuning.png; with --diagnose PREFIX-diagnostics.csv/.json/.png).")]
ChunkSize = Annotated[Optional[int], typer.Option(
    "--chunk-size", min=1, help="Puzzles per task [default: all; with ray, split over the workers].")]
Pairs = Annotated[bool, typer.Option(
    "--pairs", help="Then the paired differences in solved % between every two rows (or each and --baseline): a 95% "
    "paired-bootstrap interval over puzzles and an exact sign test (with --out also PREFIX-pairs.csv).")]
Baseline = Annotated[Optional[str], typer.Option(
    "--baseline", metavar="EST", help="Pair every row with this one only (an estimator, or a row's label); implies "
    "--pairs.")]
Bootstrap = Annotated[int, typer.Option("--bootstrap", min=100, metavar="B", help="Bootstrap resamples of --pairs.")]


def _knob(flag: str, kind: Any, text: str, name: str, **checks: Any) -> Any:
    return Annotated[Optional[kind], typer.Option(flag, show_default=False, **checks,
                                                  help=f"{text} {opt.per_source_default(name)}.")]


KNOBS: tuple[tuple[str, Any, Any], ...] = (
    ("protocol", opt.ProtocolOption, Protocol.default),
    ("steps", _knob("--steps", int, "Adam steps per instance", "steps", min=1), None),
    ("samples", _knob("--samples", int, "Samples per step", "samples", min=1), None),
    ("restarts", _knob("--restarts", int, "Independent restarts per instance", "restarts", min=1), None),
    ("lr", _knob("--lr", float, "Adam learning rate (> 0)", "lr"), None),
    ("deduce", _knob("--deduce", opt.Deduction, "Exact pre-step from the clues (Sudoku only; see `sudoku --help`)",
                     "deduce", case_sensitive=False), None),
    ("weight_step", _knob("--weight-step", float, "Breakout weights, 0: off", "weight_step", min=0.0, metavar="X"),
     None),
    ("reset_every", _knob("--reset-every", int, "Fresh starts every N steps, 0: never", "reset_every", min=0,
                          metavar="N"), None),
    ("max_restarts", _knob("--max-restarts", int, "Growing restarts up to N, 0: off", "max_restarts", min=0,
                           metavar="N"), None),
    ("growth_period", _knob("--growth-period", int, "Restarts double every N fresh starts", "growth_period", min=1,
                            metavar="N"), None),
    ("tail_samples", _knob("--tail-samples", int, "Samples of the puzzles left once restarts grow, 0: --samples",
                           "tail_samples", min=0, metavar="S"), None),
    ("max_logit", _knob("--max-logit", float, "Bounded logits, 0: unbounded", "max_logit", min=0.0, metavar="A"),
     None),
    ("recombine", Annotated[Optional[bool], typer.Option(
        "--recombine/--no-recombine", show_default=False,
        help=f"Recombined restarts at each fresh start (Sudoku only; see `sudoku --help`) "
             f"{opt.per_source_default('recombine')}.")], None),
    ("no_early_stop", opt.NoEarlyStop, False),
    ("max_seconds", opt.MaxSeconds, None),
    ("device", opt.DeviceOption, "auto"),
)
"""``compare``'s solver options: a knob left at None takes the source's default under the protocol (``--help``
shows them per source)."""
