"""The solver settings of the constraint-problem commands (``latin``, ``queens``, ``color``, ``solve``), importable
without torch so that a command's ``--help`` shows them at once. Each problem module re-exports its own
(``problems.latin.LATIN_DEFAULTS`` ...); all start from ``settings.CONSTRAINT_DEFAULTS``."""

from __future__ import annotations

from dataclasses import replace

from .settings import CONSTRAINT_DEFAULTS

COLOR_DEFAULTS = replace(CONSTRAINT_DEFAULTS, lr=0.5, init_std=1.0, max_logit=3.0, weight_step=0.05, restarts=32,
                         samples=2, reset_every=0, steps=10000)
"""The ``color`` command's solver settings: ST at lr 0.5 from random initial logits (std 1), with bounded logits
(centred, clipped to ±(3 + ln K)) and breakout weights on the edges and clique groups (0.05 per step of a term the
mode breaks), 32 restarts × 2 samples, no fresh starts, 10000 steps (early stop ends a run at its first colouring).

What was measured to choose them: docs/coloring.md (lr 0.5, 0.2 until 2026-12-05: "A larger learning rate")."""

WARM_START = 3.0
"""The fewest-colours search's warm start: the logit offset each vertex's colour in the colouring before gets at the
next K (``runs.color_search.warm_start``; 0: every K from random logits alone). Measured: docs/coloring.md, "Warm
starts"."""

RETRY_LENGTH = 4
"""The fewest-colours search with a time budget and without crossover (``--no-crossover``): each try again at a K
still open runs this many times the steps of its first try (40000 at the colouring defaults). The colourings at the
frontier K came late: DSJC250.1 at 8 colours (its best known) at step 24143 of a 40000-step try, queen11_11 at 12
at steps 24119 and 37468, where tries of 10000 steps had failed 3 and 16 times (``runs.color_search.fewest_colors``;
measured: docs/coloring.md, "Longer tries at the frontier K")."""

RETRY_COLD = 0.5
"""Without crossover, the share of the restarts of such a try again that start from random logits alone, not from
the colouring before (the rest are warm-started as the first try is): at queen11_11's frontier K (12) cold tries
found a colouring in 2 of 15 seeds and warm ones in 0 of 9, on DSJC250.1 at 8 warm tries in 1 of 3 and cold ones in
0 of 3; half and half keeps both (measured: docs/coloring.md, "Longer tries at the frontier K")."""

GENERATION_STEPS = 2000
"""The fewest-colours search with a time budget and crossover (the default): each try again at a K still open runs
this many steps, from the last try's restarts recombined (``runs.color_search.next_generation``), and the first try
at each K, from the warm start, as many (at most ``steps``). Measured: docs/coloring.md, "Crossover of the restarts"
and "A first try as long as a generation"."""

ELITE = 4
"""Of the restarts of a try, how many go on into the next from their own best modes; the others start from
crossovers (``runs.color_search.next_generation``)."""

LATIN_DEFAULTS = replace(CONSTRAINT_DEFAULTS, init_std=1.0)
"""The ``latin`` command's solver settings: the product defaults with random initial logits (measured: docs/problems.md,
"Why these defaults")."""

QUEENS_DEFAULTS = replace(CONSTRAINT_DEFAULTS, lr=0.2, init_std=1.0)
"""The ``queens`` command's solver settings: random initial logits (std 1), which break the symmetry between rows that
uniform logits start from, at lr 0.2 (measured: docs/problems.md, "Why these defaults")."""

SPEC_DEFAULTS = replace(CONSTRAINT_DEFAULTS)
"""The ``solve`` command's solver settings (the product defaults)."""
