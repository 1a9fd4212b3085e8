"""Where estimators get their randomness: a ``torch.Generator`` (or None: the global one), or ``KeyedNoise``.

``KeyedNoise`` is counter-based: every random number is a hash of (a per-row key, the step, a draw counter within
the step, the sample index, the position along the last axis). A row's noise therefore depends on its own key
alone, never on which other rows share the batch: a puzzle's trajectory is the same whether it is solved alone, in
a chunk of 7 or of 1000, on another worker, or after other puzzles have left the batch. On CPU (2 threads, 57k × 9
draws, 2026-11-23) Gaussian noise costs about 2.5× ``torch.randn`` (5.4 ms against 2.2 ms), Gumbel noise a sixth of
torch's exponential-based draw (2.2 ms against 15.7 ms), and rows-only draws (categorical sampling) are cheap.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

_M1, _M2 = 0x7FEB352D, 0x846CA68B  # lowbias32 multipliers (C. Wellons)
_GOLDEN = 0x9E3779B1


def _signed(value: int) -> int:
    """A 32-bit pattern as the int32 that holds it."""
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def mix(x: int) -> int:
    """``lowbias32`` on a Python int (the scalar twin of ``mix_tensor``)."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * _M1) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * _M2) & 0xFFFFFFFF
    return x ^ (x >> 16)


def mix_tensor(x: Tensor) -> Tensor:
    """``lowbias32`` on int32 tensors: multiplication wraps mod 2³², shifts are made logical by masking."""
    return _mix_(x.clone(), torch.empty_like(x))


def _mix_(x: Tensor, scratch: Tensor) -> Tensor:
    """``mix_tensor`` in place on ``x`` (contiguous int32), with ``scratch`` (same shape) for the shifted copies."""
    torch.bitwise_right_shift(x, 16, out=scratch).bitwise_and_(0xFFFF)
    x.bitwise_xor_(scratch).mul_(_signed(_M1))
    torch.bitwise_right_shift(x, 15, out=scratch).bitwise_and_(0x1FFFF)
    x.bitwise_xor_(scratch).mul_(_signed(_M2))
    torch.bitwise_right_shift(x, 16, out=scratch).bitwise_and_(0xFFFF)
    return x.bitwise_xor_(scratch)


def key_tensor(*parts: Tensor | int) -> Tensor:
    """One int32 key per element from integer parts (broadcast), e.g. (seed, puzzle id, restart, cell)."""
    key = torch.zeros((), dtype=torch.int32)
    for part in parts:
        part = torch.as_tensor(part, dtype=torch.int64)
        bits = (part * _GOLDEN) & 0xFFFFFFFF
        key = mix_tensor(key ^ torch.where(bits >= 1 << 31, bits - (1 << 32), bits).to(torch.int32))
    return key


