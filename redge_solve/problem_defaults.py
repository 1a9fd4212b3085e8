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

Measured on the DIMACS dev instances at K = χ (2-core CPU, 2026-12-01, docs/coloring.md): every one coloured, over 3
seeds. Before the bounded logits and edge weights (4 samples × 4 restarts, a fresh start every 500 steps), no setting
tried coloured queen6_6, queen7_7, queen8_8 or queen8_12 at χ: the softmax saturates at 1–4 monochromatic edges and
passes no gradient. Each piece alone is not enough (a stand-alone probe, queen6_6 at K = 7, 16 restarts, 1500 steps: 0
of 16 restarts with either, 2–4 with both); the bound grows with ln K because a = 5 without it failed mulsol.i.1 and
zeroin.i.1 at K = 49; a = 2.5 failed one of 3 seeds on mulsol.i.1 and queen8_8; with c = 5, 32 × 2 coloured queen8_8
at 9 in 4 of 4 seeds within 6000 steps, 16 × 4 in 4 of 4 but slower, 32 × 1 in 3 of 4; fresh starts every 500 steps
lose the weights learnt (probe: queen7_7 1 of 16 restarts against 4 without, queen8_8 0 against 2)."""

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
