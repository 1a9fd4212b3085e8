"""Graph colouring on DIMACS COLOR instances: DSATUR (networkx) against the fewest-colours search, and the step
time of a 10⁴-edge graph.

    python benchmarks/bench_color.py                       # every .col of ../shared/data/dimacs, 1 seed
    python benchmarks/bench_color.py --seeds 3 --max-seconds 60 --out benchmarks/color.json
    python benchmarks/bench_color.py --speed-only          # just the ms/step of the 10⁴-edge graph
    python benchmarks/bench_color.py --only DSJC250.9 --gnp 250:0.5 --warm 3,0 --search-seconds 300 --no-speed

For each instance: V, E (undirected, duplicates merged), χ (from the data README's list), DSATUR's colours and
seconds (networkx ``greedy_color(strategy="DSATUR")``, this run), and the search's colours reached, seconds and
solver steps (all attempts together; the search stops at χ, which it is told), and the seconds from the start to
each number of colours reached. ``--warm 3,0`` runs the search once per warm-start strength (0: every K from
random logits alone; ``fewest_colors(warm=...)``), side by side; ``--search-seconds`` bounds each whole search
(``SolverConfig.max_seconds``: a K not found is then tried again with the next seed until the budget is spent);
``--gnp 250:0.5,500:0.1`` adds seeded G(n, p) random graphs (the family of the DSJC graphs: Johnson et al.'s are
G(n, p) too), the search not told anything. ``--at-chi`` adds one run of the
solver at K = χ directly (what ``redge-solve color FILE --colors χ`` runs, clique groups included): solved, first
solved step, seconds. Colours and steps do not depend on the machine's load; seconds do.

The speed part builds a G(n, m) random graph with n = 1000 vertices and m = 10⁴ edges (networkx
``gnm_random_graph``, seed 0), K = its DSATUR colours, and times ``--speed-steps`` solver steps (early stop off)
after a short warm-up, with the colouring defaults and the ``SPEED_VARIANTS`` (what the restarts, samples, bounded
logits and edge weights cost): ms/step, and ms/step of the penalty with its gradient alone.
Prints a Markdown table (per-instance lines go to stderr as they finish) and writes everything to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import sys
import time
from dataclasses import replace

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from redge_solve.problem_defaults import GENERATION_STEPS, RETRY_COLD, RETRY_LENGTH, WARM_START  # noqa: E402
from redge_solve.problems.coloring import (  # noqa: E402
    COLOR_DEFAULTS,
    Graph,
    coloring_spec,
    maximal_cliques,
    parse_dimacs,
    queen_graph,
)
from redge_solve.problems.constraints import ConstraintBatch  # noqa: E402
from redge_solve.runs.color_search import dsatur, fewest_colors  # noqa: E402
from redge_solve.solver import solve  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "dimacs"
CHI = {"anna": 11, "david": 11, "games120": 9, "myciel4": 5, "myciel5": 6, "queen6_6": 7, "queen7_7": 7,
       "queen8_8": 9, "queen8_12": 12, "mulsol.i.1": 49, "zeroin.i.1": 49}
"""Chromatic numbers of the dev instances (../shared/data/README.md)."""
QUEEN_CHI = {9: 10, 11: 11, 13: 13}
"""χ of the n × n queen graphs ``--queens`` may add (as the DIMACS archive lists them); the search is not told them:
it runs from DSATUR down until a number of colours fails within its budget."""


def instance_rows(graphs: list[tuple[Graph, int | None, bool]], seeds: int, max_seconds: float, steps: int | None,
                  at_chi: bool, warms: tuple[float, ...] = (WARM_START,), search_seconds: float | None = None,
                  retries: tuple[str, ...] = ("xo:0",)) -> list[dict]:
    """One row per (graph, seed, warm-start strength, retry policy); each graph comes with its χ and whether the
    search is told it. A retry policy for each try again at a K still open: ``xo:STEPS``, the crossover of the last
    try's restarts (STEPS 0: the default, ``GENERATION_STEPS``), or ``COLD:STEPS``, fresh restarts (COLD: the share
    of them that start from random logits, the rest warm; STEPS 0: the default, ``RETRY_LENGTH`` times the first
    try's)."""
    rows = []
    config = COLOR_DEFAULTS if steps is None else replace(COLOR_DEFAULTS, steps=steps)
    config = replace(config, max_seconds=search_seconds)
    for graph, chi, told in graphs:
        name = graph.name
        start = time.perf_counter()
        dsatur_k = len(set(dsatur(graph).tolist()))
        dsatur_seconds = time.perf_counter() - start
        for seed, warm, retry in ((s, w, r) for s in range(seeds) for w in warms for r in retries):
            start = time.perf_counter()
            known = chi if told else None
            cold, retry_steps = retry.split(":")
            crossover = cold == "xo"
            result = fewest_colors(graph, replace(config, seed=seed), max_seconds, known_chromatic=known, warm=warm,
                                   retry_steps=int(retry_steps) or None,
                                   retry_cold=RETRY_COLD if crossover else float(cold), crossover=crossover)
            row = {"name": name, "vertices": graph.num_vertices, "edges": int(graph.edges.shape[0]), "chi": chi,
                   "seed": seed, "warm": warm, "retry": retry, "dsatur_colors": dsatur_k,
                   "dsatur_seconds": round(dsatur_seconds, 4),
                   "colors": result.best_colors, "method": result.best_method, "lower_bound": result.lower_bound,
                   "seconds": round(time.perf_counter() - start, 3),
                   "steps": sum(a.steps for a in result.attempts),
                   "seconds_to_colors": {str(k): round(v, 3) for k, v in result.seconds_to_colors.items()},
                   "attempts": [a.record() for a in result.attempts]}
            if at_chi and told and chi is not None:
                problem = ConstraintBatch.from_specs([coloring_spec(graph, chi, maximal_cliques(graph))])
                start = time.perf_counter()
                out = solve(problem, replace(config, seed=seed))
                row["at_chi"] = {"solved": bool(out.found[0]), "first_solved_step": int(out.first_solved_step[0]),
                                 "steps": int(out.steps_run[0]), "seconds": round(time.perf_counter() - start, 3)}
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "attempts"}), file=sys.stderr, flush=True)
    return rows


