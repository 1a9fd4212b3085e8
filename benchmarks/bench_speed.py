"""Per-step speed of our solving loop against the authors' code (``redge==0.1.0``), side by side, one process.

    python benchmarks/bench_speed.py --n 200 --steps 20 --reps 5

For each estimator shared by both (st, gumbel, reinmax, redge, redge-max ↔ reindge, redge-cov), on the same batch:

* ours: ``redge_solve.solver.solve`` with the paper protocol (1 sample, 1 restart, no early stop, lr 0.05),
  ``SolverConfig(steps=K, samples=1, restarts=1, early_stop=False)``; its per-step bookkeeping (mode penalty,
  solved checks, the progress callback) is included.
* reference: ``benchmarks/reference_loop.py`` (our reconstruction of the authors' demo driving code) for K steps.

Timing: one warm-up call of each, then ``reps`` repetitions, ours and reference interleaved (the order alternates
every repetition) so both see the same machine contention. Each call marks the clock at its start and after every
step: per-step time = (mark after step K − mark after step 1) / (K − 1), the steady cost of a step; construction
and the first step (ours: the incidence matrix, noise keys, zero state; reference: logits, clue tensors, Adam) are
reported apart, as "setup + first step". We report medians and the spread (min–max) over repetitions, and
ratio = median reference / median ours per step. (Until 2026-11-23 afternoon the per-step figure was wall time / K
with construction included, which at K = 10 added ~1.7 ms to each of our steps and ~0.5 ms to the reference's.)

Peak memory (on unless ``--no-memory``): on CPU every (implementation, estimator) runs ``--memory-steps`` steps
once more, alone, in a fresh subprocess; we report the increase of its peak resident memory (``VmHWM``, KiB→MiB)
from just before the loop (imports done, data loaded, one step run on a single puzzle) to after it: the peak
resident memory the loop added (``tracemalloc`` cannot see torch's allocations). On CUDA, in this process:
``torch.cuda.max_memory_allocated`` above what was allocated before the loop.

``--device cuda`` runs both loops on the GPU (the batch is moved there; timings synchronise before reading the
clock).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import torch  # noqa: E402
from reference_loop import ReferenceLoop  # noqa: E402

from redge_solve.problems.sudoku import SudokuBatch, grid_from_string  # noqa: E402
from redge_solve.solver import SolverConfig, solve  # noqa: E402

DATA = Path("/work/shared/data/sudoku3m-dev-1000.csv")
ESTIMATORS = {  # the authors' defaults
    "st": {},
    "gumbel": {"tau": 0.5},
    "reinmax": {"tau": 1.0},
    "redge": {"n_steps": 3, "t_1": 0.5},
    "redge-max": {"n_steps": 5, "t_1": 0.5},
    "redge-cov": {"n_steps": 5, "t_1": 0.5},
}
TABLE2 = dict(puzzles=2000, steps=1000)


def load_grids(path: Path, n: int) -> torch.Tensor:
    with open(path, newline="") as handle:
        rows = [row["puzzle"] for _, row in zip(range(n), csv.DictReader(handle), strict=False)]
    return torch.stack([grid_from_string(p) for p in rows])


def run_ours(grids: torch.Tensor, name: str, steps: int) -> list[float]:
    """``steps`` steps of our loop; returns the clock at the start and after each step."""
    config = SolverConfig(estimator=name, params=ESTIMATORS[name], steps=steps, samples=1, restarts=1,
                          lr=0.05, early_stop=False, seed=0)
    marks = [clock(grids.device)]
    solve(SudokuBatch.from_grids(grids), config, on_step=lambda progress: marks.append(clock(grids.device)))
    return marks


def run_reference(grids: torch.Tensor, name: str, steps: int) -> list[float]:
    """``steps`` steps of the reference loop (construction included); the clock at the start and after each step."""
    marks = [clock(grids.device)]
    loop = ReferenceLoop(grids, name, ESTIMATORS[name])
    for _ in range(steps):
        loop.step()
        marks.append(clock(grids.device))
    return marks


RUNNERS = {"ours": run_ours, "reference": run_reference}


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLOCK = time.perf_counter
"""Wall time; ``--cpu-time`` swaps in ``time.thread_time`` (with ``--threads 1``: steadier on a shared machine)."""


def clock(device: torch.device) -> float:
    synchronize(device)
    return CLOCK()


def per_step_and_setup(marks: list[float]) -> tuple[float, float]:
    """(per-step seconds over steps 2..K, seconds of construction + the first step) from ``run_*``'s clock marks."""
    return (marks[-1] - marks[1]) / (len(marks) - 2), marks[1] - marks[0]


