"""``compare --tune``: disjoint splits, the objective's order, seeded and resumable studies, Ctrl-C keeping the
finished trials, and the files that record the chosen parameters, every trial and both splits."""

import csv
import json
import sys
from importlib.util import find_spec

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import redge_solve.tuning as tuning
from redge_solve.cli import app
from redge_solve.compare import EstimatorSpec, sudoku_input
from redge_solve.tuning import (
    OptunaMissing,
    TuneSettings,
    TuningInterrupted,
    objective_value,
    tune_and_compare,
    tune_estimator,
)

PUZZLES_4 = ["1000000000030000", "0200000400100003", "1234000000000000", "0000341200000000",
             "0000000000000000", "1000000000000002"]
TINY = dict(steps=15, samples=2, restarts=1, lr=0.2)
needs_optuna = pytest.mark.skipif(find_spec("optuna") is None, reason='optuna not installed (pip install -e ".[tune]")')


def data(count: int = 6, ids=None):
    clues = torch.tensor([[int(c) for c in PUZZLES_4[i % len(PUZZLES_4)]] for i in range(count)])
    return sudoku_input(clues, ids)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.floats(0.01, 0.99), st.randoms(use_true_random=False))
def test_splits_never_overlap_and_cover_every_instance(count, fraction, rng):
    ids = rng.sample(range(10_000), count)
    source = data(count, ids)
    try:
        tune_part, test_part = source.split(fraction)
    except ValueError as exc:
        assert "non-empty" in str(exc)
        assert round(fraction * count) in (0, count)
        return
    assert not set(tune_part.ids) & set(test_part.ids)
    assert list(tune_part.ids) + list(test_part.ids) == ids
    assert tune_part.problem.num_instances == len(tune_part.ids) and len(test_part) == test_part.problem.num_instances
    # the records of a split name the split's own puzzles
    assert tune_part.make_records.ids == tune_part.ids and torch.equal(test_part.problem.grids,
                                                                       source.problem.grids[len(tune_part):])


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 500), st.integers(1, 5), st.integers(0, 2500), st.integers(0, 2500),
       st.floats(0, 1e6), st.floats(0, 1e6))
def test_a_higher_rate_always_wins_and_the_loss_only_breaks_ties(instances, seeds, a, b, loss_a, loss_b):
    a, b = a % (instances * seeds + 1), b % (instances * seeds + 1)  # solved (instance, seed) pairs
    rate_a, rate_b = 100 * a / (instances * seeds), 100 * b / (instances * seeds)
    value_a = objective_value(rate_a, loss_a, instances, seeds)
    value_b = objective_value(rate_b, loss_b, instances, seeds)
    if a != b:
        assert (value_a > value_b) == (a > b)
    elif loss_a != loss_b:
        assert (value_a > value_b) == (loss_a < loss_b) or abs(value_a - value_b) < 1e-12


@needs_optuna
def test_a_seeded_study_repeats_and_starts_from_the_defaults():
    first = tune_estimator(data(), EstimatorSpec("redge"), TuneSettings(3, overrides=TINY, sampler_seed=3))
    again = tune_estimator(data(), EstimatorSpec("redge"), TuneSettings(3, overrides=TINY, sampler_seed=3))
    assert [t.params for t in first.trials] == [t.params for t in again.trials]
    assert [t.value for t in first.trials] == [t.value for t in again.trials]
    assert first.trials[0].params == {"n_steps": 3, "t_1": 0.5}  # the package defaults
    assert first.best.value == max(t.value for t in first.trials)
    spec, lr = first.chosen(0.2)
    assert spec.param_dict == first.best.params and lr == 0.2


@needs_optuna
def test_fixed_parameters_are_not_searched_and_nothing_to_tune_runs_no_trial():
    settings = TuneSettings(2, overrides=TINY, tune_lr=True)
    study = tune_estimator(data(), EstimatorSpec("redge", (("n_steps", 2),)), settings)
    assert set(study.space) == {"t_1", "lr"}
    assert all(t.params.keys() == {"t_1", "lr"} for t in study.trials)
    spec, lr = study.chosen(0.2)
    assert spec.param_dict["n_steps"] == 2 and lr == study.best.params["lr"]
    assert tune_estimator(data(), EstimatorSpec("st"), TuneSettings(5, overrides=TINY)).trials == []


