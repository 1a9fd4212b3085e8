"""What the progress bars say about the time left (CLI side; the library reports steps and elapsed time)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..solver import SolverConfig

def clock(seconds: float) -> str:
    """``seconds`` as ``M:SS``, or ``H:MM:SS`` from an hour on (rounded up to the second)."""
    whole = int(-(-max(seconds, 0.0) // 1))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def seconds_left(step: int, steps: int, elapsed: float, budget: float | None = None,
                 from_step: int = 1) -> float | None:
    """An upper estimate of the time a solve still takes after ``step`` of at most ``steps`` steps, ``elapsed``
    seconds after it began at step ``from_step`` (1, or a later step where a part of a batch goes on): the remaining
    steps at the mean time per step so far,

        (steps − step) · elapsed / (step − from_step + 1),

    which is an upper bound in the usual case, since solved puzzles leave the batch and later steps get cheaper;
    never more than what is left of a time ``budget`` (``budget − elapsed``). None before the first step without
    a budget."""
    done = step - from_step + 1
    left = None if done <= 0 or elapsed <= 0 else max(steps - step, 0) * elapsed / done
    if budget is not None:
        rest = max(budget - elapsed, 0.0)
        left = rest if left is None else min(left, rest)
    return left


def time_left_text(step: int, steps: int, elapsed: float, budget: float | None = None, from_step: int = 1) -> str:
    """``≤ M:SS left`` from ``seconds_left``, or ``""`` while there is no estimate yet."""
    left = seconds_left(step, steps, elapsed, budget, from_step)
    return "" if left is None else f"≤ {clock(left)} left"


def stopped_by_budget(records: list[dict], config: "SolverConfig") -> int:
    """How many records stopped unsolved before their last step while a time budget was set (a puzzle that
    diverged has an error record instead, and early stop only ends solved ones)."""
    if config.max_seconds is None:
        return 0
    return sum(1 for r in records if "error" not in r and not r.get("found") and r.get("steps_run", 0) < config.steps)


PENALTY_READ_SECONDS = 1.0
"""How often a progress bar reads a step's lowest penalty (``Progress.best_penalty``): once a second, and never when
the bar is not drawn (``--quiet``, or stderr not a terminal). With breakout weights each read evaluates the penalty
once more: at every step it cost a fifth of a colouring step, and ten reads a second still a few per cent of a
dense graph's 30 ms steps."""


class Every:
    """Called once a step: true at the first call and then at most once every ``seconds`` (for what a bar shows but
    costs to read)."""

    def __init__(self, seconds: float = PENALTY_READ_SECONDS) -> None:
        self.seconds, self.last = seconds, None

    def __call__(self) -> bool:
        now = time.perf_counter()
        if self.last is not None and now - self.last < self.seconds:
            return False
        self.last = now
        return True
