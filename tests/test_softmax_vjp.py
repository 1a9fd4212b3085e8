"""``softmax_vjp``: column sums on CPU for few categories; else torch's private softmax-backward kernel when it
works, the public formula when it is missing, has another signature or computes something else; every path gives
autograd's gradient, and so do the estimators."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from redge_solve.estimators import _softmax, make_estimator
from redge_solve.estimators._noise import KeyedNoise, key_tensor
from redge_solve.estimators._softmax import softmax_vjp


@pytest.fixture
def private_kernel(monkeypatch):
    """Replace ``torch._softmax_backward_data`` (``None`` removes it) and re-run the probe."""

    def use(kernel):
        if kernel is None:
            monkeypatch.delattr(torch, "_softmax_backward_data")
        else:
            monkeypatch.setattr(torch, "_softmax_backward_data", kernel)
        _softmax._private_kernel.cache_clear()

    yield use
    _softmax._private_kernel.cache_clear()


def _changed_signature(grad, out, dim, dtype):
    raise TypeError("_softmax_backward_data() takes 3 positional arguments but 4 were given")


def _other_meaning(grad, out, dim, dtype):
    return grad * out  # runs, but is not the softmax's backward


def _autograd_vjp(x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (result,) = torch.autograd.grad(x.softmax(-1), x, grad)
    return result


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 6), st.integers(2, 9), st.integers(0, 2**31 - 1))
def test_both_paths_give_autograds_gradient(rows, categories, seed):
    gen = torch.Generator().manual_seed(seed)
    x = 3 * torch.randn(rows, categories, dtype=torch.float64, generator=gen)
    grad = torch.randn(rows, categories, dtype=torch.float64, generator=gen)
    out = x.softmax(-1)
    expected = _autograd_vjp(x, grad)
    torch.testing.assert_close(softmax_vjp(grad, out), expected)
    torch.testing.assert_close(_softmax._public_vjp(grad, out), expected)


@pytest.mark.parametrize("kernel", [None, _changed_signature, _other_meaning],
                         ids=["missing", "changed signature", "other meaning"])
def test_a_private_kernel_that_does_not_work_is_replaced_by_the_formula(kernel, private_kernel):
    x = torch.randn(5, 9, dtype=torch.float64)
    grad = torch.randn(5, 9, dtype=torch.float64)
    private_kernel(kernel)
    assert _softmax._private_kernel() is None
    torch.testing.assert_close(softmax_vjp(grad, x.softmax(-1)), _autograd_vjp(x, grad))


@pytest.mark.parametrize("name, params", [("redge", {"n_steps": 4}), ("redge-max", {"n_steps": 3}),
                                          ("redge-cov", {"n_steps": 4}), ("st", {})])
def test_the_estimators_gradients_are_the_same_on_the_fallback(name, params, private_kernel):
    categories = _softmax.COLUMN_VJP_BELOW + 4  # enough categories for the kernel's path

    def gradient() -> torch.Tensor:
        logits = torch.randn(30, categories, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
        noise = KeyedNoise(key_tensor(1, torch.arange(30)))
        noise.next_step()
        target = torch.randn(30, categories, generator=torch.Generator().manual_seed(1))
        out = make_estimator(name, **params).surrogate(lambda x: (x * target).sum((-1, -2)), logits, 3, noise)
        (grad,) = torch.autograd.grad(out.loss, logits)
        return grad

    assert _softmax._private_kernel() is not None  # this torch has a working kernel: the fast path is in use
    fast = gradient()
    private_kernel(_changed_signature)
    torch.testing.assert_close(gradient(), fast, rtol=1e-5, atol=1e-6)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 40), st.integers(1, _softmax.COLUMN_VJP_BELOW - 1), st.integers(0, 2**31 - 1))
def test_the_column_sums_give_the_gradient_in_a_fixed_order(extra_rows, categories, seed):
    """Few categories and many rows on CPU: the column path, equal to autograd's gradient, and bit for bit to the
    sum taken left to right in float32 (the order that makes it the same on every CPU)."""
    gen = torch.Generator().manual_seed(seed)
    rows = _softmax.COLUMN_VJP_FROM // 2 + extra_rows  # two samples of them: at least COLUMN_VJP_FROM rows
    x = 3 * torch.randn(2, rows, categories, generator=gen)
    grad = torch.randn(2, rows, categories, generator=gen)
    out = x.softmax(-1)
    result = softmax_vjp(grad, out)
    torch.testing.assert_close(result, _autograd_vjp(x, grad))
    total = torch.zeros(2, rows)
    for k in range(categories):
        total = total + out[..., k] * grad[..., k]
    assert torch.equal(result, out * (grad - total.unsqueeze(-1)))
