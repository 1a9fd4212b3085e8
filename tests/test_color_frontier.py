"""Colouring at the frontier (issue 32): a K below the clique bound exits at once naming the clique, and the
fewest-colours search records the time to each colouring (and tries no K below the clique)."""

from __future__ import annotations

import json
from dataclasses import replace

from test_cli_problems import invoke

from redge_solve.cli import color_cmd
from redge_solve.problems.coloring import COLOR_DEFAULTS, Graph, maximal_cliques, myciel
from redge_solve.runs.color_search import fewest_colors, largest_clique

K4_AND_A_TAIL = "p edge 5 7\ne 1 2\ne 1 3\ne 1 4\ne 2 3\ne 2 4\ne 3 4\ne 4 5\n"


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
    def clique_bound(graph: Graph) -> list[int]:
        return largest_clique(maximal_cliques(graph))

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


def test_a_budget_left_after_a_failed_k_goes_to_that_k_again_with_the_next_seed(monkeypatch):
    from redge_solve.runs import color_search

    seeds: list[int] = []
    real = color_search._attempt

    def recording(graph, cliques, k, config, budget, on_step, device=None):
        seeds.append(config.seed)
        return real(graph, cliques, k, config, budget, on_step, device)

    monkeypatch.setattr(color_search, "_attempt", recording)
    five_cycle = Graph.from_edges(5, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)])  # DSATUR 3, no 2-colouring
    config = replace(COLOR_DEFAULTS, steps=1, seed=7)
    alone = fewest_colors(five_cycle, config)
    assert [(a.colors, a.found, a.retry) for a in alone.attempts[1:]] == [(2, False, 0)] and seeds == [7]
    seeds.clear()
    budgeted = fewest_colors(five_cycle, replace(config, max_seconds=1.0))
    tries = budgeted.attempts[1:]
    assert len(tries) >= 2 and all(a.colors == 2 and not a.found for a in tries)
    assert [a.retry for a in tries] == list(range(len(tries))) and seeds == [7 + a.retry for a in tries]
    assert budgeted.budget_spent and budgeted.best_colors == 3
    assert tries[-1].record()["retry"] == len(tries) - 1
