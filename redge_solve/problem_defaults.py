"""The solver settings of the constraint-problem commands (``latin``, ``queens``, ``color``, ``solve``), importable
without torch so that a command's ``--help`` shows them at once. Each problem module re-exports its own
(``problems.latin.LATIN_DEFAULTS`` ...); all start from ``settings.CONSTRAINT_DEFAULTS``."""

from __future__ import annotations

from dataclasses import replace

from .settings import CONSTRAINT_DEFAULTS

COLOR_DEFAULTS = replace(CONSTRAINT_DEFAULTS, init_std=1.0)
"""The ``color`` command's solver settings: the product defaults with random initial logits. Measured on 2026-11-23
(2-core shared CPU, ST, 4 samples × 4 restarts, lr 0.2) on the four graphs of puzzles/graphs at their χ, 2 seeds:
first solved steps (geometric-40, myciel3, myciel4, petersen) 5/6/6/19 and 4/5/11/29 with random initial logits (std
1) against 7/2/18/41 and 12/2/13/43 from uniform logits, and 7/2/15/76 and 15/5/6/61 at lr 0.1. Kept after trying
the DIMACS dev instances (2026-12-01, docs/coloring.md): with the clique groups of ``coloring_spec`` they colour
every non-queen instance at χ within 240 steps; no setting tried (lr 0.05–1, fresh starts every 100/200/500 steps
or never, 16 restarts × 1 sample, 16 samples × 1 restart, init std 0 or 3, gumbel, reinmax, redge, redge-cov)
coloured queen6_6 or queen7_7 at χ = 7 in 2000 steps."""

LATIN_DEFAULTS = replace(CONSTRAINT_DEFAULTS, init_std=1.0)
"""The ``latin`` command's solver settings: the product defaults with random initial logits. Measured on 2026-11-23
(2-core shared CPU, ST, 4 samples × 4 restarts, lr 0.2) on puzzles/latin/squares.txt (4×4 to 7×7), 2 seeds: first
solved steps 19/40/62/60 and 15/33/55/69 with random initial logits (std 1) against 9/69/70/128 and 6/59/93/161 from
uniform logits, and 12/157/172/404 at lr 0.1."""

QUEENS_DEFAULTS = replace(CONSTRAINT_DEFAULTS, lr=0.2, init_std=1.0)
"""The ``queens`` command's solver settings. Measured (2-core CPU, ST, 4 samples × 4 restarts, reset every 500):
N = 16, 4 seeds: first solved step 239/63/66/198 with random initial logits (std 1) at lr 0.2, against
1086/1112/245/118 from uniform logits; N = 64, 2 seeds: 479/195 against 930/384. Random initial logits break
the symmetry between rows that uniform logits start from."""

SPEC_DEFAULTS = replace(CONSTRAINT_DEFAULTS)
"""The ``solve`` command's solver settings (the product defaults)."""
