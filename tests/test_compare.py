"""``compare``: grid expansion, summaries that agree with the per-puzzle records, determinism, files, CLI errors."""

import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import ROOT, without_timing
from typer.testing import CliRunner

from redge_solve.cli import app
from redge_solve.compare import (
    EstimatorSpec,
    compare,
    expand_specs,
    run_config,
    sudoku_input,
    table_csv,
    write_outputs,
)

PUZZLES_4 = ["1000000000030000", "0200000400100003", "1234000000000000", "0000341200000000"]
SMALL = dict(steps=30, samples=2, restarts=2, lr=0.2)


def clues() -> torch.Tensor:
    return torch.tensor([[int(c) for c in p] for p in PUZZLES_4])


def run(puzzles: torch.Tensor, specs, ids=None, **kwargs):
    """``compare`` on Sudoku puzzles, ``ids`` the puzzle ids (default 0..B-1)."""
    data = sudoku_input(puzzles, ids)
    return compare(data.problem, data.make_records, specs, puzzle_ids=data.ids, **kwargs)


@pytest.fixture(scope="module")
def comparison():
    specs = expand_specs(["st", "redge"], {}, {"redge.t_1": ["0.3", "0.9"]})
    return run(clues(), specs, [10, 11, 12, 13], seeds=[0, 1], protocol="default", overrides=SMALL)


def test_grid_expands_to_the_cartesian_product_per_estimator():
    specs = expand_specs(["gumbel", "redge"], {"gumbel.tau": "0.7"},
                         {"redge.t_1": ["0.3", "0.5", "0.9"], "redge.n_steps": ["3", "5"]})
    assert specs[0] == EstimatorSpec("gumbel", (("tau", 0.7),))
    redge = [s.param_dict for s in specs if s.name == "redge"]
    assert len(specs) == 1 + 6 and len(redge) == 6
    assert {(p["n_steps"], p["t_1"]) for p in redge} == {(n, t) for n in (3, 5) for t in (0.3, 0.5, 0.9)}
    assert all(isinstance(p["n_steps"], int) and isinstance(p["t_1"], float) for p in redge)
    # a bare parameter applies to every selected estimator that has it; aliases resolve
    bare = expand_specs(["redge", "redge_cov", "st"], {"t_1": "0.4"})
    assert [s.label for s in bare] == ["redge(t_1=0.4)", "redge-cov(t_1=0.4)", "st"]


@pytest.mark.parametrize(
    "names, params, grid, message",
    [
        (["nope"], {}, {}, "unknown estimator"),
        (["st", "st"], {}, {}, "listed twice"),
        (["redge"], {"redge.zzz": "1"}, {}, "no parameter 'zzz'"),
        (["redge"], {"gumbel.tau": "1"}, {}, "not among `estimators`"),
        (["redge"], {}, {"redge.n_steps": ["a"]}, "must be an integer"),
        (["st"], {"tau": "1"}, {}, "none of the selected estimators"),
        (["redge"], {"redge.t_1": "0.5"}, {"redge.t_1": ["0.3"]}, "both by `param` and `grid`"),
    ],
)
def test_bad_specs_raise_one_line_value_errors(names, params, grid, message):
    with pytest.raises(ValueError, match=message) as info:
        expand_specs(names, params, grid)
    assert "\n" not in str(info.value)


def test_protocols_and_overrides():
    spec = EstimatorSpec("redge")
    paper = run_config(spec, 3, "paper")
    assert (paper.steps, paper.samples, paper.restarts, paper.lr, paper.early_stop, paper.seed) == (
        1000, 1, 1, 0.05, False, 3)
    assert run_config(spec, 0, "paper", {"steps": 20, "lr": None}).steps == 20
    with pytest.raises(ValueError, match="reinforce needs at least 2 samples"):
        run_config(EstimatorSpec("reinforce"), 0, "paper")
    assert run_config(EstimatorSpec("reinforce"), 0, "paper", {"samples": 2}).samples == 2


def _recompute(runs_json):
    """The table recomputed from the JSON's per-run records, independently of ``summarise``."""
    by_label = {}
    for run in runs_json:
        by_label.setdefault(run["label"], []).append(run)
    table = {}
    for label, runs in by_label.items():
        losses = [r["mean_sample_penalty"] for run in runs for r in run["records"]]
        row = {"loss_mean": sum(losses) / len(losses),
               "loss_std": math.sqrt(sum((v - sum(losses) / len(losses)) ** 2 for v in losses) / len(losses))}
        for key in ("solved_last", "solved_mode", "solved_any", "found"):
            rates = [100 * sum(r[key] for r in run["records"]) / len(run["records"]) for run in runs]
            mean = sum(rates) / len(rates)
            row[key + "_mean"] = mean
            row[key + "_std"] = math.sqrt(sum((x - mean) ** 2 for x in rates) / len(rates))
        steps = [r["first_solved_step"] for run in runs for r in run["records"] if r["found"]]
        row["mean_step_to_solve"] = sum(steps) / len(steps) if steps else None
        row["ms_per_step"] = sum(run["ms_per_step"] for run in runs) / len(runs)
        table[label] = row
    return table


