"""Graph colouring at scale: the differ pairs' sparse kernel equals the generic literal-conflict penalty (value and
gradient), the fewest-colours search never reports an invalid colouring nor more colours than DSATUR, and bad
``.col`` files are one line (exit 2), never a traceback."""

from __future__ import annotations

import itertools
import json
import math
import pathlib
from dataclasses import replace

import networkx as nx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli_problems import invoke
from torch import Tensor

from redge_solve import solver
from redge_solve.problems.coloring import (
    COLOR_DEFAULTS,
    Graph,
    chromatic_number,
    clique_number,
    coloring_spec,
    maximal_cliques,
    myciel,
    parse_dimacs,
    petersen,
    queen_graph,
    verify_coloring,
)
from redge_solve.problems.constraints import ConstraintBatch, ConstraintSpec
from redge_solve.runs.color_search import (
    SearchInterrupted,
    compact,
    dsatur,
    fewest_colors,
)
from redge_solve.solver import CONSTRAINT_DEFAULTS, solve

ROOT = pathlib.Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "puzzles" / "graphs"


@st.composite
def specs_with_differ(draw):
    """One to three instances over the same K: random differ pairs (repeats and both orders allowed), some fixed
    variables, and sometimes other constraints beside them."""
    k = draw(st.integers(1, 4))
    specs = []
    for _ in range(draw(st.integers(1, 3))):
        v = draw(st.integers(2, 7))
        pair = st.tuples(st.integers(0, v - 1), st.integers(0, v - 1)).filter(lambda p: p[0] != p[1])
        differ = draw(st.lists(pair, min_size=1, max_size=12))
        fixed = torch.tensor(draw(st.lists(st.integers(-1, k - 1), min_size=v, max_size=v)))
        fixed[draw(st.integers(0, v - 1))] = -1  # at least one free variable
        literal = st.integers(0, v * k - 1)
        groups = draw(st.lists(st.lists(literal, min_size=1, max_size=3, unique=True), max_size=2))
        forbidden = torch.tensor(draw(st.lists(literal, max_size=2)), dtype=torch.long)
        specs.append(ConstraintSpec.build(v, k, fixed=fixed, differ=torch.tensor(differ), exactly_one=groups,
                                          forbidden=forbidden))
    return specs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_with_differ(), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_differ_kernel_equals_the_generic_penalty_and_its_gradient(specs, samples, seed):
    kernel = ConstraintBatch.from_specs(specs, torch.float64)
    generic = ConstraintBatch.from_specs([s.expanded() for s in specs], torch.float64)
    assert kernel.adjacency is not None and generic.adjacency is None  # the two paths really differ
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(samples, kernel.num_variables, kernel.num_categories, generator=gen, dtype=torch.float64)
    weights = torch.randn(samples, kernel.num_instances, generator=gen, dtype=torch.float64)
    grads = []
    for problem in (kernel, generic):
        point = x.clone().requires_grad_(True)
        value = problem.penalty(point)
        (grad,) = torch.autograd.grad((value * weights).sum(), point)
        grads.append((value.detach(), grad))
    torch.testing.assert_close(grads[0][0], grads[1][0])
    torch.testing.assert_close(grads[0][1], grads[1][1])
    # on one-hot assignments both are the same exact integer, and the direct check agrees with zero penalty
    values = torch.randint(0, kernel.num_categories, (kernel.num_variables,), generator=gen)
    hot = torch.nn.functional.one_hot(values, kernel.num_categories).to(torch.float64).unsqueeze(0)
    exact = kernel.penalty(hot)
    assert torch.equal(exact, generic.penalty(hot)) and torch.equal(exact, exact.round())
    filled = kernel.fill(hot.float())[0]
    for i, spec in enumerate(specs):
        assert (exact[0, i] == 0) == (not spec.verify(filled[i, : spec.num_variables]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_with_differ(), st.integers(2, 4), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_restarts_gradient_broadcast_per_instance_equals_the_gather_per_row(specs, restarts, samples, seed):
    """The restarts of one instance (every instance n rows) take the differ kernel's backward as a broadcast of each
    instance's incoming gradient; it gives the per-row gather's gradient bit for bit, under a different gradient per
    instance and sample."""
    batch = ConstraintBatch.from_specs([specs[0]], torch.float64).repeat(restarts)
    assert batch._rows_each == specs[0].num_variables
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(samples, batch.num_variables, batch.num_categories, generator=gen, dtype=torch.float64)
    weights = torch.randn(samples, batch.num_instances, generator=gen, dtype=torch.float64)
    grads = []
    for rows_each in (batch._rows_each, 0):  # the broadcast, then the gather
        batch.__dict__["_rows_each"] = rows_each
        point = x.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad((batch.penalty(point) * weights).sum(), point)
        grads.append(grad)
    assert torch.equal(grads[0], grads[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_with_differ(), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_dense_blocks_give_the_sparse_products_penalty_and_gradient(specs, restarts, samples, seed):
    """Restarts of one instance with its adjacency as dense ``(I, n, n)`` blocks (forced here: ``DENSE_DIFFER`` 0)
    give the CSR product's penalty and gradient, plain and with breakout weights (repeated pairs count twice, fixed
    rows take part); instances of different sizes, or blocks sparser than ``DENSE_DIFFER``, keep the CSR."""
    import redge_solve.problems.constraints as constraints

    spec = specs[0]
    batch = ConstraintBatch.from_specs([spec], torch.float64).repeat(restarts)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(samples, batch.num_variables, batch.num_categories, generator=gen, dtype=torch.float64)
    weights = 1 + 3 * torch.rand(batch.weight_instance.shape[0], generator=gen, dtype=torch.float64)
    results, original = [], constraints.DENSE_DIFFER
    for share in (0.0, 2.0):  # dense blocks, then the CSR product
        constraints.DENSE_DIFFER = share
        try:
            fresh = ConstraintBatch.from_specs([spec], torch.float64).repeat(restarts)
            assert (fresh._dense_blocks is not None) == (share == 0.0)
            point = x.clone().requires_grad_(True)
            plain, weighted = fresh.penalty(point), fresh.penalty(point, weights)
            grads = torch.autograd.grad((plain + 2 * weighted).sum(), point)
            results.append((plain.detach(), weighted.detach(), *grads))
        finally:
            constraints.DENSE_DIFFER = original
    for dense, sparse in zip(*results, strict=True):
        torch.testing.assert_close(dense, sparse)
    if len({s.num_variables for s in specs}) > 1:
        assert ConstraintBatch.from_specs(specs)._dense_blocks is None  # blocks of different sizes: CSR
    ring = coloring_spec(Graph.from_edges(40, [(i, (i + 1) % 40) for i in range(40)]), 3)
    assert ConstraintBatch.from_specs([ring]).repeat(4)._dense_blocks is None  # 5 % of the block set: CSR


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_with_differ(), st.integers(0, 3), st.integers(1, 3), st.sampled_from([torch.float32, torch.float64]))
def test_the_block_diagonal_adjacency_is_the_one_built_from_all_pairs(specs, edgeless_at, times, dtype):
    """A batch's differ adjacency, put together from its instances' own CSR matrices, is entry for entry (indices,
    their dtype, values) the one built from all the shifted pairs at once, with repeated instances (restarts) and an
    instance without pairs anywhere; a spec that built its matrix still pickles."""
    import pickle

    from redge_solve.problems.constraints import _adjacency

    k = specs[0].num_categories
    specs = list(specs)
    specs.insert(min(edgeless_at, len(specs)), ConstraintSpec.build(3, k))
    batch = ConstraintBatch.from_specs(specs, dtype).repeat(times)
    starts = itertools.accumulate([s.num_variables for s in batch.specs[:-1]], initial=0)
    pairs = torch.cat([s.differ + start for s, start in zip(batch.specs, starts, strict=True)])
    reference = _adjacency(pairs, batch.row_instance.shape[0], dtype)
    for name in ("crow_indices", "col_indices", "values"):
        ours, theirs = getattr(batch.adjacency, name)(), getattr(reference, name)()
        assert ours.dtype == theirs.dtype and torch.equal(ours, theirs), name
    assert pickle.loads(pickle.dumps(specs[-1])).num_variables == specs[-1].num_variables


def _random_one_hot(batch: ConstraintBatch, gen: torch.Generator, before: Tensor | None = None,
                    share: float = 1.0) -> Tensor:
    """A one-hot ``(1, F, K)`` of ``batch``'s free rows: random values, or ``before`` with a random ``share`` of
    its rows moved on by one random shift (so that pairs whose two rows both move stay alike)."""
    k = batch.num_categories
    values = torch.randint(0, k, (batch.num_variables,), generator=gen)
    if before is not None:
        keep = torch.rand(batch.num_variables, generator=gen) >= share
        old = before[0].argmax(-1)
        values = torch.where(keep, old, (old + int(torch.randint(1, k + 1, (), generator=gen))) % k)
    return torch.nn.functional.one_hot(values, k).to(batch.dtype).unsqueeze(0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_with_differ(), st.integers(1, 3), st.lists(st.sampled_from([0.0, 0.05, 0.3, 1.0]), min_size=1,
                                                       max_size=6), st.booleans(), st.integers(0, 2**31 - 1))
def test_the_tracked_mode_pair_terms_equal_the_full_comparison(specs, restarts, shares, always_tracked, seed):
    """A one-hot assignment's terms, tracked from step to step (``PairTerms``: only the pairs of the rows whose
    value changed are compared again, unless a large share changed), are bit for bit the terms of the plain
    product formula after every change, few rows or many (repeated pairs, fixed rows and group terms included),
    and the pairs a raise finds through the tracker are exactly the non-zero pair terms, until the terms are
    changed in place. ``always_tracked``: the small batches here change a large share at once, so the tracking is
    also forced for every share."""
    import redge_solve.problems._pair_terms as pair_terms

    original = pair_terms.FULL_FROM
    pair_terms.FULL_FROM = 1.0 if always_tracked else original
    try:
        batch = ConstraintBatch.from_specs(specs).repeat(restarts)
        gen = torch.Generator().manual_seed(seed)
        generic = batch.term_instance.shape[0]
        x = _random_one_hot(batch, gen)
        for share in shares:
            x = _random_one_hot(batch, gen, x, share)
            tracked = batch.terms(x, one_hot=True)
            assert torch.equal(tracked, batch.terms(x, one_hot=False))
            assert torch.equal(batch._tracked_alike(tracked[0]).sort().values,
                               tracked[0, generic:].nonzero().squeeze(1))
        assert batch._tracked_alike(tracked[0].clone()) is None  # other terms, or these changed by the caller:
        tracked[0, generic:] = 1.0  # no longer what the tracker saw
        assert batch._tracked_alike(tracked[0]) is None
    finally:
        pair_terms.FULL_FROM = original


@pytest.mark.parametrize("dense", [True, False])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs=specs_with_differ(), restarts=st.integers(1, 3), seed=st.integers(0, 2**31 - 1))
def test_weighted_adjacency_kept_by_the_raises_equals_a_rebuilt_one(dense, specs, restarts, seed):
    """The incremental edge weights (dense blocks and the sparse product's CSR values): after every breakout raise
    (``raise_weights``: the pairs a raise changed rewritten in place, found by the mode's tracked terms or by a
    search) the weights are, bit for bit, those of a plain ``weights += step · terms``, and the kept weighted
    adjacency is the one a rebuild from them gives (repeated pairs, whose entries carry A_e · w, included); it is
    kept, not rebuilt."""
    import redge_solve.problems.constraints as constraints

    original = constraints.DENSE_DIFFER
    constraints.DENSE_DIFFER = 0.0 if dense else 2.0
    try:
        batch = ConstraintBatch.from_specs([specs[0]]).repeat(restarts)
        assert (batch._dense_blocks is not None) == dense
        gen = torch.Generator().manual_seed(seed)
        weights = torch.ones(batch.weight_instance.shape[0])
        plain = weights.clone()
        kept = batch._weighted_adjacency(weights)
        x = _random_one_hot(batch, gen)
        for round_ in range(6):
            if round_ % 2:  # the solver's raise: the mode's terms, tracked
                x = _random_one_hot(batch, gen, x, 0.3)
                terms = batch.terms(x, one_hot=True)[0]
            else:
                terms = (torch.rand(weights.shape, generator=gen) < 0.3).float() * torch.randint(
                    1, 3, weights.shape, generator=gen)
            batch.raise_weights(weights, terms, 0.05)
            plain.add_(terms, alpha=0.05)
            assert torch.equal(weights, plain)
            assert batch._weighted_adjacency(weights) is kept
            rebuilt = ConstraintBatch.from_specs([specs[0]]).repeat(restarts)._weighted_adjacency(weights.clone())
            if dense:
                assert torch.equal(kept, rebuilt)
            else:
                assert torch.equal(kept.values(), rebuilt.values())
                assert torch.equal(kept.col_indices(), rebuilt.col_indices())
        other = weights.clone()  # another weights tensor (a reset, a shrink): built afresh
        assert batch._weighted_adjacency(other) is not kept
    finally:
        constraints.DENSE_DIFFER = original


@pytest.mark.parametrize("density, colours", [(0.8, 14), (0.2, 5)])
def test_a_colouring_run_is_the_same_with_kept_or_rebuilt_weighted_adjacency(monkeypatch, density, colours):
    """A run (the dense-block product on the dense graph, the sparse one on the other; breakout weights, restarts
    growing at fresh starts) gives the same results whether the weighted adjacency is kept by the raises or
    rebuilt at every step."""
    graph = Graph.from_edges(30, list(nx.gnp_random_graph(30, density, seed=3).edges()))
    problem = ConstraintBatch.from_specs([coloring_spec(graph, colours)])
    config = replace(COLOR_DEFAULTS, steps=120, early_stop=False, restarts=4)
    assert (problem.repeat(4)._dense_blocks is not None) == (density > 0.5)
    kept = solve(problem, config)

    def plain_raise(self, weights, terms, step):
        weights.add_(terms, alpha=step)  # the blocks no longer match the weights' version: rebuilt at the next use

    monkeypatch.setattr(ConstraintBatch, "raise_weights", plain_raise)
    rebuilt = solve(problem, config)
    for name in ("solution", "penalty", "first_solved_step", "found", "solved_mode"):
        assert torch.equal(getattr(kept, name), getattr(rebuilt, name)), name


def test_differ_kernel_counts_each_listed_pair_and_survives_select_and_repeat():
    graph_spec = ConstraintSpec.build(3, 3, differ=torch.tensor([[0, 1], [1, 0], [1, 2]]))  # 0-1 listed twice
    batch = ConstraintBatch.from_specs([graph_spec, coloring_spec(petersen(), 3)]).repeat(2)
    same = torch.zeros(1, batch.num_variables, batch.num_categories)
    same[..., 0] = 1  # every vertex colour 0: every listed pair conflicts once
    assert batch.penalty(same).tolist() == [[3.0, 3.0, 15.0, 15.0]]
    kept = batch.select(torch.tensor([False, True, True, False]))
    assert kept.penalty(same[:, : kept.num_variables]).tolist() == [[3.0, 15.0]]


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.integers(1, 4), st.data())
def test_clique_groups_keep_zero_penalty_exactly_on_proper_colourings(n, k, data):
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    edges = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    graph = Graph.from_edges(n, edges)
    cliques = maximal_cliques(graph)
    with_groups = ConstraintBatch.from_specs([coloring_spec(graph, k, cliques)])
    plain = ConstraintBatch.from_specs([coloring_spec(graph, k)])
    values = torch.tensor(list(itertools.product(range(k), repeat=n)))
    hot = torch.nn.functional.one_hot(values, k).float()
    penalty, edges_only = with_groups.penalty(hot)[:, 0], plain.penalty(hot)[:, 0]
    proper = torch.tensor([verify_coloring(graph, c, k) for c in values])
    assert torch.equal(penalty == 0, proper) and torch.equal(penalty, penalty.round())
    assert bool((penalty >= edges_only).all())  # the groups only add terms
    groups = with_groups.num_exact
    assert groups == k * sum(len(c) == k for c in cliques)  # one group per colour on each clique of K vertices


@pytest.mark.parametrize("graph", [petersen(), myciel(3), myciel(4)], ids=lambda g: g.name)
def test_dsatur_cliques_and_the_clique_bound_are_networkx(graph):
    colors = dsatur(graph)
    assert verify_coloring(graph, colors, int(colors.max()) + 1)
    reference = nx.Graph(graph.edges.tolist())
    assert int(colors.max()) + 1 == max(nx.greedy_color(reference, strategy="DSATUR").values()) + 1
    assert sorted(maximal_cliques(graph)) == sorted(sorted(c) for c in nx.find_cliques(reference))
    omega = max(len(c) for c in nx.find_cliques(reference))
    assert fewest_colors(graph, replace(CONSTRAINT_DEFAULTS, steps=1)).lower_bound == omega


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 20), min_size=1, max_size=30))
def test_compact_keeps_the_partition_and_numbers_colours_densely(values):
    coloring = torch.tensor(values)
    out = compact(coloring)
    assert sorted(set(out.tolist())) == list(range(len(set(values))))
    assert torch.equal(coloring.unsqueeze(0) == coloring.unsqueeze(1), out.unsqueeze(0) == out.unsqueeze(1))


