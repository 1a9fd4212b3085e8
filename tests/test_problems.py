"""Generic constraint problems: the penalty is zero exactly on valid solutions (checked against brute-force
enumeration and each problem's direct rules), Sudoku's specialised penalty equals the generic one, and the solver
solves small instances of every problem through the same ``Problem`` protocol."""

from __future__ import annotations

import itertools

import pytest
import torch
from conftest import ROOT
from hypothesis import given, settings
from hypothesis import strategies as st

from redge_solve.formats import read_puzzles
from redge_solve.problems.coloring import (
    Graph,
    chromatic_number,
    clique_number,
    colorable,
    coloring_spec,
    myciel,
    parse_dimacs,
    petersen,
    to_dimacs,
    verify_coloring,
)
from redge_solve.problems.constraints import ConstraintBatch, ConstraintSpec
from redge_solve.problems.latin import LatinPuzzle, latin_spec, parse_latin, verify_latin
from redge_solve.problems.queens import queens_spec, verify_queens
from redge_solve.problems.sudoku import SudokuBatch, sudoku_constraints
from redge_solve.problems.textfile import ProblemFileError
from redge_solve.runs.instances import batch, coloring_instance, instance_records, latin_instance, queens_instance
from redge_solve.solver import SolverConfig, solve


def one_hot(values: torch.Tensor, k: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(values.long(), k).float()


def all_assignments(v: int, k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(k), repeat=v)), dtype=torch.long)


def brute_force_valid(spec: dict, values: list[int]) -> bool:
    """The constraints of a random instance checked from their definitions, independently of the library."""
    k = spec["k"]
    holds = {(v, values[v]) for v in range(len(values))}
    if any(values[v] != c for v, c in spec["fixed"].items()):
        return False
    if any(sum(lit in holds for lit in g) != 1 for g in spec["exactly_one"]):
        return False
    if any(sum(lit in holds for lit in g) > 1 for g in spec["at_most_one"]):
        return False
    if any(a in holds and b in holds for a, b in spec["conflicts"]):
        return False
    if any(values[u] == values[v] for u, v in spec["differ"]):
        return False
    return all(lit not in holds for lit in spec["forbidden"]) and all(0 <= x < k for x in values)


@st.composite
def random_specs(draw):
    v = draw(st.integers(1, 4))
    k = draw(st.integers(1, 3))
    lit = st.tuples(st.integers(0, v - 1), st.integers(0, k - 1))
    group = st.lists(lit, min_size=1, max_size=4, unique=True)
    pair = st.tuples(st.integers(0, v - 1), st.integers(0, v - 1)).filter(lambda p: p[0] != p[1])
    return dict(
        v=v, k=k,
        fixed=draw(st.dictionaries(st.integers(0, v - 1), st.integers(0, k - 1), max_size=2)),
        exactly_one=draw(st.lists(group, max_size=3)),
        at_most_one=draw(st.lists(group, max_size=3)),
        conflicts=draw(st.lists(st.tuples(lit, lit), max_size=3)),
        differ=draw(st.lists(pair, max_size=3)) if v > 1 else [],
        forbidden=draw(st.lists(lit, max_size=2)),
    )


def build(spec: dict) -> ConstraintSpec:
    k = spec["k"]
    flat = lambda lit: lit[0] * k + lit[1]
    fixed = torch.full((spec["v"],), -1, dtype=torch.long)
    for var, value in spec["fixed"].items():
        fixed[var] = value
    return ConstraintSpec.build(
        spec["v"], k, fixed=fixed,
        exactly_one=[[flat(x) for x in g] for g in spec["exactly_one"]],
        at_most_one=[[flat(x) for x in g] for g in spec["at_most_one"]],
        conflicts=torch.tensor([[flat(a), flat(b)] for a, b in spec["conflicts"]], dtype=torch.long).reshape(-1, 2),
        differ=torch.tensor(spec["differ"], dtype=torch.long).reshape(-1, 2),
        forbidden=torch.tensor([flat(x) for x in spec["forbidden"]], dtype=torch.long))


