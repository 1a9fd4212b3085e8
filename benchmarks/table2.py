"""The paper's Table 2 rebuilt: every estimator tuned (Optuna) on the first half of the 34-clue dev puzzles, then
the paper protocol on the second half over several seeds, beside the paper's figures. Resumable: the studies live
in an SQLite file and every finished (estimator, seed) test run in a JSON-lines file under --out, so an interrupted
run (Ctrl-C, a killed job) continues where it stopped, and a larger --trials only adds trials.

    python benchmarks/table2.py --out benchmarks/table2 --trials 12 --tune-puzzles 100 --test-puzzles 500 --seeds 3
    python benchmarks/table2.py --out benchmarks/table2-full --trials 30 --tune-puzzles 500 --test-puzzles 500 \
        --seeds 3                                                     # the full protocol (hours on 2 cores)

Tuning: ``tuning.tune_estimator`` (seeded TPE, trial 0 = the package defaults, objective = percent solved by the
last sample, ties broken by the mean final penalty), on the first --tune-puzzles of rows 0..499, one seed (0).
Test: the paper protocol (1000 Adam steps, lr 0.05, one sample, one restart, no early stop) with the chosen
parameters on the first --test-puzzles of rows 500..999, seeds 0..--seeds−1; with --defaults also the package
defaults on the same puzzles and seeds. Writes OUT/table2.{csv,json,png,md}, OUT/table2-trials.csv,
OUT/table2-splits.csv, OUT/table2-tuning.png, and (--diagnose N) OUT/table2-diagnostics.{csv,json,png}: the
gradient diagnostics of the chosen settings on the first N test puzzles. Reads the dev data from ../shared/data
(not shipped with the project).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from redge_solve.compare import (  # noqa: E402
    Comparison,
    EstimatorSpec,
    Run,
    compare,
    load_compare_input,
    summarise,
    write_outputs,
)
from redge_solve.diagnostics import diagnose, write_diagnostics  # noqa: E402
from redge_solve.estimators import ESTIMATORS, PAPER_ESTIMATORS, parameter_defaults  # noqa: E402
from redge_solve.paired import pairs_report  # noqa: E402
from redge_solve.solver import SolverConfig  # noqa: E402
from redge_solve.tuning import StudyResult, TuneSettings, tune_estimator, write_tuning  # noqa: E402

DATA = ROOT.parent / "shared" / "data" / "sudoku3m-dev-1000-34clues.csv"
PAPER = {  # Table 2 of the paper: loss mean, std, solved % (Ritvik19/Sudoku-Dataset, first 2000 train puzzles)
    "gumbel": (14.46, 10.67, 15.42), "st": (31.29, 23.47, 9.07), "reinmax": (13.21, 9.47, 18.31),
    "redge": (9.94, 8.63, 22.22), "redge-max": (11.27, 8.57, 14.1), "redge-cov": (8.18, 7.13, 20.76),
}


def run_key(spec: EstimatorSpec, lr: float, seed: int, ids: tuple[int, ...]) -> str:
    return json.dumps([spec.label, lr, seed, ids[0], ids[-1], len(ids)])


def load_runs(path: Path) -> dict[str, Run]:
    runs = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                data = item["run"]
                config = SolverConfig(**data["config"])
                spec = EstimatorSpec(data["estimator"], tuple(data["params"].items()))
                runs[item["key"]] = Run(spec, data["seed"], config, data["records"],
                                        [tuple(p) for p in data["curve"]], data["seconds"], data["steps"],
                                        data["error"], data.get("elapsed", []))
    return runs


def report_trial(event) -> None:
    t = event.trial
    print(f"  {event.estimator} trial {t.number}: {t.params} -> {t.rate:.1f}% loss {t.loss:.2f} ({t.seconds:.0f} s)",
          flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(DATA))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "table2"))
    parser.add_argument("--trials", type=int, default=12)
    parser.add_argument("--tune-puzzles", type=int, default=100, help="first N of the tuning half (rows 0..499)")
    parser.add_argument("--test-puzzles", type=int, default=500, help="first N of the test half (rows 500..999)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--estimators", default=",".join(PAPER_ESTIMATORS + (("exact",) if "exact" in ESTIMATORS
                                                                                 else ())))
    parser.add_argument("--defaults", action="store_true", help="also test the package defaults")
    parser.add_argument("--criterion", default="solved_last")
    parser.add_argument("--diagnose", type=int, default=10, metavar="N",
                        help="gradient diagnostics of the chosen estimators (and REINFORCE) on the first N test "
                             "puzzles, 200 draws at steps 0, 10, 100, 1000 (0: none)")
    args = parser.parse_args(argv)
    if not Path(args.data).exists():
        sys.exit(f"skipped: {args.data} not found (the dev data lives in ../shared/data)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = load_compare_input(args.data, limit=1000)
    half = len(data) // 2
    tune_part = data.subset(slice(0, min(args.tune_puzzles, half)))
    test_part = data.subset(slice(half, half + min(args.test_puzzles, len(data) - half)))
    assert not set(tune_part.ids) & set(test_part.ids)
    splits = {"tune": list(tune_part.ids), "test": list(test_part.ids)}
    storage = f"sqlite:///{out / 'studies.db'}"
    runs_path = out / "runs.jsonl"
    cached = load_runs(runs_path)
    seeds = list(range(args.seeds))
    studies: list[StudyResult] = []
    chosen: list[tuple[EstimatorSpec, float]] = []
    for name in args.estimators.split(","):
        spec = EstimatorSpec(name)
        start = time.perf_counter()
        settings = TuneSettings(args.trials, args.criterion, "paper", storage=storage)
        study = tune_estimator(tune_part, spec, settings, on_trial=report_trial)
        studies.append(study)
        chosen.append(study.chosen(0.05))
        print(f"{name}: tuned in {time.perf_counter() - start:.0f} s -> {chosen[-1][0].label}, lr {chosen[-1][1]}",
              flush=True)
        defaults = EstimatorSpec(name, tuple(parameter_defaults(name).items()))
        if args.defaults and chosen[-1] != (defaults, 0.05):
            chosen.append((spec, 0.05))
    write_tuning(studies, splits, out / "table2")
    runs = []
    for spec, lr in chosen:
        for seed in seeds:
            key = run_key(spec, lr, seed, test_part.ids)
            if key not in cached:
                start = time.perf_counter()
                result = compare(test_part.problem, test_part.make_records, [spec], [seed], "paper", {"lr": lr},
                                 puzzle_ids=test_part.ids)
                cached[key] = result.runs[0]
                with runs_path.open("a") as handle:
                    handle.write(json.dumps({"key": key, "run": cached[key].to_json()}) + "\n")
                print(f"test {spec.label} lr {lr} seed {seed}: {time.perf_counter() - start:.0f} s", flush=True)
            runs.append(cached[key])
    comparison = Comparison(runs, summarise(runs), "paper", {}, list(test_part.ids),
                            settings=dict(data=Path(args.data).name, trials=args.trials, seeds=seeds,
                                          criterion=args.criterion, tune_seeds=[0]),
                            splits=splits, tuning=[s.to_json() for s in studies])
    comparison.add_pairs()  # every two rows, every criterion: OUT/table2-pairs.csv and the JSON's "pairs"
    write_outputs(comparison, out / "table2")
    if args.diagnose:
        specs = [spec for spec, _ in chosen if spec.name != "exact"] + [EstimatorSpec("reinforce")]
        subset = test_part.subset(slice(0, args.diagnose))
        start = time.perf_counter()
        results = diagnose(subset.problem, specs, (0, 10, 100, 1000), 200, 1, 0.05)
        write_diagnostics(results, out / "table2", dict(puzzles=list(subset.ids), checkpoints=[0, 10, 100, 1000],
                                                        draws=200, lr=0.05, samples=1))
        print(f"diagnostics: {time.perf_counter() - start:.0f} s", flush=True)
    (out / "table2.md").write_text(markdown(comparison, args))
    print((out / "table2.md").read_text())


def markdown(comparison: Comparison, args: argparse.Namespace) -> str:
    lines = [f"Tuned on {len(comparison.splits['tune'])} puzzles (rows {comparison.splits['tune'][0]}–"
             f"{comparison.splits['tune'][-1]}), {args.trials} trials each; tested on {len(comparison.puzzle_ids)} "
             f"puzzles (rows {comparison.puzzle_ids[0]}–{comparison.puzzle_ids[-1]}), seeds 0–{args.seeds - 1}, "
             "paper protocol.", "",
             "| estimator | chosen parameters | lr | loss | solved last % | solved mode % | solved any % | found % "
             "| paper loss | paper solved % |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in comparison.rows:
        loss, last, mode, any_, found = (row.stats[k] for k in ("loss", "solved_last", "solved_mode", "solved_any",
                                                                 "found"))
        paper = PAPER.get(row.estimator)
        lines.append(f"| {row.estimator} | {_params(row)} | {row.config['lr']:.3g} | {loss.mean:.2f} ± {loss.std:.2f} "
                     f"| {last.mean:.1f} ± {last.std:.1f} | {mode.mean:.1f} ± {mode.std:.1f} "
                     f"| {any_.mean:.1f} ± {any_.std:.1f} | {found.mean:.1f} ± {found.std:.1f} | "
                     + (f"{paper[0]} ± {paper[1]} | {paper[2]} |" if paper else "— | — |"))
    return "\n".join(lines + [""] + leader_pairs(comparison)) + "\n"


def _params(row) -> str:
    return ", ".join(f"{k}={v}" for k, v in row.params.items()) or "—"


def leader_pairs(comparison: Comparison, criteria: tuple[str, ...] = ("solved_last", "solved_mode")) -> list[str]:
    """Markdown: under each criterion, every row against the row with the highest mean rate (the leader): the
    difference in points with its 95 % paired-bootstrap interval over puzzles, the puzzles each is ahead on, and
    the exact sign test's p (``paired.py``; every pair and criterion is in OUT/table2-pairs.csv)."""
    labels = [row.label for row in comparison.rows]
    lines = ["| criterion | row − leader | Δ points | 95 % interval | puzzles ahead (row / leader) | p | reading |",
             "|---|---|---|---|---|---|---|"]
    for criterion in criteria:
        leader = max(comparison.rows, key=lambda row: row.stats[criterion].mean).label
        lines.append(f"| {criterion} | leader: {leader} | | | | | |")
        for d in pairs_report(comparison.runs, labels, [criterion], leader).differences:
            reading = "no clear difference" if not d.clear else ("row better" if d.difference > 0 else "leader better")
            lines.append(f"| | {d.a} | {d.difference:+.1f} | [{d.low:+.1f}, {d.high:+.1f}] | {d.a_better} / "
                         f"{d.b_better} | {d.p_value:.3g} | {reading} |")
    return lines


if __name__ == "__main__":
    main()