def random_graph(n: int, p: float, seed: int) -> Graph:
    return Graph.from_edges(n, list(nx.gnp_random_graph(n, p, seed=seed).edges()), f"gnp-{n}-{p}-{seed}")


@settings(max_examples=8, deadline=None)
@given(st.integers(4, 30), st.floats(0.1, 0.7), st.integers(0, 1000))
def test_fewest_colors_reports_valid_colourings_never_more_colours_than_dsatur(n, p, seed):
    graph = random_graph(n, p, seed)
    config = replace(CONSTRAINT_DEFAULTS, steps=60, samples=2, restarts=2, init_std=1.0, seed=seed)
    result = fewest_colors(graph, config)
    assert result.best_colors <= result.dsatur_colors == len(set(dsatur(graph).tolist()))
    assert verify_coloring(graph, result.best_coloring, result.best_colors)
    assert len(set(result.best_coloring.tolist())) == result.best_colors
    assert result.lower_bound <= result.best_colors
    tried = [a.colors for a in result.attempts]
    assert tried == sorted(tried, reverse=True) and result.attempts[0].method == "dsatur"
    for attempt in result.attempts:  # every colouring an attempt reports is valid with the colours it claims
        assert attempt.found == (attempt.coloring is not None)
        if attempt.found:
            assert verify_coloring(graph, attempt.coloring, attempt.used) and attempt.used <= attempt.colors
    failed = [a for a in result.attempts if not a.found]
    assert len(failed) <= 1 and (not failed or failed[0] is result.attempts[-1])
    assert result.optimal or failed  # it stops at the bound or at the first failure