@settings(max_examples=40, deadline=None)
@given(random_specs())
def test_penalty_is_zero_exactly_on_valid_assignments_by_brute_force(spec):
    problem = build(spec)
    batch_ = ConstraintBatch.from_specs([problem])
    free = (problem.fixed < 0).nonzero().flatten()
    for values in all_assignments(spec["v"], spec["k"]):
        if not torch.equal(values[problem.fixed >= 0], problem.fixed[problem.fixed >= 0]):
            continue  # fixed variables are not the solver's to choose
        x = one_hot(values[free], spec["k"]).unsqueeze(0)
        penalty = float(batch_.penalty(x)[0, 0])
        valid = brute_force_valid(spec, values.tolist())
        assert (penalty == 0) == valid, (values.tolist(), penalty)
        assert penalty == round(penalty) and penalty >= 0
        assert (not problem.verify(values)) == valid
        assert torch.equal(batch_.fill(x)[0, 0], values)


@settings(max_examples=30, deadline=None)
@given(random_specs(), st.integers(0, 2**31 - 1))
def test_penalty_of_relaxed_inputs_is_nonnegative_and_batch_invariant(spec, seed):
    problem = build(spec)
    other = build(dict(spec, fixed={}))
    together = ConstraintBatch.from_specs([problem, other, problem])
    x = torch.rand(3, together.num_variables, spec["k"], generator=torch.Generator().manual_seed(seed))
    penalties = together.penalty(x)
    assert bool((penalties >= -1e-6).all())
    alone = ConstraintBatch.from_specs([other])
    assert torch.allclose(alone.penalty(x[:, together.var_instance == 1]), penalties[:, 1:2], atol=1e-5)


def test_widen_forbids_the_extra_values_and_keeps_the_rest():
    spec = queens_spec(4)
    wide = ConstraintBatch.from_specs([spec.widen(6)])
    narrow = ConstraintBatch.from_specs([spec])
    values = torch.tensor([1, 3, 0, 2])  # a solution
    assert float(wide.penalty(one_hot(values, 6).unsqueeze(0))) == 0
    assert float(narrow.penalty(one_hot(values, 4).unsqueeze(0))) == 0
    assert float(wide.penalty(one_hot(torch.tensor([1, 3, 0, 5]), 6).unsqueeze(0))) > 0
    assert spec.widen(6).verify(torch.tensor([1, 3, 0, 5]))


@pytest.mark.parametrize("n", [4, 5, 6])
def test_queens_penalty_zero_exactly_on_solutions_by_enumeration(n):
    problem = ConstraintBatch.from_specs([queens_spec(n)])
    values = all_assignments(n, n)
    penalties = torch.cat([problem.penalty(one_hot(chunk, n)) for chunk in values.split(4096)]).flatten()
    rows = torch.arange(n)
    dr = (rows.view(-1, 1) - rows.view(1, -1)).abs()
    dc = (values.unsqueeze(2) - values.unsqueeze(1)).abs()  # (A, n, n): column distance of every pair of rows
    direct = ~(((dc == 0) | (dc == dr)) & (dr > 0)).any((1, 2))
    assert torch.equal(penalties == 0, direct)
    assert all(verify_queens(v) for v in values[direct])
    assert int(direct.sum()) == {4: 2, 5: 10, 6: 4}[n]  # the known numbers of N-Queens solutions


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 6), st.data())
def test_coloring_penalty_counts_monochromatic_edges(n, data):
    pairs = [(u, v) for u in range(n) for v in range(u + 1, n)]
    edges = data.draw(st.lists(st.sampled_from(pairs), unique=True, max_size=len(pairs)))
    k = data.draw(st.integers(1, 3))
    graph = Graph.from_edges(n, edges)
    problem = ConstraintBatch.from_specs([coloring_spec(graph, k)])
    values = all_assignments(n, k)
    penalties = problem.penalty(one_hot(values, k))[:, 0]
    mono = torch.tensor([sum(int(c[u] == c[v]) for u, v in edges) for c in values.tolist()], dtype=torch.float)
    assert torch.equal(penalties, mono)
    assert torch.equal(penalties == 0, torch.tensor([verify_coloring(graph, c, k) for c in values]))
    assert (colorable(graph, k) is not None) == bool((penalties == 0).any())


