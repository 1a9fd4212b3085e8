"""Softmax over the last axis, faster on CPU for a few categories.

torch's CPU kernel for the last axis works row by row: with K = 9 (Sudoku) a row is one vector of 8 and a scalar
tail, plus two horizontal reductions, 1.3 ms for 57k rows. Without the per-row max shift,

    softmax(x) = exp(x) / Σ_k exp(x_k),

it is three whole-tensor passes (exp, the row sums as a product with a ones vector, a division), 0.6 ms. The shift
only guards the range of exp. When every row sum lies in [1e-30, 1e30], nothing overflowed and the terms of a row
reach the subnormal range only below 1e-8 of its sum, with an absolute error under 2⁻¹⁴⁹ / 1e-30 ≈ 1e-15: the result
equals torch's up to rounding. Otherwise (large logits) we try once more with one shift for the whole tensor,
``exp(x − max x)``, which cannot overflow; if a row still sums below 1e-30 (a row ~69 nats under the tensor's max),
or anything is NaN or inf, it is ``torch.softmax``. Off the CPU it is always torch's.
"""

from __future__ import annotations

import functools
import math
from typing import Callable

import torch
from torch import Tensor

SUM_RANGE = (1e-30, 1e30)


def softmax(x: Tensor) -> Tensor:
    """``x.softmax(-1)`` (same values up to rounding; the backward is torch's softmax backward)."""
    return _Softmax.apply(x) if x.requires_grad and torch.is_grad_enabled() else _values(x)


def _values(x: Tensor) -> Tensor:
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or x.numel() == 0:
        return x.softmax(-1)
    exp = _exp(x)
    sums = row_sums(exp)
    low, high = torch.aminmax(sums)
    if SUM_RANGE[0] <= float(low) and float(high) <= SUM_RANGE[1]:  # False for NaN
        return exp.div_(sums)
    top = float(x.max())
    if math.isfinite(top):
        exp = _exp(x - top)
        sums = row_sums(exp)
        if float(sums.min()) >= SUM_RANGE[0]:
            return exp.div_(sums)
    return x.softmax(-1)


FAST_EXP_FLOOR, ZERO_EXP_CEILING = -87.0, -104.0
"""float32: ``exp(x)`` is a normal number for x ≥ −87 and exactly 0 for x ≤ −104 (the subnormals lie between)."""


def _exp(x: Tensor) -> Tensor:
    """``x.exp()`` bit for bit, without torch's slow path for arguments whose exp underflows: on an AVX-512 CPU
    (torch 2.13) an entry below about −87 costs 25–70× a normal one (6.5 ms against 0.2 ms for 270k entries at −1e4),
    on an AVX2 one 11–38× (500k entries, one thread: 0.64 ms at −87, 24 ms at −90, 9 ms at −1e4), and the solver's
    excluded values sit at −1e4 (``solver.EXCLUDED_LOGIT``), about half of a Sudoku's logits after
    the pre-step. Such entries are exactly 0 below −104; the few in [−104, −87) are computed apart.

    There is no test first for whether any entry lies below −87: where none does, the mask is all ones and the
    clamp changes nothing, so the result is ``x.exp()`` again (the same kernel on the same numbers, times 1). The
    solver's Sudoku logits always hold excluded values, so the test was one more pass and host read in every call
    (two a step)."""
    if x.dtype != torch.float32 or x.numel() == 0:
        return x.exp()
    fast = torch.ge(x, FAST_EXP_FLOOR, out=torch.empty_like(x))  # 1.0 or 0.0 (0 for NaN, whose exp stays NaN · 0)
    # times the mask rather than masked_fill_ (the same bits, +0 included; 0.5 against 2.1 ms for 41k × 9), a mask
    # written as floats: a boolean one is converted at every multiplication (a pass over the tensor)
    exp = x.clamp(min=FAST_EXP_FLOOR).exp_().mul_(fast)
    # the mask is spent: the test below is written into its memory, warm in the cache (0.47 against 0.52 ms a call)
    if not float(torch.sub(x, BETWEEN_MIDDLE, out=fast).abs_().amin()) >= BETWEEN_HALF_WIDTH:  # in (−104, −87), NaN
        between = (x < FAST_EXP_FLOOR) & (x > ZERO_EXP_CEILING)
        exp[between] = x[between].exp()
    return exp


BETWEEN_MIDDLE, BETWEEN_HALF_WIDTH = (FAST_EXP_FLOOR + ZERO_EXP_CEILING) / 2, (FAST_EXP_FLOOR - ZERO_EXP_CEILING) / 2
"""x lies in (−104, −87) exactly when |x + 95.5| < 8.5. In float32 the test is exact: for x in [−128, −64] both x
and 95.5 are multiples of 2⁻¹⁷, and so is their sum, at most 32.5 in magnitude, where floats are spaced 2⁻¹⁸ at most:
the sum is not rounded. Outside that range the sum is at least 31.5 from 0 whatever the rounding. A NaN makes the
min NaN, and then the exact boolean test runs (a diverged batch: rare). One float pass and a min instead of two
boolean comparisons, an and and a boolean any(): on an AVX2 CPU (torch 2.13) a comparison that writes booleans
costs 2–3× one that writes floats, and a boolean any() 10× a float min (1.2 against 6.3 ms for 2M entries, one
thread), so this test took half of ``_exp``."""


