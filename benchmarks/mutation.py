"""Mutation testing of the estimators and the Sudoku penalty/verification with ``mutmut`` (slow: not part of CI).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/mutation.py                 # everything below
    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/mutation.py --target sudoku --max-children 1
    python benchmarks/mutation.py --report-only                                # re-read the last run

mutmut (a dev extra) mutates one expression at a time (``+`` → ``-``, ``0.5`` → ``1.5``, a dropped argument, ...)
and runs the tests that cover the mutated function; a mutant the tests still pass is a *survivor*. The run happens
in a scratch copy of the project (``--workdir``, default ``/tmp/redge-mutation``), so the checkout gets no
``mutants/`` folder and no mutmut section in pyproject.toml. Every survivor is explained in
``benchmarks/MUTATION.md`` as equivalent (no test can tell it apart) or killed by a named test.

What is mutated (``TARGETS``) and by which tests (``TESTS``): the tests are a fast subset, chosen so one mutant
run takes seconds (the estimator tests in float64 with fixed seeds, the penalty/verification tests).
The report (``--out``, JSON) holds the counts by status, the score killed / (killed + survived), the survivors'
names and diffs, and the wall time of the run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TARGETS = {
    # the whole estimator package; compat.py is the thin drop-in for the authors' API
    "estimators": ["redge_solve/estimators/*"],
    # only verify_grid and the penalty of sudoku.py are selected below (by mutant name)
    "sudoku": ["redge_solve/problems/sudoku.py"],
}
SUDOKU_FUNCTIONS = ["verify_grid", "grid_violations", "units_of_cells", "SudokuBatch*", "_Penalty*", "_stack"]
TESTS = {
    "estimators": ["tests/test_estimators.py", "tests/test_estimator_laws.py", "tests/test_noise.py"],
    "sudoku": ["tests/test_problems.py", "tests/test_penalty_fast_path.py", "tests/test_sudoku_checks.py"],
}


LAWS = "tests/test_estimator_laws.py::test_"
RECHECK_FIRST = {  # by module: the tests written for its survivors, run before the rest
    "_noise": ["tests/test_noise.py"],
    "compat": ["tests/test_estimators.py::test_compat_samplers_accept_authors_names_and_reject_soft"],
    "reinforce": [LAWS + "reinforce_on_a_problem_penalty_sums_log_probabilities_per_instance",
                  LAWS + "reinforce_surrogate_passes_the_pathwise_gradient_to_parameters_inside_f",
                  LAWS + "surrogate_sample_counts_default_to_the_fewest_each_estimator_needs"],
    "gumbel": ["tests/test_estimators.py::test_parameter_errors_name_the_parameter_and_its_domain"],
    "exact": ["tests/test_estimators.py::test_exact_estimator_gradient_is_the_enumerated_gradient_of_the_expectation",
              LAWS + "sample_law_is_the_categorical_of_the_softmax"],
    "_softmax": ["tests/test_estimators.py::test_softmax_vjp_is_the_softmax_backward"],
    "__init__": ["tests/test_estimators.py::test_string_parameters_are_coerced"],
    "sudoku": ["tests/test_sudoku_checks.py"],
}


def mutant_patterns(target: str) -> list[str]:
    """mutmut mutant-name globs for a target (mutant names look like ``module.xǁClassǁmethod__mutmut_3``)."""
    if target == "estimators":
        return ["redge_solve.estimators.*"]
    return [f"redge_solve.problems.sudoku.*{name}*" for name in SUDOKU_FUNCTIONS]


def prepare(workdir: Path, targets: list[str]) -> None:
    """A scratch copy of the package and tests with a pyproject.toml that configures mutmut only."""
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "redge_solve", workdir / "redge_solve", ignore=ignore)
    shutil.copytree(ROOT / "tests", workdir / "tests", ignore=ignore)
    shutil.copytree(ROOT / "puzzles", workdir / "puzzles", ignore=ignore)  # read by the tests
    only = [p for t in targets for p in TARGETS[t]]
    tests = [p for t in targets for p in TESTS[t] if (ROOT / p).exists()]
    quoted = lambda items: "[" + ", ".join(json.dumps(i) for i in items) + "]"
    (workdir / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        'source_paths = ["redge_solve"]\n'
        'also_copy = ["puzzles"]\n'
        f"only_mutate = {quoted(only)}\n"
        f"pytest_add_cli_args_test_selection = {quoted(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]\n'
        "use_git_change_detection = false\n"
        "\n[tool.pytest.ini_options]\n"
        'testpaths = ["tests"]\n'
        'markers = ["slow: longer end-to-end runs"]\n',
        encoding="utf-8",
    )


def mutmut(workdir: Path, *args: str, check: bool = True) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(workdir))
    done = subprocess.run(["nice", "-n", "10", sys.executable, "-m", "mutmut", *args], cwd=workdir, env=env,
                          capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise SystemExit(f"mutmut {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-3000:]}"
                         f"\n{done.stderr[-3000:]}")
    return done.stdout


def source_of(mutant: str) -> Path:
    """``redge_solve/estimators/_noise.py`` for ``redge_solve.estimators._noise.x_fn__mutmut_3``."""
    module = mutant.split(".x")[0] if ".x" in mutant else mutant.rsplit(".", 1)[0]
    return Path(*module.split(".")).with_suffix(".py")


def recheck(workdir: Path, targets: list[str], survivors: list[str], tests_ref: str | None) -> dict[str, str]:
    """Each survivor applied to the source for real (``mutmut apply``) and the tests run without mutmut.

    mutmut switches mutants at run time inside functions, so code that ran before the switch (at import, or
    whose result a module-level cache kept) cannot show its mutant: such a mutant "survives" although the tests
    kill it. This pass tells those apart: ``killed`` here means the tests fail on the applied mutant."""
    # today's tests (or those of the commit ``tests_ref``, one that matches the mutated source), which may have
    # been written after the run started; the source stays the one the mutants were made from
    shutil.rmtree(workdir / "tests")
    if tests_ref:
        archive = subprocess.run(["git", "archive", tests_ref, "tests"], cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(workdir)], input=archive.stdout, check=True)
    else:
        shutil.copytree(ROOT / "tests", workdir / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    tests = [p for t in targets for p in TESTS[t] if (workdir / p).exists()]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH=str(workdir))
    verdicts = {}
    for name in survivors:
        path = source_of(name)
        pristine = (workdir / path).read_bytes()
        # the tests most likely to fail first, then the rest (with -x a killed mutant stops at the first failure)
        first = [t for t in RECHECK_FIRST.get(path.stem, []) if (workdir / t.split("::")[0]).exists()]
        try:
            mutmut(workdir, "apply", name)
            done = subprocess.run(["nice", "-n", "10", sys.executable, "-m", "pytest", "-x", "-q", "-p",
                                   "no:cacheprovider", *first, *[t for t in tests if t not in first]], cwd=workdir,
                                  env=env, capture_output=True, text=True, check=False)
            verdicts[name] = "survived" if done.returncode == 0 else "killed"
        finally:
            (workdir / path).write_bytes(pristine)
    return verdicts


def report(workdir: Path, targets: list[str], seconds: float | None) -> dict:
    """Counts by status (only the selected mutants), the score and every survivor with its diff."""
    lines = mutmut(workdir, "results", "--all", "true").splitlines()
    statuses: dict[str, str] = {}
    for line in lines:
        match = re.match(r"\s*(\S+__mutmut_\d+): (.+)$", line)
        if match:
            statuses[match.group(1)] = match.group(2).strip()
    patterns = [p for t in targets for p in mutant_patterns(t)]
    statuses = {k: v for k, v in statuses.items() if any(fnmatch(k, p) for p in patterns)}
    counts: dict[str, int] = {}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    killed, survived = counts.get("killed", 0), counts.get("survived", 0)
    survivors = {name: mutmut(workdir, "show", name, check=False) for name, s in sorted(statuses.items())
                 if s == "survived"}
    return {
        "targets": targets,
        "tests": [p for t in targets for p in TESTS[t]],
        "counts": counts,
        "score": killed / (killed + survived) if killed + survived else None,
        "seconds": seconds,
        "survivors": survivors,
        "command": " ".join(sys.argv),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/redge-mutation"))
    parser.add_argument("--max-children", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "mutation-report.json")
    parser.add_argument("--report-only", action="store_true", help="summarise the last run in --workdir")
    parser.add_argument("--recheck", action="store_true",
                        help="apply each survivor to the source and run the tests without mutmut (see recheck)")
    parser.add_argument("--tests-ref", help="git ref whose tests/ the recheck runs (default: the working tree)")
    parser.add_argument("mutants", nargs="*", help="mutmut name globs to run instead of the whole target (with "
                        "--report-only --recheck: the survivors to recheck)")
    args = parser.parse_args()
    targets = list(TARGETS) if args.target == "all" else [args.target]
    seconds = None
    if not args.report_only:
        prepare(args.workdir, targets)
        started = time.perf_counter()
        names = args.mutants or [p for t in targets for p in mutant_patterns(t)]
        mutmut(args.workdir, "run", "--max-children", str(args.max_children), *names, check=False)
        seconds = round(time.perf_counter() - started, 1)
    result = report(args.workdir, targets, seconds)
    if args.recheck:
        started = time.perf_counter()
        chosen = [n for n in result["survivors"] if not args.mutants or any(fnmatch(n, p) for p in args.mutants)]
        result["recheck"] = recheck(args.workdir, targets, chosen, args.tests_ref)
        result["recheck_seconds"] = round(time.perf_counter() - started, 1)
        killed = sum(v == "killed" for v in result["recheck"].values())
        total = result["counts"].get("killed", 0) + result["counts"].get("survived", 0)
        result["score_after_recheck"] = (result["counts"].get("killed", 0) + killed) / total if total else None
        result["rechecked"] = "all survivors" if not args.mutants else args.mutants
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{result['counts']}  score {result['score']}  ({seconds} s)  -> {args.out}")
    for name in result["survivors"]:
        print("survived:", name, result.get("recheck", {}).get(name, ""))
    if "score_after_recheck" in result:
        print(f"score after the recheck: {result['score_after_recheck']}")


if __name__ == "__main__":
    main()
