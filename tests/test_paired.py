"""Paired differences between estimators (``redge_solve.paired``, ``compare --pairs``): the exact sign test against
scipy's binomial test, the paired bootstrap on constructed outcomes whose answer is known, the unit of pairing
(puzzles, their seeds kept together), the files and the command line."""

import csv
import json
import math

import numpy as np
import pytest
from conftest import puzzles_4, run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest

from redge_solve.compare import CRITERIA, Comparison, EstimatorSpec, Run, run_config, summarise
from redge_solve.paired import (
    CSV_COLUMNS,
    bootstrap_means,
    pair_list,
    paired_differences,
    pairs_report,
    percentile_interval,
    resolve_baseline,
    sign_test_p,
)


def make_runs(outcomes: dict[str, np.ndarray], seeds=None, criterion="found", errors=()) -> list[Run]:
    """Runs with constructed records: ``outcomes[label]`` bool ``(P, S)`` is ``criterion`` of puzzle p under seed
    s (the other criteria False); ``errors``: (label, seed) runs that diverged (no records)."""
    runs = []
    for label, matrix in outcomes.items():
        matrix = np.asarray(matrix, dtype=bool)
        spec = EstimatorSpec(label)
        for column, seed in enumerate(seeds or range(matrix.shape[1])):
            records = [{"index": 100 + p, **{c: False for c in CRITERIA}, criterion: bool(matrix[p, column]),
                        "first_solved_step": 1 if matrix[p, column] else None, "mean_sample_penalty": 0.0}
                       for p in range(matrix.shape[0])]
            if (label, seed) in errors:
                runs.append(Run(spec, seed, run_config(spec, seed), [], [], 0.0, 0, error="diverged"))
            else:
                runs.append(Run(spec, seed, run_config(spec, seed), records, [(1, 0)], 0.1, 1))
    return runs


def one(outcomes, criterion="found", resamples=2000, seed=0, **kwargs):
    """The single ``PairedDifference`` A − B of two constructed estimators named st and gumbel."""
    (diff,) = paired_differences(make_runs(outcomes, criterion=criterion, **kwargs), [("st", "gumbel")],
                                 [criterion], resamples=resamples, seed=seed)
    return diff


# ------------------------------------------------------------------------------------------------- sign test
@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_sign_test_is_scipys_exact_two_sided_binomial_test(kn):
    k, n = kn
    assert sign_test_p(k, n) == pytest.approx(binomtest(k, n, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_sign_test_edges():
    assert sign_test_p(0, 0) == 1.0  # no discordant puzzle: no evidence either way
    assert sign_test_p(5, 10) == 1.0
    assert sign_test_p(0, 5) == 2 / 32 and sign_test_p(5, 5) == 2 / 32
    assert sign_test_p(0, 1000) == 2.0**-999  # exact integer sums: no overflow, and a tail far below 1e-300 kept
    assert sign_test_p(1000, 2000) == 1.0 and sign_test_p(999, 2000) == pytest.approx(binomtest(999, 2000).pvalue)
    with pytest.raises(ValueError):
        sign_test_p(3, 2)


def test_mcnemar_with_one_seed_counts_the_discordant_pairs():
    rng = np.random.default_rng(1)
    a = rng.random((60, 1)) < 0.6
    b = rng.random((60, 1)) < 0.4
    diff = one({"st": a, "gumbel": b})
    n10, n01 = int((a & ~b).sum()), int((~a & b).sum())
    assert (diff.a_better, diff.b_better, diff.a_only_runs, diff.b_only_runs) == (n10, n01, n10, n01)
    assert diff.p_value == pytest.approx(binomtest(n10, n10 + n01, 0.5).pvalue, rel=1e-12)


def test_the_sign_test_counts_puzzles_not_puzzle_seed_pairs():
    # three seeds that repeat one seed's outcomes are one measurement of each puzzle, not three: same p-value
    rng = np.random.default_rng(2)
    a, b = rng.random((40, 1)) < 0.7, rng.random((40, 1)) < 0.5
    single = one({"st": a, "gumbel": b})
    tripled = one({"st": np.repeat(a, 3, axis=1), "gumbel": np.repeat(b, 3, axis=1)})
    assert tripled.a_only_runs == 3 * single.a_only_runs  # the pairs are counted (described) ...
    assert (tripled.a_better, tripled.b_better, tripled.p_value) == (single.a_better, single.b_better,
                                                                     single.p_value)  # ... the test is on puzzles
    # a puzzle whose seeds disagree counts by its mean: A wins 2 of 3 seeds -> A better on that puzzle; 1:1 -> tie
    a = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0]], dtype=bool)
    b = np.array([[0, 0, 1], [0, 1, 0], [0, 0, 0]], dtype=bool)
    diff = one({"st": a, "gumbel": b})
    assert (diff.a_better, diff.b_better, diff.a_only_runs, diff.b_only_runs) == (1, 0, 3, 2)