class KeyedNoise:
    """Counter-based noise for tensors shaped ``(S, R, K')`` or ``(R, K')``, where the R rows carry keys.

    keys: int32 ``(R,)`` (e.g. from ``key_tensor(seed, puzzle_id, restart, cell)``).
    Call ``next_step()`` once per optimisation step; draws within a step are numbered.
    """

    def __init__(self, keys: Tensor, step: int = 0) -> None:
        self.keys = keys.to(torch.int32)
        self.step = step
        self._draw = 0
        self._blocks: dict[tuple[int, int, torch.dtype], tuple[int, Tensor]] = {}  # see ``_row_uniforms``

    def next_step(self) -> None:
        self.step += 1
        self._draw = 0

    def select(self, keep: Tensor) -> "KeyedNoise":
        """The same streams for the kept rows only (bool ``(R,)``, or their indices), at the same step."""
        rows = keep.nonzero().squeeze(1) if keep.dtype == torch.bool else keep
        return KeyedNoise(self.keys.index_select(0, rows), self.step)

    def _row_bits(self, samples: int, rows: int, steps: int = 1) -> Tensor:
        """The bits of this draw, one per (sample, row): ``(S, R)``, or ``(steps, S, R)`` for the same draw at
        this step and the ``steps − 1`` next ones (``steps`` > 1). Counts the draw."""
        if rows != self.keys.shape[0]:
            raise ValueError(f"KeyedNoise has {self.keys.shape[0]} row keys, asked for {rows} rows")
        draws = [_signed(mix(mix(step * _GOLDEN) ^ self._draw)) for step in range(self.step, self.step + steps)]
        self._draw += 1
        if steps == 1:
            per_row = _mix_(self.keys ^ draws[0], torch.empty_like(self.keys))
            bits = per_row ^ _key_vector(samples, _GOLDEN, per_row.device).unsqueeze(1)  # (S, R)
        else:
            per_step = torch.tensor(draws, dtype=torch.int32, device=self.keys.device).unsqueeze(1)
            per_row = _mix_(self.keys ^ per_step, torch.empty(steps, rows, dtype=torch.int32, device=per_step.device))
            bits = per_row.unsqueeze(1) ^ _key_vector(samples, _GOLDEN, per_row.device).unsqueeze(1)  # (T, S, R)
        return _mix_(bits, torch.empty_like(bits))

    def _row_uniforms(self, shape: tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """``uniform(shape)`` for a draw of one number per (sample, row), ``shape`` ``(S, R, 1)`` or ``(R, 1)``
        (categorical sampling). Where that is at most ``BLOCK_NUMBERS`` numbers, the draw is made for up to
        ``BLOCK_STEPS`` steps at once (the same numbers: each is a hash of its own counters) and the next steps
        take theirs from that block. A small batch's step is mostly the fixed cost of its calls (the hash is 20
        of them), so its draw costs one copy instead; a large batch draws step by step as before. On CPU only: on a
        GPU the calls queue without waiting, and a block's step counters (a host list) would be copied to the device
        from pageable memory, which waits for the device."""
        samples, rows = (shape[0] if len(shape) == 3 else 1), shape[-2]
        steps = min(BLOCK_STEPS, BLOCK_NUMBERS // max(samples * rows, 1))
        if steps <= 1 or self.keys.device.type != "cpu":
            return bits_to_uniform(self._row_bits(samples, rows).view(shape), dtype)
        key = (self._draw, samples, dtype)
        first, block = self._blocks.get(key, (0, None))
        if block is None or block.shape[2] != rows or not first <= self.step < first + block.shape[0]:
            first, block = self.step, bits_to_uniform(self._row_bits(samples, rows, steps), dtype)
            self._blocks[key] = first, block
        else:
            self._draw += 1
        return block[self.step - first].view(shape).clone()  # a tensor of its own (``uniform``)

    def uniform(self, shape: torch.Size | tuple[int, ...], dtype: torch.dtype) -> Tensor:
        """U(0, 1) with 23 random bits (never exactly 0 or 1, also in float32), shaped ``(S, R, K')`` or ``(R, K')``.

        A tensor of its own, not a view: callers may work on it in place, even with operands that need gradients
        (in place on a view, autograd would copy the whole base in the backward pass).
        """
        return self.uniform_split(shape, dtype, 1)

    def uniform_split(self, shape: torch.Size | tuple[int, ...], dtype: torch.dtype, parts: int) -> Tensor:
        """``uniform(shape)`` cut along its last axis into ``parts`` equal slices, stacked first and contiguous:
        ``(parts, *shape[:-1], K' / parts)``, ``[j, ..., k]`` = ``uniform(shape)[..., j * K' / parts + k]``
        (``parts = 1``: just ``uniform(shape)``, without the leading axis).

        The same numbers as ``uniform``; each slice is a contiguous tensor (elementwise math on a strided slice
        of the last axis is several times slower on CPU).
        """
        if len(shape) not in (2, 3):
            raise ValueError(f"KeyedNoise fills (S, R, K') or (R, K') tensors, not {tuple(shape)}")
        samples, width = (shape[0] if len(shape) == 3 else 1), shape[-1]
        if width == 1 and parts == 1:
            return self._row_uniforms(tuple(shape), dtype)
        rows = self._row_bits(samples, shape[-2]).view(*shape[:-1], 1)  # (S, R, 1) or (R, 1)
        columns = _key_vector(width, _COLUMN_MULTIPLIER, rows.device)
        if parts > 1:
            columns = columns.view(parts, *[1] * (rows.dim() - 1), width // parts)
        bits = rows ^ columns  # the only two allocations of the draw: bits and one scratch tensor
        scratch = torch.empty_like(bits)
        return bits_to_uniform(_mix_(bits, scratch), dtype, scratch)


def bits_to_uniform(bits: Tensor, dtype: torch.dtype, scratch: Tensor | None = None) -> Tensor:
    """Uniforms in (0, 1) from the top 23 of 32 random bits: ``(k + ½) / 2²³``.

    23 bits, not 24: ``(2²⁴ − ½) / 2²⁴`` is not a float32 and rounds to exactly 1.0, whose ``log`` is 0 and whose
    Gumbel transform is +inf (a NaN in the logits a few steps later). The extremes here are 2⁻²⁴ and 1 − 2⁻²⁴.

    With ``scratch`` (an int32 tensor shaped like ``bits`` that the caller owns, as ``bits`` itself) and float32,
    the work is done in place and the result lands in the scratch's memory: no new tensor.
    """
    if scratch is None or dtype != torch.float32:
        return (bits >> 9).bitwise_and_(0x7FFFFF).to(dtype).add_(0.5).mul_(1.0 / 8388608.0)
    bits.bitwise_right_shift_(9).bitwise_and_(0x7FFFFF)
    return scratch.view(torch.float32).copy_(bits).add_(0.5).mul_(1.0 / 8388608.0)


BLOCK_NUMBERS, BLOCK_STEPS = 1 << 18, 32
"""``KeyedNoise._row_uniforms``: draws of at most this many numbers a step are made for several steps at once (at
most ``BLOCK_STEPS``, at most ``BLOCK_NUMBERS`` numbers together: 1 MiB of float32)."""

_COLUMN_MULTIPLIER = 0x85EBCA77
_KEY_VECTORS: dict[tuple[int, int, torch.device], Tensor] = {}


def _key_vector(count: int, multiplier: int, device: torch.device) -> Tensor:
    """int32 ``[mix((k + 1) · multiplier) for k < count]``, cached: the keys of samples and of columns."""
    if (count, multiplier, device) not in _KEY_VECTORS:
        keys = [_signed(mix((k + 1) * multiplier)) for k in range(count)]
        _KEY_VECTORS[count, multiplier, device] = torch.tensor(keys, dtype=torch.int32, device=device)
    return _KEY_VECTORS[count, multiplier, device]


Generator = torch.Generator | KeyedNoise | None


def _draw_device(like: Tensor, generator: Generator) -> torch.device:
    """Where a ``torch.Generator`` draws: its own device (a CPU generator for CUDA logits draws on the CPU and the
    noise is moved, so a seed gives the same stream on every device); the global generator draws on ``like``'s."""
    return generator.device if isinstance(generator, torch.Generator) else like.device


def uniform(shape: torch.Size | tuple[int, ...], like: Tensor, generator: Generator) -> Tensor:
    if isinstance(generator, KeyedNoise):
        return generator.uniform(shape, like.dtype).to(like.device)
    draw = torch.rand(shape, generator=generator, device=_draw_device(like, generator), dtype=like.dtype)
    return draw.to(like.device)


def normal(like: Tensor, generator: Generator) -> Tensor:
    """Standard normal noise shaped like ``like`` (Box-Muller on keyed uniforms, both halves used)."""
    if not isinstance(generator, KeyedNoise):
        draw = torch.randn(like.shape, generator=generator, device=_draw_device(like, generator), dtype=like.dtype)
        return draw.to(like.device)
    width = like.shape[-1]
    half = (width + 1) // 2
    u, v = generator.uniform_split((*like.shape[:-1], 2 * half), like.dtype, 2)  # columns :half, half:
    radius = u.log_().mul_(-2.0).sqrt_()
    angle = v.mul_(2 * math.pi)
    out = torch.empty(like.shape, dtype=like.dtype, device=radius.device)
    torch.mul(radius, angle.cos(), out=out[..., :half])
    rest = width - half  # sin on the whole contiguous half, then cut (a strided slice is ~8x slower)
    torch.mul(radius[..., :rest], angle.sin_()[..., :rest], out=out[..., half:])
    return out.to(like.device)


def gumbel(like: Tensor, generator: Generator) -> Tensor:
    """Gumbel(0, 1) noise shaped like ``like``."""
    if isinstance(generator, KeyedNoise):
        return generator.uniform(like.shape, like.dtype).log_().neg_().log_().neg_().to(like.device)
    exponential = torch.empty(like.shape, device=_draw_device(like, generator), dtype=like.dtype)
    return -exponential.exponential_(generator=generator).to(like.device).log()
