"""How long the test suite takes: the wall time of the whole run, per file, and the slowest tests.

    OMP_NUM_THREADS=1 python benchmarks/time_tests.py                      # the whole suite, as CI runs it
    OMP_NUM_THREADS=1 python benchmarks/time_tests.py -m "not slow"        # without the `slow` marker
    OMP_NUM_THREADS=1 python benchmarks/time_tests.py tests/test_estimator_laws.py

Runs ``python -m pytest -q --durations=0`` (extra arguments are passed on) and writes ``--out`` (JSON): the command,
the load average before and after (a figure taken on a busy machine is not the suite's speed), the wall time,
the seconds per file (setup + call + teardown of its tests) and the 20 slowest tests.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "test-times.json")
    args, pytest_args = parser.parse_known_args()
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=0", *pytest_args]
    load_before = os.getloadavg()
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    per_test: dict[str, float] = defaultdict(float)
    for line in done.stdout.splitlines():
        match = re.match(r"\s*([\d.]+)s (setup|call|teardown)\s+(\S+)", line)
        if match:
            per_test[match.group(3)] += float(match.group(1))
    per_file: dict[str, float] = defaultdict(float)
    for test, seconds in per_test.items():
        per_file[test.split("::")[0]] += seconds
    summary = [line for line in done.stdout.splitlines() if re.search(r"\d+ passed|failed|error", line)][-1:]
    result = {
        "command": " ".join(["OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", ""), *command[1:]]),
        "exit_code": done.returncode,
        "summary": summary[0].strip("= ") if summary else None,
        "wall_seconds": round(wall, 1),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "seconds_per_file": {k: round(v, 1) for k, v in sorted(per_file.items(), key=lambda kv: -kv[1])},
        "slowest": [[k, round(v, 2)] for k, v in sorted(per_test.items(), key=lambda kv: -kv[1])[:20]],
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(f"{result['summary']}  {result['wall_seconds']} s wall (load {result['load_average_before'][0]} -> "
          f"{result['load_average_after'][0]} on {result['cpus']} CPUs)  -> {args.out}")


if __name__ == "__main__":
    main()