@pytest.mark.parametrize("n, seed", [(14, 0), (16, 0), (20, 10)])
def test_fewest_colors_goes_below_dsatur_down_to_chi(n, seed):
    # G(n, ½) graphs on which networkx's DSATUR uses one colour more than χ (found by exact search)
    graph = random_graph(n, 0.5, seed)
    chi = chromatic_number(graph)
    result = fewest_colors(graph, COLOR_DEFAULTS)
    assert result.dsatur_colors == chi + 1 and result.best_colors == chi and result.best_method == "gradient"
    assert verify_coloring(graph, result.best_coloring, chi)
    assert result.optimal == (result.lower_bound == chi)
    assert result.attempts[-1].found or result.attempts[-1].colors == chi - 1


def test_interrupt_keeps_the_best_colouring():
    graph = myciel(4)
    calls = []

    def on_step(k, progress):
        calls.append(k)
        raise KeyboardInterrupt

    with pytest.raises(SearchInterrupted) as caught:
        fewest_colors(graph, replace(CONSTRAINT_DEFAULTS, steps=50), on_step=on_step)
    result = caught.value.result
    assert calls and result.best_method == "dsatur" and verify_coloring(graph, result.best_coloring,
                                                                          result.best_colors)
    assert result.attempts[-1].stopped == "interrupted" and not result.attempts[-1].found


