"""Colouring at the frontier (issue 32): a K below the clique bound exits at once naming the clique, the
fewest-colours search records the time to each colouring (and tries no K below the clique), and it starts each K
from the best colouring so far (the warm start)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
import torch
from conftest import PUZZLES
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cli_problems import invoke
from torch import Tensor

from redge_solve.cli import color_cmd
from redge_solve.problem_defaults import ELITE, GENERATION_STEPS, RETRY_COLD, RETRY_LENGTH, WARM_START
from redge_solve.problems.coloring import COLOR_DEFAULTS, Graph, coloring_spec, maximal_cliques, myciel, queen_graph
from redge_solve.problems.constraints import ConstraintBatch
from redge_solve.runs.color_search import (
    compact,
    dsatur,
    fewest_colors,
    largest_clique,
    next_generation,
    partition_crossover,
    warm_start,
)
from redge_solve.solver import solve

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

    def recording(graph, cliques, k, config, budget, on_step, device=None, offsets=None, restart_modes=False):
        seeds.append(config.seed)
        return real(graph, cliques, k, config, budget, on_step, device, offsets, restart_modes)

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


@pytest.mark.parametrize(("retry_steps", "cold", "length", "warm_rows"),
                         [(5, 0.0, 5, 32), (5, 1.0, 5, 0), (None, RETRY_COLD, 2 * RETRY_LENGTH, 16)])
def test_without_crossover_a_try_again_runs_the_retry_steps_with_its_share_of_cold_restarts(
        monkeypatch, retry_steps, cold, length, warm_rows):
    from redge_solve.runs import color_search

    seen: list[tuple[int, int]] = []  # each try: its steps, its warm-started restarts
    real = color_search._attempt

    def recording(graph, cliques, k, config, budget, on_step, device=None, offsets=None, restart_modes=False):
        warm = 0 if offsets is None else int(offsets.flatten(1).any(1).sum())
        assert offsets is None or not offsets[warm:].any()  # the warm restarts come first, the cold ones last
        seen.append((config.steps, warm))
        return real(graph, cliques, k, config, budget, on_step, device, offsets, restart_modes)

    monkeypatch.setattr(color_search, "_attempt", recording)
    five_cycle = Graph.from_edges(5, [(0, 1), (1, 2), (2, 3), (3, 4), (4, 0)])  # DSATUR 3, no 2-colouring
    config = replace(COLOR_DEFAULTS, steps=2, seed=7, max_seconds=1.0)
    assert config.restarts == 32
    result = fewest_colors(five_cycle, config, retry_steps=retry_steps, retry_cold=cold, crossover=False)
    assert len(seen) >= 2 and len(result.attempts) == len(seen) + 1
    assert seen[0] == (2, 32)  # the first try at a K: --steps, every restart warm
    assert set(seen[1:]) == {(length, warm_rows)}  # a try again: retry_steps (default RETRY_LENGTH × --steps)
    assert all(a.steps == length for a in result.attempts[2:-1])  # each ran them all (the last may be cut)
    with pytest.raises(ValueError, match="between 0 and 1"):
        fewest_colors(five_cycle, config, retry_cold=1.5)


def test_a_warm_start_drops_one_class_per_restart_smallest_first_and_keeps_the_rest_of_the_partition():
    coloring = torch.tensor([0, 0, 0, 1, 2, 2, 3, 3, 3, 3])  # 4 classes, sizes 3, 1, 2, 4: K = 3
    offsets = warm_start(coloring, 3, restarts=6, strength=2.5)
    assert offsets.shape == (6, 10, 3)
    dropped = [int(torch.unique(coloring[offsets[r].sum(1) == 0]).item()) for r in range(6)]
    assert dropped == [1, 2, 0, 3, 1, 2]  # by size, the smallest first, then round again
    for r in range(6):
        kept = offsets[r].sum(1) > 0
        assert torch.equal(offsets[r][kept].sort(1).values[:, :2], torch.zeros(int(kept.sum()), 2))
        assert torch.all(offsets[r][kept].max(1).values == 2.5)
        colours = offsets[r][kept].argmax(1)
        old = coloring[kept]
        assert torch.equal(colours.unsqueeze(0) == colours.unsqueeze(1), old.unsqueeze(0) == old.unsqueeze(1))
        assert torch.equal(colours, old - (old > dropped[r]).long())  # kept classes renumbered in order
    with pytest.raises(ValueError, match="3 classes, not 4"):
        warm_start(coloring, 2, restarts=2)


def test_the_solver_starts_from_the_warm_start_offsets_and_only_for_one_instance():
    graph = myciel(4)  # χ 5
    proper = dsatur(graph)
    assert int(proper.max()) + 1 == 5  # DSATUR reaches χ on myciel4
    problem = ConstraintBatch.from_specs([coloring_spec(graph, 5)])
    config = replace(COLOR_DEFAULTS, steps=1, restarts=2, max_logit=0.0, weight_step=0.0)
    offsets = torch.nn.functional.one_hot(proper, 5).float().mul(20).unsqueeze(0)  # (1, V, K): the colouring
    warm = solve(problem, config, warm_start=offsets)
    assert bool(warm.found[0]) and int(warm.first_solved_step[0]) == 1
    assert torch.equal(warm.solution[0][: graph.num_vertices], proper)
    assert not bool(solve(problem, config).found[0])  # from random logits alone: not at step 1
    two = ConstraintBatch.from_specs([coloring_spec(graph, 5)] * 2)
    with pytest.raises(ValueError, match="one-instance"):
        solve(two, config, warm_start=offsets)


def test_the_fewest_colours_search_warm_starts_each_k_from_the_best_colouring_so_far(monkeypatch):
    from redge_solve.runs import color_search

    seen: list[tuple[int, Tensor | None, Tensor]] = []
    real = color_search._attempt

    def recording(graph, cliques, k, config, budget, on_step, device=None, offsets=None, restart_modes=False):
        attempt = real(graph, cliques, k, config, budget, on_step, device, offsets, restart_modes)
        seen.append((k, offsets, attempt.coloring))
        return attempt

    monkeypatch.setattr(color_search, "_attempt", recording)
    graph = queen_graph(6, 6)  # DSATUR 9, χ 7, clique bound 6
    result = fewest_colors(graph, replace(COLOR_DEFAULTS, steps=1000), warm=2.0)
    assert sum(coloring is not None for _, _, coloring in seen) >= 2  # at least two Ks found, one after the other
    before = result.attempts[0].coloring
    for k, offsets, coloring in seen:
        assert torch.equal(offsets, warm_start(compact(before), k, COLOR_DEFAULTS.restarts, 2.0))
        before = coloring if coloring is not None else before
    seen.clear()
    fewest_colors(graph, replace(COLOR_DEFAULTS, steps=20), warm=0.0)
    assert seen and all(offsets is None for _, offsets, _ in seen)


@pytest.mark.parametrize(("keyword", "given", "expected"), [
    ("warm", (), WARM_START), ("warm", ("--warm-start", "0"), 0.0), ("warm", ("--warm-start", "5.5"), 5.5),
    ("retry_steps", (), None), ("retry_steps", ("--retry-steps", "123"), 123),
    ("retry_cold", (), RETRY_COLD), ("retry_cold", ("--retry-cold", "1"), 1.0),
    ("retry_cold", ("--retry-cold", "0.25"), 0.25), ("crossover", (), True),
    ("crossover", ("--no-crossover",), False)])
def test_color_search_options_reach_the_search(tmp_path, monkeypatch, keyword, given, expected):
    from redge_solve.runs import color_search

    seen: list[float | None] = []
    real = color_search.fewest_colors

    def recording(*args, **kwargs):
        seen.append(kwargs[keyword])
        return real(*args, **kwargs)

    monkeypatch.setattr(color_search, "fewest_colors", recording)
    path = tmp_path / "g.col"
    path.write_text(K4_AND_A_TAIL)
    done = invoke("color", str(path), "--fewest", "-q", *given)
    assert done.exit_code == 0, done.output
    assert seen == [expected]


@pytest.mark.parametrize(("given", "message"), [(("--warm-start", "-1"), "error: --warm-start must be >= 0"),
                                                (("--retry-steps", "0"), "error: --retry-steps must be >= 1"),
                                                (("--retry-cold", "1.5"), "error: --retry-cold must be <= 1"),
                                                (("--retry-cold", "-0.5"), "error: --retry-cold must be >= 0")])
def test_bad_search_options_exit_2_in_one_line(tmp_path, given, message):
    path = tmp_path / "g.col"
    path.write_text(K4_AND_A_TAIL)
    bad = invoke("color", str(path), "--fewest", *given)
    assert bad.exit_code == 2 and bad.output.strip() == message


def test_each_attempt_is_one_line_however_narrow_the_console(tmp_path, monkeypatch):
    """A log file or a narrow terminal: rich would wrap a long line ('…, try' / '3)'), splitting what a user
    greps for; each attempt's line stays whole."""
    monkeypatch.setattr(color_cmd.console, "width", 24)
    path = tmp_path / "g.col"
    path.write_text(K4_AND_A_TAIL)
    done = invoke("color", str(path), "--fewest")
    assert done.exit_code == 0, done.output
    lines = [line for line in done.output.splitlines() if line.startswith(("DSATUR", "gradient"))]
    assert lines and all(line.endswith(")") for line in lines), done.output


