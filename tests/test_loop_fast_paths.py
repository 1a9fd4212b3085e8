"""The loop's faster kernels give the very numbers of the plain ones (they must not change a result)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from redge_solve.estimators._softmax import _exp
from redge_solve.problems._sparse import side_by_side


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=-2e4, max_value=100, width=32), min_size=1, max_size=60),
       st.sampled_from([-1e4, -150.0, -104.0, -103.9, -95.0, -87.0, -86.9, 0.0]))
def test_exp_without_the_underflow_path_is_exp_bit_for_bit(values, extra):
    x = torch.tensor(values + [extra] * 7, dtype=torch.float32)
    assert torch.equal(_exp(x), x.exp())


def test_exp_keeps_nan_and_infinities():
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), -1e4, -100.0, 3.0])
    assert torch.equal(_exp(x).nan_to_num(7.0), x.exp().nan_to_num(7.0))


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 30), st.integers(1, 9), st.integers(0, 2**31 - 1))
def test_one_product_side_by_side_equals_one_product_per_sample_on_counts(samples, rows, width, seed):
    """What the penalties multiply forward: one-hot samples (integer sums, exact in any order)."""
    gen = torch.Generator().manual_seed(seed)
    matrix = torch.randint(0, 3, (rows + 3, rows), generator=gen).float().to_sparse_csr()
    x = torch.randint(0, 2, (samples, rows, width), generator=gen).float()
    assert torch.equal(side_by_side(matrix, x), torch.stack([matrix @ s for s in x]))


@pytest.mark.parametrize("samples", [2, 3, 8])
def test_sudoku_products_side_by_side_are_bit_identical_on_any_floats(samples):
    """The Sudoku backward multiplies weighted excesses (not integers) by Aᵀ: with N = 9 columns a sample, one
    product side by side rounds as the per-sample ones (checked here; the kernel's order can differ for narrower
    matrices, which the loop only feeds integers)."""
    from redge_solve.problems.sudoku import SudokuBatch

    grids = torch.zeros(3, 81, dtype=torch.long)
    grids[:, ::7] = torch.arange(1, 10).repeat(3, 2)[:, :12]
    matrix, transpose = SudokuBatch.from_grids(grids)._incidence
    gen = torch.Generator().manual_seed(samples)
    for product in (matrix, transpose):
        x = torch.randn(samples, product.shape[1], 9, generator=gen) * 3
        assert torch.equal(side_by_side(product, x), torch.stack([product @ s for s in x]))
