"""The reference solving loop: the authors' samplers (``redge==0.1.0``) driven like their Sudoku demo.

This is OUR reconstruction of the driving code of the authors' Sudoku experiment, not their file: their package
ships the samplers (``redge.SAMPLERS``) and we drive them the way the paper describes (Table 2 protocol):

* logits θ for all 81 cells of every puzzle, shape ``(B, 81, 9)``, initialised to zero (uniform);
* before every step the clues are clamped into the logits: a clue cell gets ``+CLUE_LOGIT`` on its digit and
  ``-CLUE_LOGIT`` elsewhere, so its samples are (numerically) always the clue;
* one sample per step: ``X = redge.SAMPLERS[name](logits=θ, **params)`` (one-hot forward, estimator backward);
* loss = Σ_puzzles Σ_units ||count_u(X) − 1||² over the 27 units (rows, columns, blocks) of every grid;
* ``torch.optim.Adam(lr=0.05)``.

Nothing here is taken from our package, so the loop measures the authors' code path alone.
"""

from __future__ import annotations

import torch
from torch import Tensor

CLUE_LOGIT = 50.0
"""Clamped clue logits: softmax puts ~e^-100 (≈ 0 in float32) on the non-clue digits."""

REFERENCE_NAMES = {
    "st": "st",
    "gumbel": "gumbel",
    "reinmax": "reinmax",
    "redge": "redge",
    "redge-max": "reindge",
    "redge-cov": "redge_cov",
}
"""Our estimator name -> the authors' ``redge.SAMPLERS`` key."""


def unit_counts(x: Tensor) -> Tensor:
    """Digit counts ``(B, 27, 9)`` of assignments ``x`` ``(B, 81, 9)``: 9 rows, 9 columns, 9 blocks."""
    grid = x.view(x.shape[0], 9, 9, 9)  # (B, row, col, digit)
    rows = grid.sum(2)
    cols = grid.sum(1)
    blocks = grid.view(x.shape[0], 3, 3, 3, 3, 9).sum((2, 4)).reshape(x.shape[0], 9, 9)
    return torch.cat([rows, cols, blocks], 1)


def penalty(x: Tensor) -> Tensor:
    """Σ_units ||count − 1||² per puzzle, ``(B,)``."""
    return (unit_counts(x) - 1).square().sum((1, 2))


class ReferenceLoop:
    """State of the reference loop for one batch; ``step()`` is one Adam step (what the benchmark times)."""

    def __init__(self, grids: Tensor, name: str, params: dict, lr: float = 0.05) -> None:
        import redge

        self.sampler = redge.SAMPLERS[REFERENCE_NAMES.get(name, name)]
        self.params = dict(params)
        grids = grids.long()
        self.clue_mask = grids != 0  # (B, 81)
        clue_onehot = torch.nn.functional.one_hot((grids - 1).clamp(min=0), 9).float()
        self.clue_logits = (2 * clue_onehot - 1) * CLUE_LOGIT  # (B, 81, 9)
        self.logits = torch.zeros(grids.shape[0], 81, 9, device=grids.device, requires_grad=True)
        self.optimizer = torch.optim.Adam([self.logits], lr=lr)

    def clamp_clues(self) -> None:
        with torch.no_grad():
            self.logits.copy_(torch.where(self.clue_mask.unsqueeze(-1), self.clue_logits, self.logits))

    def step(self) -> Tensor:
        self.clamp_clues()
        self.optimizer.zero_grad(set_to_none=True)
        x = self.sampler(logits=self.logits, **self.params)
        values = penalty(x)
        values.sum().backward()
        self.optimizer.step()
        return values.detach()


def run(grids: Tensor, name: str, params: dict, steps: int, lr: float = 0.05) -> Tensor:
    """``steps`` reference steps; returns the last step's per-puzzle penalties."""
    loop = ReferenceLoop(grids, name, params, lr)
    values = torch.empty(0)
    for _ in range(steps):
        values = loop.step()
    return values