def spread_along_rows(column: Tensor, width: int) -> Tensor:
    """``column`` ``(..., 1)`` repeated along a new last axis of ``width`` as a contiguous ``(..., width)`` tensor of
    its own: a BLAS outer product with ones (exact: times 1; +0 for −0), so that an elementwise operation with it
    runs contiguously. On CPU an operand broadcast along rows of K = 8 or 9 makes torch run a scalar loop per row:
    a comparison of 2 × 60k rows × 9 with one threshold per row took 0.38 ms broadcast, 0.23 spread first (two
    threads)."""
    return (column.reshape(-1, 1) @ _ones(width, column.dtype).view(1, width)).view(*column.shape[:-1], width)


def row_sums(exp: Tensor) -> Tensor:
    """Σ_k over the last axis as a matrix-vector product (BLAS), ``(..., 1)``, for CPU tensors (the ones live there).
    Also counts the tied maxima of the mode's rows (``_categorical._first_max_one_hot``)."""
    return (exp.view(-1, exp.shape[-1]) @ _ones(exp.shape[-1], exp.dtype)).view(*exp.shape[:-1], 1)


@functools.cache
def _ones(count: int, dtype: torch.dtype) -> Tensor:
    """A ``(count, 1)`` column of ones on the CPU, made once (read only)."""
    return torch.ones(count, 1, dtype=dtype)


class _Softmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # type: ignore[override]
        out = _values(x.detach())
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g: Tensor):  # type: ignore[override]
        (out,) = ctx.saved_tensors
        return softmax_vjp(g, out)


def softmax_vjp(grad: Tensor, out: Tensor) -> Tensor:
    """The softmax's vector-Jacobian product over the last axis, given its output ``out = softmax(x)``:

        J g = out ⊙ (g − Σ_k out_k g_k)      (J = diag(out) − out outᵀ is symmetric, so also Jᵀ g).

    On CPU with fewer than ``COLUMN_VJP_BELOW`` categories and at least ``COLUMN_VJP_FROM`` rows, the row sum is
    taken column by column (``_column_vjp``); otherwise torch's own backward kernel (``torch._softmax_backward_data``,
    private: one fused pass) when it is there and gives this formula on a probe; else the formula with public
    operations (three passes)."""
    categories = out.shape[-1]
    if out.device.type == "cpu" and categories < COLUMN_VJP_BELOW and out.numel() >= COLUMN_VJP_FROM * categories:
        return _column_vjp(grad, out)
    kernel = _private_kernel()
    if kernel is not None:
        return kernel(grad, out, -1, out.dtype)
    return _public_vjp(grad, out)


COLUMN_VJP_BELOW = 16
"""Fewer categories than this: ``_column_vjp`` on CPU. torch's CPU softmax-backward kernel is slow on short rows
that are not whole vectors: one thread, 41k rows, it took 5.1 ms at K = 9 against 1.3 ms for the column sums; with
20k rows 0.45 ms at K = 16, 0.44 ms at K = 25, where the K − 1 column adds cost 2–6 ms (at K = 4 the columns win)."""


COLUMN_VJP_FROM = 2048
"""Fewer rows than this: torch's kernel, whose one call costs less than the K − 1 calls of the columns (one thread,
K = 9: 1.6 against 2.3 ms a solving step at 420 rows, where the step is mostly the cost of calls)."""


def _column_vjp(grad: Tensor, out: Tensor) -> Tensor:
    """``softmax_vjp`` with the row sum Σ_k out_k g_k as K − 1 whole-tensor adds of columns, in the order
    k = 0, 1, …, K − 1: an elementwise add rounds the same at any vector width, so these bits are the same on every
    CPU (a row reduction's are not: it splits the row by the CPU's vector width)."""
    product = out * grad
    total = product[..., 0].clone()
    for k in range(1, product.shape[-1]):
        total += product[..., k]
    spread = spread_along_rows(total.unsqueeze(-1), out.shape[-1])  # then subtracted contiguously, in place
    return torch.sub(grad, spread, out=spread).mul_(out)


def _public_vjp(grad: Tensor, out: Tensor) -> Tensor:
    return out * (grad - (out * grad).sum(-1, keepdim=True))


@functools.cache
def _private_kernel() -> Callable[..., Tensor] | None:
    """``torch._softmax_backward_data`` if it exists, takes ``(grad, out, dim, input_dtype)`` and computes the
    formula of ``softmax_vjp`` on a small probe; else None (its signature has changed before)."""
    kernel = getattr(torch, "_softmax_backward_data", None)
    if kernel is None:
        return None
    grad = torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.0, -3.0]], dtype=torch.float64)
    out = torch.tensor([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], dtype=torch.float64)
    try:
        probe = kernel(grad, out, -1, out.dtype)
    except (TypeError, RuntimeError, NotImplementedError, ValueError):
        return None
    ok = isinstance(probe, Tensor) and probe.shape == grad.shape and torch.allclose(probe, _public_vjp(grad, out))
    return kernel if ok else None