def gnp_graph(n: int, p: float, seed: int = 1) -> Graph:
    """A G(n, p) random graph (networkx ``gnp_random_graph``, seeded), named ``gnp-n-p``."""
    import networkx as nx

    return Graph.from_edges(n, list(nx.gnp_random_graph(n, p, seed=seed).edges()), f"gnp-{n}-{p}")


SPEED_VARIANTS = {
    "defaults": {},
    "defaults without edge weights": {"weight_step": 0.0},
    "4 restarts x 4 samples": {"restarts": 4, "samples": 4},
    "4 x 4 without bounded logits or weights": {"restarts": 4, "samples": 4, "weight_step": 0.0, "max_logit": 0.0},
}
"""Settings the step time is measured at, in the same run: the defaults, and what each costs."""


def speed(steps: int) -> dict:
    """ms/step of the colouring defaults, and of ``SPEED_VARIANTS``, on a G(1000, 10⁴) graph (see the module
    docstring)."""
    import networkx as nx

    nx_graph = nx.gnm_random_graph(1000, 10_000, seed=0)
    graph = Graph.from_edges(1000, list(nx_graph.edges()), "gnm-1000-10000")
    k = len(set(dsatur(graph).tolist()))
    problem = ConstraintBatch.from_specs([coloring_spec(graph, k, maximal_cliques(graph))])
    per_step = {}
    for name, changes in SPEED_VARIANTS.items():
        config = replace(COLOR_DEFAULTS, early_stop=False, **changes)
        solve(problem, replace(config, steps=5))  # warm-up
        start = time.perf_counter()
        solve(problem, replace(config, steps=steps))
        per_step[name] = round((time.perf_counter() - start) / steps * 1000, 3)
    config = COLOR_DEFAULTS
    repeated = problem.repeat(config.restarts)
    x = torch.rand(config.samples, repeated.num_variables, k, requires_grad=True)
    start = time.perf_counter()
    for _ in range(steps):
        torch.autograd.grad(repeated.penalty(x).sum(), x)
    kernel = (time.perf_counter() - start) / steps
    return {"graph": graph.name, "vertices": 1000, "edges": int(graph.edges.shape[0]), "colors": k,
            "samples": config.samples, "restarts": config.restarts, "estimator": config.estimator, "steps": steps,
            "ms_per_step": per_step["defaults"], "ms_per_step_by_setting": per_step,
            "penalty_and_gradient_ms": round(kernel * 1000, 3)}