@pytest.mark.parametrize("terminal", [False, True])
@pytest.mark.parametrize("how", [["petersen", "--colors", "2"], ["queen6_6", "--fewest"]])
def test_the_progress_bar_reads_the_penalty_only_when_drawn(monkeypatch, terminal, how):
    """With breakout weights reading a step's lowest penalty costs an evaluation: a bar that is not drawn (stderr not a
    terminal, as under CliRunner or in a log) never reads it; a drawn one reads it at its first step and then at most
    once a period (here never again), not at every step."""
    from redge_solve import solver
    from redge_solve.cli import common, progress

    reads = []
    original = solver.Progress.best_penalty
    monkeypatch.setattr(solver.Progress, "best_penalty", property(lambda p: reads.append(p.step) or original.fget(p)))
    monkeypatch.setattr(type(common.err_console), "is_terminal", property(lambda console: terminal))
    every = progress.Every
    once = lambda: every(float("inf"))  # noqa: E731
    monkeypatch.setattr(progress, "Every", once)
    result = invoke("color", str(PUZZLES / "graphs" / f"{how[0]}.col"), *how[1:], "--steps", "100", "--seed", "0")
    assert result.exit_code == (1 if how[1] == "--colors" else 0), result.output  # 2 colours: Petersen needs 3
    assert reads == ([1] if terminal else [])