# ------------------------------------------------------------------------------------------------- bootstrap
def test_identical_estimators_differ_by_exactly_zero():
    rng = np.random.default_rng(3)
    same = rng.random((50, 3)) < 0.5
    diff = one({"st": same, "gumbel": same.copy()})
    assert (diff.difference, diff.low, diff.high) == (0.0, 0.0, 0.0)
    assert diff.p_value == 1.0 and not diff.clear and diff.verdict == "no clear difference"


def test_all_discordant_one_way_is_the_exact_difference():
    ones, zeros = np.ones((30, 2), dtype=bool), np.zeros((30, 2), dtype=bool)
    diff = one({"st": ones, "gumbel": zeros})
    assert (diff.a_percent, diff.b_percent, diff.difference, diff.low, diff.high) == (100.0, 0.0, 100.0, 100.0, 100.0)
    assert diff.p_value == 2 / 2**30 and diff.verdict == "st better"
    reverse = one({"st": zeros, "gumbel": ones})
    assert (reverse.difference, reverse.low, reverse.high, reverse.verdict) == (-100.0, -100.0, -100.0,
                                                                                "gumbel better")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_swapping_a_and_b_negates_and_the_interval_stays_within_the_puzzles_differences(puzzles, seeds, draw):
    rng = np.random.default_rng(draw)
    a, b = rng.random((puzzles, seeds)) < rng.random(), rng.random((puzzles, seeds)) < rng.random()
    ab = one({"st": a, "gumbel": b}, resamples=300)
    ba = paired_differences(make_runs({"st": a, "gumbel": b}), [("gumbel", "st")], ["found"], resamples=300)[0]
    assert (ba.difference, ba.low, ba.high) == pytest.approx((-ab.difference, -ab.high, -ab.low), abs=1e-9)
    assert (ba.a_better, ba.b_better, ba.p_value) == (ab.b_better, ab.a_better, ab.p_value)
    d = 100 * (a.astype(float) - b).mean(axis=1)
    assert d.min() - 1e-9 <= ab.low <= ab.high <= d.max() + 1e-9
    assert ab.difference == pytest.approx(d.mean())


def test_the_bootstrap_resamples_rows_with_replacement_and_is_seeded():
    values = np.arange(5, dtype=float)[:, None]
    means = bootstrap_means(values, resamples=3000, seed=7, chunk=700)  # chunks of draws give one stream
    assert means.shape == (3000, 1)
    # every mean is (sum of 5 draws from 0..4) / 5, and the draws are uniform: E = 2, Var = Var(row) / 5 = 0.4
    assert np.allclose(means * 5, np.round(means * 5))
    assert means.mean() == pytest.approx(2.0, abs=0.05) and means.var() == pytest.approx(0.4, rel=0.1)
    assert np.array_equal(means, bootstrap_means(values, resamples=3000, seed=7, chunk=700))
    assert not np.array_equal(means, bootstrap_means(values, resamples=3000, seed=8, chunk=700))


def test_the_interval_covers_the_true_difference_about_95_percent_of_the_time():
    # 300 data sets of 80 puzzles: a puzzle's difficulty is shared by both estimators and all seeds (correlated
    # outcomes, as on real puzzles); A solves with probability min(q + 0.1, 1) where B does with q
    rng = np.random.default_rng(4)
    puzzles, seeds, covered, trials = 80, 2, 0, 300
    truth = 100 * (0.1 - 0.1**2 / 2)  # E[min(q + 0.1, 1) − q] for q ~ U(0, 1)
    for _ in range(trials):
        level = rng.random((puzzles, 1))
        u = rng.random((puzzles, seeds))
        a, b = u < np.minimum(level + 0.1, 1.0), u < level  # common random numbers: paired, as seeds are
        d = (a.astype(float) - b).mean(axis=1, keepdims=True)
        low, high = percentile_interval(100 * bootstrap_means(d, resamples=1000, seed=int(rng.integers(1 << 30))))
        covered += bool(low[0] <= truth <= high[0])
    assert 0.90 <= covered / trials <= 0.99


