"""The Sudoku penalty's sparse product and hand-written gradient against a plain dense formula with autograd."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redge_solve.problems.sudoku import SudokuBatch, units_of_cells


def dense_counts(grids: torch.Tensor, batch: SudokuBatch, x: torch.Tensor) -> torch.Tensor:
    """Counts ``(S, I, 3N, N)`` the slow, obvious way: write every cell of every grid, add each unit's cells."""
    count, (instances, cells), side = x.shape[0], grids.shape, batch.side
    full = torch.zeros(count, instances, cells, side, dtype=x.dtype)
    full = full.index_put((torch.arange(count)[:, None], batch.var_instance[None], batch.var_cell[None]), x)
    clues = torch.nn.functional.one_hot((grids - 1).clamp(min=0), side).to(x.dtype) * (grids > 0).unsqueeze(-1)
    full = full + clues
    units = units_of_cells(side)
    counts = torch.zeros(count, instances, 3 * side, side, dtype=x.dtype)
    for j in range(3):
        counts = counts.index_add(2, units[:, j], full)
    return counts


@st.composite
def puzzles(draw):
    side = draw(st.sampled_from([4, 9]))
    instances = draw(st.integers(1, 3))
    digits = st.integers(0, side)
    grids = [[draw(digits) for _ in range(side * side)] for _ in range(instances)]
    grids[0][draw(st.integers(0, side * side - 1))] = 0  # at least one free cell
    return torch.tensor(grids)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(puzzles(), st.integers(1, 3), st.integers(0, 2**16))
def test_penalty_value_and_gradient_match_the_dense_formula(grids, samples, seed):
    batch = SudokuBatch.from_grids(grids, torch.float64)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(samples, batch.num_variables, batch.side, generator=gen, dtype=torch.float64)
    x.requires_grad_(True)
    weights = torch.randn(samples, batch.num_instances, generator=gen, dtype=torch.float64)
    counts = dense_counts(grids, batch, x)
    expected = (counts - 1).square().sum((2, 3))
    (expected_grad,) = torch.autograd.grad((expected * weights).sum(), x)
    value = batch.penalty(x)
    (grad,) = torch.autograd.grad((value * weights).sum(), x)
    torch.testing.assert_close(value, expected)
    torch.testing.assert_close(grad, expected_grad)
    torch.testing.assert_close(batch.unit_counts(x).view_as(counts), counts)


@pytest.mark.parametrize("side", [4, 9])
def test_penalty_of_one_hot_assignments_is_an_exact_integer(side):
    gen = torch.Generator().manual_seed(side)
    digits = torch.randint(0, side + 1, (5, side * side), generator=gen)
    grids = digits * (torch.rand(5, side * side, generator=gen) < 0.3)  # about 30 % clues, possibly clashing
    batch = SudokuBatch.from_grids(grids)
    index = torch.randint(0, side, (2, batch.num_variables), generator=gen)
    x = torch.nn.functional.one_hot(index, side).float()
    value = batch.penalty(x)
    assert torch.equal(value, value.round())
    assert torch.equal(value, dense_counts(grids, batch, x).sub(1).square().sum((2, 3)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(puzzles(), st.integers(0, 2**16))
def test_a_selected_batch_slices_the_cached_penalty_as_a_fresh_batch_builds_it(grids, seed):
    # select() carries the clue counts and both incidence matrices over, renumbered, instead of rebuilding them:
    # they must be the fresh sub-batch's, index for index (the same products, bit for bit), and select again
    batch = SudokuBatch.from_grids(grids.repeat_interleave(3, 0), torch.float64)
    keep = torch.rand(batch.num_instances, generator=torch.Generator().manual_seed(seed)) < 0.6
    keep[torch.randint(batch.num_instances, (1,), generator=torch.Generator().manual_seed(seed))] = True
    for _ in range(2):
        batch._incidence, batch._clue_counts, batch._clue_counts_less_one  # noqa: B018 (fill the caches)
        kept, fresh = batch.select(keep), SudokuBatch.from_grids(batch.grids[keep], torch.float64)
        for ours, theirs in zip(kept._incidence, fresh._incidence, strict=True):
            assert ours.shape == theirs.shape
            for part in ("crow_indices", "col_indices", "values"):
                assert torch.equal(getattr(ours, part)(), getattr(theirs, part)()), part
        assert torch.equal(kept._clue_counts, fresh._clue_counts)
        assert torch.equal(kept._clue_counts_less_one, fresh._clue_counts_less_one)
        batch, keep = kept, torch.arange(kept.num_instances) % 2 == 0


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sparse_product_into_ignores_what_out_held(dtype):
    """The penalties write their sparse products into fresh (uninitialised) tensors: whatever those held, NaN
    included, must not reach the product, which is torch.mm's to the bit."""
    import warnings

    from redge_solve.problems._sparse import sparse_product_into

    generator = torch.Generator().manual_seed(0)
    dense_matrix = torch.randn(7, 5, generator=generator, dtype=dtype) * (torch.rand(7, 5, generator=generator) < 0.4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta state"
        matrix = dense_matrix.to_sparse_csr()
    dense = torch.randn(5, 3, generator=generator, dtype=dtype)
    out = torch.full((7, 3), float("nan"), dtype=dtype)
    assert sparse_product_into(matrix, dense, out) is out
    assert torch.equal(out, torch.mm(matrix, dense))
