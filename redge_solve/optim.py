"""Adam on one tensor of logits, as ``torch.optim.Adam`` computes it, without importing ``torch.optim``.

    m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,   θ ← θ − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

The step runs torch's fused kernel (``torch._fused_adam_``, what ``torch.optim.Adam(fused=True)`` calls: one pass)
where this torch has it for the device, else the same elementwise steps as torch's unfused Adam. Not
``torch.optim`` itself: its first use imports ``torch._dynamo``, about 2 s at the start of every process.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


class Adam:
    """Adam (β = (0.9, 0.999), ε = 1e-8) on ``logits``; ``step(grad)`` updates them in place."""

    BETA1, BETA2, EPS = 0.9, 0.999, 1e-8

    def __init__(self, logits: Tensor, lr: float, state: tuple[Tensor, Tensor, Tensor] | None = None) -> None:
        """Fresh (zero) moments and step count, or ``state``: ``(exp_avg, exp_avg_sq, steps)`` to continue from."""
        self.logits, self.lr = logits, lr
        if state is None:
            steps = torch.zeros((), dtype=torch.float32, device=logits.device)  # as torch keeps it for fusing
            state = (torch.zeros_like(logits), torch.zeros_like(logits), steps)
        self.exp_avg, self.exp_avg_sq, self.steps = state

    def select(self, logits: Tensor, keep: Tensor) -> "Adam":
        """The state of the kept rows (bool ``(F,)``, or their indices: ``index_select``, about 5× faster on CPU than
        a boolean index), continuing on ``logits`` (the kept logits)."""
        rows = keep.nonzero().squeeze(1) if keep.dtype == torch.bool else keep
        return Adam(logits, self.lr, (self.exp_avg.index_select(0, rows), self.exp_avg_sq.index_select(0, rows),
                                      self.steps.clone()))

    @torch.no_grad()
    def step(self, grad: Tensor) -> None:
        self.steps += 1
        if fused_adam_available(self.logits.device):
            _fused_step(self.logits, grad, self.exp_avg, self.exp_avg_sq, self.steps, self.lr)
            return
        step = float(self.steps)
        self.exp_avg.lerp_(grad, 1 - self.BETA1)
        self.exp_avg_sq.mul_(self.BETA2).addcmul_(grad, grad, value=1 - self.BETA2)
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(1 - self.BETA2**step)).add_(self.EPS)
        self.logits.addcdiv_(self.exp_avg, denom, value=-self.lr / (1 - self.BETA1**step))


def _fused_step(logits: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, steps: Tensor, lr: float) -> None:
    torch._fused_adam_([logits], [grad], [exp_avg], [exp_avg_sq], [], [steps], amsgrad=False, lr=lr,
                       beta1=Adam.BETA1, beta2=Adam.BETA2, weight_decay=0.0, eps=Adam.EPS, maximize=False)


_FUSED_ADAM: dict[torch.device, bool] = {}


def fused_adam_available(device: torch.device) -> bool:
    """Whether ``torch._fused_adam_`` runs on this device in this torch (CPU since torch 2.4), tried once. A
    private kernel: if it is missing or its signature changed (TypeError), the unfused steps are used."""
    if device not in _FUSED_ADAM:
        probe = torch.zeros(1, device=device)
        try:
            _fused_step(probe.clone(), probe, probe.clone(), probe.clone(), probe.clone(), 0.1)
            _FUSED_ADAM[device] = True
        except (AttributeError, RuntimeError, NotImplementedError, TypeError):
            _FUSED_ADAM[device] = False
    return _FUSED_ADAM[device]
