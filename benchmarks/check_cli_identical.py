"""Bit-for-bit check that a refactoring of the command line changed no result: record, then compare, the files
every writing command produces on fixed seeds (timings removed: they are the only fields that may differ).

    python benchmarks/check_cli_identical.py record /tmp/cli-golden.json     # before the change
    python benchmarks/check_cli_identical.py compare /tmp/cli-golden.json    # after it

Runs, each in a fresh temporary directory and in-process through the Typer app: ``sudoku -o`` (a file with a
bad line, and the paper protocol), ``batch --out``, ``compare --out`` (CSV and JSON), ``latin``, ``queens``,
``color`` and ``solve`` with ``-o``, ``bench poly --out`` (CSV and JSON). PNGs are not compared (matplotlib
output is not part of the results). ``benchmarks/check_identical.py`` covers the estimators and the solver itself.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from check_identical import record_or_compare  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from redge_solve.cli import app  # noqa: E402

PUZZLES = ROOT / "puzzles"
TIMING_KEYS = {"seconds", "ms_per_step", "elapsed"}
TIMING_COLUMNS = ("ms_per_step",)


def _strip(value: Any) -> Any:
    """``value`` without timing fields (at any depth)."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _jsonl(path: Path) -> list[Any]:
    return [_strip(json.loads(line)) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _csv(path: Path) -> list[list[str]]:
    import csv

    rows = list(csv.reader(path.read_text(encoding="utf-8").splitlines()))
    drop = [i for i, name in enumerate(rows[0]) if name in TIMING_COLUMNS or name.startswith("seconds")]
    return [[cell for i, cell in enumerate(row) if i not in drop] for row in rows]


def _run(args: list[str], work: Path) -> int:
    previous = os.getcwd()
    os.chdir(work)
    try:
        result = CliRunner().invoke(app, args, catch_exceptions=False)
    finally:
        os.chdir(previous)
    return result.exit_code


def outputs() -> dict[str, Any]:
    out: dict[str, Any] = {}
    sample = str(PUZZLES / "sample.csv")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "mixed.txt").write_text((PUZZLES / "easy.txt").read_text() + "\n123\n" +
                                        (PUZZLES / "4x4.txt").read_text())
        runs = {
            "sudoku": (["sudoku", "mixed.txt", "--steps", "60", "-o", "sudoku.jsonl", "-q"],
                       {"sudoku.jsonl": _jsonl}),
            "sudoku-paper": (["sudoku", str(PUZZLES / "hard.txt"), "--protocol", "paper", "--steps", "40",
                              "-e", "redge", "-p", "n_steps=3", "-o", "paper.jsonl", "-q"],
                             {"paper.jsonl": _jsonl}),
            "batch": (["batch", sample, "--limit", "12", "--steps", "40", "--seed", "3", "--out", "batch.jsonl"],
                      {"batch.jsonl": _jsonl}),
            "compare": (["compare", sample, "--limit", "8", "--steps", "30", "--seeds", "2", "-e", "st,redge",
                         "-q", "--out", "cmp"], {"cmp.csv": _csv, "cmp.json": lambda p: _strip(
                             json.loads(p.read_text(encoding="utf-8")))}),
            "latin": (["latin", str(PUZZLES / "latin" / "squares.txt"), "--steps", "80", "-o", "latin.jsonl",
                       "-q"], {"latin.jsonl": _jsonl}),
            "queens": (["queens", "6", "8", "--steps", "80", "-o", "queens.jsonl", "-q"],
                       {"queens.jsonl": _jsonl}),
            "color": (["color", str(PUZZLES / "graphs" / "petersen.col"), "--steps", "80", "-o",
                       "color.jsonl", "-q"], {"color.jsonl": _jsonl}),
            "solve": (["solve", str(PUZZLES / "specs" / "australia.json"), "--steps", "80", "-o",
                       "solve.jsonl", "-q"], {"solve.jsonl": _jsonl}),
            "bench": (["bench", "poly", "--steps", "30", "--seeds", "2", "-e", "st,redge", "--powers", "2",
                       "--length", "16", "--samples", "8", "-q", "--out", "poly"],
                      {"poly.csv": _csv, "poly-curves.csv": _csv}),
        }
        for name, (args, files) in runs.items():
            code = _run(args, work)
            out[f"{name}/exit"] = code
            for file, read in files.items():
                path = work / file
                out[f"{name}/{file}"] = read(path) if path.exists() else None
    return out


def _without_checkout(outputs: dict[str, Any]) -> dict[str, Any]:
    """``outputs`` without compare's ``settings.source``: an absolute path into the checkout that recorded it, not a
    result (a golden recorded in one clone would otherwise differ in every other)."""
    for key, value in outputs.items():
        if key.startswith("compare/") and isinstance(value, dict) and isinstance(value.get("settings"), dict):
            value["settings"].pop("source", None)
    return outputs


def main() -> None:
    mode, path = record_or_compare(__doc__)
    current = outputs()
    if mode == "record":
        path.write_text(json.dumps(current, sort_keys=True) + "\n", encoding="utf-8")
        print(f"recorded {len(current)} outputs to {path}")
        return
    golden = _without_checkout(json.loads(path.read_text(encoding="utf-8")))
    current = _without_checkout(json.loads(json.dumps(current, sort_keys=True)))  # the record's float round trip
    bad = sorted(k for k in golden.keys() | current.keys() if golden.get(k) != current.get(k))
    for key in bad:
        print(f"DIFFERENT {key}")
    print(f"{len(golden) - len(bad)}/{len(golden)} outputs identical")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
