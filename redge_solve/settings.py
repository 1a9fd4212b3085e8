"""The settings of a solving run, importable without torch (so ``--help`` can show the defaults in a blink).

``SolverConfig`` is every knob of the solving loop (``solver.py``); ``DEFAULTS`` are Sudoku's, measured per
difficulty band (docs/hard-sudoku.md); ``CONSTRAINT_DEFAULTS`` the base of the other problems'; ``paper_protocol``
the paper's Table 2 with every extra knob switched off.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from .estimators import Estimator

DEDUCTION_LEVELS = ("none", "candidates", "singles")
"""Sudoku's exact pre-step. none: the model is a categorical over all N digits in every free cell (the paper's).
candidates: the digits a free cell's row, column and block already hold are removed from it. singles: candidates,
then naked and hidden singles placed until none is left (each placement removes candidates from its units)."""

MAX_LR = 1e37
"""Adam moves a logit by at most lr / (1 - β1) = 10 lr per step: above this the first step overflows float32."""


@dataclass(frozen=True)
class SolverConfig:
    """Settings of one solving run. The defaults are the product's, chosen by measurement (see README)."""

    # Sudoku's defaults, measured per difficulty band (benchmarks/bench_hard.py; docs/hard-sudoku.md): the exact
    # pre-step (candidates + singles), then ST (sampling at temperature 0.3: ``DEFAULTS``, below; the dataclass
    # keeps the estimator's own parameters) with 2 samples x 8 restarts at lr 0.3, breakout weights 0.01 and a
    # fresh start every 500 steps, the restarts of puzzles still unsolved growing to 256; early stop keeps easy
    # puzzles cheap, 100000 steps give the hardest time (measured at temperature 1: band 6-8.5 91 % in 10000
    # steps, 97 % in 20000, 100 % of 214 with the growing restarts; the 4 of 80 forum-hardest puzzles still
    # unsolved at 20000 fell at steps 21396, 22312, 31302 and 46359; of the 7 of 574 whole forum collections
    # unsolved at 50000, 5 fell by step 100000, a 6th at 101905).
    estimator: str = "st"
    params: Mapping[str, float | int] = field(default_factory=dict)
    steps: int = 100000
    samples: int = 2
    restarts: int = 8
    lr: float = 0.3
    early_stop: bool = True
    seed: int = 0
    init_std: float = 0.0  # std of Gaussian initial logits, keyed per (seed, puzzle, restart, cell); 0: uniform
    reset_every: int = 500  # every this many steps, unsolved puzzles restart from fresh logits and Adam state; 0: never
    deduce: str = "singles"  # exact pre-step where the problem has one (Sudoku: none, candidates, singles)
    # breakout: each step, every penalty term's weight grows by this times the mode's term; 0: off. Sudoku's terms are
    # its units' digit counts; a constraint problem's are its groups, conflicts and each differ pair (graph edge)
    weight_step: float = 0.01
    max_seconds: float | None = None  # wall-clock budget of the run: unsolved puzzles stop when it is spent
    # more restarts for the puzzles that take long: at every `growth_period`-th fresh start the restarts of the
    # puzzles still unsolved double, up to this many; 0 (or <= restarts): always `restarts`. A schedule by step only,
    # so a puzzle's run does not depend on the other puzzles of its batch
    max_restarts: int = 256
    # fresh starts per doubling of the restarts (`max_restarts`): 4 doubles them at steps 2001, 4001, ... with a fresh
    # start every 500 steps; `DEFAULTS` (9×9) double at every fresh start, steps 501, 1001, ... (docs/hard-sudoku.md)
    growth_period: int = 4
    # samples per restart once the restarts have grown (the puzzles still unsolved from the first growth step on, 9×9:
    # step 501), at least `samples`; 0: `samples` throughout. Off by default: 4 was measured mixed on the hardest
    # (docs/hard-sudoku.md)
    tail_samples: int = 0
    # bounded logits: after each step every variable's logits are centred and clipped to ±(max_logit + ln K), so its
    # probabilities never saturate (a saturated softmax passes no gradient and the search stalls); 0: unbounded
    max_logit: float = 0.0
    # restarts recombined: each fresh start after the first starts a puzzle's restarts from the best modes of the
    # cycle before (the 4 best as they were, the others crossovers of two, their conflicts freed: recombine.py)
    # instead of fresh logits; Sudoku only. Off by default: measured on 25×25 grids (docs/hard-sudoku.md)
    recombine: bool = False

    def __post_init__(self) -> None:
        for name in ("steps", "samples", "restarts"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not 0 < self.lr <= MAX_LR:
            raise ValueError(f"lr must be a number > 0 and <= {MAX_LR:g}, got {self.lr!r}")
        if isinstance(self.reset_every, bool) or not isinstance(self.reset_every, int) or self.reset_every < 0:
            raise ValueError(f"reset_every must be an integer >= 0, got {self.reset_every!r}")
        if not 0 <= self.init_std < float("inf"):
            raise ValueError(f"init_std must be a finite number >= 0, got {self.init_std!r}")
        if self.deduce not in DEDUCTION_LEVELS:
            raise ValueError(f"deduce must be one of {', '.join(DEDUCTION_LEVELS)}, got {self.deduce!r}")
        if not 0 <= self.weight_step < float("inf"):
            raise ValueError(f"weight_step must be a finite number >= 0, got {self.weight_step!r}")
        if isinstance(self.max_restarts, bool) or not isinstance(self.max_restarts, int) or self.max_restarts < 0:
            raise ValueError(f"max_restarts must be an integer >= 0, got {self.max_restarts!r}")
        if isinstance(self.growth_period, bool) or not isinstance(self.growth_period, int) or self.growth_period < 1:
            raise ValueError(f"growth_period must be an integer >= 1, got {self.growth_period!r}")
        if isinstance(self.tail_samples, bool) or not isinstance(self.tail_samples, int) or self.tail_samples < 0:
            raise ValueError(f"tail_samples must be an integer >= 0, got {self.tail_samples!r}")
        if not 0 <= self.max_logit < float("inf"):
            raise ValueError(f"max_logit must be a finite number >= 0, got {self.max_logit!r}")
        if not isinstance(self.recombine, bool):
            raise ValueError(f"recombine must be true or false, got {self.recombine!r}")
        if self.max_seconds is not None and not 0 < self.max_seconds < float("inf"):
            raise ValueError(f"max_seconds must be a finite number > 0, got {self.max_seconds!r}")
        if self.estimator == "st" and (not self.params or dict(self.params) in SUDOKU_ST_PARAM_SETS):
            return  # nothing more to check (valid parameters, one sample will do), and no torch to import
        estimator = self.make_estimator()  # validate the estimator name and parameters before any work
        for name in ("samples", "tail_samples"):
            value = getattr(self, name)
            if (value or name == "samples") and value < estimator.min_samples:
                raise ValueError(f"{estimator.name} needs at least {estimator.min_samples} samples per step, got "
                                 f"{value}; set `{name}` to {estimator.min_samples} (or more)")

    def make_estimator(self) -> Estimator:
        from .estimators import make_estimator  # torch: only when a run is set up, not for --help

        return make_estimator(self.estimator, **dict(self.params))


RUN_FIELDS = ("steps", "samples", "restarts", "lr", "seed", "deduce", "weight_step", "reset_every", "max_restarts",
              "growth_period", "tail_samples", "max_logit", "recombine", "max_seconds")
"""The ``SolverConfig`` fields a caller sets one by one, under the same names (the commands' options, ``compare``'s
overrides); the estimator, its parameters and early stopping are set their own ways."""


def restarts_at(config: SolverConfig, step: int) -> int:
    """The restarts of each puzzle still unsolved at ``step`` (1-based): ``restarts`` x 2^⌊k / growth_period⌋ after
    the k-th fresh start, capped at ``max_restarts`` (never below ``restarts``)."""
    if config.max_restarts <= config.restarts or not config.reset_every:
        return config.restarts
    fresh_starts = (step - 1) // config.reset_every
    doublings = min(fresh_starts // config.growth_period, config.max_restarts.bit_length())
    return min(config.max_restarts, config.restarts << doublings)


def samples_with(config: SolverConfig, restarts: int) -> int:
    """Samples per restart of a puzzle running ``restarts`` restarts: at least ``tail_samples`` once they have grown
    past ``config.restarts``, else ``samples``."""
    return max(config.samples, config.tail_samples) if restarts > config.restarts else config.samples


SUDOKU_ST_PARAMS = {"temperature": 0.3}
"""The parameters of Sudoku's default estimator, ST: its samples drawn from softmax(θ / 0.3), the backward still
through softmax(θ). Measured on the 9×9 dev collections (docs/hard-sudoku.md, "A sampling temperature"): one
restart's chance of a solution per step 1.4–3× that of T = 1 on every hard band but forum1106 (flat there), whole
files 2–3× faster, every dev collection solved. They go with the estimator: another ``--estimator`` or the paper
protocol runs with its own parameter defaults (``config.build_config``, ``paper_protocol``)."""

SUDOKU_25_ST_PARAMS = {"temperature": 0.4}
"""25×25's ST: samples drawn from softmax(θ / 0.4) (``BIG_GRID_DEFAULTS``; docs/hard-sudoku.md, "A sampling temperature
for 25×25")."""

SUDOKU_ST_PARAM_SETS = (SUDOKU_ST_PARAMS, SUDOKU_25_ST_PARAMS)
"""Sudoku's own ST parameters, by grid size: valid without importing torch (``SolverConfig``), and switched off by
the paper protocol (``paper_protocol``), whose ST samples at T = 1."""

SUDOKU_GROWTH_PERIOD = 1
"""9×9's restarts double at every fresh start (8 restarts to step 500, 16 from 501, 32 from 1001, … 256 from 2501)
rather than every 4th (256 from step 10001). Measured against the period 4 before on the throughput benchmark's
issue-size samples of the dev data, each period in one process one after the other (docs/hard-sudoku.md, "Restarts
that double at every fresh start"): graded 143 and 17 clues 200 took 0.8 and 0.65 of the time (the last few puzzles
of a file run on few rows, where a step costs about the same whatever its rows, and finish in fewer steps),
forum1106 and forum1905 100 about the same, magictour 100 about 1.1 times."""

DEFAULTS = SolverConfig(params=SUDOKU_ST_PARAMS, growth_period=SUDOKU_GROWTH_PERIOD)
"""The product's default settings, Sudoku's (read these rather than repeating the tuned numbers); measured on 9×9
grids, and what every grid up to 9×9 is solved with (``sudoku_defaults``). ``SolverConfig()`` is the same but for
ST's sampling temperature (1 there: the estimator's own default) and the restarts' growth (every 4th fresh start
there)."""

BIG_GRID_DEFAULTS: Mapping[int, SolverConfig] = {
    16: replace(DEFAULTS, params={}, steps=20000, restarts=32, init_std=1.0, max_logit=3.0, weight_step=0.2,
                reset_every=6000, max_restarts=64, growth_period=4),
    25: replace(DEFAULTS, params=SUDOKU_25_ST_PARAMS, steps=20000, restarts=32, reset_every=1000, max_restarts=0,
                growth_period=4, recombine=True),
}
"""Sudoku's defaults for the big grids, by side N, measured on 16×16 and 25×25 puzzles with 50–70 % of the cells blank
(docs/hard-sudoku.md, "Big grids"). 9×9's fresh start every 500 steps cuts a big grid's search short (a run needs
thousands of steps to settle its conflicts): 16×16 starts afresh every 6000 steps (with 32 restarts: fewer steps in
all than every 3000). 25×25 runs 32 restarts in cycles of 1000 steps, each cycle after the first started from the
last one's best grids recombined (``recombine``: the first 55 %-blank 25×25 puzzles solved; with fresh starts every
3000 steps none was). 16×16 also starts from random logits (std 1: the restarts differ from the first step) that
stay bounded (±(3 + ln N): the samples keep exploring) with faster breakout weights (0.2 per step of a broken term)
and 32 restarts from the first step (all 30 dev puzzles with 65 % blanks against 28 with 16, in half the steps); on
25×25 these did worse in the runs measured. 16×16's restarts grow to 64 at most
(9×9's 256 was measured on 9×9 only; within 20000 steps they never double, every 4 fresh starts), 25×25's stay 32
(a growth step would start every restart afresh, losing the population), and the step budget stays 20000 (9×9's
100000 was measured on 9×9's hardest; a big grid's step costs 5–10 times as much).
16×16's ST samples at temperature 1, 25×25's at 0.4 (with the recombined cycles, on one machine: 15 of 25 puzzles with
55 % blanks against 4 of 25 at temperature 1 and 11 at 0.5, the 15 dev puzzles and 10 fresh ones, and 15 of 15 with
50 % blanks; 0.3 solved 6 of the 15 dev ones; docs/hard-sudoku.md, "A sampling temperature for 25×25"). The rest is
9×9's: the pre-step, ST with 2 samples, lr 0.3."""


def sudoku_defaults(side: int) -> SolverConfig:
    """The default settings of a Sudoku of side ``side``: ``BIG_GRID_DEFAULTS[side]`` for 16×16 and 25×25 (a larger
    grid takes the largest's), ``DEFAULTS`` for 4×4 and 9×9."""
    if side < min(BIG_GRID_DEFAULTS):
        return DEFAULTS
    return BIG_GRID_DEFAULTS[max(n for n in BIG_GRID_DEFAULTS if n <= side)]

CONSTRAINT_DEFAULTS = SolverConfig(steps=3000, samples=4, restarts=4, lr=0.2, deduce="none", weight_step=0.0,
                                  max_restarts=0)
"""The base of the other problems' defaults (Latin squares, queens, colouring, JSON specs): the settings measured
before the hard-Sudoku work; generic constraint batches have no pre-step and no per-instance term weights."""

PAPER_PROTOCOL = dict(steps=1000, samples=1, restarts=1, lr=0.05, early_stop=False, init_std=0.0, reset_every=0,
                      deduce="none", weight_step=0.0, max_restarts=0, max_logit=0.0, recombine=False)
"""The paper's Table 2: 1000 Adam steps, lr 0.05, one sample per step, no restarts, no early stop, logits
starting at zero (every extra knob of ``SolverConfig`` switched off)."""


def paper_protocol(config: SolverConfig, **overrides) -> SolverConfig:
    """``config`` under the paper's protocol, then ``overrides`` (one step: a combination is validated whole). Sudoku's
    sampling temperature (any of ``SUDOKU_ST_PARAM_SETS``, the grid sizes' defaults) is switched off with the other
    knobs: the paper's ST samples at T = 1; parameters chosen for any other estimator are kept."""
    tempered = config.estimator == DEFAULTS.estimator and dict(config.params) in SUDOKU_ST_PARAM_SETS
    return replace(config, **{**PAPER_PROTOCOL, **({"params": {}} if tempered else {}), **overrides})
