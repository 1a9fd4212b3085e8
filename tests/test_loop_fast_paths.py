"""The loop's faster kernels give the very numbers of the plain ones (they must not change a result)."""

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from redge_solve.estimators._softmax import _exp


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(min_value=-2e4, max_value=100, width=32), min_size=1, max_size=60),
       st.sampled_from([-1e4, -150.0, -104.0, -103.9, -95.0, -87.0, -86.9, 0.0]))
def test_exp_without_the_underflow_path_is_exp_bit_for_bit(values, extra):
    x = torch.tensor(values + [extra] * 7, dtype=torch.float32)
    assert torch.equal(_exp(x), x.exp())


def test_exp_keeps_nan_and_infinities():
    x = torch.tensor([float("nan"), float("inf"), -float("inf"), -1e4, -100.0, 3.0])
    assert torch.equal(_exp(x).nan_to_num(7.0), x.exp().nan_to_num(7.0))