# ---- command line --------------------------------------------------------------------------------------------


def test_color_without_colours_searches_and_json_records_every_k(tmp_path):
    text = (GRAPHS / "myciel4.col").read_text().replace("c chromatic number", "c was chromatic")
    path = tmp_path / "g.col"
    path.write_text(text)
    target = tmp_path / "out.jsonl"
    result = invoke("color", str(path), "--out", str(target), "--steps", "300")
    assert result.exit_code == 0, result.output
    assert "DSATUR" in result.output and "best: 5 colours" in result.output
    (record,) = [json.loads(line) for line in target.read_text().splitlines()]
    graph = parse_dimacs(text)
    assert record["verified"] and record["num_colors"] == 5 and record["lower_bound"] == 2
    assert verify_coloring(graph, torch.tensor(record["colors"]) - 1, record["num_colors"])
    assert record["attempts"][0]["method"] == "dsatur" and record["dsatur_colors"] >= record["num_colors"]
    assert [a["colors"] for a in record["attempts"][1:]] == list(range(record["attempts"][0]["used"] - 1, 3, -1))
    assert record["attempts"][-1] == {**record["attempts"][-1], "colors": 4, "found": False}


def test_fewest_flag_searches_despite_a_stated_chromatic_number():
    result = invoke("color", str(GRAPHS / "petersen.col"), "--fewest", "--out", "-", "-q")
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert record["num_colors"] == 3 and record["optimal"] and record["lower_bound"] == 3