def test_table_csv_and_json_agree_with_the_records(comparison, tmp_path):
    paths = write_outputs(comparison, tmp_path / "out" / "cmp")
    assert [p.name for p in paths] == ["cmp.csv", "cmp.json", "cmp.png"]
    data = json.loads((tmp_path / "out" / "cmp.json").read_text())
    assert data["puzzles"] == 4 and data["puzzle_ids"] == [10, 11, 12, 13]
    assert len(data["runs"]) == 3 * 2 and [r["seed"] for r in data["runs"][:2]] == [0, 1]
    for run in data["runs"]:
        assert [r["index"] for r in run["records"]] == [10, 11, 12, 13]
        assert run["config"]["steps"] == 30 and run["config"]["samples"] == 2
        assert run["curve"][-1][1] == sum(r["found"] for r in run["records"])
        assert run["steps"] == max(r["steps_run"] for r in run["records"])
    expected = _recompute(data["runs"])
    rows = list(csv.DictReader(open(tmp_path / "out" / "cmp.csv")))
    assert [row["label"] for row in data["table"]] == [row["label"] for row in rows] == list(expected)
    for json_row, csv_row in zip(data["table"], rows, strict=True):
        want = expected[json_row["label"]]
        for key, value in want.items():
            if value is None:
                assert json_row[key] is None and csv_row[key] == ""
            else:
                assert json_row[key] == pytest.approx(value, abs=1e-6)
                assert float(csv_row[key]) == pytest.approx(value, abs=1e-6)
    # the in-memory rows (not only the files written from them) are the independently recomputed table
    for row in comparison.rows:
        got = row.flat()
        for key, value in expected[got["label"]].items():
            assert got[key] == (None if value is None else pytest.approx(value, abs=1e-6)), key
    png = (tmp_path / "out" / "cmp.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 1000
    assert not list((tmp_path / "out").glob(".*tmp"))  # no temporary files left behind


def test_step_seconds_adds_batches_run_one_after_another():
    from redge_solve.compare import step_seconds

    assert step_seconds([[1.0, 2.0, 3.0], [0.5]]) == [1.5, 2.5, 3.5]  # a batch that stopped keeps its last time
    assert step_seconds([[], [0.25, 0.5]]) == [0.25, 0.5] and step_seconds([]) == []


@pytest.mark.parametrize("chunk_size", [None, 3])
def test_runs_time_each_step_and_the_plot_puts_found_against_steps_and_seconds(comparison, chunk_size,
                                                                                monkeypatch):
    import redge_solve.compare as compare_module

    if chunk_size is not None:  # a run in two tasks: its seconds at a step add up the tasks'
        comparison = run(clues(), [EstimatorSpec("st")], [10, 11, 12, 13], seeds=[0, 1], overrides=SMALL,
                         chunk_size=chunk_size)
    for r in comparison.runs:
        assert len(r.elapsed) == len(r.curve) == r.steps and r.elapsed == sorted(r.elapsed)
        assert 0 < r.elapsed[0] and r.elapsed[-1] <= r.seconds
    monkeypatch.setattr(compare_module, "png_bytes", lambda figure: figure)  # the figure itself, not its pixels
    figure = compare_module.comparison_png(comparison)
    by_step, by_time = figure.axes
    assert (by_step.get_xlabel(), by_time.get_xlabel()) == ("step", "wall seconds (mean over seeds)")
    assert len(by_step.get_lines()) == len(by_time.get_lines()) == len(comparison.rows)
    length = max(len(r.curve) for r in comparison.runs)
    for row, step_line, time_line in zip(comparison.rows, by_step.get_lines(), by_time.get_lines(), strict=True):
        runs = [r for r in comparison.runs if r.spec.label == row.label]
        times = [compare_module.padded(r.elapsed, length) for r in runs]
        seconds = [sum(v) / len(v) for v in zip(*times, strict=True)]
        assert list(time_line.get_xdata()) == pytest.approx(seconds)
        assert list(time_line.get_ydata()) == list(step_line.get_ydata())  # the same curve, against time


def test_same_seed_gives_the_same_table(comparison):
    specs = [EstimatorSpec("redge", (("t_1", 0.3),))]
    again = run(clues(), specs, [10, 11, 12, 13], seeds=[1], overrides=SMALL)
    first = [r for r in comparison.runs if r.spec == specs[0] and r.seed == 1][0]
    assert without_timing(again.runs[0].records) == without_timing(first.records)
    assert again.runs[0].curve == first.curve
    row = {k: v for k, v in again.rows[0].flat().items() if k != "ms_per_step"}
    assert row["solved_last_mean"] == 100 * sum(r["solved_last"] for r in first.records) / 4


def test_callbacks_see_every_run_and_step():
    events, steps = [], []
    run(clues()[:2], [EstimatorSpec("st")], seeds=[0, 1], protocol="paper", overrides={"steps": 5},
            on_run=lambda e: events.append((e.index, e.total, e.seed, e.run is None)),
            on_step=lambda p: steps.append(p.step))
    assert events == [(0, 2, 0, True), (0, 2, 0, False), (1, 2, 1, True), (1, 2, 1, False)]
    assert steps == [1, 2, 3, 4, 5] * 2  # paper protocol: no early stop, every step runs


def test_a_diverging_run_is_recorded_and_left_out_of_the_row(monkeypatch):
    import redge_solve.compare as module

    real = module.solve

    def flaky(problem, config, **kwargs):
        results = real(problem, config, **kwargs)
        if config.seed == 1:
            results.diverged_step[1] = 3  # what the solver records for a puzzle whose logits became NaN/inf
        return results

    monkeypatch.setattr(module, "solve", flaky)
    result = run(clues()[:2], [EstimatorSpec("st")], seeds=[0, 1], overrides=dict(SMALL, steps=5))
    assert [run.error for run in result.runs] == [None, "logits became NaN/inf at step 3 in 1 puzzle(s)"]
    row = result.rows[0]
    assert row.diverged == 1 and row.seeds == [0] and row.puzzles == 2
    assert row.stats["solved_last"].std == 0.0  # one remaining seed
    assert "diverged" in table_csv(result.rows).splitlines()[0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["-e", "st,bogus"], "unknown estimator 'bogus'"),
        (["--param", "redge.zzz=1"], "no parameter 'zzz'"),
        (["--param", "redge.n_steps"], "must look like name=value"),
        (["--grid", "redge.t_1=0.3,x"], "must be a number"),
        (["-e", "reinforce", "--protocol", "paper"], "reinforce needs at least 2 samples"),
        (["--protocol", "fast"], "'fast' is not one of 'default', 'paper'"),
        (["--seeds", "0"], "--seeds must be"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2_before_loading(args, message):
    # the source does not exist: a validation error must come first, before any data is read
    result = CliRunner().invoke(app, ["compare", "missing.csv", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert isinstance(result.exception, SystemExit)


def test_cli_end_to_end_and_error_without_traceback(tmp_path):
    source = tmp_path / "four.csv"
    source.write_text("puzzle\n" + "\n".join(PUZZLES_4) + "\n")
    prefix = tmp_path / "res"
    cmd = [sys.executable, "-m", "redge_solve", "compare", str(source), "-e", "st,gumbel", "--seeds", "2",
           "--grid", "gumbel.tau=0.5,1.0", "--steps", "20", "--samples", "2", "--restarts", "2", "--lr", "0.2",
           "--out", str(prefix)]
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert "gumbel" in done.stdout and "tau=1.0" in done.stdout
    rows = list(csv.DictReader(open(str(prefix) + ".csv")))
    assert [r["label"] for r in rows] == ["st", "gumbel(tau=0.5)", "gumbel(tau=1.0)"]
    assert all(r["seeds"] == "0 1" and r["puzzles"] == "4" for r in rows)
    assert Path(str(prefix) + ".png").read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads(Path(str(prefix) + ".json").read_text())["runs"]) == 6

    bad = subprocess.run([sys.executable, "-m", "redge_solve", "compare", str(source), "--grid", "redge.t_9=1,2"],
                         cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert "no parameter 't_9'" in bad.stderr


def test_load_compare_input_reads_every_source_and_checks_each_puzzle(tmp_path):
    from redge_solve.compare import CompareInputError, load_compare_input

    good = tmp_path / "good.csv"
    good.write_text("puzzle,solution\n" + "\n".join(f"{p}," for p in PUZZLES_4) + "\n")
    data = load_compare_input(str(good), offset=1, limit=2)
    assert data.kind == "sudoku" and data.ids == (1, 2) and len(data) == data.problem.num_instances == 2
    assert torch.equal(data.problem.grids, clues()[1:3])
    queens = load_compare_input("queens:5,6,7", offset=1)
    assert queens.kind == "instances" and queens.ids == (1, 2) and queens.problem.num_instances == 2
    for rows, message in [
        (["1100000000000000"], "row 0: clues conflict: 1 appears twice in row 1"),
        ([PUZZLES_4[0], "12x4000000000000"], "row 1: bad character 'X' at position 3"),
        ([PUZZLES_4[0], "1" + "0" * 80], "compare needs puzzles of one size"),
    ]:
        bad = tmp_path / "bad.csv"
        bad.write_text("puzzle\n" + "\n".join(rows) + "\n")
        with pytest.raises(CompareInputError, match=message):
            load_compare_input(str(bad))
    with pytest.raises(CompareInputError, match="no puzzles"):
        load_compare_input(str(good), offset=10)


@pytest.mark.parametrize("source", ["sudoku", "queens"])
def test_the_exact_reference_runs_as_a_row_and_its_mode_does_not_depend_on_the_seed(source):
    from redge_solve.compare import load_compare_input

    data = sudoku_input(clues()) if source == "sudoku" else load_compare_input("queens:5,6")
    result = compare(data.problem, data.make_records, [EstimatorSpec("exact"), EstimatorSpec("st")], [0, 1],
                     "paper", {"steps": 40, "lr": 0.2}, puzzle_ids=data.ids)
    exact = [run for run in result.runs if run.spec.name == "exact"]
    assert [run.error for run in exact] == [None, None]
    # the gradient is deterministic: the logits, so their mode, are the same under every seed (samples only judge)
    assert [r["solved_mode"] for r in exact[0].records] == [r["solved_mode"] for r in exact[1].records]
    assert result.rows[0].label == "exact" and result.rows[0].stats["solved_mode"].std == 0


def test_cli_out_follows_the_output_policy(tmp_path):
    source = tmp_path / "four.csv"
    source.write_text("puzzle\n" + "\n".join(PUZZLES_4) + "\n")
    args = ["compare", str(source), "-e", "st", "--seeds", "1", "--steps", "3", "-q"]
    # PREFIX.csv would be the input itself: refused even with --force, before any run
    refused = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "four"), "--force"])
    assert refused.exit_code == 2 and "is the input file" in refused.output
    (tmp_path / "old-diagnostics.json").write_text("{}")  # an existing output of --diagnose
    kept = CliRunner().invoke(app, [*args, "--diagnose-only", "--out", str(tmp_path / "old")])
    assert kept.exit_code == 2 and "already exists" in kept.output
    assert (tmp_path / "old-diagnostics.json").read_text() == "{}"
    assert CliRunner().invoke(app, [*args, "--out", str(tmp_path / "old")]).exit_code == 0  # no clash without it


def test_a_plot_of_more_than_ten_rows_gives_each_row_its_own_colour():
    from redge_solve.plots import distinct_colors, new_figure, plot_mean_band

    def colours(lines: int, distinct: bool) -> list:
        axes = new_figure(4, 3).subplots()
        if distinct:
            distinct_colors([axes], lines)
        for i in range(lines):
            plot_mean_band(axes, [1, 2], [[0, i]], f"row {i}")
        return [line.get_color() for line in axes.get_lines()]

    assert len(set(map(str, colours(12, distinct=False)))) == 10  # matplotlib's cycle: row 11 looks like row 1
    assert len(set(map(str, colours(12, distinct=True)))) == 12
    assert colours(3, distinct=True) == colours(3, distinct=False)  # ten or fewer: the default colours


def test_a_grid_size_is_compared_under_its_own_defaults(tmp_path):
    """compare runs a 16×16 file from 16×16's defaults, as `sudoku` and `batch` do (not 9×9's 8 restarts growing
    to 256 and fresh starts every 500 steps); 9×9 keeps DEFAULTS."""
    from redge_solve.compare import EstimatorSpec, load_compare_input, run_config
    from redge_solve.settings import DEFAULTS, sudoku_defaults

    source = tmp_path / "big.csv"
    lines = (Path(__file__).parent.parent / "puzzles" / "16x16.txt").read_text().splitlines()
    puzzle = next(line.split("::")[0] for line in lines if line.strip() and not line.startswith("#"))
    source.write_text(f"puzzle\n{puzzle}\n")
    data = load_compare_input(str(source))
    assert data.defaults == sudoku_defaults(16) != DEFAULTS
    config = run_config(EstimatorSpec("st"), 0, "default", {}, data.defaults)
    assert (config.restarts, config.reset_every, config.max_restarts) == (32, 6000, 64)
    assert sudoku_input(clues()).defaults == DEFAULTS