def test_seeds_travel_with_their_puzzle():
    # S identical seeds are one puzzle's outcome S times: resampling puzzles gives the same interval as with one
    # seed; resampling (puzzle, seed) pairs independently would give one about sqrt(S) narrower
    rng = np.random.default_rng(5)
    a, b = rng.random((40, 1)) < 0.6, rng.random((40, 1)) < 0.4
    single = one({"st": a, "gumbel": b}, resamples=4000)
    eight = one({"st": np.repeat(a, 8, axis=1), "gumbel": np.repeat(b, 8, axis=1)}, resamples=4000)
    assert (eight.difference, eight.low, eight.high) == pytest.approx((single.difference, single.low, single.high))
    assert single.high - single.low > 15  # wide: 40 puzzles (an independent resampling of 320 pairs gives ~11)


def test_the_two_estimators_of_a_puzzle_are_resampled_together():
    # A = B except on 8 of 100 puzzles, which A solves: the paired interval is about 8 ± 5.4 and excludes 0;
    # resampling A's and B's outcomes apart would give about 8 ± 14 (two rates near 50 % on 100 puzzles)
    b = np.zeros((100, 1), dtype=bool)
    b[:50] = True
    a = b.copy()
    a[50:58] = True
    diff = one({"st": a, "gumbel": b})
    assert diff.difference == pytest.approx(8.0) and diff.p_value == 2 / 2**8
    assert 0 < diff.low and diff.high - diff.low <= 12 and diff.verdict == "st better"
    # with 3 such puzzles the interval reaches 0 (as the sign test, p = 0.25, finds no clear difference)
    a[53:58] = False
    diff = one({"st": a, "gumbel": b})
    assert diff.low == 0 and diff.p_value == 0.25 and diff.verdict == "no clear difference"


# ------------------------------------------------------------------------------------------------- runs, pairs
def test_rates_match_the_table_and_diverged_seeds_leave_the_pair():
    rng = np.random.default_rng(6)
    outcomes = {"st": rng.random((20, 3)) < 0.7, "gumbel": rng.random((20, 3)) < 0.3}
    runs = make_runs(outcomes, seeds=[4, 5, 6])
    rows = {row.label: row for row in summarise(runs)}
    diff = paired_differences(runs, [("st", "gumbel")], ["found"], resamples=500)[0]
    assert diff.seeds == [4, 5, 6] and diff.puzzles == 20
    assert diff.a_percent == pytest.approx(rows["st"].stats["found"].mean)
    assert diff.difference == pytest.approx(rows["st"].stats["found"].mean - rows["gumbel"].stats["found"].mean)
    # gumbel seed 5 diverged: only seeds 4 and 6 are paired
    runs = make_runs(outcomes, seeds=[4, 5, 6], errors={("gumbel", 5)})
    diff = paired_differences(runs, [("st", "gumbel")], ["found"], resamples=500)[0]
    kept = outcomes["st"][:, [0, 2]].astype(float) - outcomes["gumbel"][:, [0, 2]]
    assert diff.seeds == [4, 6] and diff.difference == pytest.approx(100 * kept.mean())
    # no seed in common: no figures, and it says so
    runs = make_runs(outcomes, seeds=[4, 5, 6], errors={("gumbel", 4), ("gumbel", 5), ("gumbel", 6)})
    diff = paired_differences(runs, [("st", "gumbel")], ["found"], resamples=500)[0]
    assert diff.seeds == [] and math.isnan(diff.difference) and diff.verdict == "no common seed"


def test_pairs_baseline_and_report_files():
    rng = np.random.default_rng(7)
    outcomes = {name: rng.random((15, 2)) < p for name, p in [("st", 0.8), ("gumbel", 0.2), ("redge", 0.5)]}
    runs = make_runs(outcomes)
    labels = ["st", "gumbel", "redge"]
    assert pair_list(labels) == [("st", "gumbel"), ("st", "redge"), ("gumbel", "redge")]
    assert pair_list(labels, "redge") == [("st", "redge"), ("gumbel", "redge")]
    report = pairs_report(runs, labels, CRITERIA, baseline="redge", resamples=500)
    assert [(d.a, d.b, d.criterion) for d in report.differences][:5] == [
        ("st", "redge", "solved_last"), ("st", "redge", "solved_mode"), ("st", "redge", "solved_any"),
        ("st", "redge", "found"), ("gumbel", "redge", "solved_last")]
    # one resample matrix for all: a pair's interval does not depend on the other pairs asked for
    alone = paired_differences(runs, [("gumbel", "redge")], ["found"], resamples=500)[0]
    assert alone == next(d for d in report.differences if d.a == "gumbel" and d.criterion == "found")
    rows = list(csv.DictReader(report.csv().splitlines()))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 8
    found = next(r for r in rows if r["a"] == "st" and r["criterion"] == "found")
    diff = next(d for d in report.differences if d.a == "st" and d.criterion == "found")
    assert float(found["low"]) == diff.low and found["seeds"] == "0 1" and found["verdict"] == diff.verdict
    data = json.loads(json.dumps(report.to_json()))
    assert data["resamples"] == 500 and data["baseline"] == "redge" and data["level"] == 0.95
    assert "puzzle" in data["unit"] and len(data["pairs"]) == 8 and data["pairs"][3]["verdict"] == diff.verdict
    comparison = Comparison(runs, summarise(runs), "default", {}, list(range(15)))
    assert comparison.add_pairs("redge", resamples=500).differences == report.differences
    assert comparison.to_json()["pairs"]["pairs"] == data["pairs"]


