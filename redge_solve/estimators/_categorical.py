"""Sampling one-hot vectors from row-wise categorical laws, and the ReinMax backward shared by two estimators."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ._noise import Generator, uniform
from ._softmax import row_sums, softmax, spread_along_rows


def _thresholds(probs: Tensor, generator: Generator, num_samples: int | None) -> tuple[Tensor, Tensor]:
    """The CDF ``(..., K)`` of ``probs`` and one uniform threshold per draw on its scale, ``(..., 1)`` (or
    ``(S, ..., 1)`` for ``num_samples`` S): the draw is the first value whose CDF entry reaches its threshold."""
    probs = probs.detach()
    cdf = probs.cumsum(-1)
    shape = probs.shape[:-1] + (1,) if num_samples is None else (num_samples, *probs.shape[:-1], 1)
    return cdf, uniform(shape, probs, generator).mul_(cdf[..., -1:])


def sample_index(probs: Tensor, generator: Generator = None, num_samples: int | None = None) -> Tensor:
    """Indices ``(...)`` drawn from ``Cat(probs)`` along the last axis, by inverting the CDF of one uniform: the
    number of CDF entries below the threshold (what a binary search would find; at K ≤ 25 one comparison pass is as
    fast). One uniform per row instead of K Gumbel draws; rows need not be normalised exactly (the CDF is rescaled).
    ``num_samples`` S: S draws from the one law ``probs``, ``(S, ...)``, the same numbers as drawing from ``probs``
    expanded to ``(S, *probs.shape)``, with the CDF computed once.
    """
    cdf, threshold = _thresholds(probs, generator, num_samples)
    return (cdf < threshold).sum(-1).clamp_(max=probs.shape[-1] - 1)


def one_hot_like(index: Tensor, like: Tensor) -> Tensor:
    """One-hot of ``index`` with the shape, dtype and device of ``like``."""
    return torch.zeros_like(like).scatter_(-1, index.unsqueeze(-1), 1.0)


def one_hot_argmax(x: Tensor) -> Tensor:
    """One-hot of ``x.argmax(-1)`` (the first maximum on ties; a NaN row marks its first NaN), with the shape and
    dtype of ``x``. Two passes and no host synchronisation (the solver takes the mode every step). The index is
    ``max``'s, which returns the first maximum as ``argmax`` does (both documented) and on CPU takes half the time
    at K = 9 (1.4 against 2.6 ms for 41k rows). On a large CPU batch without a NaN or infinite maximum it is
    ``_first_max_one_hot`` (the same numbers, faster; one host read, which on CPU waits for nothing)."""
    x = x.detach()
    hot = _first_max_one_hot(x)
    return one_hot_like(x.max(-1).indices, x) if hot is None else hot


def _first_max_one_hot(x: Tensor) -> Tensor | None:
    """The one-hot of each row's first maximum over the last axis (``argmax``'s, bit for bit) on a CPU batch of
    ``FIRST_MAX_FROM`` to 2²⁴ entries without a NaN or infinite maximum; else None (the caller takes ``max``'s
    first index for the whole batch).

    ``max`` with its indices over rows of K = 9 is a slow reduction on CPU (0.70 ms for 60k rows, two threads),
    ``amax`` a quarter of it; a comparison with each row's maximum broadcast along the row runs a scalar loop, so
    the maximum is first spread to ``(N, K)`` by a BLAS outer product with ones (exact: times 1) and compared
    contiguously, written as floats. Every row has at least one entry equal to its maximum unless the maximum is
    NaN, so the marks number exactly N when each row has one: their sum (integers below 2²⁴, exact in float32),
    plus 0 × the maxima's sum (NaN when a maximum is NaN or infinite), read once on the host (on CPU it waits for
    nothing). More marks than rows: the rows with two or more (a per-row count, a matrix-vector product) take
    ``max``'s first index, row by row. Sudoku's modes have ties on the first step after a fresh start (1 % of a
    forum-hardest run's steps), colouring's on about 500 of 32000 rows most steps. Two threads: 0.37 against 0.70
    ms at 60k rows × 9 without ties; in the solver 0.49 against 0.82 ms a step at 4 forum-hardest puzzles × 256
    restarts, 0.41 against 0.58 ms on a colouring of G(1000, 10⁴) at K = 8 (32 restarts, with its ties).
    A version reverted on 2026-12-03 (dbe898e) counted each row's marks at every call and gave up on any tie."""
    entries = x.numel()
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or not (
            FIRST_MAX_FROM <= entries <= 1 << 24) or not x.is_contiguous():
        return None
    rows, k = entries // x.shape[-1], x.shape[-1]
    flat = x.view(rows, k)
    top = flat.amax(-1, keepdim=True)
    spread = spread_along_rows(top, k)
    hot = torch.eq(flat, spread, out=spread)
    marks = float(hot.sum() + top.sum() * 0)
    if marks != rows:
        if not math.isfinite(marks):  # a NaN or infinite maximum somewhere
            return None
        tied = (row_sums(hot).view(-1) > 1).nonzero().squeeze(1)  # rows with more than one mark
        ties = flat.index_select(0, tied)
        hot.index_copy_(0, tied, one_hot_like(ties.max(-1).indices, ties))
    return hot.view(x.shape)


FIRST_MAX_FROM = 32768
"""Fewer entries than this: ``max`` and a scatter (three calls against six or more, where a step is mostly the cost of
calls: 32 against 46 µs at 2000 rows × 9, two threads; even at 4000 × 9)."""


def sample_one_hot(probs: Tensor, generator: Generator = None, num_samples: int | None = None) -> Tensor:
    """A detached one-hot sample from ``Cat(probs)`` row-wise, shaped like ``probs`` (``num_samples`` S: S of
    them from the one law, ``(S, *probs.shape)``): ``one_hot_like(sample_index(...))``, the same numbers, made from
    the comparison itself. ``reached_k = [CDF_k ≥ threshold]`` is 0 … 0 1 … 1 along a row (the last entry forced to
    1, as ``sample_index`` clamps), and its first difference is the one-hot of the first 1: two passes instead of
    a search, a zero fill and a scatter (2.0 against 3.7 ms for 2 samples of 28k rows at K = 9). The comparison
    writes floats and the difference goes into a new tensor: no conversion or clone pass (1.5 against 2.7 ms CPU,
    the same sizes, interleaved on a loaded machine). The difference is one pass over the whole tensor as one flat
    vector (an elementwise pass over rows of K = 9 works a vector of 8 and a scalar tail per row), whose first entry
    of each row, reached_0 − 1 (the previous row's last entry is 1), is then overwritten with reached_0 (a column:
    1/K of the entries): 1.8 against 2.3 ms for 2 samples of 57k rows, one thread, against the row-by-row
    difference of a zero-padded layout."""
    cdf, threshold = _thresholds(probs, generator, num_samples)
    if cdf.device.type == "cpu" and cdf.dtype in (torch.float32, torch.float64):  # compared contiguously
        spread = spread_along_rows(threshold, cdf.shape[-1])
        reached = torch.ge(cdf, spread, out=spread)  # as floats
    else:
        reached = torch.ge(cdf, threshold, out=cdf.new_empty(threshold.shape[:-1] + cdf.shape[-1:]))
    reached[..., -1] = 1.0
    flat, one_hot = reached.view(-1), torch.empty_like(reached)
    torch.sub(flat[1:], flat[:-1], out=one_hot.view(-1)[1:])
    one_hot[..., 0] = reached[..., 0]
    return one_hot


def straight_through(sample: Tensor, soft: Tensor) -> Tensor:
    """Forward value ``sample``, backward the identity into ``soft``: ``sample + soft - soft.detach()``. ``soft``
    may also be one law ``(*shape)`` shared by samples ``(S, *shape)`` (broadcast: its gradient sums the samples')."""
    return _StraightThrough.apply(sample, soft)


class _StraightThrough(torch.autograd.Function):
    """``sample + (soft − sg(soft))`` without its two elementwise passes: the forward is ``sample`` itself (a
    view), the backward hands the incoming gradient to ``soft`` unchanged (and to ``sample`` if it needs one). For
    a ``soft`` shared by S samples it hands on their sum: for two (the solver's default) one add, half the time of
    torch's sum over the sample axis (0.34 against 0.73 ms for 2 × 245k rows of 9, two threads) and without the
    expand's autograd node; the same numbers up to the sign of a zero (the sum starts from +0: −0 + −0 gives −0
    here, +0 there; the softmax backward and Adam then give the same logits, checked bit for bit)."""

    @staticmethod
    def forward(ctx, sample: Tensor, soft: Tensor) -> Tensor:  # type: ignore[override]
        ctx.shared = sample.dim() - soft.dim()  # leading sample axes that share ``soft`` (0 or 1 here)
        return sample.view_as(sample)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        soft = grad
        if ctx.shared == 1 and grad.shape[0] == 2:
            soft = torch.add(grad[0], grad[1])
        elif ctx.shared:
            soft = grad.sum(tuple(range(ctx.shared)))
        return (grad if ctx.needs_input_grad[0] else None), soft


def covariance_product(probs: Tensor, g: Tensor) -> Tensor:
    """``Σ_p g = p ⊙ g − p (p·g)`` row-wise, i.e. ``(diag p − p pᵀ) g`` without forming the matrix."""
    pg = probs * g
    return pg - probs * pg.sum(-1, keepdim=True)


class _ReinMaxBackward(torch.autograd.Function):
    """Forward: the given one-hot sample X ~ Cat(softmax(logits)). Backward (ReinMax, Liu et al. 2023):

        ∇_θ ≈ 2 Σ_{π'} g − ½ Σ_p g,   p = softmax(θ),  π' = ½ (softmax(θ/τ) + X),

    which for τ = 1 equals ½ [Σ_p g + ((X − p)·g)(X − p)] = ½ [p ⊙ (g − g_X) + (g_X − p·g) X], with g_X the
    entry of g at the sampled category: one row sum and a gather instead of two covariance products.
    """

    @staticmethod
    def forward(ctx, logits: Tensor, sample: Tensor, index: Tensor, probs: Tensor, tau: float):  # type: ignore[override]
        ctx.save_for_backward(logits, index, probs)
        ctx.tau = tau
        return sample.view_as(sample)

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        logits, index, probs = ctx.saved_tensors
        if ctx.tau == 1.0:
            index = index.unsqueeze(-1)
            g_sample = g.gather(-1, index)
            scale = g_sample - (probs * g).sum(-1, keepdim=True)  # (X − p)·g
            grad = (g - g_sample).mul_(probs).scatter_add_(-1, index, scale).mul_(0.5)
            return grad, None, None, None, None
        tempered = (logits / ctx.tau).softmax(-1)
        shifted = 0.5 * (tempered + F.one_hot(index, probs.shape[-1]).to(probs.dtype))
        grad = 2.0 * covariance_product(shifted, g) - 0.5 * covariance_product(probs, g)
        return grad, None, None, None, None


def reinmax_one_hot(logits: Tensor, sample: Tensor, tau: float = 1.0, probs: Tensor | None = None,
                    index: Tensor | None = None) -> Tensor:
    """``sample`` in the forward pass; the ReinMax gradient with respect to ``logits`` in the backward pass.

    probs, index: ``softmax(logits)`` and the sample's category indices when the caller has them already.
    """
    sample = sample.detach()
    probs = softmax(logits.detach()) if probs is None else probs.detach()
    index = sample.argmax(-1) if index is None else index
    return _ReinMaxBackward.apply(logits, sample, index, probs, float(tau))