@settings(max_examples=20, deadline=None)
@given(st.integers(2, 3), st.data())
def test_latin_penalty_zero_exactly_on_completions(n, data):
    clues = torch.tensor(data.draw(st.lists(st.integers(0, n), min_size=n * n, max_size=n * n)))
    free = clues == 0
    if int(free.sum()) > 6:  # keep the enumeration small: blank only the first six blanks
        clues[free.nonzero().flatten()[6:]] = 1
        free = clues == 0
    problem = ConstraintBatch.from_specs([latin_spec(clues)])
    values = all_assignments(int(free.sum()), n)  # every completion of the blanks, one batch
    penalties = problem.penalty(one_hot(values, n))[:, 0]
    grids = clues.expand(values.shape[0], -1).clone()
    grids[:, free] = values + 1
    assert torch.equal(penalties == 0, torch.tensor([verify_latin(g, clues) for g in grids]))


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(["4x4", "9x9"]), st.integers(0, 2**31 - 1), st.booleans())
def test_sudoku_specialised_penalty_equals_the_generic_one(size, seed, hard):
    path = ROOT / "puzzles" / ("4x4.txt" if size == "4x4" else "easy.txt")
    grids = torch.stack([p.clues for p in read_puzzles(str(path))])
    special, generic = SudokuBatch.from_grids(grids), sudoku_constraints(grids)
    assert torch.equal(special.var_instance, generic.var_instance)
    assert torch.equal(special.var_cell, generic.var_index)
    gen = torch.Generator().manual_seed(seed)
    k = special.num_categories
    if hard:
        x = one_hot(torch.randint(0, k, (3, special.num_variables), generator=gen), k)
        assert torch.equal(special.penalty(x), generic.penalty(x))
        assert torch.equal(special.fill(x), generic.fill(x) + 1)
    else:
        x = torch.rand(3, special.num_variables, k, generator=gen).softmax(-1)
        assert torch.allclose(special.penalty(x), generic.penalty(x), rtol=1e-5)


def test_sudoku_solves_through_the_generic_batch():
    grids = torch.stack([p.clues for p in read_puzzles(str(ROOT / "puzzles" / "4x4.txt"))])
    config = SolverConfig(steps=200, lr=0.2, restarts=2, deduce="none", weight_step=0.0)  # both: the plain model
    special, generic = solve(SudokuBatch.from_grids(grids), config), solve(sudoku_constraints(grids), config)
    assert bool(special.found.all()) and bool(generic.found.all())
    assert torch.equal(special.solution, generic.solution + 1)  # same penalty, same noise, same trajectory


def test_solver_solves_small_instances_of_every_problem_and_records_verify():
    instances = [queens_instance(6), coloring_instance(petersen(), 3),
                 latin_instance(LatinPuzzle(1, torch.tensor([1, 0, 0, 0, 0, 0, 0, 0, 0])), "latin")]
    for instance in instances:
        results = solve(batch([instance]), SolverConfig(steps=300, lr=0.1, init_std=1.0, seed=0, weight_step=0.0))
        (record,) = instance_records(results, [instance], [0])
        assert record["found"] and record["verified"] and record["violations"] == 0, record


def test_unsolvable_instance_reports_broken_constraints():
    instance = coloring_instance(petersen(), 2)  # Petersen has odd cycles: not 2-colourable
    results = solve(batch([instance]), SolverConfig(steps=30, restarts=1, weight_step=0.0))
    (record,) = instance_records(results, [instance], [0])
    assert not record["found"] and not record["verified"] and record["violations"] > 0
    assert record["broken"][0].startswith("edge ")


def test_classic_graphs_and_their_chromatic_numbers():
    assert (petersen().num_vertices, petersen().edges.shape[0], chromatic_number(petersen())) == (10, 15, 3)
    m3, m4 = myciel(3), myciel(4)
    assert (m3.num_vertices, m3.edges.shape[0], chromatic_number(m3), clique_number(m3)) == (11, 20, 4, 2)
    assert (m4.num_vertices, m4.edges.shape[0]) == (23, 71)


