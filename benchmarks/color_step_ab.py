"""The colouring step of this checkout against a reference commit's, in ONE process, runs alternating (issue 32).

    git archive dc14b94 | tar -x -C /tmp/ref       # the reference, any commit
    OMP_NUM_THREADS=1 python benchmarks/color_step_ab.py /tmp/ref --steps 100 --rounds 6

On a shared machine wall-clock figures drift with the other sessions' load; alternating the two codes within one
process, round by round (old first in even rounds, new first in odd ones), exposes both to the same load, so the
per-round ratio new/old is what to read. The reference's ``redge_solve`` package is copied under another name
(``redge_solve_ref``, its imports are relative) into a temporary directory and imported beside this checkout's.

Each side: the colouring defaults (early stop off) on the G(1000, 10⁴) graph of ``bench_color.py --speed-only``
(networkx ``gnm_random_graph``, seed 0), or ``--graph G.col``, at K = its DSATUR colours (or ``--colors K``); a run
of 5 steps and one of 5 + ``--steps``, both timed, their difference per step: the solving loop without the batch's
setup. CPU (process) and wall time, and each run's final penalty (equal on both sides when the change keeps the
results).
"""

from __future__ import annotations

import argparse
import importlib
import pathlib
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def side(package: str, vertices: int, edges: list[tuple[int, int]], k: int):
    """(problem, config, solve) of one code base."""
    coloring = importlib.import_module(f"{package}.problems.coloring")
    constraints = importlib.import_module(f"{package}.problems.constraints")
    solver = importlib.import_module(f"{package}.solver")
    graph = coloring.Graph.from_edges(vertices, edges, "graph")
    spec = coloring.coloring_spec(graph, k, coloring.maximal_cliques(graph))
    problem = constraints.ConstraintBatch.from_specs([spec])
    return problem, replace(coloring.COLOR_DEFAULTS, early_stop=False), solver.solve


def per_step(problem, config, solve, steps: int) -> tuple[float, float, float]:
    """ms of CPU and of wall time per step (a 5 + steps run less a 5-step run), and the run's final penalty."""
    wall, cpu = time.perf_counter(), time.process_time()
    solve(problem, replace(config, steps=5))
    wall5, cpu5 = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    result = solve(problem, replace(config, steps=steps + 5))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return (cpu - cpu5) / steps * 1000, (wall - wall5) / steps * 1000, float(result.penalty.sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference", type=pathlib.Path, help="a checkout (or git archive) of the reference commit")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--graph", type=pathlib.Path, help="a DIMACS .col file instead of G(1000, 10⁴), e.g. the "
                        "dense DSJC250.9 (the dense-block product)")
    parser.add_argument("--colors", type=int, help="K (default: DSATUR's colours of the graph)")
    args = parser.parse_args()
    import networkx as nx
    import torch

    scratch = pathlib.Path(tempfile.mkdtemp(prefix="color-ab-"))
    try:
        shutil.copytree(args.reference / "redge_solve", scratch / "redge_solve_ref")
        sys.path.insert(0, str(scratch))
        if args.graph is None:
            nx_graph = nx.gnm_random_graph(1000, 10_000, seed=0)
        else:
            from redge_solve.problems.coloring import parse_dimacs

            graph = parse_dimacs(args.graph.read_text(), str(args.graph))
            nx_graph = nx.Graph(graph.edges.tolist())
            nx_graph.add_nodes_from(range(graph.num_vertices))
        edges, vertices = list(nx_graph.edges()), nx_graph.number_of_nodes()
        k = args.colors or len(set(nx.greedy_color(nx_graph, strategy="DSATUR").values()))
        sides = {"old": side("redge_solve_ref", vertices, edges, k), "new": side("redge_solve", vertices, edges, k)}
        runs: dict[str, list[tuple[float, float, float]]] = {"old": [], "new": []}
        print(f"K = {k}, {args.steps} steps, {torch.get_num_threads()} thread(s), "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        for round_ in range(args.rounds):
            for name in ("old", "new") if round_ % 2 == 0 else ("new", "old"):
                runs[name].append(per_step(*sides[name], args.steps))
            print(f"round {round_}: " + ", ".join(f"{n} {r[-1][0]:.2f} ms CPU, {r[-1][1]:.2f} ms wall, penalty "
                                                   f"{r[-1][2]:g}" for n, r in runs.items()), flush=True)
        for index, what in ((0, "CPU"), (1, "wall")):
            ratios = [new[index] / old[index] for new, old in zip(runs["new"], runs["old"], strict=True)]
            print(f"{what}: old median {statistics.median(r[index] for r in runs['old']):.2f} ms, new median "
                  f"{statistics.median(r[index] for r in runs['new']):.2f} ms; new/old per round "
                  f"{', '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