@pytest.mark.parametrize("text, reason", [
    ("c no p line\ne 1 2\n", "edge before"),
    ("c nothing\n", "no 'p edge"),
    ("p edge 3 1\ne 1 4\n", "vertex 4 is outside 1..3"),
    ("p edge 3 1\ne 0 2\n", "vertex 0 is outside 1..3"),
    ("p edge 3 1\ne 2 2\n", "self-loop on vertex 2"),
    ("p edge 3 1\np edge 3 1\n", "a second 'p' line"),
    ("p edge x 1\n", "expected 'p edge VERTICES EDGES'"),
    ("p edge 3 1\ne 1\n", "expected 'e U V'"),
])
@pytest.mark.parametrize("extra", [[], ["--colors", "3"]])
def test_bad_col_file_is_one_line_exit_2(tmp_path, text, reason, extra):
    path = tmp_path / "bad.col"
    path.write_text(text)
    result = invoke("color", str(path), *extra)
    assert result.exit_code == 2, result.output
    assert reason in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_duplicate_edges_count_once_as_dimacs_files_list_them_both_ways():
    text = "p edge 3 4\ne 1 2\ne 2 1\ne 1 2\ne 2 3\n"
    graph = parse_dimacs(text)
    assert graph.edges.tolist() == [[0, 1], [1, 2]]
    result = invoke("color", "-", "--out", "-", "-q", stdin=text)
    assert result.exit_code == 0 and json.loads(result.stdout)["num_colors"] == 2


