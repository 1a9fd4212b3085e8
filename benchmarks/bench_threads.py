"""Two runs at once, or one beside a busy core: the time of each against a run alone (issue 16).

Each row runs ``python -m redge_solve sudoku FILE --quiet`` in fresh processes (wall time of each, start-up and
torch's import included) from a checkout (default: this one):

- ``solo``: one run alone;
- ``solo, 1 thread``: one run alone with ``OMP_NUM_THREADS=1`` (the single-thread reference);
- ``two at once``: two runs started together, the time of each;
- ``beside a busy loop``: one run while a one-core ``while True: pass`` process spins (started 1 s before);
- ``staggered`` (with ``--staggered``): a second run starts 2 s after the first (so the first chose its threads alone).

The ratio is each time over the ``solo`` time of the same variant. ``--variant LABEL=SPEC`` adds a configuration
to compare in the same invocation (rows of all variants interleave per round, so a load change hits them alike):
SPEC is space-separated ``KEY=VALUE`` environment settings and optionally ``repo:DIR`` (another checkout, e.g. a
``git worktree`` of the code before the change). Without ``--variant`` one variant runs: this checkout, no setting.
OMP_NUM_THREADS, OMP_WAIT_POLICY and GOMP_SPINCOUNT of the calling shell are removed from the runs' environment.

    python benchmarks/bench_threads.py                                   # the issue's table, this checkout
    python benchmarks/bench_threads.py --rounds 3 --variant new= \\
        --variant 'before=repo:/tmp/before' --variant 'passive=repo:/tmp/before OMP_WAIT_POLICY=PASSIVE'

Data: the first ``--rows`` (300) puzzles of ``../shared/data/sudoku3m-dev-1000-34clues.csv`` when it exists,
else ``puzzles/sample.csv``; ``--data FILE`` chooses another.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_DATA = ROOT.parent / "shared" / "data" / "sudoku3m-dev-1000-34clues.csv"
FALLBACK = ROOT / "puzzles" / "sample.csv"
CLEARED = ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "MKL_NUM_THREADS")
BUSY_LOOP = "while True: pass"


@dataclass
class Variant:
    label: str
    repo: Path
    env: dict[str, str] = field(default_factory=dict)


def parse_variant(text: str) -> Variant:
    label, _, spec = text.partition("=")
    repo, env = ROOT, {}
    for token in spec.split():
        if token.startswith("repo:"):
            repo = Path(token[5:]).resolve()
        else:
            key, sep, value = token.partition("=")
            if not sep:
                raise SystemExit(f"--variant {text!r}: {token!r} is neither KEY=VALUE nor repo:DIR")
            env[key] = value
    return Variant(label or "default", repo, env)


def environment(variant: Variant, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(variant.env)
    env.update(extra or {})
    env["PYTHONPATH"] = str(variant.repo)  # the variant's redge_solve, whatever is installed
    return env


def start(variant: Variant, data: Path, extra: dict[str, str] | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "redge_solve", "sudoku", str(data), "--quiet"]
    return subprocess.Popen(command, cwd=variant.repo, env=environment(variant, extra),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_timed(processes: list[tuple[subprocess.Popen, float]]) -> list[tuple[float, float]]:
    """(wall seconds, CPU seconds) of each (process, start time), polled every 10 ms so each gets its own end time.
    CPU time over wall time shows the threads a run kept busy (spinning OpenMP workers count as busy)."""
    ends: dict[int, tuple[float, float]] = {}
    while len(ends) < len(processes):
        for index, (process, began) in enumerate(processes):
            if index in ends:
                continue
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid == 0:
                continue
            ends[index] = (time.perf_counter() - began, usage.ru_utime + usage.ru_stime)
            process.returncode = os.waitstatus_to_exitcode(status)
            if process.returncode not in (0, 1):
                raise SystemExit(f"run failed ({process.returncode}): {process.stderr.read().decode()[-500:]}")
        time.sleep(0.01)
    return [ends[i] for i in range(len(processes))]


def run_row(row: str, variant: Variant, data: Path) -> list[tuple[float, float]]:
    if row == "solo":
        return wait_timed([(start(variant, data), time.perf_counter())])
    if row == "solo, 1 thread":
        return wait_timed([(start(variant, data, {"OMP_NUM_THREADS": "1"}), time.perf_counter())])
    if row == "two at once":
        now = time.perf_counter()
        return wait_timed([(start(variant, data), now), (start(variant, data), now)])
    if row == "staggered":
        first = (start(variant, data), time.perf_counter())
        time.sleep(2.0)
        return wait_timed([first, (start(variant, data), time.perf_counter())])
    if row == "beside a busy loop":
        loop = subprocess.Popen([sys.executable, "-c", BUSY_LOOP])
        try:
            time.sleep(1.0)
            return wait_timed([(start(variant, data), time.perf_counter())])
        finally:
            loop.kill()
            loop.wait()
    raise ValueError(row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, help="puzzle file (default: the dev 34-clue CSV, else puzzles/sample.csv)")
    parser.add_argument("--rows", type=int, default=300, help="first N puzzles of --data (default 300)")
    parser.add_argument("--variant", action="append", default=[], help="LABEL=[KEY=VALUE ...] [repo:DIR]")
    parser.add_argument("--rounds", type=int, default=1, help="repeat every row; the median is reported")
    parser.add_argument("--staggered", action="store_true", help="add the staggered row")
    parser.add_argument("--only", help="comma-separated rows to run (e.g. 'solo,two at once'); solo is always run")
    parser.add_argument("--json", type=Path, help="write every time measured here")
    args = parser.parse_args()

    source = args.data or (DEV_DATA if DEV_DATA.exists() else FALLBACK)
    if args.data is None and not DEV_DATA.exists():
        print(f"{DEV_DATA} not found: using {FALLBACK}")
    lines = source.read_text().splitlines()
    header = 1 if source.suffix in (".csv", ".tsv") else 0
    with tempfile.NamedTemporaryFile("w", suffix=source.suffix, delete=False) as handle:
        handle.write("\n".join(lines[: header + args.rows]) + "\n")
        data = Path(handle.name)
    variants = [parse_variant(v) for v in args.variant] or [Variant("default", ROOT)]
    rows = ["solo", "solo, 1 thread", "two at once", "beside a busy loop"] + (["staggered"] if args.staggered else [])
    if args.only:
        wanted = {"solo", *(name.strip() for name in args.only.split(","))}
        unknown = wanted - {*rows, "staggered"}
        if unknown:
            raise SystemExit(f"--only: unknown rows {sorted(unknown)}; rows are {rows + ['staggered']}")
        rows = [row for row in dict.fromkeys([*rows, "staggered"]) if row in wanted]
    print(f"data: {source} (first {len(lines[header:header + args.rows])} puzzles), {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f} at start, {args.rounds} round(s)")

    times: dict[tuple[str, str], list[list[tuple[float, float]]]] = {}
    try:
        for round_ in range(args.rounds):
            for row in rows:
                for variant in variants:
                    measured = run_row(row, variant, data)
                    times.setdefault((variant.label, row), []).append(measured)
                    print(f"round {round_ + 1}, {variant.label}, {row}: "
                          + ", ".join(f"{wall:.1f} s (CPU {cpu:.1f} s)" for wall, cpu in measured), flush=True)
    finally:
        data.unlink()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")

    print("\n| variant | what runs | time of each (s) | ratio to solo | CPU s / wall s |")
    print("|---|---|---|---|---|")
    summary = {}
    for variant in variants:
        solo = statistics.median(t[0][0] for t in times[(variant.label, "solo")])
        for row in rows:
            per_process = list(zip(*times[(variant.label, row)], strict=True))  # one tuple of rounds per process
            walls = [statistics.median(wall for wall, _ in p) for p in per_process]
            busy = [statistics.median(cpu / wall for wall, cpu in p) for p in per_process]
            summary[f"{variant.label} / {row}"] = {"median_s": walls, "all_wall_cpu_s": times[(variant.label, row)]}
            print(f"| {variant.label} | {row} | {' and '.join(f'{w:.1f}' for w in walls)} | "
                  f"{' and '.join(f'{w / solo:.2f}' for w in walls)} | {' and '.join(f'{b:.2f}' for b in busy)} |")
    if args.json:
        args.json.write_text(json.dumps({"data": str(source), "rows": args.rows, "rounds": args.rounds,
                                         "variants": {v.label: {"repo": str(v.repo), "env": v.env} for v in variants},
                                         "times": summary}, indent=1))


if __name__ == "__main__":
    main()
