"""Colouring at the frontier (issue 32): the incremental breakout weights of the differ adjacency equal the rebuilt
ones through raises and shrinks, a K below the clique bound exits at once naming the clique, and the fewest-colours
search records the time to each colouring."""

from __future__ import annotations

import json
from dataclasses import replace

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_cli_problems import invoke
from test_coloring import specs_with_differ

from redge_solve import solver
from redge_solve.cli import color_cmd
from redge_solve.problems.color_search import clique_bound, fewest_colors
from redge_solve.problems.coloring import COLOR_DEFAULTS, Graph, coloring_spec, myciel
from redge_solve.problems.constraints import ConstraintBatch

K4_AND_A_TAIL = "p edge 5 7\ne 1 2\ne 1 3\ne 1 4\ne 2 3\ne 2 4\ne 3 4\ne 4 5\n"


def _assert_weighted_like_rebuilt(batch: ConstraintBatch, specs, weights: torch.Tensor, x: torch.Tensor) -> None:
    """The batch's (incremental) weighted adjacency and penalty are bit for bit those of a fresh batch of the same
    instances, which builds them from scratch."""
    fresh = ConstraintBatch.from_specs(specs, batch.dtype)
    pair_weights = weights[batch.term_instance.shape[0]:]
    assert torch.equal(batch._weighted_adjacency(weights).values(), fresh._rebuilt_values(pair_weights))
    assert torch.equal(batch.penalty(x, weights), fresh.penalty(x, weights.clone()))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs_with_differ(), st.integers(0, 2**31 - 1))
def test_incremental_weights_equal_the_rebuilt_ones_after_raises_and_a_shrink(specs, seed):
    batch = ConstraintBatch.from_specs(specs, torch.float64)
    gen = torch.Generator().manual_seed(seed)
    weights = torch.ones(batch.weight_instance.shape[0], dtype=torch.float64)
    kept_specs = list(specs)
    for round_ in range(6):
        if round_ == 3:  # the solver's shrink: a sub-batch and the kept instances' weights
            keep = torch.rand(batch.num_instances, generator=gen) < 0.6
            keep[int(torch.randint(0, batch.num_instances, (1,), generator=gen))] = True
            weights = batch.select_weights(weights, keep)
            kept_specs = [s for s, k in zip(kept_specs, keep.tolist(), strict=True) if k]
            batch = batch.select(keep)
        labels = torch.randint(0, batch.num_categories, (1, batch.num_variables), generator=gen)
        mode = torch.nn.functional.one_hot(labels, batch.num_categories).to(torch.float64)
        terms = batch.terms(mode, one_hot=True)[0]
        few = torch.rand(terms.shape, generator=gen, dtype=torch.float64) < (0.1 if round_ % 2 else 1.0)
        weights.add_(terms * few, alpha=0.05 * (1 + round_))  # all the mode's terms, or a few (the sparse update)
        x = torch.rand(2, batch.num_variables, batch.num_categories, generator=gen, dtype=torch.float64)
        _assert_weighted_like_rebuilt(batch, kept_specs, weights, x)


def test_the_solvers_raises_and_shrink_keep_the_weighted_penalty_equal_to_a_rebuilt_one():
    graphs = [myciel(3), myciel(4)]
    specs = [coloring_spec(g, 5).widen(5) for g in graphs]
    config = replace(COLOR_DEFAULTS, restarts=2, weight_step=0.3)
    state = solver._Batch(ConstraintBatch.from_specs(specs), config, torch.arange(2))
    gen = torch.Generator().manual_seed(0)
    for round_ in range(5):
        if round_ == 2:
            state.shrink(torch.tensor([False, True]))
            specs = specs[1:]
        problem = state.problem
        mode = torch.nn.functional.one_hot(torch.randint(0, 5, (1, problem.num_variables), generator=gen), 5).float()
        state.raise_weights(mode)
        x = torch.rand(1, problem.num_variables, 5, generator=gen)
        _assert_weighted_like_rebuilt(problem, [s for s in specs for _ in range(state.restarts)], state.weights, x)


def test_colours_below_the_clique_bound_exit_1_at_once_naming_the_clique(tmp_path, monkeypatch):
    path = tmp_path / "k4.col"
    path.write_text(K4_AND_A_TAIL)

    def no_run(*args, **kwargs):
        raise AssertionError("the solver ran for a K below the clique bound")

    monkeypatch.setattr(color_cmd, "run", no_run)
    done = invoke("color", str(path), "--colors", "3", "--steps", "100000")
    assert done.exit_code == 1
    assert "4-clique" in done.output and "1 2 3 4" in done.output and len(done.output.strip().splitlines()) == 1
    monkeypatch.undo()
    solved = invoke("color", str(path), "--colors", "4", "-q")  # at the bound it runs (and colours it)
    assert solved.exit_code == 0, solved.output


def test_clique_bound_is_a_largest_clique():
    graph = Graph.from_edges(5, [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 4)])
    assert clique_bound(graph) == [0, 1, 2, 3]
    assert len(clique_bound(myciel(4))) == 2  # triangle-free


def test_fewest_colours_records_the_time_to_each_colouring_and_skips_ks_below_the_clique(tmp_path):
    graph = myciel(4)  # χ 5, clique bound 2
    result = fewest_colors(graph, replace(COLOR_DEFAULTS, steps=50))
    elapsed = [a.elapsed for a in result.attempts]
    assert elapsed == sorted(elapsed) and all(a.elapsed >= a.seconds for a in result.attempts)
    assert result.seconds_to_colors == {a.used: a.elapsed for a in result.attempts if a.found}
    assert result.dsatur_colors in result.seconds_to_colors and result.best_colors in result.seconds_to_colors
    record = result.attempts[-1].record()
    assert record["elapsed_seconds"] == round(result.attempts[-1].elapsed, 4)
    tight = fewest_colors(Graph.from_edges(5, [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3), (3, 4)]),
                          COLOR_DEFAULTS)  # DSATUR's 4 colours = the 4-clique: no K below it is tried
    assert [a.method for a in tight.attempts] == ["dsatur"] and tight.optimal
    path, target = tmp_path / "g.col", tmp_path / "out.jsonl"
    path.write_text(K4_AND_A_TAIL)
    done = invoke("color", str(path), "--fewest", "-o", str(target))
    assert done.exit_code == 0, done.output
    saved = json.loads(target.read_text())
    assert saved["seconds_to_colors"] == {"4": saved["attempts"][0]["elapsed_seconds"]}
