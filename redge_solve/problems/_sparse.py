"""Sparse products of a batch of samples, shared by the Sudoku and the generic constraint penalties."""

from __future__ import annotations

from torch import Tensor


def side_by_side(matrix: Tensor, x: Tensor) -> Tensor:
    """``matrix @ x_s`` for every sample s of ``x`` ``(S, F, N)``: ``(S, rows, N)`` from ONE sparse product over the
    ``(F, S·N)`` matrix of the samples side by side (each column of the product is computed as alone). One sample:
    no copy into a wide matrix (the paper's protocol has one sample)."""
    count, width = x.shape[0], x.shape[-1]
    if count == 1:
        return (matrix @ x[0].contiguous()).unsqueeze(0)
    wide = x.permute(1, 0, 2).reshape(x.shape[1], count * width)
    return (matrix @ wide).view(-1, count, width).transpose(0, 1)
