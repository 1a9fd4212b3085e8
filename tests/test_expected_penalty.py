"""``expected_penalty``: the closed-form E[f] under the mean-field law equals the expectation by enumeration, and
its gradient (the exact reference of ``compare --diagnose``) equals autograd through the enumerated expectation."""

import itertools

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from redge_solve.problems.constraints import ConstraintBatch, ConstraintSpec
from redge_solve.problems.sudoku import SudokuBatch, sudoku_constraints


@st.composite
def specs(draw):
    """Tiny instances whose groups may repeat a literal and hold two values of one variable, whose conflicts may
    pair a literal with itself or with another value of its variable (the cases a product formula gets wrong)."""
    v = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    lit = st.integers(0, v * k - 1)
    group = st.lists(lit, min_size=1, max_size=4)
    fixed = torch.full((v,), -1, dtype=torch.long)
    for var, value in draw(st.dictionaries(st.integers(0, v - 1), st.integers(0, k - 1), max_size=1)).items():
        fixed[var] = value
    conflicts = draw(st.lists(st.tuples(lit, lit), max_size=3))
    pair = st.tuples(st.integers(0, v - 1), st.integers(0, v - 1)).filter(lambda p: p[0] != p[1])
    differ = draw(st.lists(pair, max_size=3)) if v > 1 else []  # graph edges, a pair may be listed twice
    return ConstraintSpec.build(
        v, k, fixed=fixed, exactly_one=draw(st.lists(group, max_size=3)), at_most_one=draw(st.lists(group, max_size=3)),
        conflicts=torch.tensor(conflicts, dtype=torch.long).reshape(-1, 2),
        forbidden=torch.tensor(draw(st.lists(lit, max_size=2)), dtype=torch.long),
        differ=torch.tensor(differ, dtype=torch.long).reshape(-1, 2))


def enumerated(problem, probs: torch.Tensor, term_weights: torch.Tensor | None = None) -> torch.Tensor:
    """Σ_x Π_v p_v(x_v) f(x) over every one-hot assignment of the free variables: ``(F, K) -> (I,)``; with
    ``term_weights``, of the weighted penalty."""
    f, k = probs.shape
    assignments = list(itertools.product(range(k), repeat=f))
    values = torch.tensor(assignments, dtype=torch.long).view(len(assignments), f)
    onehots = torch.nn.functional.one_hot(values, k).to(probs.dtype)  # (A, F, K)
    weights = (onehots * probs).sum(-1).prod(-1)  # (A,)
    return (weights.unsqueeze(1) * problem.penalty(onehots, term_weights)).sum(0)


@settings(max_examples=60, deadline=None)
@given(st.lists(specs(), min_size=1, max_size=2), st.integers(0, 2**31 - 1))
def test_expected_penalty_equals_enumeration_and_so_does_its_gradient(instances, seed):
    k = max(s.num_categories for s in instances)
    batch = ConstraintBatch.from_specs([s.widen(k) for s in instances], dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    logits = (3 * torch.randn(batch.num_variables, k, generator=generator, dtype=torch.float64)).requires_grad_()
    probs = logits.softmax(-1)
    closed = batch.expected_penalty(probs)
    brute = enumerated(batch, probs)
    assert torch.allclose(closed, brute, atol=1e-9), (closed, brute)
    # with breakout weights on the terms (graph edges included), as the solver uses them
    term_weights = 1 + torch.rand(batch.weight_instance.shape[0], generator=generator, dtype=torch.float64)
    weighted = enumerated(batch, probs, term_weights)
    assert torch.allclose(batch.expected_penalty(probs, term_weights), weighted, atol=1e-9)
    if batch.num_variables:
        (exact,) = torch.autograd.grad(closed.sum(), logits, retain_graph=True)
        (want,) = torch.autograd.grad(brute.sum(), logits)
        assert torch.allclose(exact, want, atol=1e-9)


def test_expected_penalty_of_one_hot_probabilities_is_the_penalty():
    spec = ConstraintSpec.build(3, 2, exactly_one=[[0, 2, 4], [1, 3]], at_most_one=[[0, 1, 2, 2]],
                                conflicts=torch.tensor([[0, 3], [4, 4]]), forbidden=torch.tensor([5]))
    batch = ConstraintBatch.from_specs([spec])
    for values in ([0, 1, 0], [1, 1, 1]):
        x = torch.nn.functional.one_hot(torch.tensor(values), 2).float()
        assert torch.equal(batch.expected_penalty(x), batch.penalty(x.unsqueeze(0))[0])


def test_expected_penalty_of_a_sudoku_batch_equals_the_generic_one():
    grids = torch.tensor([[1, 0, 0, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0, 0, 0, 2], [0] * 16])
    generic = sudoku_constraints(grids, torch.float64)
    probs = torch.rand(generic.num_variables, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    probs = probs / probs.sum(-1, keepdim=True)
    mean = generic.expected_penalty(probs)
    relaxed = generic.penalty(probs.unsqueeze(0))[0]  # Σ_u ||E c_u − 1||²
    # E||c − 1||² = ||E c − 1||² + Σ Var(c_{u,k}), and Var of a cell's indicator is p(1 − p)
    variance = 3 * (probs * (1 - probs)).sum(-1)  # each free cell is in 3 units; per instance below
    by_instance = torch.zeros(2, dtype=torch.float64).index_add_(0, generic.var_instance, variance)
    assert torch.allclose(mean, relaxed + by_instance, atol=1e-9)
    specialised = SudokuBatch.from_grids(grids, torch.float64)  # the specialised form, from the hard-Sudoku work
    assert torch.allclose(specialised.expected_penalty(probs), mean, atol=1e-9)
