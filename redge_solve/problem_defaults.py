"""The solver settings of the constraint-problem commands (``latin``, ``queens``, ``color``, ``solve``), importable
without torch so that a command's ``--help`` shows them at once. Each problem module re-exports its own
(``problems.latin.LATIN_DEFAULTS`` ...); all start from ``settings.CONSTRAINT_DEFAULTS``."""

from __future__ import annotations

from dataclasses import replace

from .settings import CONSTRAINT_DEFAULTS

COLOR_DEFAULTS = replace(CONSTRAINT_DEFAULTS, init_std=1.0, max_logit=3.0, weight_step=0.05, restarts=32, samples=2,
                         reset_every=0, steps=10000)
"""The ``color`` command's solver settings: ST at lr 0.2 from random initial logits (std 1), with bounded logits
(centred, clipped to ±(3 + ln K)) and breakout weights on the edges and clique groups (0.05 per step of a term the
mode breaks), 32 restarts × 2 samples, no fresh starts, 10000 steps (early stop ends a run at its first colouring).

What was measured to choose them: docs/coloring.md."""

WARM_START = 3.0
"""The fewest-colours search's warm start: the logit offset each vertex's colour in the colouring before gets at the
next K (``runs.color_search.warm_start``; 0: every K from random logits alone). Measured: docs/coloring.md, "Warm
starts"."""

LATIN_DEFAULTS = replace(CONSTRAINT_DEFAULTS, init_std=1.0)
"""The ``latin`` command's solver settings: the product defaults with random initial logits (measured: docs/problems.md,
"Why these defaults")."""

QUEENS_DEFAULTS = replace(CONSTRAINT_DEFAULTS, lr=0.2, init_std=1.0)
"""The ``queens`` command's solver settings: random initial logits (std 1), which break the symmetry between rows that
uniform logits start from, at lr 0.2 (measured: docs/problems.md, "Why these defaults")."""

SPEC_DEFAULTS = replace(CONSTRAINT_DEFAULTS)
"""The ``solve`` command's solver settings (the product defaults)."""
