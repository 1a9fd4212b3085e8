"""How long ``redge-solve --help`` and ``redge-solve COMMAND --help`` take, and which heavy libraries they import
(not a test: timings belong here, not in the suite).

    python benchmarks/bench_help.py                 # 5 runs of each, median and min-max wall seconds
    python benchmarks/bench_help.py --reps 9 --commands sudoku,batch

Each run is a fresh ``python -m redge_solve ... --help`` subprocess from this checkout, so the figure is what a
user waits for, interpreter start-up included. For scale it also times ``python -c pass`` and ``import torch``.
A second subprocess per command (``python -X importtime``) lists which of torch, datasets, matplotlib, pandas
and ray ``--help`` imported.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMANDS = ("sudoku", "batch", "report", "compare", "estimators", "latin", "queens", "color", "solve", "bench")
HEAVY = ("torch", "datasets", "matplotlib", "pandas", "ray")


def wall(argv: list[str], reps: int) -> list[float]:
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
        times.append(time.perf_counter() - start)
    return times


def imported(args: list[str]) -> str:
    """The heavy libraries ``python -X importtime -m redge_solve ARGS`` imported (its import log on stderr)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "redge_solve", *args], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    names = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if line.startswith("import time:")}
    return ",".join(m for m in HEAVY if m in names) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--commands", default=",".join(COMMANDS), help="comma-separated commands to time")
    args = parser.parse_args()
    env_note = f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, load {os.getloadavg()[0]:.1f}"
    print(f"python {sys.version.split()[0]}, {args.reps} runs each, {env_note}")
    print(f"{'command':<28} {'median s':>9} {'min-max s':>13}  heavy imports")
    rows = [("python -c pass", [sys.executable, "-c", "pass"], None),
            ("python -c 'import torch'", [sys.executable, "-c", "import torch"], None),
            ("redge-solve --help", [sys.executable, "-m", "redge_solve", "--help"], ["--help"])]
    rows += [(f"redge-solve {c} --help", [sys.executable, "-m", "redge_solve", c, "--help"], [c, "--help"])
             for c in args.commands.split(",") if c]
    for label, argv, probe in rows:
        times = wall(argv, args.reps)
        heavy = imported(probe) if probe is not None else ""
        print(f"{label:<28} {statistics.median(times):>9.2f} {min(times):>6.2f}-{max(times):<6.2f}  {heavy}")


if __name__ == "__main__":
    main()
