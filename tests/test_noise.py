"""KeyedNoise: the counter-based generator behind batch-invariant solving.

Checks its marginals (uniform range/moments, normal and Gumbel moments), independence across rows, steps, draws
and samples (correlations within a few 1/sqrt(n)), reproducibility, and that a row's stream depends on its key
alone: not on the other rows, their order, or the number of samples drawn.
"""

from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from redge_solve.estimators._noise import KeyedNoise, gumbel, key_tensor, mix, mix_tensor, normal, uniform

DT = torch.float64


def keyed(rows: int = 64, seed: int = 0) -> KeyedNoise:
    return KeyedNoise(key_tensor(seed, torch.arange(rows)))


def corr(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten() - a.mean(), b.flatten() - b.mean()
    return float((a * b).sum() / (a.norm() * b.norm()))


def test_mix_tensor_matches_scalar_mix():
    values = [0, 1, 2, 12345, 2**31 - 1, 2**31, 2**32 - 1, 0x9E3779B1]
    as_int32 = torch.tensor([v - 2**32 if v >= 2**31 else v for v in values], dtype=torch.int64).to(torch.int32)
    got = mix_tensor(as_int32).to(torch.int64) & 0xFFFFFFFF
    assert got.tolist() == [mix(v) for v in values]


def test_uniform_range_and_moments():
    u = keyed(256).uniform((64, 256, 8), DT)
    n = u.numel()
    assert u.shape == (64, 256, 8) and u.dtype == DT
    assert float(u.min()) > 0 and float(u.max()) < 1
    assert abs(float(u.mean()) - 0.5) < 5 * math.sqrt(1 / 12 / n)
    assert abs(float(u.var()) - 1 / 12) < 5 * math.sqrt(1 / 180 / n)  # Var of (U−½)² is 1/180
    hist = torch.histc(u.float(), bins=10, min=0, max=1) / n
    assert (hist - 0.1).abs().max() < 5 * math.sqrt(0.09 / n)


@pytest.mark.parametrize("width", [1, 3, 9])
def test_normal_moments(width):
    noise = keyed(512)
    like = torch.empty(128, 512, width, dtype=DT)
    z = normal(like, noise)
    n = z.numel()
    assert z.shape == like.shape and z.dtype == DT
    assert abs(float(z.mean())) < 5 / math.sqrt(n)
    assert abs(float(z.var()) - 1) < 5 * math.sqrt(2 / n)
    assert abs(float((z**4).mean()) - 3) < 5 * math.sqrt(96 / n)  # kurtosis of N(0, 1); Var(Z⁴) = 96
    # the two Box-Muller halves are uncorrelated with each other
    if width > 1:
        assert abs(corr(z[..., 0], z[..., 1])) < 5 / math.sqrt(z[..., 0].numel())


def test_gumbel_moments():
    g = gumbel(torch.empty(64, 512, 4, dtype=DT), keyed(512))
    n = g.numel()
    assert abs(float(g.mean()) - 0.5772156649) < 5 * math.sqrt(math.pi**2 / 6 / n)
    assert abs(float(g.var()) - math.pi**2 / 6) < 0.05


# ------------------------------------------------------------------- full laws: Kolmogorov–Smirnov, fixed seed
KS_FALSE_ALARM = 1e-4  # as the estimators' law tests: the rate at which a correct generator would fail on other seeds


def solver_stream(rows: int = 4096, seed: int = 3) -> KeyedNoise:
    """A stream as the solver holds one: keyed rows, at step 1 (``next_step`` before the first draw)."""
    noise = keyed(rows, seed)
    noise.next_step()
    return noise


def ks_pvalue(draws: torch.Tensor, law: str, *args: float) -> float:
    return float(stats.kstest(draws.flatten().double().numpy(), law, args=args).pvalue)


def keyed_draws(kind: str, dtype: torch.dtype) -> tuple[torch.Tensor, str]:
    """130 000 to 330 000 draws of one kind from a solver-like stream, and the scipy name of their law. Width 9
    (Sudoku's) is odd, so the normals' two Box-Muller halves have different widths."""
    noise, like = solver_stream(), torch.empty(8, 4096, 9, dtype=dtype)
    if kind == "uniform":
        return noise.uniform(like.shape, dtype), "uniform"
    if kind == "uniform-rows":  # one number per row and sample: what the categorical samplers draw
        return torch.cat([noise.uniform((8, 4096, 1), dtype) for _ in range(9)]), "uniform"
    if kind == "uniform-split":
        return noise.uniform_split((8, 4096, 10), dtype, 2), "uniform"
    if kind == "normal-cos":  # the first half of the columns: R cos(2πV)
        return normal(like, noise)[..., :5], "norm"
    if kind == "normal-sin":  # the second half: R sin(2πV)
        return normal(like, noise)[..., 5:], "norm"
    return gumbel(like, noise), "gumbel_r"


# float32 takes both conversions (in place for a wide draw, the plain one for rows-only draws); float64 the plain one
KINDS = [(kind, torch.float32) for kind in ("uniform", "uniform-rows", "uniform-split", "normal-cos", "normal-sin",
                                             "gumbel")] + [("uniform", torch.float64)]


@pytest.mark.parametrize("kind,dtype", KINDS, ids=[f"{kind}-{str(dtype)[6:]}" for kind, dtype in KINDS])
def test_keyed_draws_follow_their_full_law(kind, dtype):
    # the Kolmogorov–Smirnov test against the whole CDF (not only the moments above), at a fixed seed; the same
    # draws 3 % off in scale are rejected, so the test can fail
    draws, law = keyed_draws(kind, dtype)
    assert draws.dtype == dtype and draws.numel() >= 100_000
    assert ks_pvalue(draws, law) > KS_FALSE_ALARM, f"{kind} {dtype}: p = {ks_pvalue(draws, law):.2g}"
    centre = 0.5 if law == "uniform" else 0.0
    assert ks_pvalue((draws - centre) * 1.03 + centre, law) < KS_FALSE_ALARM


def test_keyed_normals_are_independent_across_the_two_box_muller_halves_and_samples():
    # sums of two independent N(0, 1) are N(0, 2): a cos column with a sin column, and sample 0 with sample 1 (a
    # correlation ρ would make the variance 2 + 2ρ, which the KS test sees for |ρ| > ~0.03 at this size)
    z = normal(torch.empty(8, 4096, 9), solver_stream())
    assert ks_pvalue(z[..., 0] + z[..., 5], "norm", 0.0, 2**0.5) > KS_FALSE_ALARM  # R cos θ and R sin θ
    assert ks_pvalue(z[0] + z[1], "norm", 0.0, 2**0.5) > KS_FALSE_ALARM


def test_independence_across_rows_steps_draws_samples_and_columns():
    noise = keyed(4096)
    a = noise.uniform((4, 4096, 2), DT)
    b = noise.uniform((4, 4096, 2), DT)  # the next draw in the same step
    noise.next_step()
    c = noise.uniform((4, 4096, 2), DT)  # first draw of the next step
    tol = 5 / math.sqrt(4096 * 2)
    assert abs(corr(a[0], b[0])) < tol  # draws
    assert abs(corr(a[0], c[0])) < tol  # steps
    assert abs(corr(a[0], a[1])) < tol  # samples
    assert abs(corr(a[0, :-1], a[0, 1:])) < tol  # neighbouring rows (consecutive keys)
    assert abs(corr(a[..., 0], a[..., 1])) < 5 / math.sqrt(4 * 4096)  # columns
    assert not torch.equal(a, b) and not torch.equal(a, c)
    # different seeds in the key give different, uncorrelated streams
    d = keyed(4096, seed=1).uniform((4, 4096, 2), DT)
    assert abs(corr(a, d)) < 5 / math.sqrt(a.numel())


def test_reproducible_for_same_keys_and_step():
    def draws(noise: KeyedNoise) -> list[torch.Tensor]:
        out = [noise.uniform((3, 10, 5), DT), normal(torch.empty(3, 10, 5, dtype=DT), noise)]
        noise.next_step()
        return out + [noise.uniform((10, 4), DT)]

    for x, y in zip(draws(keyed(10)), draws(keyed(10)), strict=True):
        assert torch.equal(x, y)
    # constructing at a given step resumes that step's streams
    later = keyed(10)
    later.next_step()
    resumed = KeyedNoise(key_tensor(0, torch.arange(10)), step=1)
    assert torch.equal(later.uniform((10, 4), DT), resumed.uniform((10, 4), DT))


def test_rows_invariant_to_batch_composition_order_and_sample_count():
    keys = key_tensor(7, torch.arange(20), 3)
    full = KeyedNoise(keys)
    u_full = full.uniform((6, 20, 9), DT)
    z_full = normal(torch.empty(6, 20, 9, dtype=DT), full)

    keep = torch.zeros(20, dtype=torch.bool)
    keep[[0, 4, 5, 17]] = True
    sub = KeyedNoise(keys).select(keep)
    assert torch.equal(sub.uniform((6, 4, 9), DT), u_full[:, keep])
    assert torch.equal(normal(torch.empty(6, 4, 9, dtype=DT), sub), z_full[:, keep])

    perm = torch.randperm(20, generator=torch.Generator().manual_seed(0))
    assert torch.equal(KeyedNoise(keys[perm]).uniform((6, 20, 9), DT), u_full[:, perm])

    # fewer samples: the first ones are unchanged; (R, K') is sample 0
    assert torch.equal(KeyedNoise(keys).uniform((2, 20, 9), DT), u_full[:2])
    assert torch.equal(KeyedNoise(keys).uniform((20, 9), DT), u_full[0])


def test_select_keeps_the_step():
    keys = key_tensor(1, torch.arange(8))
    noise = KeyedNoise(keys)
    noise.next_step()
    noise.next_step()
    keep = torch.tensor([True, False] * 4)
    ref = KeyedNoise(keys, step=2).uniform((3, 8, 2), DT)
    assert torch.equal(noise.select(keep).uniform((3, 4, 2), DT), ref[:, keep])


def test_draws_made_in_blocks_of_steps_equal_draws_made_step_by_step(monkeypatch):
    # a small batch's one-number-per-row draws come from blocks of several steps (``_row_uniforms``): the same
    # numbers as step by step, through in-place use of a draw, a second draw in a step, wide draws between, both
    # dtypes, a select (new streams object) and a jump of the step
    import redge_solve.estimators._noise as noise_module

    keys = key_tensor(3, torch.arange(12))

    def run() -> list[torch.Tensor]:
        noise, out = KeyedNoise(keys), []
        for step in range(1, 41):
            noise.next_step()
            if step == 17:
                noise = noise.select(torch.arange(12) % 3 != 1)
            if step == 30:
                noise.step += 5
            first = noise.uniform((2, noise.keys.shape[0], 1), torch.float32)
            out.append(first.clone())
            first.mul_(0.0)  # the caller's to change: later draws must not see it
            out.append(noise.uniform((noise.keys.shape[0], 1), DT))
            if step % 7 == 0:
                out.append(noise.uniform((noise.keys.shape[0], 3), DT))
        return out

    blocked = run()
    monkeypatch.setattr(noise_module, "BLOCK_NUMBERS", 0)
    for got, want in zip(blocked, run(), strict=True):
        assert got.shape == want.shape and got.dtype == want.dtype and torch.equal(got, want)


def test_key_tensor_broadcasts_and_distinguishes_parts():
    k = key_tensor(0, torch.arange(5)[:, None], torch.arange(3)[None, :])
    assert k.shape == (5, 3) and k.dtype == torch.int32
    assert k.unique().numel() == 15
    assert not torch.equal(key_tensor(0, torch.arange(5)), key_tensor(1, torch.arange(5)))
    assert not torch.equal(key_tensor(0, 1, torch.arange(5)), key_tensor(1, 0, torch.arange(5)))  # order matters


def test_shape_errors():
    noise = keyed(4)
    with pytest.raises(ValueError, match="row keys"):
        noise.uniform((2, 5, 3), DT)
    with pytest.raises(ValueError, match="KeyedNoise fills"):
        noise.uniform((2, 2, 4, 3), DT)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_dispatch_to_torch_generator_is_seeded(dtype):
    # seeded, and drawn in the dtype of ``like`` (float64 logits get float64 noise, not float32 noise promoted)
    like = torch.empty(3, 4, dtype=dtype)
    for draw in (lambda g: uniform((3, 4), like, g), lambda g: normal(like, g), lambda g: gumbel(like, g)):
        a, b = draw(torch.Generator().manual_seed(5)), draw(torch.Generator().manual_seed(5))
        assert torch.equal(a, b) and a.dtype == dtype
        assert draw(keyed(3)).dtype == dtype


def test_extreme_bit_patterns_stay_strictly_inside_the_unit_interval_in_float32():
    # regression: 24-bit uniforms rounded the top pattern to exactly 1.0 in float32, so Gumbel noise became +inf
    from redge_solve.estimators._noise import bits_to_uniform

    extremes = torch.tensor([0, -1, 2**31 - 1, -(2**31)], dtype=torch.int32)
    for dtype in (torch.float32, torch.float64):
        u = bits_to_uniform(extremes, dtype)
        assert bool((u > 0).all()) and bool((u < 1).all())
        assert bool(torch.isfinite(-(-u.log()).log()).all())


def test_float32_draws_equal_float64_draws_and_split_draws_equal_whole_ones():
    # float32 uniforms take a faster in-place conversion; (k + 1/2) / 2^23 is exact in both dtypes, so they agree
    # exactly. uniform_split is the same numbers, cut along the last axis; uniform returns a tensor of its own.
    for shape in [(3, 50, 10), (50, 10), (2, 50, 1)]:
        a, b, c = keyed(50, seed=4), keyed(50, seed=4), keyed(50, seed=4)
        for noise in (a, b, c):
            noise.next_step()
        u32, u64 = a.uniform(shape, torch.float32), b.uniform(shape, torch.float64)
        assert u32.dtype == torch.float32 and torch.equal(u32.double(), u64)
        assert u32._base is None and u64._base is None  # not views: safe for in-place work under autograd
        if shape[-1] % 2 == 0:
            halves = c.uniform_split(shape, torch.float32, 2)
            assert halves.shape == (2, *shape[:-1], shape[-1] // 2)
            assert torch.equal(torch.cat([halves[0], halves[1]], -1), u32)


def _reference_uniforms(keys: list[int], step: int, draw: int, samples: int | None, width: int) -> torch.Tensor:
    """The documented hash, one number at a time with the scalar ``mix`` on Python ints (32-bit words):
    draw word ``d = mix(mix(step · G) ^ draw)``, row ``r``: ``mix(key_r ^ d)``, sample s: ``mix(row ^ mix((s + 1) G))``,
    column k (only when the last axis is wider than 1): ``mix(sample word ^ mix((k + 1) C))``; then the top 23 bits
    as ``(b + ½) / 2²³``. G = 0x9E3779B1, C = 0x85EBCA77."""
    golden, column = 0x9E3779B1, 0x85EBCA77
    d = mix(mix(step * golden) ^ draw)
    out = []
    for s in range(samples or 1):
        rows = []
        for key in keys:
            word = mix(mix((key & 0xFFFFFFFF) ^ d) ^ mix((s + 1) * golden))
            words = [word] if width == 1 else [mix(word ^ mix((k + 1) * column)) for k in range(width)]
            rows.append([((w >> 9) & 0x7FFFFF) + 0.5 for w in words])
        out.append(rows)
    values = torch.tensor(out, dtype=torch.float64) / 2**23
    return values if samples is not None else values[0]


@pytest.mark.parametrize("shape", [(3, 4, 5), (4, 5), (2, 4, 1), (4, 1)])
def test_keyed_uniforms_are_the_documented_hash(shape):
    # pins every part of the stream: the step, the draw counter within a step (two draws differ), the sample and
    # column words, and the rows-only path for a last axis of 1
    keys = key_tensor(7, torch.arange(4))
    noise = KeyedNoise(keys, step=2)
    samples = shape[0] if len(shape) == 3 else None
    for draw in range(3):
        got = noise.uniform(shape, torch.float64)
        assert torch.equal(got, _reference_uniforms(keys.tolist(), 2, draw, samples, shape[-1])), draw
    noise.next_step()
    assert torch.equal(noise.uniform(shape, torch.float64), _reference_uniforms(keys.tolist(), 3, 0, samples,
                                                                                  shape[-1]))


@pytest.mark.parametrize("width", [4, 5])
def test_keyed_normals_are_the_box_muller_pairs_of_the_keyed_uniforms(width):
    # the stream is pinned (a run's results depend on it): one draw of 2·⌈K'/2⌉ uniforms, u the first half of the
    # columns and v the second; column j < ⌈K'/2⌉ is √(−2 log u_j) cos(2π v_j), and column ⌈K'/2⌉ + j the sine of
    # the same pair (for odd K' the last sine is not used)
    keys = key_tensor(9, torch.arange(6))
    half = (width + 1) // 2
    uniforms = KeyedNoise(keys, step=3).uniform((2, 6, 2 * half), DT)
    u, v = uniforms[..., :half], uniforms[..., half:]
    radius, angle = (-2 * u.log()).sqrt(), 2 * math.pi * v
    expected = torch.cat([radius * angle.cos(), (radius * angle.sin())[..., : width - half]], -1)
    got = normal(torch.empty(2, 6, width, dtype=DT), KeyedNoise(keys, step=3))
    assert torch.allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_keys_of_any_integer_dtype_give_the_same_noise():
    # key parts and row keys given as int32 or int64 tensors hash the same way as Python ints
    parts = [5, 2**31 - 3, 40_000]
    as_ints = key_tensor(parts[0], parts[1], parts[2])
    for dtype in (torch.int32, torch.int64):
        assert torch.equal(key_tensor(*[torch.tensor(p, dtype=dtype) for p in parts]), as_ints)
    small = [5, 200, 7]  # narrow dtypes too: the part is widened before it is multiplied (no wrap at 8 or 16 bits)
    for dtype in (torch.uint8, torch.int16):
        assert torch.equal(key_tensor(*[torch.tensor(p, dtype=dtype) for p in small]), key_tensor(*small))
    keys = key_tensor(1, torch.arange(6))
    for dtype in (torch.float32, torch.float64):  # float32 draws take the in-place path through int32 scratch
        wide = KeyedNoise(keys.to(torch.int64), step=1).uniform((2, 6, 3), dtype)
        assert torch.equal(wide, KeyedNoise(keys, step=1).uniform((2, 6, 3), dtype))