def cuda_peak_memory(impl: str, name: str, grids: torch.Tensor, steps: int) -> dict:
    """Peak CUDA memory (MiB) allocated by one loop above what was allocated before it."""
    synchronize(grids.device)
    before = torch.cuda.memory_allocated(grids.device)
    torch.cuda.reset_peak_memory_stats(grids.device)
    RUNNERS[impl](grids, name, steps)
    synchronize(grids.device)
    return {"peak_mib": (torch.cuda.max_memory_allocated(grids.device) - before) / 2**20}


def peak_rss_kib() -> int:
    """Peak resident memory of this process (KiB): ``VmHWM`` of ``/proc/self/status`` where there is one. Not
    ``ru_maxrss``: after fork + exec it still counts the parent's memory at the fork, which hides the child's."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_child(impl: str, name: str, n: int, steps: int, data: str, tile: int = 1) -> None:
    """Subprocess entry: run one loop and print the increase of the peak resident memory (MiB) as JSON."""
    grids = load_grids(Path(data), n).repeat(tile, 1)
    # lazy initialisation (kernels, thread pools) on one puzzle is part of the baseline; a first call on the whole
    # batch would already set the peak, leaving nothing to measure
    RUNNERS[impl](grids[:1], name, 1)
    before = peak_rss_kib()
    RUNNERS[impl](grids, name, steps)
    after = peak_rss_kib()
    print(json.dumps({"peak_mib": (after - before) / 1024, "maxrss_mib": after / 1024}))


def peak_memory(impl: str, name: str, n: int, steps: int, data: str, tile: int) -> dict:
    out = subprocess.run([sys.executable, __file__, "--memory-child", impl, name, "--n", str(n), "--memory-steps",
                          str(steps), "--data", data, "--tile", str(tile)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="puzzles in the batch (first n of the data)")
    parser.add_argument("--steps", type=int, default=20, help="optimisation steps per timed call (>= 2)")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per implementation")
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--tile", type=int, default=1,
                        help="repeat the n puzzles this many times (each copy a distinct puzzle id, so its own noise): "
                             "e.g. the paper's 2000 puzzles from the 1000 dev puzzles with --tile 2")
    parser.add_argument("--estimators", default=",".join(ESTIMATORS))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where both loops run")
    parser.add_argument("--cpu-time", action="store_true", help="time CPU time of this thread (use --threads 1)")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory measurement")
    parser.add_argument("--memory-steps", type=int, default=3, help="steps of each peak-memory run")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--protocol", choices=["ours", "both"],
                        help="instead of the per-step table, run the Table 2 protocol for real on the n puzzles: "
                             "1000 steps of each estimator, once (ours; or ours then the reference), timed whole")
    parser.add_argument("--memory-child", nargs=2, metavar=("IMPL", "EST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cpu_time:
        global CLOCK
        CLOCK = time.thread_time
    if args.memory_child:
        memory_child(*args.memory_child, args.n, args.memory_steps, args.data, args.tile)
        return

    if args.steps < 2:
        sys.exit("--steps must be at least 2 (the per-step time is measured from step 1 to step K)")
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: torch sees no CUDA device here")
    grids = load_grids(Path(args.data), args.n).repeat(args.tile, 1).to(device)
    n = grids.shape[0]
    names = [e.strip() for e in args.estimators.split(",") if e.strip()]
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else f"cpu, {torch.get_num_threads()} threads"
    print(f"# {time.strftime('%Y-%m-%d %H:%M')}  torch {torch.__version__}  {where}  cpus {os.cpu_count()}  "
          f"n={n}  steps={args.steps}  reps={args.reps}")
    if args.protocol:
        run_protocol(grids, names, ("ours",) if args.protocol == "ours" else ("ours", "reference"), args.json)
        return
    results = {}
    for name in names:
        times = {"ours": [], "reference": []}
        setups = {"ours": [], "reference": []}
        for impl in ("ours", "reference"):  # warm-up
            RUNNERS[impl](grids, name, 2)
        for rep in range(args.reps):
            order = ("ours", "reference") if rep % 2 == 0 else ("reference", "ours")
            for impl in order:
                per_step, setup = per_step_and_setup(RUNNERS[impl](grids, name, args.steps))
                times[impl].append(per_step)
                setups[impl].append(setup)
        row = {impl: {"median_s": statistics.median(t), "min_s": min(t), "max_s": max(t),
                      "setup_s": statistics.median(setups[impl])} for impl, t in times.items()}
        row["ratio"] = row["reference"]["median_s"] / row["ours"]["median_s"]
        if not args.no_memory:
            for impl in ("ours", "reference"):
                if device.type == "cuda":
                    peak = cuda_peak_memory(impl, name, grids, args.memory_steps)
                else:
                    peak = peak_memory(impl, name, args.n, args.memory_steps, args.data, args.tile)
                row[impl]["peak_mib"] = peak["peak_mib"]
        results[name] = row
        print(f"  {name}: ours {row['ours']['median_s'] * 1e3:.1f} ms  ref {row['reference']['median_s'] * 1e3:.1f} ms"
              f"  ratio {row['ratio']:.2f}  (setup + first step: ours {row['ours']['setup_s'] * 1e3:.0f} ms,"
              f" ref {row['reference']['setup_s'] * 1e3:.0f} ms)", flush=True)

    print()
    mem = "" if args.no_memory else " | ours +MiB | ref +MiB"
    print(f"| estimator | ours ms/step (min–max) | reference ms/step (min–max) | ratio ref/ours | setup + first step "
          f"ms, ours / ref{mem} |")
    print("|---|---|---|---|---|" + ("---|---|" if mem else ""))
    for name, row in results.items():
        o, r = row["ours"], row["reference"]
        line = (f"| {name} | {o['median_s'] * 1e3:.1f} ({o['min_s'] * 1e3:.1f}–{o['max_s'] * 1e3:.1f}) "
                f"| {r['median_s'] * 1e3:.1f} ({r['min_s'] * 1e3:.1f}–{r['max_s'] * 1e3:.1f}) | {row['ratio']:.2f} "
                f"| {o['setup_s'] * 1e3:.0f} / {r['setup_s'] * 1e3:.0f} |")
        if mem:
            line += f" {o['peak_mib']:.1f} | {r['peak_mib']:.1f} |"
        print(line)

    # Table 2 protocol, extrapolated linearly in the puzzles from this batch size: setup and first step once, then
    # steps - 1 steps at the per-step median
    total = {impl: sum(results[e][impl]["setup_s"] + results[e][impl]["median_s"] * (TABLE2["steps"] - 1)
                       for e in results) * TABLE2["puzzles"] / n
             for impl in ("ours", "reference")}
    print(f"\nEXTRAPOLATION (not measured): paper Table 2 protocol, {TABLE2['puzzles']} puzzles × {TABLE2['steps']} "
          f"steps × {len(results)} estimators, from the medians at n={n} (setup + first step, then per step):")
    for impl, seconds in total.items():
        print(f"  {impl}: {seconds:.0f} s ({seconds / 60:.1f} min)")
    print(f"  ratio: {total['reference'] / total['ours']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"n": n, "steps": args.steps, "reps": args.reps, "results": results,
                                               "table2_extrapolated_s": total}, indent=1))


def run_protocol(grids: torch.Tensor, names: list[str], impls: tuple[str, ...], json_path: str | None) -> None:
    """The Table 2 protocol measured, not extrapolated: ``TABLE2["steps"]`` steps of every estimator on the whole
    batch, one call each (construction included), and the sum; scaled to ``TABLE2["puzzles"]`` puzzles linearly.
    With both implementations, each estimator runs ours and the reference back to back (the order alternating),
    so that both see the same machine: on this shared machine speed drifts by ±15 % over minutes."""
    n, steps = grids.shape[0], TABLE2["steps"]
    seconds: dict[str, dict[str, float]] = {impl: {} for impl in impls}
    for i, name in enumerate(names):
        for impl in (impls if i % 2 == 0 else impls[::-1]):
            marks = RUNNERS[impl](grids, name, steps)
            seconds[impl][name] = marks[-1] - marks[0]
        ratio = (f"  ratio {seconds['reference'][name] / seconds['ours'][name]:.2f}" if len(impls) == 2 else "")
        print(f"  {name}: " + "  ".join(f"{impl} {seconds[impl][name]:.1f} s" for impl in impls)
              + f" for {n} puzzles x {steps} steps{ratio}", flush=True)
    totals = {impl: {"per_estimator_s": seconds[impl], "total_s": sum(seconds[impl].values())} for impl in impls}
    for impl, row in totals.items():
        total = row["total_s"]
        print(f"{impl}: MEASURED {total:.0f} s ({total / 60:.1f} min) for {n} puzzles x {steps} steps x "
              f"{len(names)} estimators; scaled linearly to {TABLE2['puzzles']} puzzles: "
              f"{total * TABLE2['puzzles'] / n / 60:.1f} min", flush=True)
    if len(totals) == 2:
        print(f"ratio reference/ours: {totals['reference']['total_s'] / totals['ours']['total_s']:.2f}")
    if json_path:
        Path(json_path).write_text(json.dumps({"n": n, "steps": steps, "protocol": totals}, indent=1))


if __name__ == "__main__":
    main()