def test_an_attempt_out_of_time_says_so_and_ends_the_search():
    graph = myciel(4)  # χ 5 = DSATUR's colours, clique bound 2: the attempt at 4 colours cannot succeed
    result = fewest_colors(graph, replace(CONSTRAINT_DEFAULTS, steps=500), max_seconds=1e-9)
    last = result.attempts[-1]
    assert (last.colors, last.found, last.stopped) == (4, False, "time") and 1 <= last.steps < 500
    steps_only = fewest_colors(graph, replace(CONSTRAINT_DEFAULTS, steps=5), max_seconds=0).attempts[-1]
    assert (steps_only.stopped, steps_only.steps) == ("steps", 5)


def test_cli_ctrl_c_during_the_search_saves_and_prints_the_best_and_exits_130(tmp_path, monkeypatch):
    from redge_solve.runs import color_search  # the command imports it from here when it runs

    real = color_search.fewest_colors

    def interrupted_search(graph, config, max_seconds, known_chromatic, on_attempt, on_step, **where):
        def ctrl_c(k, progress):  # Ctrl-C at the first step of the first gradient attempt
            raise KeyboardInterrupt

        return real(graph, config, max_seconds, known_chromatic, on_attempt, ctrl_c, **where)

    monkeypatch.setattr(color_search, "fewest_colors", interrupted_search)
    target, path = tmp_path / "out.jsonl", tmp_path / "g.col"
    path.write_text((GRAPHS / "myciel4.col").read_text().replace("c chromatic number", "c was chromatic"))
    result = invoke("color", str(path), "--out", str(target))
    assert result.exit_code == 130, result.output
    assert "best: 5 colours" in result.output and "interrupted: keeping the best colouring found" in result.output
    record = json.loads(target.read_text())
    assert record["interrupted"] and record["verified"] and record["num_colors"] == 5
    assert record["attempts"][-1]["stopped"] == "interrupted"


@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_bad_max_seconds_is_one_line_exit_2(value):
    result = invoke("color", str(GRAPHS / "petersen.col"), "--fewest", "--max-seconds", value)
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert "--max-seconds must be a number of seconds > 0" in result.output


def test_max_seconds_bounds_a_run_with_k_colours(tmp_path):
    """The budget reaches a run at a given K (it was ignored): 2 colours for Petersen (χ 3) cannot succeed, so
    100000 steps would run without it."""
    target = tmp_path / "out.jsonl"
    result = invoke("color", str(GRAPHS / "petersen.col"), "--colors", "2", "--steps", "100000", "--max-seconds",
                    "0.001", "-o", str(target), "-q")
    assert result.exit_code == 1, result.output
    record = json.loads(target.read_text())
    assert not record["found"] and 1 <= record["steps_run"] < 100000
    shown = invoke("color", str(GRAPHS / "petersen.col"), "--colors", "2", "--steps", "100000", "--max-seconds",
                   "0.001")  # and says so
    assert shown.exit_code == 1 and "1 stopped unsolved by the 0.001 s budget" in shown.output, shown.output


