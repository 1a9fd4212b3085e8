"""torch.profiler view of our solving loop (paper protocol) on a batch: top operators by self CPU time.

    python benchmarks/profile_step.py --n 200 --steps 5 --estimator redge

The profiled call runs ``steps`` steps (plus setup); divide totals by ``steps`` for one step.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from bench_speed import DATA, ESTIMATORS, load_grids, run_ours, run_reference  # noqa: E402
from torch.profiler import ProfilerActivity, profile  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--estimator", default="redge", choices=list(ESTIMATORS))
    parser.add_argument("--reference", action="store_true", help="profile the reference loop instead")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    grids = load_grids(DATA, args.n)
    runner = run_reference if args.reference else run_ours
    runner(grids, args.estimator, 2)  # warm-up
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        runner(grids, args.estimator, args.steps)
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.rows))


if __name__ == "__main__":
    main()