colourings = st.integers(2, 6).flatmap(lambda k: st.tuples(
    st.just(k), st.lists(st.integers(0, k - 1), min_size=1, max_size=30)).flatmap(
    lambda kv: st.tuples(st.just(kv[0]), st.just(kv[1]),
                         st.lists(st.integers(0, kv[0] - 1), min_size=len(kv[1]), max_size=len(kv[1])))))


@settings(max_examples=200, deadline=None)
@given(colourings)
def test_partition_crossover_takes_the_largest_class_left_of_each_parent_in_turn(case):
    colors, first, second = case
    first, second = torch.tensor(first), torch.tensor(second)
    child = partition_crossover(first, second, colors)
    assert child.shape == first.shape and int(child.min()) >= -1 and int(child.max()) < colors
    placed = torch.zeros_like(first, dtype=torch.bool)
    for color in range(colors):
        parent = (first, second)[color % 2]  # the first parent's turn, then the second's, ...
        taken = child == color
        left = [int(((parent == c) & ~placed).sum()) for c in range(colors)]
        assert int(taken.sum()) == max(left)  # the largest class left of that parent
        if taken.any():
            assert len(torch.unique(parent[taken])) == 1  # a whole class of it (what is left of one)
            assert torch.equal(taken, (parent == parent[taken][0]) & ~placed)
        placed |= taken
    assert torch.equal(placed, child >= 0)
    same = partition_crossover(first, first, colors)  # one parent twice: its classes, every vertex placed
    assert bool((same >= 0).all()) and torch.equal(same.unsqueeze(0) == same.unsqueeze(1),
                                                   first.unsqueeze(0) == first.unsqueeze(1))


def test_the_next_generation_keeps_the_elite_and_recombines_tournament_winners():
    restarts, vertices, colors = 10, 12, 4
    modes = torch.randint(colors, (restarts, vertices), generator=torch.Generator().manual_seed(1))
    penalties = torch.tensor([5.0, 1.0, 7.0, 3.0, 3.0, 0.5, 9.0, 2.0, 8.0, 6.0])
    offsets = next_generation(modes, penalties, colors, elite=3, strength=2.5,
                              generator=torch.Generator().manual_seed(4))
    assert offsets.shape == (restarts, vertices, colors)
    assert bool(((offsets == 0) | (offsets == 2.5)).all()) and int((offsets != 0).sum(-1).max()) <= 1
    children = torch.where(offsets.any(-1), offsets.argmax(-1), -1)
    assert torch.equal(children[:3], modes[[5, 1, 7]])  # the three lowest penalties, in order, as they were
    draws = torch.randint(restarts, (restarts - 3, 2, 2), generator=torch.Generator().manual_seed(4))
    for child, pair in zip(children[3:], draws, strict=True):
        a, b = (int(x) if penalties[x] <= penalties[y] else int(y) for x, y in pair)  # the better of each two
        assert torch.equal(child, partition_crossover(modes[a], modes[b], colors))