def test_shipped_graphs_are_what_the_generator_writes():
    for path in sorted((ROOT / "puzzles" / "graphs").glob("*.col")):
        graph = parse_dimacs(path.read_text(), path.stem)
        assert graph.chromatic_number is not None
        assert colorable(graph, graph.chromatic_number) is not None
        # χ is a lower bound too: a clique of that size, or no colouring with one colour less
        assert clique_number(graph) == graph.chromatic_number or colorable(graph, graph.chromatic_number - 1) is None
    petersen_file = parse_dimacs((ROOT / "puzzles" / "graphs" / "petersen.col").read_text())
    assert torch.equal(petersen_file.edges, petersen().edges)
    assert parse_dimacs(to_dimacs(myciel(4))).edges.shape == (71, 2)


@pytest.mark.parametrize("text, reason", [
    ("e 1 2\n", "edge before"),
    ("p edge 3 1\ne 1 4\n", "outside 1..3"),
    ("p edge 3 1\ne 2 2\n", "self-loop"),
    ("p edge x 1\n", "expected 'p edge"),
    ("c only comments\n", "no 'p edge"),
    ("p edge 3 1\nq 1 2\n", "unknown line type"),
    ("p edge 3 1\np edge 3 1\n", "second 'p'"),
])
def test_bad_dimacs_is_one_line_error(text, reason):
    with pytest.raises(ProblemFileError, match=reason) as error:
        parse_dimacs(text)
    assert "\n" not in str(error.value)


def test_latin_formats_and_errors():
    one_line, grid = parse_latin("1..2\n\n1 . .\n. . 1\n. 1 .\n")
    assert (one_line.side, grid.side, grid.line) == (2, 3, 3)
    assert grid.clues.tolist() == [1, 0, 0, 0, 0, 1, 0, 1, 0]
    for text, reason in [("12345\n", "not a square"), ("11..\n", "appears twice in row 1"),
                         ("1..x\n", "bad character 'X'"), ("# nothing\n", "no puzzles")]:
        with pytest.raises(ProblemFileError, match=reason):
            parse_latin(text)


@settings(max_examples=40, deadline=None)
@given(random_specs(), st.integers(0, 2**31 - 1))
def test_weighted_penalty_is_zero_exactly_on_valid_assignments_whatever_the_weights(spec, seed):
    """The solver judges a weighted run's samples by their weighted penalty being 0 (``solver._judge``): positive
    breakout weights, large or small, must not move a hard assignment's penalty off 0 or onto it."""
    problem = build(spec)
    batch_ = ConstraintBatch.from_specs([problem])
    free = (problem.fixed < 0).nonzero().flatten()
    gen = torch.Generator().manual_seed(seed)
    for values in all_assignments(spec["v"], spec["k"]):
        if not torch.equal(values[problem.fixed >= 0], problem.fixed[problem.fixed >= 0]):
            continue
        x = one_hot(values[free], spec["k"]).unsqueeze(0)
        terms = batch_.terms(x, one_hot=True)[0]
        weights = torch.exp(torch.empty(terms.shape).uniform_(-7, 7, generator=gen))  # 1e-3 .. 1e3
        assert (float(batch_.penalty(x, weights)[0, 0]) == 0) == brute_force_valid(spec, values.tolist())


def test_weighted_sudoku_penalty_is_zero_exactly_on_solutions():
    """The same for Sudoku's own penalty: a solution and one digit changed, under weights from 1e-3 to 1e3."""
    puzzle = read_puzzles(str(ROOT / "puzzles" / "4x4.txt"))[0]
    batch_ = SudokuBatch.from_grids(puzzle.clues.unsqueeze(0))
    solution = solve(batch_, SolverConfig(steps=500, seed=0)).solution[0]
    digits = solution.flatten()[puzzle.clues.flatten() == 0] - 1
    wrong = digits.clone()
    wrong[0] = (wrong[0] + 1) % 4
    x = one_hot(torch.stack([digits, wrong]), 4)
    for scale in (1e-3, 1.0, 1e3):
        weights = torch.full(batch_.terms(x[:1])[0].shape, scale)
        value = batch_.penalty(x, weights)[:, 0]
        assert float(value[0]) == 0 and float(value[1]) > 0