def test_max_seconds_bounds_the_whole_fewest_colours_search(tmp_path):
    """One budget for the search, not one per K: spent, no attempt starts, and the record says so."""
    graph = myciel(4)  # χ 5 = DSATUR's colours, clique bound 2: the attempt at 4 colours cannot succeed
    result = fewest_colors(graph, replace(CONSTRAINT_DEFAULTS, steps=100000, max_seconds=1e-3))
    assert result.budget_spent and result.best_colors == 5
    assert all(a.stopped == "time" and a.steps < 100000 for a in result.attempts[1:])
    target = tmp_path / "out.jsonl"
    path = tmp_path / "g.col"
    path.write_text((GRAPHS / "myciel4.col").read_text().replace("c chromatic number", "c was chromatic"))
    done = invoke("color", str(path), "--steps", "100000", "--max-seconds", "0.001", "-o", str(target), "-q")
    assert done.exit_code == 0, done.output
    record = json.loads(target.read_text())
    assert record["budget_spent"] and all(a["steps"] < 100000 for a in record["attempts"])


# ---- breakout weights on the edges, bounded logits, the queen graphs ----------------------------------------------


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_with_differ(), st.integers(1, 3), st.integers(0, 2**31 - 1))
def test_weighted_penalty_is_the_weighted_sum_of_the_terms_and_so_is_its_gradient(specs, samples, seed):
    batch = ConstraintBatch.from_specs(specs, torch.float64)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(samples, batch.num_variables, batch.num_categories, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    weights = 1 + 3 * torch.rand(batch.weight_instance.shape[0], generator=gen, dtype=torch.float64)

    def per_instance(terms: torch.Tensor) -> torch.Tensor:
        return terms.new_zeros(samples, batch.num_instances).index_add(1, batch.weight_instance, terms)

    torch.testing.assert_close(per_instance(batch.terms(x)), batch.penalty(x))
    value = batch.penalty(x, weights)  # the differ pairs through the weighted sparse kernel
    reference = per_instance(batch.terms(x) * weights)  # every edge spelled out by autograd
    torch.testing.assert_close(value, reference)
    (ours,) = torch.autograd.grad(value.sum(), x)
    (theirs,) = torch.autograd.grad(reference.sum(), x)
    torch.testing.assert_close(ours, theirs)
    # one-hot assignments (the modes the weights are raised on) take a path of their own
    values = torch.randint(0, batch.num_categories, (samples, batch.num_variables), generator=gen)
    hot = torch.nn.functional.one_hot(values, batch.num_categories).to(torch.float64)
    torch.testing.assert_close(batch.terms(hot), batch.terms(hot * (1 - 1e-12)))  # not one-hot: the products
    torch.testing.assert_close(per_instance(batch.terms(hot)), batch.penalty(hot))
    # select keeps each kept instance's weights with its terms
    keep = torch.rand(batch.num_instances, generator=gen) < 0.5
    if keep.any():
        kept = batch.select(keep)
        rows = keep[batch.var_instance]
        torch.testing.assert_close(kept.penalty(x.detach()[:, rows], batch.select_weights(weights, keep)),
                                   batch.penalty(x.detach(), weights)[:, keep])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_with_differ(), st.integers(0, 3), st.integers(0, 2**31 - 1))
def test_sum_terms_and_the_weighted_adjacency_match_their_plain_definitions(specs, edgeless_at, seed):
    """The step's fast paths (differ terms summed run by run, the weighted entries gathered by index_select, taken
    as the weights themselves when every pair is listed once) against their definitions, also with an instance that
    has no differ pair (an empty run) anywhere in the batch."""
    k = specs[0].num_categories
    specs = list(specs)
    specs.insert(min(edgeless_at, len(specs)), ConstraintSpec.build(3, k))
    batch = ConstraintBatch.from_specs(specs, torch.float64)
    gen = torch.Generator().manual_seed(seed)
    values = torch.randint(0, k, (2, batch.num_variables), generator=gen)
    hot = torch.nn.functional.one_hot(values, k).to(torch.float64)
    relaxed = torch.rand(1, batch.num_variables, k, generator=gen, dtype=torch.float64)
    for x in (hot, relaxed):
        for terms in batch.terms(x):
            reference = terms.new_zeros(batch.num_instances).index_add_(0, batch.weight_instance, terms)
            torch.testing.assert_close(batch.sum_terms(terms), reference)
    weights = 1 + 3 * torch.rand(batch.weight_instance.shape[0], generator=gen, dtype=torch.float64)
    pairs = weights[batch.term_instance.shape[0]:]
    matrix = batch._weighted_adjacency(weights)
    adjacency = batch.adjacency.to_dense()
    u, v, count, _ = batch._differ_pairs
    expected = torch.zeros_like(adjacency)
    expected[u.long(), v.long()] = pairs * count  # the pair's weight times how often it is listed, both entries
    expected[v.long(), u.long()] = pairs * count
    torch.testing.assert_close(matrix.to_dense(), expected, rtol=0, atol=0)
    assert torch.equal(adjacency != 0, expected != 0)