def table(rows: list[dict]) -> str:
    lines = ["| instance | V | E | χ | warm | retry | DSATUR | DSATUR s | ours | ours s | s to each K | steps | "
             "at χ: solved (step) |", "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---:|---|"]
    for r in rows:
        at = r.get("at_chi")
        at_text = "—" if at is None else (f"yes ({at['first_solved_step']})" if at["solved"] else
                                          f"no ({at['steps']} steps)")
        lines.append(f"| {r['name']} (seed {r['seed']}) | {r['vertices']} | {r['edges']} | {r['chi']} | {r['warm']} | "
                     f"{r.get('retry', '-')} | "
                     f"{r['dsatur_colors']} | {r['dsatur_seconds']:.3f} | **{r['colors']}** | {r['seconds']:.1f} | "
                     f"{', '.join(f'{k}: {v:.1f}' for k, v in r['seconds_to_colors'].items())} | "
                     f"{r['steps']} | {at_text} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=pathlib.Path, default=DATA, help="directory of .col files")
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=60.0, help="budget of each K tried")
    parser.add_argument("--steps", type=int, default=None, help="step budget of each K (default: the defaults')")
    parser.add_argument("--at-chi", action="store_true", help="also solve each instance at K = χ directly")
    parser.add_argument("--queens", default="", help="also the n × n queen graphs, e.g. 9,11,13 (generated; the "
                        "search is not told their χ)")
    parser.add_argument("--only", default="", help="only these dev instances (comma-separated names)")
    parser.add_argument("--gnp", default="", help="also seeded G(n, p) random graphs, e.g. 250:0.5,500:0.1 (seed 1; "
                        "the search is not told anything)")
    parser.add_argument("--warm", default=str(WARM_START), help="warm-start strengths to run side by side, e.g. 3,0")
    parser.add_argument("--retry", default="xo:0", help="retry policies to run side by side, e.g. xo:0,0.5:0 (a try "
                        "again at a K still open: xo:STEPS, the crossover of the last try's restarts, STEPS 0: the "
                        f"default {GENERATION_STEPS}; COLD:STEPS, fresh restarts, the share COLD of them cold, the "
                        f"rest warm, STEPS 0: {RETRY_LENGTH} times the first try's)")
    parser.add_argument("--search-seconds", type=float, default=None, help="budget of each whole search")
    parser.add_argument("--speed-only", action="store_true")
    parser.add_argument("--no-speed", action="store_true", help="skip the step-time part")
    parser.add_argument("--speed-steps", type=int, default=100)
    parser.add_argument("--out", default=None, help="JSON output path")
    args = parser.parse_args()
    record: dict = {"command": " ".join(sys.argv), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                    "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs",
                    "torch": torch.__version__, "threads": torch.get_num_threads(),
                    "config": {k: v for k, v in COLOR_DEFAULTS.__dict__.items() if k != "params"}}
    if not args.speed_only:
        graphs = []
        if not args.data.is_dir():
            print(f"skipping the dev instances: {args.data} does not exist (the dev data lives in ../shared/data)",
                  file=sys.stderr)
        else:
            only = set(filter(None, args.only.split(",")))
            for path in sorted(args.data.glob("*.col")):
                if only and path.stem not in only:
                    continue
                graph = parse_dimacs(path.read_text(), path.stem)
                graphs.append((graph, CHI.get(path.stem, graph.chromatic_number), True))
        graphs += [(queen_graph(n, n), QUEEN_CHI.get(n), False) for n in map(int, filter(None, args.queens.split(",")))]
        graphs += [(gnp_graph(int(n), float(p)), None, False)
                   for n, p in (spec.split(":") for spec in filter(None, args.gnp.split(",")))]
        warms = tuple(float(w) for w in args.warm.split(","))
        record["instances"] = instance_rows(graphs, args.seeds, args.max_seconds, args.steps, args.at_chi, warms,
                                            args.search_seconds, tuple(args.retry.split(",")))
        print(table(record["instances"]))
    if not args.no_speed:
        record["speed"] = speed(args.speed_steps)
        print(f"\nspeed: {record['speed']}")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
