"""The colouring step with the differ adjacency as dense blocks against the sparse CSR product, interleaved in one
process (``constraints.DENSE_DIFFER`` 0: dense whenever the blocks have equal sizes; 2: never), 3 rounds each.

    python benchmarks/dense_blocks_ab.py DSJC250.9 80 20 --data DEV_DATA     # graph, K, steps
    python benchmarks/dense_blocks_ab.py gnp250-0.7 50 15                     # G(250, 0.7), seed 0

A step's time is the time of a run of steps + 1 steps less that of a run of 1 step (its setup), divided by steps.
"""

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from bench_color import gnp_graph  # noqa: E402

import redge_solve.problems.constraints as constraints  # noqa: E402
from redge_solve.problem_defaults import COLOR_DEFAULTS  # noqa: E402
from redge_solve.problems.coloring import coloring_spec, parse_dimacs  # noqa: E402
from redge_solve.problems.constraints import ConstraintBatch  # noqa: E402
from redge_solve.solver import solve  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("graph", help="a DIMACS name in DATA/dimacs, or gnpN-P for a seeded G(N, P)")
    parser.add_argument("colors", type=int)
    parser.add_argument("steps", type=int)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.graph.startswith("gnp"):
        n, p = args.graph[3:].split("-")
        graph = gnp_graph(int(n), float(p), 0)
    else:
        graph = parse_dimacs((Path(args.data) / "dimacs" / f"{args.graph}.col").read_text())
    problem = ConstraintBatch.from_specs([coloring_spec(graph, args.colors, [])])
    times: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        for name, share in (("dense", 0.0), ("sparse", 2.0)):
            constraints.DENSE_DIFFER = share
            solve(problem, replace(COLOR_DEFAULTS, steps=2))
            begun = time.perf_counter()
            solve(problem, replace(COLOR_DEFAULTS, steps=args.steps + 1))
            run = time.perf_counter() - begun
            begun = time.perf_counter()
            solve(problem, replace(COLOR_DEFAULTS, steps=1))
            setup = time.perf_counter() - begun
            times.setdefault(name, []).append((run - setup) / args.steps * 1e3)
    for name, values in times.items():
        print(f"{args.graph} K={args.colors} {name}: " + " ".join(f"{v:.1f}" for v in values) + " ms/step")


if __name__ == "__main__":
    main()