def test_breakout_weights_rise_on_the_edges_the_mode_colours_alike():
    graph = Graph.from_edges(3, [(0, 1), (1, 2)])
    config = replace(COLOR_DEFAULTS, restarts=1, weight_step=0.5)
    state = solver._Batch(ConstraintBatch.from_specs([coloring_spec(graph, 2)]), config, torch.arange(1))
    mode = torch.nn.functional.one_hot(torch.tensor([0, 0, 1]), 2).float().unsqueeze(0)  # edge 0-1 monochromatic
    state.raise_weights(mode)
    weighted = state.problem.penalty(torch.nn.functional.one_hot(torch.tensor([[1, 1, 1]]), 2).float(),
                                     state.weights)
    assert weighted.tolist() == [[1.5 + 1.0]]  # both edges conflict; 0-1 now weighs 1.5


@pytest.mark.parametrize("allowed", [False, True])
def test_bounded_logits_are_centred_and_clipped_and_leave_excluded_values_alone(allowed):
    from redge_solve.problems.sudoku import SudokuBatch
    from redge_solve.solver import DEFAULTS

    grids = torch.tensor([[int(c) for c in "530070000600195000098000060800060003400803001700020006060000280000419005"
                           "000080079"]])
    problem = SudokuBatch.from_grids(grids).deduce("candidates" if allowed else "none")
    config = replace(DEFAULTS, max_logit=1.5, restarts=1, deduce="none")
    state = solver._Batch(problem, config, torch.arange(1))
    with torch.no_grad():
        state.logits.add_(20 * torch.randn(state.logits.shape, generator=torch.Generator().manual_seed(0)))
    before = state.logits.detach().clone()
    state.bound_logits()
    bound = 1.5 + math.log(9)
    mask = state.allowed if allowed else torch.ones_like(before, dtype=torch.bool)
    after = state.logits.detach()
    assert bool((after[mask].abs() <= bound + 1e-5).all()) and bool((after[mask].abs() > bound - 1e-5).any())
    assert torch.equal(after[~mask], before[~mask])  # excluded values keep their logit
    centred = (before - (before * mask).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True)).clamp(-bound, bound)
    torch.testing.assert_close(after[mask], centred[mask])
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="max_logit"):
            replace(DEFAULTS, max_logit=bad)


@pytest.mark.parametrize("n, m, edges", [(5, 5, 160), (6, 6, 290), (8, 8, 728), (8, 12, 1368)])
def test_queen_graph_has_the_dimacs_edge_counts(n, m, edges):
    graph = queen_graph(n, m)
    assert graph.num_vertices == n * m and graph.edges.shape[0] == edges
    assert clique_number(graph) == max(n, m)  # the longer side: a row of the board


def test_queen6_6_is_coloured_at_chi_by_the_defaults():
    """queen6_6 at χ = 7, the instance no setting of the old knobs coloured: the defaults colour it (measured on an
    AVX-512 CPU: at step 350 with seed 1, 568 and 364 with seeds 0 and 2; the 2000-step cap leaves room for other
    CPU kernels, whose rounding changes the path). That the old knobs fail is a measurement (docs/coloring.md), not
    a unit test: a 32-restart run that must fail would pin one seed's luck; the two knobs are tested on their own
    above (the clipping of the bounded logits, the weights rising on the edges the mode breaks)."""
    graph = queen_graph(6, 6)
    problem = ConstraintBatch.from_specs([coloring_spec(graph, 7, maximal_cliques(graph))])
    found = solver.solve(problem, replace(COLOR_DEFAULTS, steps=2000, seed=1))
    assert bool(found.found[0]) and verify_coloring(graph, found.solution[0], 7)


def test_compare_on_graphs_and_boards_starts_from_their_commands_defaults():
    from redge_solve.compare import load_compare_input
    from redge_solve.problems.queens import QUEENS_DEFAULTS

    assert load_compare_input(str(GRAPHS / "petersen.col"), colors=3).defaults == COLOR_DEFAULTS
    assert load_compare_input("queens:8").defaults == QUEENS_DEFAULTS