def test_resolve_baseline():
    labels, names = ["st", "gumbel(tau=0.5)", "gumbel(tau=1.0)", "redge"], ["st", "gumbel", "gumbel", "redge"]
    assert resolve_baseline("redge", labels, names) == "redge"
    assert resolve_baseline("ReDGE", labels, names) == "redge"  # the estimator's canonical name
    assert resolve_baseline("gumbel(tau=1.0)", labels, names) == "gumbel(tau=1.0)"
    with pytest.raises(ValueError, match="matches 2 rows"):
        resolve_baseline("gumbel", labels, names)
    with pytest.raises(ValueError, match="^`baseline` 'reinmax' is not among the compared"):  # a field, not a flag
        resolve_baseline("reinmax", labels, names)
    with pytest.raises(ValueError, match="unknown estimator"):
        resolve_baseline("bogus", labels, names)


# ------------------------------------------------------------------------------------------------- command line
@pytest.fixture(scope="module")
def four(tmp_path_factory):
    path = tmp_path_factory.mktemp("paired") / "four.csv"
    path.write_text("puzzle,solution\n" + "".join(f"{p},{s}\n" for p, s in puzzles_4(8, blanks=9)))
    return path


def test_cli_pairs_end_to_end(four, tmp_path):
    prefix = tmp_path / "res"
    result = run_cli("compare", four, "-e", "st,gumbel,redge", "--seeds", "2", "--steps", "25", "--samples", "2",
                     "--restarts", "2", "--lr", "0.2", "--baseline", "st", "--bootstrap", "500", "--out", prefix)
    assert result.exit_code == 0, result.output
    # the settings, before the runs
    settings_at = result.output.index("settings: protocol default · steps 25 · samples 2 · restarts 2")
    assert "estimators st, gumbel, redge" in result.output and "seeds 0,1" in result.output
    assert settings_at < result.output.index("st seed 0")
    assert "gumbel − st" in result.output and "redge − st" in result.output and "st − gumbel" not in result.output
    assert "interval" in result.output
    data = json.loads(prefix.with_name("res.json").read_text())
    pairs = data["pairs"]
    assert pairs["baseline"] == "st" and pairs["resamples"] == 500 and len(pairs["pairs"]) == 2 * len(CRITERIA)
    rows = list(csv.DictReader(prefix.with_name("res-pairs.csv").read_text().splitlines()))
    assert [(r["a"], r["b"]) for r in rows[::4]] == [("gumbel", "st"), ("redge", "st")]
    table = {r["label"]: r for r in csv.DictReader(prefix.with_name("res.csv").read_text().splitlines())}
    for row in rows:  # the pair's rates are the table's (no run diverged)
        assert float(row["a_percent"]) == pytest.approx(float(table[row["a"]][f"{row['criterion']}_mean"]))
        assert float(row["difference"]) == pytest.approx(float(row["a_percent"]) - float(row["b_percent"]))
        assert float(row["low"]) <= float(row["difference"]) <= float(row["high"])
    for line in result.output.splitlines():  # each interval printed that covers 0 reads so
        if "[" in line and "−" in line and "criterion" not in line:
            low, high = (float(v) for v in line.split("[")[1].split("]")[0].split(","))
            assert ("no clear difference" in line) == (low <= 0 <= high), line
    # runs record their seconds at each step, for the plot against time
    for run in data["runs"]:
        assert len(run["elapsed"]) == len(run["curve"]) and run["elapsed"] == sorted(run["elapsed"])


def test_cli_pairs_bad_input_fails_before_loading():
    result = run_cli("compare", "missing.csv", "-e", "st,redge", "--baseline", "gumbel")
    assert result.exit_code == 2 and "--baseline 'gumbel' is not among the compared estimators" in result.output
    result = run_cli("compare", "missing.csv", "-e", "st", "--pairs")
    assert result.exit_code == 2 and "at least two compared rows" in result.output