def test_the_solver_keeps_each_restarts_lowest_penalty_mode(monkeypatch):
    from redge_solve import solver

    graph = myciel(4)  # χ 5: no 3-colouring, so the run goes on to its last step
    problem = ConstraintBatch.from_specs([coloring_spec(graph, 3)])
    seen: list[Tensor] = []
    judge = solver._judge

    def recording(*args, **kwargs):
        verdict = judge(*args, **kwargs)
        seen.append(verdict.mode_penalty.clone())
        return verdict

    monkeypatch.setattr(solver, "_judge", recording)
    config = replace(COLOR_DEFAULTS, steps=150, restarts=4, seed=3)
    results = solve(problem, config, restart_modes=True)
    assert not bool(results.found[0]) and len(seen) == 150
    lowest = torch.stack(seen).min(0).values
    assert torch.equal(results.restart_penalties, lowest)  # each restart's lowest mode penalty over the steps
    assert results.restart_modes.shape == (4, graph.num_vertices)
    assert bool((lowest < seen[-1]).any())  # not the final modes: the test tells them apart
    for mode, penalty in zip(results.restart_modes, results.restart_penalties, strict=True):
        one_hot = torch.nn.functional.one_hot(mode, 3).float().unsqueeze(0)
        assert float(problem.penalty(one_hot)[0, 0]) == float(penalty)  # the mode kept is the one with it
    assert solve(problem, config).restart_modes is None  # only when asked for
    with pytest.raises(ValueError, match="one-instance"):
        solve(ConstraintBatch.from_specs([coloring_spec(graph, 3)] * 2), config, restart_modes=True)


@pytest.mark.parametrize(("budget", "retry_steps", "first"), [(1.0, 2, 2), (1.0, None, 5), (None, 2, 5)])
def test_with_crossover_and_a_budget_the_first_try_at_a_k_is_no_longer_than_a_generation(
        monkeypatch, budget, retry_steps, first):
    from redge_solve.runs import color_search

    steps: list[int] = []
    real = color_search._attempt

    def recording(graph, cliques, k, config, *args, **kwargs):
        steps.append(config.steps)
        return real(graph, cliques, k, config, *args, **kwargs)

    monkeypatch.setattr(color_search, "_attempt", recording)
    config = replace(COLOR_DEFAULTS, steps=5, seed=11, max_seconds=budget)  # --steps 5 above a generation of 2
    fewest_colors(myciel(4), config, retry_steps=retry_steps, known_chromatic=None)  # DSATUR 5 = χ: 4 stays open
    assert steps[0] == first  # with a budget min(--steps, --retry-steps); without one the search's only try: --steps
    assert set(steps[1:]) <= {retry_steps or GENERATION_STEPS}


def test_with_crossover_a_try_again_starts_from_the_last_tries_restarts_recombined(monkeypatch):
    from redge_solve.runs import color_search

    seen: list[tuple[int, Tensor | None, object]] = []
    real = color_search._attempt

    def recording(graph, cliques, k, config, budget, on_step, device=None, offsets=None, restart_modes=False):
        assert restart_modes
        attempt = real(graph, cliques, k, config, budget, on_step, device, offsets, restart_modes)
        seen.append((config.steps, offsets, attempt))
        return attempt

    monkeypatch.setattr(color_search, "_attempt", recording)
    graph = myciel(4)  # DSATUR 5 = χ: the search tries 4 again and again
    config = replace(COLOR_DEFAULTS, steps=3, seed=11, max_seconds=1.5)
    for retry_steps, length in ((4, 4), (None, GENERATION_STEPS)):
        seen.clear()
        fewest_colors(graph, config, retry_steps=retry_steps, known_chromatic=None)
        assert len(seen) >= 2 and seen[0][0] == 3  # the first try at K: --steps, from the warm start
        for retry, ((steps, offsets, _), (_, _, before)) in enumerate(zip(seen[1:], seen, strict=False), start=1):
            assert steps == length and before.population is not None
            expected = next_generation(*before.population, 4, ELITE, WARM_START,
                                       torch.Generator().manual_seed(config.seed + retry))
            assert torch.equal(offsets, expected)