@needs_optuna
def test_a_stored_study_resumes_without_rerunning_its_trials(tmp_path, monkeypatch):
    storage = f"sqlite:///{tmp_path / 'studies.db'}"
    first = tune_estimator(data(), EstimatorSpec("gumbel"), TuneSettings(2, overrides=TINY, storage=storage))
    calls = []
    real = tuning.compare
    monkeypatch.setattr(tuning, "compare", lambda *a, **k: calls.append(1) or real(*a, **k))
    more = tune_estimator(data(), EstimatorSpec("gumbel"), TuneSettings(3, overrides=TINY, storage=storage))
    assert len(calls) <= 1 and len(more.trials) == 3
    assert [(t.params, t.value, t.rate, t.loss) for t in more.trials[:2]] == \
        [(t.params, t.value, t.rate, t.loss) for t in first.trials]


@needs_optuna
def test_ctrl_c_keeps_the_finished_trials(monkeypatch, tmp_path):
    real = tuning.compare
    calls = []

    def interrupt_third(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(tuning, "compare", interrupt_third)
    with pytest.raises(TuningInterrupted) as info:
        tune_and_compare(data(), [EstimatorSpec("gumbel"), EstimatorSpec("redge")], [0],
                         TuneSettings(2, overrides=TINY))
    studies = info.value.studies
    assert [s.estimator for s in studies] == ["gumbel", "redge"]
    assert len(studies[0].trials) == 2 and len(studies[1].trials) == 0 and studies[1].interrupted
    paths = tuning.write_tuning(studies, info.value.splits, tmp_path / "cut")
    rows = list(csv.DictReader(open(paths[0])))
    assert [r["estimator"] for r in rows] == ["gumbel", "gumbel"]


@needs_optuna
def test_cli_tune_writes_the_chosen_parameters_every_trial_and_both_splits(tmp_path):
    source = tmp_path / "six.csv"
    source.write_text("puzzle\n" + "\n".join(PUZZLES_4) + "\n")
    prefix = tmp_path / "tuned"
    result = CliRunner().invoke(app, [
        "compare", str(source), "-e", "st,gumbel,redge", "--seeds", "2", "--tune", "2", "--tune-lr",
        "--steps", "15", "--samples", "2", "--restarts", "1", "--out", str(prefix)])
    assert result.exit_code == 0, result.output
    saved = json.loads((tmp_path / "tuned.json").read_text())
    assert saved["splits"] == {"tune": [0, 1, 2], "test": [3, 4, 5]}
    assert saved["puzzle_ids"] == [3, 4, 5]
    assert all(r["index"] in (3, 4, 5) for run in saved["runs"] for r in run["records"])
    studies = {s["estimator"]: s for s in saved["tuning"]}
    assert len(studies["st"]["trials"]) == 2 and set(studies["st"]["space"]) == {"lr"}
    for row in saved["table"]:
        best = studies[row["estimator"]]["best_params"]
        kept = {"temperature": 0.3} if row["estimator"] == "st" else {}  # Sudoku's ST, default protocol
        assert row["params"] == {**kept, **{k: v for k, v in best.items() if k != "lr"}}
        assert row["config"]["lr"] == best["lr"]
    trials = list(csv.DictReader(open(tmp_path / "tuned-trials.csv")))
    assert len(trials) == 6 and sum(r["chosen"] == "True" for r in trials) == 3
    splits = list(csv.DictReader(open(tmp_path / "tuned-splits.csv")))
    assert [(r["split"], int(r["index"])) for r in splits] == [("tune", i) for i in range(3)] + \
        [("test", i) for i in range(3, 6)]
    assert (tmp_path / "tuned-tuning.png").read_bytes()[:4] == b"\x89PNG"
    assert "lr" in result.stdout and "tuned on 3 other puzzles" in result.stdout.replace("\n", " ")


@pytest.mark.parametrize("args, message", [
    (["--tune", "2", "--grid", "redge.t_1=0.3,0.5"], "drop --grid"),
    (["--tune", "2", "--tune-lr", "--lr", "0.1"], "drop --lr"),
    (["--tune", "2", "--tune-fraction", "1"], "--tune-fraction must lie strictly between 0 and 1"),
    (["--tune", "2", "--criterion", "best"], "--criterion must be one of"),
])
def test_cli_tune_bad_input_is_one_line_exit_2(args, message):
    result = CliRunner().invoke(app, ["compare", "missing.csv", *args])
    assert result.exit_code == 2 and message in result.output


def test_without_optuna_tune_is_one_line_and_exit_2(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna now raises ImportError
    with pytest.raises(OptunaMissing):
        tuning.import_optuna()
    result = CliRunner().invoke(app, ["compare", "missing.csv", "--tune", "2"])
    assert result.exit_code == 2
    assert 'pip install -e ".[tune]"' in result.output and len(result.output.strip().splitlines()) == 1
