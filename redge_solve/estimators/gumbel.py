"""Gumbel-Softmax straight-through (Jang et al., 2017; Maddison et al., 2017).

    y = softmax((θ + G) / τ),  G_k i.i.d. Gumbel(0, 1);   forward onehot(argmax y) ~ Cat(p),   backward through y.

Smaller τ: less bias, more variance (the relaxation tends to the argmax map).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ._categorical import one_hot_argmax, straight_through
from ._noise import Generator, gumbel
from ._softmax import softmax
from .base import Estimator, check_positive


@dataclass(frozen=True)
class GumbelSoftmax(Estimator):
    tau: float = 0.5

    name: ClassVar[str] = "gumbel"
    summary: ClassVar[str] = "Gumbel-Softmax ST: argmax forward, softmax((θ+G)/τ) backward"

    def __post_init__(self) -> None:
        check_positive("tau", self.tau)

    def _sample(self, logits: Tensor, generator: Generator) -> Tensor:
        soft = softmax(torch.add(logits, gumbel(logits, generator)).div_(self.tau))
        return straight_through(one_hot_argmax(soft.detach()), soft)
