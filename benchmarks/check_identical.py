"""Bit-for-bit check that an optimisation changed no numbers: record, then compare, fixed-seed outputs.

    python benchmarks/check_identical.py record /tmp/golden.pt     # before the change
    python benchmarks/check_identical.py compare /tmp/golden.pt    # after it

Records, for every estimator: one surrogate's loss, values and gradient on random logits with keyed noise, and the
per-puzzle results of a short paper-protocol solve (solutions, penalties, first solved step, curve); and a short
solve at Sudoku's own defaults (pre-step, breakout weights, growing restarts, ST sampling at temperature 0.3).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from bench_speed import DATA, ESTIMATORS, load_grids  # noqa: E402

from redge_solve.estimators import make_estimator  # noqa: E402
from redge_solve.estimators._noise import KeyedNoise, key_tensor  # noqa: E402
from redge_solve.problems.sudoku import SudokuBatch  # noqa: E402
from redge_solve.solver import CONSTRAINT_DEFAULTS, DEFAULTS, solve  # noqa: E402


def outputs() -> dict:
    grids = load_grids(DATA, 40)
    batch = SudokuBatch.from_grids(grids)
    out = {}
    for name, params in ESTIMATORS.items():
        gen = torch.Generator().manual_seed(1)
        logits = (2 * torch.randn(batch.num_variables, 9, generator=gen)).requires_grad_(True)
        noise = KeyedNoise(key_tensor(3, torch.arange(batch.num_variables)))
        noise.next_step()
        sur = make_estimator(name, **params).surrogate(batch.penalty, logits, 2, noise)
        (grad,) = torch.autograd.grad(sur.loss, logits)
        out[f"{name}/loss"], out[f"{name}/values"], out[f"{name}/grad"] = sur.loss.detach(), sur.values, grad
        out[f"{name}/violations"] = batch.violations(sur.samples)
        # the settings of the recordings (Sudoku's defaults have moved on since: pre-step, weights, lr 0.3)
        base = replace(CONSTRAINT_DEFAULTS, estimator=name, params=params, seed=0)
        res = solve(batch, replace(base, steps=40, samples=1, restarts=1, early_stop=False))
        for field in ("solution", "penalty", "first_solved_step", "found", "solved_mode", "solved_last"):
            out[f"{name}/solve/{field}"] = getattr(res, field)
        out[f"{name}/solve/curve"] = torch.tensor(res.curve)
        res = solve(batch, replace(base, steps=30, samples=2, restarts=2))
        out[f"{name}/solve4/solution"], out[f"{name}/solve4/penalty"] = res.solution, res.penalty
    res = solve(batch, replace(DEFAULTS, steps=300))
    for field in ("solution", "penalty", "first_solved_step", "found"):
        out[f"sudoku-defaults/{field}"] = getattr(res, field)
    return out


def record_or_compare(doc: str | None) -> tuple[str, Path]:
    """The command line of a record-then-compare check: ``record PATH`` or ``compare PATH``."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["record", "compare"], help="record the outputs, or compare with a record")
    parser.add_argument("path", type=Path, help="the record's file")
    args = parser.parse_args()
    if args.mode == "compare" and not args.path.is_file():
        parser.error(f"no record at {args.path}: run 'record' first")
    return args.mode, args.path


def main() -> None:
    mode, path = record_or_compare(__doc__)
    current = outputs()
    if mode == "record":
        torch.save(current, path)
        print(f"recorded {len(current)} tensors to {path}")
        return
    golden = torch.load(path)
    bad = [k for k in golden if not torch.equal(golden[k], current[k])]
    for k in bad:
        diff = (golden[k].double() - current[k].double()).abs().max().item()
        print(f"DIFFERENT {k}: max abs diff {diff:g}")
    print(f"{len(golden) - len(bad)}/{len(golden)} tensors bit-identical")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
