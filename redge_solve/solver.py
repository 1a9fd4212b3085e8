"""The solving loop: Adam on mean-field logits, any estimator, a whole batch of puzzles as one tensor.

For a problem with I instances over F variables (all instances' variables concatenated) and K categories:

    θ ∈ R^{F×K} (zero: uniform);  each step:  X_1..X_S ~ π_θ  →  loss = Σ_instances mean_s f(X_s)  →  Adam on θ

with R independent restarts per puzzle in the same batch (instance ``p * R + r``). A puzzle is solved as soon as
any sample of any of its restarts, or the mode (argmax of its logits), is a valid solution; with early stopping
its rows then leave the batch, so the remaining steps cost only what the unsolved puzzles need. Randomness is
keyed by (seed, puzzle id, restart, variable), so a puzzle's trajectory does not depend on the rest of its batch.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections import deque
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Protocol

import torch
from torch import Tensor

from .estimators import Expectation, Objective, Surrogate
from .estimators.noise import KeyedNoise, key_tensor, normal, one_hot_argmax
from .memory import parts_in_cache, puzzles_per_batch
from .optim import Adam
from .recombine import recombined_offsets
from .settings import (  # noqa: F401  (the settings, re-exported where they were always imported from)
    CONSTRAINT_DEFAULTS,
    DEFAULTS,
    MAX_LR,
    PAPER_PROTOCOL,
    SolverConfig,
    paper_protocol,
    restarts_at,
    samples_with,
)


class Problem(Protocol):
    """What the loop needs from a problem (``SudokuBatch`` is one)."""

    var_instance: Tensor  # (F,) instance of each variable
    dtype: torch.dtype  # of the penalty, and so of the logits

    @property
    def num_instances(self) -> int: ...
    @property
    def num_variables(self) -> int: ...
    @property
    def num_categories(self) -> int: ...
    def penalty(self, x: Tensor, weights: Tensor | None = None) -> Tensor: ...  # (S, F, K) -> (S, I), zero exactly
    # on valid one-hot solutions; with weights (the shape of terms(x)[0]), the weighted sum of the terms
    def terms(self, x: Tensor, one_hot: bool | None = None) -> Tensor: ...  # (S, F, K) -> (S, *W): every penalty
    # term (they sum to the penalty); one_hot: x is one-hot (None: unknown)
    def sum_terms(self, terms: Tensor) -> Tensor: ...  # (*W) -> (I,): the penalty from one assignment's terms
    def select_weights(self, weights: Tensor, keep: Tensor) -> Tensor: ...  # weights of the kept instances
    def raise_weights(self, weights: Tensor, terms: Tensor, step: float) -> None: ...  # weights += step · terms, in
    # place (and whatever the problem keeps built from them)
    def fill(self, x: Tensor) -> Tensor: ...  # (S, F, K) -> (S, I, *solution shape)
    def repeat(self, times: int) -> "Problem": ...
    def select(self, keep: Tensor) -> "Problem": ...
    def variable_mask(self, keep: Tensor) -> Tensor: ...
    def deduce(self, level: str) -> "Problem": ...  # the exact pre-step (``SolverConfig.deduce``), or itself
    def candidates(self) -> Tensor | None: ...  # (F, K) bool: values a free variable may take; None: all
    def expected_penalty(self, probs: Tensor, weights: Tensor | None = None) -> Tensor: ...  # (F, K) -> (I,): E[f]


@dataclass
class PuzzleResults:
    """Per-puzzle outcomes of a run, as tensors over the B puzzles of the batch.

    solved_any: some sample seen during optimisation was a valid solution.
    solved_mode: the argmax of the final logits (at the step the puzzle stopped) is a valid solution.
    solved_last: some sample of the last step the puzzle ran is valid (the paper's criterion with S = R = 1).
    solution: the first valid solution found (by a sample, else the mode), else the final mode of the restart
        with the lowest final-mode penalty. found: whether ``solution`` is valid.
    first_solved_step: the step a valid sample or mode first appeared, -1 if never.
    penalty: f of the last hard samples, averaged over samples and restarts (an estimate of E[f] at the end).
    steps_run, seconds: steps this puzzle ran for, and wall-clock seconds from the start until it stopped.
    diverged_step: the step at which the puzzle's logits became NaN/inf (it then left the batch; unless it was
        solved before, its other fields are not results), -1 if never.
    """

    solved_any: Tensor
    solved_mode: Tensor
    solved_last: Tensor
    found: Tensor
    solution: Tensor
    first_solved_step: Tensor
    penalty: Tensor
    steps_run: Tensor
    seconds: Tensor
    diverged_step: Tensor
    curve: list[tuple[int, int]] = field(default_factory=list)  # (step, puzzles solved so far)
    restart_modes: Tensor | None = None  # (R, F) long: each restart's lowest-penalty mode (``solve(restart_modes=)``)
    restart_penalties: Tensor | None = None  # (R,): their (unweighted) penalties


@dataclass(frozen=True)
class Progress:
    """One step of ``solve``, for ``on_step``: the ``step`` of ``steps``; ``solved`` of ``total`` puzzles so far and
    ``active`` still to go; the step's ``best_penalty``; ``elapsed`` seconds since the batch under way began at step
    ``from_step`` (1, or the later step from which a part of a batch goes on, see ``solve``).

    ``best_penalty``, the lowest penalty of the step's samples without the breakout weights, is evaluated when it is
    read (``lowest_penalty``): with weights it costs an evaluation of the penalty of its own (a second sparse product
    for a graph's edges, a fifth of a colouring step), which a run that never reads it does not pay."""

    step: int
    steps: int
    solved: int
    total: int
    active: int
    lowest_penalty: Callable[[], float] = field(repr=False)
    elapsed: float
    results: PuzzleResults | None = None  # the run's results so far (finished puzzles are final)
    from_step: int = 1

    @property
    def best_penalty(self) -> float:
        """The lowest unweighted penalty of the step's samples (evaluated now, once per step)."""
        return self.lowest_penalty()


class Interrupted(KeyboardInterrupt):
    """Ctrl-C (or SIGTERM turned into it) during ``solve``: ``results`` covers the first puzzles of the batch
    (``len(results.found)`` of them); those with ``steps_run > 0`` had finished and are final."""

    def __init__(self, results: PuzzleResults) -> None:
        super().__init__()
        self.results = results


def instance_keys(puzzle_ids: Tensor, restarts: int, problem: Problem, seed: int) -> Tensor:
    """Per-variable noise keys from (seed, puzzle id, restart, index of the variable within its instance)."""
    instance = problem.var_instance
    first = torch.zeros(problem.num_instances + 1, dtype=torch.long, device=instance.device)
    first[1:] = torch.bincount(instance, minlength=problem.num_instances).cumsum(0)
    position = torch.arange(problem.num_variables, device=instance.device) - first[instance]
    puzzle = puzzle_ids.to(instance.device).repeat_interleave(restarts)[instance]
    restart = (instance % restarts) if restarts > 1 else torch.zeros_like(instance)
    return key_tensor(seed, puzzle, restart, position)


def solve(
    problem: Problem,
    config: SolverConfig,
    puzzle_ids: Tensor | None = None,
    on_step: Callable[[Progress], None] | None = None,
    memory_budget: int | None = None,
    warm_start: Tensor | None = None,
    restart_modes: bool = False,
) -> PuzzleResults:
    """Optimise every puzzle of ``problem`` with ``config``; returns per-puzzle results (see ``PuzzleResults``).

    puzzle_ids: a stable id per puzzle (e.g. its row in a dataset) for the noise keys; defaults to 0..B-1.
    warm_start: offsets ``(W, F, K)`` (F, K: the problem's after its pre-step) added to the initial logits of a
    one-instance problem, restart r getting ``warm_start[r % W]`` at every fresh start: a start near known
    assignments (the fewest-colours search starts K − 1 colours from its K-colouring). With ``config.recombine``
    only the first start is warm: a later one starts from the recombined restarts instead (``recombine.py``).
    restart_modes: for a one-instance problem, keep each restart's mode of lowest (unweighted) penalty over the
    steps since its last fresh start, returned as ``restart_modes`` (values ``(R, F)``) and ``restart_penalties``
    (the material of a population move: ``runs.color_search`` recombines them). Four more operations a step.
    A batch larger than ``memory_budget`` bytes (default: ``memory.budget()``) allows is solved in parts sized by
    ``memory.puzzles_per_batch``: consecutive sub-batches sized for the restarts a puzzle starts with, and, where
    growing restarts (``max_restarts``) would take the puzzles still unsolved past the budget, or on the CPU past
    about a core's cache (``memory.parts_in_cache``: a step's cost per row grows once its tensors outgrow it), those
    puzzles go on from that step in parts sized for their new restarts (a growth step is a fresh start, so nothing
    but the step count carries over). Keyed noise makes the results the same as in one batch. Ctrl-C raises
    ``Interrupted`` carrying the results of the puzzles reached so far.
    """
    if problem.dtype not in (torch.float32, torch.float64):
        raise ValueError(f"the solver runs float32 or float64 problems, not {problem.dtype}")
    count, device = problem.num_instances, problem.var_instance.device
    ids = torch.arange(count, device=device) if puzzle_ids is None else puzzle_ids.long().to(device)
    deadline = None if config.max_seconds is None else time.perf_counter() + config.max_seconds
    problem = problem.deduce(config.deduce)
    if config.recombine and not hasattr(problem, "violated_variables"):
        raise ValueError("recombine (recombined restarts) works on Sudoku puzzles only")
    if restart_modes and count != 1:
        raise ValueError(f"restart modes are kept for a one-instance problem, not {count} instances")
    if warm_start is not None and (count != 1 or warm_start.shape[1:] != (problem.num_variables,
                                                                        problem.num_categories)):
        raise ValueError(f"a warm start is (W, {problem.num_variables}, {problem.num_categories}) offsets for a "
                         f"one-instance problem, not {tuple(warm_start.shape)} for {count} instances")
    variables = torch.bincount(problem.var_instance, minlength=count).tolist()
    calls = config.make_estimator().denoiser_calls

    def capacity(restarts: int) -> int:
        """Puzzles that fit in the memory budget at ``restarts`` restarts each."""
        return puzzles_per_batch(variables, problem.num_categories, restarts=restarts,
                                 samples=samples_with(config, restarts),
                                 calls=calls, memory=memory_budget, device=device)

    def grown_capacity(restarts: int) -> int:
        """Puzzles per part once their restarts have grown: ``capacity``, and on the CPU at most what keeps a part's
        tensors about the size of a core's cache (``memory.parts_in_cache``)."""
        fits = capacity(restarts)
        if device.type != "cpu":
            return fits
        return min(fits, parts_in_cache(variables, problem.num_categories, restarts=restarts))

    results = _new_results(problem)
    size = capacity(config.restarts)
    queue = deque(_Part(torch.arange(first, min(first + size, count), device=device))
                  for first in range(0, max(count, 1), size))
    reached = waiting = 0  # puzzles of the parts started so far; puzzles of the parts still queued

    def step(progress: Progress) -> None:
        if on_step is not None:
            on_step(replace(progress, total=count, active=progress.active + waiting))

    def lineage() -> list[_Part]:
        """The queued parts that went on from a fresh start of the sub-batch under way (before the next sub-batch)."""
        return list(itertools.takewhile(lambda queued: queued.first_step > 1, queue))

    def pause(step_now: int, puzzles: int, restarts: int) -> bool:
        """Whether a part down to half a cache-sized part waits at this fresh start for queued puzzles to join it:
        on the CPU, when one of them goes on from this step or an earlier one (nothing carries over a fresh start
        but the step, unless restarts are recombined)."""
        return (device.type == "cpu" and not config.recombine and 2 * puzzles <= grown_capacity(restarts)
                and any(queued.first_step <= step_now for queued in lineage()))

    def go_on(rest: _Part) -> None:
        """Queue ``rest`` behind the parts of its sub-batch that go on from its step or an earlier one."""
        queue.insert(sum(queued.first_step <= rest.first_step for queued in lineage()), rest)

    try:
        while queue:
            part = queue.popleft()
            if part.first_step > 1:  # with the parts queued at the same fresh start, cut to size again
                while queue and queue[0].first_step == part.first_step:
                    other = queue.popleft()
                    part = _Part(torch.cat([part.positions, other.positions]).sort().values, part.first_step,
                                 max(part.offset, other.offset))
                size = grown_capacity(restarts_at(config, part.first_step))
                for first in reversed(range(size, len(part.positions), size)):
                    queue.appendleft(replace(part, positions=part.positions[first:first + size]))
                part = replace(part, positions=part.positions[:size])
            if len(part.positions):
                reached = max(reached, int(part.positions[-1]) + 1)
            waiting = sum(len(queued.positions) for queued in queue)
            keep = torch.zeros(count, dtype=torch.bool, device=device)
            keep[part.positions] = True
            sub = problem if len(part.positions) == count else problem.select(keep)
            rest = _solve_batch(sub, config, ids, part, results, grown_capacity, step, deadline, warm_start,
                                restart_modes, pause)
            if rest is not None:  # past the budget at its next restarts, or paused: it goes on (in parts) later
                go_on(rest)
    except KeyboardInterrupt:
        raise Interrupted(_head(results, reached)) from None
    results.curve = _solved_curve(results)
    return results


@dataclass(frozen=True)
class _Part:
    """Puzzles solved together: their ``positions`` in the run's results (ascending), from ``first_step`` on (a
    fresh start when > 1), ``offset`` seconds after their batch started (what they had run before)."""

    positions: Tensor
    first_step: int = 1
    offset: float = 0.0


def _head(results: PuzzleResults, count: int) -> PuzzleResults:
    """The results of the first ``count`` puzzles."""
    head = PuzzleResults(**{f.name: getattr(results, f.name)[:count] for f in fields(PuzzleResults)
                            if f.name not in ("curve", "restart_modes", "restart_penalties")})
    head.curve = _solved_curve(head)
    return head


def _solved_curve(results: PuzzleResults) -> list[tuple[int, int]]:
    """(step, puzzles found by that step) for steps 1 .. the last step any puzzle ran: a puzzle counts from its
    ``first_solved_step`` on (a solution found stays found)."""
    last = int(results.steps_run.max()) if len(results.steps_run) else 0
    found_at = torch.bincount(results.first_solved_step[results.found & (results.first_solved_step > 0)].cpu(),
                              minlength=last + 1).cumsum(0).tolist()
    return [(step, found_at[step]) for step in range(1, last + 1)]


class _Batch:
    """The puzzles still being solved, as one tensor each: ``problem`` (every puzzle ``restarts`` times, instance
    ``p * R + r``), their ``logits`` and ``optimizer`` state, their ``noise`` streams, the ``weights`` of their
    penalty terms (None unless ``weight_step`` > 0), ``allowed``, the values each row may take (None: all),
    ``active``, the positions in the run's results of the puzzles still in the batch (default: all of ``problem``'s,
    0..B−1), and ``puzzle_ids``, the noise ids of all the run's puzzles; ``restarts`` rows per puzzle (default
    ``config.restarts``) and the noise streams at ``step`` (a batch that goes on from a later step). ``reset()``
    restarts every row from fresh logits (plus ``warm_start``'s offsets, see ``solve``) and unit weights;
    ``shrink(keep)`` drops the puzzles not kept, slicing every part alike; ``grow(R)`` gives every active puzzle R
    rows; ``bound_logits()`` clips the logits after a step (``max_logit``)."""

    def __init__(self, problem: Problem, config: SolverConfig, puzzle_ids: Tensor, active: Tensor | None = None,
                 restarts: int | None = None, step: int = 0, warm_start: Tensor | None = None,
                 keep_modes: bool = False) -> None:
        self.config, self.puzzle_ids, self.warm_start = config, puzzle_ids, warm_start
        self.keep_modes = keep_modes or config.recombine
        self.best_penalties = self.best_modes = None
        self.restarts = config.restarts if restarts is None else restarts
        self.problem = problem.repeat(self.restarts)
        self.active = torch.arange(problem.num_instances, device=puzzle_ids.device) if active is None else active
        self.noise = self._keyed_noise(step)
        self._samples: Tensor | None = None  # this step's samples, kept by a weighted objective (``unweighted``)
        self.reset()

    def _keyed_noise(self, step: int) -> KeyedNoise:
        """The noise streams of the rows (``active`` puzzles × ``restarts``) at ``step``."""
        return KeyedNoise(instance_keys(self.puzzle_ids[self.active], self.restarts, self.problem, self.config.seed),
                          step=step)

    def grow(self, restarts: int) -> None:
        """Give every active puzzle ``restarts`` rows, if that is more than now; call ``reset()`` next. Restart r
        keeps its noise keys, so the rows a puzzle had before continue their streams."""
        if restarts <= self.restarts:
            return
        first_rows = torch.arange(self.problem.num_instances, device=self.active.device) % self.restarts == 0
        self.restarts = restarts
        self.problem = self.problem.select(first_rows).repeat(restarts)  # each active puzzle once, then R times
        self.noise = self._keyed_noise(self.noise.step)
        self.best_penalties = self.best_modes = None  # laid out for the old restarts: a growth step starts fresh

    def reset(self) -> None:
        """Fresh logits (uniform, or keyed Gaussian ones) and a fresh Adam state for every row."""
        problem = self.problem
        self.allowed = problem.candidates()
        device = problem.var_instance.device
        offsets = None
        if self.warm_start is not None:  # one instance: the rows are restart-major, (R · F, K)
            which = torch.arange(self.restarts, device=device) % self.warm_start.shape[0]
            offsets = self.warm_start.to(device, problem.dtype).index_select(0, which).flatten(0, 1)
        if self.config.recombine and self.best_modes is not None:  # a fresh start after a cycle: recombine.py
            keys = key_tensor(self.config.seed, self.puzzle_ids[self.active], self.noise.step)
            offsets = recombined_offsets(problem, self.best_modes.long(), self.best_penalties, self.restarts, keys)
        self.logits = _initial_logits(problem.num_variables, problem.num_categories, self.config.init_std,
                                      self.noise, device, self.allowed, problem.dtype, offsets)
        self.optimizer = Adam(self.logits, self.config.lr)
        self.weights = None
        if self.config.weight_step > 0:
            # the terms' layout from a one-hot assignment (the fresh mode): a differ pair's term is then a comparison
            # of two labels, not a product over K values (3 s at every start of DSJC250.9 at K = 80, 32 restarts)
            mode = one_hot_argmax(self.logits).unsqueeze(0)
            self.weights = torch.ones_like(problem.terms(mode, one_hot=True)[0])
        self.best_penalties = self.best_modes = None
        if self.keep_modes:  # each row's lowest-penalty mode since this fresh start (``keep_best_modes``)
            self.best_penalties = self.logits.new_full((problem.num_instances,), math.inf).detach()
            self.best_modes = self.logits.new_zeros(problem.num_variables).detach()

    def keep_best_modes(self, verdict: "_Verdict") -> None:
        """Where a row's mode has a lower penalty than any before it since the fresh start, keep it (as values)."""
        if self.best_modes is None:
            return
        lower = verdict.mode_penalty < self.best_penalties
        torch.minimum(self.best_penalties, verdict.mode_penalty, out=self.best_penalties)
        values = verdict.mode[0] @ torch.arange(verdict.mode.shape[-1], dtype=verdict.mode.dtype,
                                                device=verdict.mode.device)  # exact: one-hot
        self.best_modes = torch.where(lower.index_select(0, self.problem.var_instance), values, self.best_modes)

    @torch.no_grad()
    def bound_logits(self) -> None:
        """Bounded logits (``max_logit`` a > 0): every row's logits are centred on their mean and clipped to [−c, c]
        with c = a + ln K, so every value keeps a probability of at least e^{−2c} = e^{−2a} / K² times the largest one.
        The softmax then never saturates: its Jacobian, through which every estimator's gradient flows, stays away
        from zero, and the samples keep exploring. The bound grows with ln K because more values share the
        exploration (measured: c = 5 colours the queen graphs, K = 7..12, but not mulsol.i.1 or zeroin.i.1 at
        K = 49, which need c ≈ 7). Values a row may not take (``allowed``) keep their excluded logit and are left out
        of its mean."""
        if self.config.max_logit <= 0:
            return
        logits = self.logits
        bound = self.config.max_logit + math.log(logits.shape[-1])
        if self.allowed is None:
            logits.sub_(logits.mean(-1, keepdim=True)).clamp_(-bound, bound)
            return
        allowed = self.allowed.to(logits.dtype)
        mean = (logits * allowed).sum(-1, keepdim=True) / allowed.sum(-1, keepdim=True).clamp(min=1)
        logits.copy_(torch.where(self.allowed, (logits - mean).clamp(-bound, bound), logits))

    def raise_weights(self, mode: Tensor, mode_terms: Tensor | None = None) -> None:
        """Breakout: every term's weight grows by ``weight_step`` times the mode's value of that term
        (``mode_terms``, ``Problem.terms`` of the ``mode``, when the caller has them), so the constraints the mode
        keeps violating pull harder (dual ascent on the terms' Lagrange multipliers)."""
        if self.weights is not None:
            terms = self.problem.terms(mode, one_hot=True)[0] if mode_terms is None else mode_terms
            self.problem.raise_weights(self.weights, terms, self.config.weight_step)

    def objective(self) -> tuple[Objective, Expectation]:
        """The penalty of the rows in the batch and its closed-form expectation (the ``exact`` estimator's); the
        instance of each variable is ``problem.var_instance``. With breakout weights both are weighted, and each
        call of the penalty also keeps its samples (``unweighted``)."""
        problem = self.problem
        expected = problem.expected_penalty
        self._samples = None
        if self.weights is None:
            return problem.penalty, expected
        weights = self.weights

        def weighted(x: Tensor) -> Tensor:
            self._samples = x.detach()
            return problem.penalty(x, weights)

        return weighted, lambda probs: expected(probs, weights)

    def unweighted(self, out: Surrogate) -> Callable[[], Tensor]:
        """``f`` of the step's samples without the breakout weights ``(S, A * R)``, as a function that evaluates it
        at its first call (with weights, one more evaluation of the penalty; without, the values the estimator
        kept: every estimator evaluates its objective once, on its samples). It holds this step's problem and
        samples, so it may be called after the batch has shrunk."""
        if self._samples is None:
            values = out.values.detach()
            return lambda: values
        problem, samples = self.problem, self._samples

        @functools.cache
        def values() -> Tensor:
            with torch.no_grad():
                return problem.penalty(samples)

        return values

    def shrink(self, keep: Tensor) -> None:
        """Keep only the puzzles where ``keep`` (bool, one per active puzzle) is true."""
        keep_instances = keep.repeat_interleave(self.restarts)
        rows = self.problem.variable_mask(keep_instances).nonzero().squeeze(1)  # index_select, not boolean indexing
        self.logits = self.logits.index_select(0, rows).detach().requires_grad_(True)
        self.optimizer = self.optimizer.select(self.logits, rows)
        self.noise = self.noise.select(rows)
        if self.weights is not None:
            self.weights = self.problem.select_weights(self.weights, keep_instances)
        if self.allowed is not None:
            self.allowed = self.allowed.index_select(0, rows)
        if self.best_modes is not None:
            self.best_modes = self.best_modes.index_select(0, rows)
            self.best_penalties = self.best_penalties.index_select(0, keep_instances.nonzero().squeeze(1))
        self.problem = self.problem.select(keep_instances)
        self.active = self.active[keep]


@dataclass(frozen=True)
class _Verdict:
    """What one step's samples and mode show, per active puzzle (``A``) or instance (``A * R``)."""

    mode: Tensor  # (1, F, K) one-hot argmax of the logits
    mode_penalty: Tensor  # (A * R,)
    mode_terms: Tensor | None  # (*W,) the mode's penalty terms (``Problem.terms``), when breakout weights need them
    sample_ok: Tensor  # (S, A * R) the hard sample is a valid solution
    mode_ok: Tensor  # (A * R,) the mode is a valid solution
    puzzle_sample_ok: Tensor  # (A,) some sample of some restart is valid
    puzzle_mode_ok: Tensor  # (A,) the mode of some restart is valid
    diverged: Tensor  # (A,) some restart's logits are NaN/inf


def _judge(problem: Problem, logits: Tensor, values: Tensor, restarts: int, weighted: bool = False) -> _Verdict:
    """Judge a step: which samples (penalty ``values`` ``(S, A * R)``, as the estimator evaluated them) and modes
    of ``logits`` are solutions. ``weighted``: the problem has breakout weights, so the samples' ``values`` are
    weighted, and the mode's penalty comes from its terms, which the verdict keeps (one evaluation for the
    judgement and the weights). No host synchronisation.

    The weights never decide it. Every term of a hard sample is a small non-negative integer, exact in floating
    point, so its unweighted penalty is an integer (a solution: below 0.5), and its weighted one, a sum of those
    terms times positive weights, is exactly 0 when every term is 0 and at least its smallest non-zero term's
    weight otherwise: a weighted sample is a solution exactly when its value is 0, whatever the weights."""
    num_active = problem.num_instances // restarts
    mode = one_hot_argmax(logits).unsqueeze(0)
    mode_terms = problem.terms(mode, one_hot=True)[0] if weighted else None
    mode_penalty = problem.penalty(mode)[0] if mode_terms is None else problem.sum_terms(mode_terms)
    sample_ok = values <= 0 if weighted else values < 0.5
    mode_ok = mode_penalty < 0.5
    return _Verdict(
        mode=mode,
        mode_penalty=mode_penalty,
        mode_terms=mode_terms,
        sample_ok=sample_ok,
        mode_ok=mode_ok,
        puzzle_sample_ok=sample_ok.any(0).view(num_active, restarts).any(1),
        puzzle_mode_ok=mode_ok.view(num_active, restarts).any(1),
        diverged=_diverged(logits, problem, restarts),
    )


def _new_results(problem: Problem) -> PuzzleResults:
    """Results of a run over ``problem``'s puzzles before its first step (nothing solved, nothing run)."""
    count, device = problem.num_instances, problem.var_instance.device
    example = problem.fill(torch.zeros(1, problem.num_variables, problem.num_categories, device=device))[0]
    return PuzzleResults(
        solved_any=torch.zeros(count, dtype=torch.bool, device=device),
        solved_mode=torch.zeros(count, dtype=torch.bool, device=device),
        solved_last=torch.zeros(count, dtype=torch.bool, device=device),
        found=torch.zeros(count, dtype=torch.bool, device=device),
        solution=example.clone(),
        first_solved_step=torch.full((count,), -1, dtype=torch.long, device=device),
        penalty=torch.zeros(count, dtype=problem.dtype, device=device),
        steps_run=torch.zeros(count, dtype=torch.long, device=device),
        seconds=torch.zeros(count, device=device),
        diverged_step=torch.full((count,), -1, dtype=torch.long, device=device),
    )


@dataclass(frozen=True)
class _Decision:
    """What a judged step decides, per active puzzle, and its counts read to the host in the step's one
    synchronisation: ``newly`` solved, ``stopping`` now (solved with early stop, diverged, or the last step)."""

    newly: Tensor  # (A,) bool
    stopping: Tensor  # (A,) bool
    unsolved: Tensor  # (A,) bool: stopping without a solution (and not diverged)
    newly_count: int
    stopping_count: int
    unsolved_count: int
    solved: int  # puzzles of the run solved so far, this step's included
    diverged_count: int  # puzzles with a diverged restart (``_Verdict.diverged``)
    sample_ok_count: int  # puzzles with a valid sample (``_Verdict.puzzle_sample_ok``)


def _decide(results: PuzzleResults, active: Tensor, verdict: _Verdict, last_step: bool,
            early_stop: bool) -> _Decision:
    """The step's decision, with ONE host synchronisation: its counts come to the host in one read.

    A puzzle that is ``found`` or solved now (and not diverged) stops with early stop; every puzzle stops at the
    last step, a diverged one at once. So a puzzle stops unsolved only at the last step: before it, a stopping
    puzzle is found, solved now or diverged (the branches on ``last_step`` and ``early_stop`` are taken here, not
    as tensor operations: a small batch's step is mostly the fixed cost of its calls)."""
    found = results.found[active]
    live = ~verdict.diverged
    solved_now = (verdict.puzzle_sample_ok | verdict.puzzle_mode_ok) & live
    newly = solved_now & ~found
    found_or_newly = found | solved_now
    if last_step:
        stopping = torch.ones_like(found)
        unsolved = ~found_or_newly & live
    else:
        stopping = found_or_newly | verdict.diverged if early_stop else verdict.diverged
        unsolved = torch.zeros_like(found)
    newly_count = newly.sum()
    counts = [newly_count, stopping.sum(), unsolved.sum() if last_step else newly_count.new_zeros(()),
              results.found.sum() + newly_count, verdict.diverged.sum(), verdict.puzzle_sample_ok.sum()]
    newly_count, stopping_count, unsolved_count, solved, diverged_count, sample_ok_count = torch.stack(counts).tolist()
    return _Decision(newly, stopping, unsolved, newly_count, stopping_count, unsolved_count, solved, diverged_count,
                     sample_ok_count)


def _lowest(values: Callable[[], Tensor]) -> Callable[[], float]:
    """The lowest of a step's sample penalties (``values``, evaluated when called; 0 for an empty batch)."""
    def lowest() -> float:
        penalties = values()
        return float(penalties.amin()) if penalties.numel() else 0.0
    return lowest


def _put(target: Tensor, index: Tensor, where: Tensor, value: Tensor | int | float) -> None:
    """``target[index[where]] = value`` without boolean indexing (which waits for the device): the rows ``index``
    rewritten, ``value`` where ``where`` holds and their own value elsewhere."""
    mask = where.view(-1, *[1] * (target.dim() - 1))
    target[index] = torch.where(mask, value, target[index])


def _record(results: PuzzleResults, batch: _Batch, verdict: _Verdict, out: Surrogate, values: Callable[[], Tensor],
            decision: _Decision, step: int, seconds: float) -> None:
    """Write a judged and decided step into ``results``. Nothing here waits for the device: the branches are taken
    on the decision's counts, and writes go through ``_put``."""
    active, restarts, diverged = batch.active, batch.restarts, verdict.diverged
    # a diverged puzzle leaves the batch now (a solution found before stays found: with early stop off a solved
    # puzzle runs on and may diverge later)
    if decision.diverged_count:
        _put(results.diverged_step, active, diverged, step)
    if decision.newly_count:
        _record_solutions(results, batch.problem, out.samples, verdict, active, decision.newly, restarts)
        _put(results.first_solved_step, active, decision.newly, step)
    if decision.sample_ok_count:
        results.solved_any[active] |= verdict.puzzle_sample_ok
    if not decision.stopping_count:
        return
    stopping = decision.stopping
    _put(results.solved_last, active, stopping, verdict.puzzle_sample_ok)
    _put(results.solved_mode, active, stopping, verdict.puzzle_mode_ok)
    _put(results.penalty, active, stopping, values().mean(0).view(active.shape[0], restarts).mean(1))
    _put(results.steps_run, active, stopping, step)
    _put(results.seconds, active, stopping, seconds)
    if decision.unsolved_count:  # the best mode is the result of a puzzle that stops unsolved
        _record_best_modes(results, batch.problem, verdict, active, decision.unsolved, restarts)


def _solve_batch(
    problem: Problem,
    config: SolverConfig,
    puzzle_ids: Tensor,
    part: _Part,
    results: PuzzleResults,
    capacity: Callable[[int], int],
    on_step: Callable[[Progress], None] | None = None,
    deadline: float | None = None,
    warm_start: Tensor | None = None,
    restart_modes: bool = False,
    pause: Callable[[int, int, int], bool] | None = None,
) -> _Part | None:
    """``solve`` for one batch that fits in memory, the puzzles of ``problem`` at ``part.positions`` of ``results``
    (noise ids ``puzzle_ids[part.positions]``), from ``part.first_step``: sample → step → judge → decide → record →
    report → shrink, writing into ``results``. At ``deadline`` (a ``time.perf_counter()`` value) the step under way
    becomes the last one. At a step where the restarts grow and the puzzles still unsolved would need more than
    ``capacity(restarts)`` puzzles' room, it stops there and returns them (a ``_Part`` from that step) for the
    caller to go on with in smaller parts; else None. At any later fresh start where ``pause(step, puzzles,
    restarts)`` says so it also stops and returns them, to go on with other puzzles at that step. One host
    synchronisation per step (``_decide``), plus a few on the steps where puzzles leave the batch (``shrink``) and
    at fresh starts; ``on_step`` gets numbers already on the host."""
    begun = time.perf_counter()
    start = begun - part.offset  # a puzzle's seconds count what its rows ran before this part too
    estimator = config.make_estimator()
    batch = _Batch(problem, config, puzzle_ids, part.positions, restarts_at(config, part.first_step),
                   part.first_step - 1, warm_start, restart_modes)
    for step in range(part.first_step, config.steps + 1):
        batch.noise.next_step()
        if config.reset_every and step > 1 and (step - 1) % config.reset_every == 0:
            restarts = restarts_at(config, step)
            if restarts > batch.restarts and batch.active.shape[0] > capacity(restarts) or (
                    pause is not None and step > part.first_step and pause(step, batch.active.shape[0], restarts)):
                return _Part(batch.active, step, time.perf_counter() - start)  # fresh from this step
            batch.grow(restarts)
            batch.reset()
        f, expected = batch.objective()
        out = estimator.surrogate(f, batch.logits, samples_with(config, batch.restarts), batch.noise,
                                  groups=batch.problem.var_instance, expected=expected)
        (grad,) = torch.autograd.grad(out.loss, batch.logits)
        batch.optimizer.step(grad)
        batch.bound_logits()
        with torch.no_grad():
            values = batch.unweighted(out)
            verdict = _judge(batch.problem, batch.logits, out.values.detach(), batch.restarts,
                             batch.weights is not None)
            batch.raise_weights(verdict.mode, verdict.mode_terms)
            batch.keep_best_modes(verdict)
            last_step = step == config.steps or (deadline is not None and time.perf_counter() >= deadline)
            decision = _decide(results, batch.active, verdict, last_step, config.early_stop)
            _record(results, batch, verdict, out, values, decision, step, time.perf_counter() - start)
            if on_step is not None:
                on_step(Progress(step=step, steps=config.steps, solved=decision.solved, total=problem.num_instances,
                                 active=batch.active.shape[0] - decision.stopping_count,
                                 lowest_penalty=_lowest(values), elapsed=time.perf_counter() - begun,
                                 results=results, from_step=part.first_step))
            if last_step or decision.stopping_count == batch.active.shape[0]:
                if restart_modes and batch.best_modes is not None:  # one instance: its rows are restart-major
                    results.restart_modes = batch.best_modes.long().view(batch.restarts, -1)
                    results.restart_penalties = batch.best_penalties.clone()
                break
            if decision.stopping_count:
                batch.shrink(~decision.stopping)
    return None


def _diverged(logits: Tensor, problem: Problem, restarts: int) -> Tensor:
    """Bool ``(puzzles,)``: puzzles with a NaN/inf logit in any restart (variables → instances → puzzles).

    A row holds a NaN or an infinity exactly when Σ_k θ_k / (2K) is not finite: NaN and ±inf propagate through the
    sum (+inf − inf is NaN), and finite terms of at most half the largest float each cannot overflow. One matrix-vector
    product (BLAS) instead of a per-element test and a row reduction over K = 9 (2.5 ms a step at 41k rows). Times 0
    that sum is 0 for a finite row and NaN otherwise, and an instance's sum of those is NaN exactly when one of its
    rows is: a float pass instead of a boolean test, its negation and a conversion (the solver runs this every step).
    On CPU the sum of all of them is read first (it waits for nothing there): 0 means no puzzle diverged, without
    the sum per instance (an ``index_add`` over every row) and its test: 0.18 against 0.40 ms a step at 4 forum-hardest
    puzzles × 256 restarts, two threads."""
    weights = logits.new_full((logits.shape[-1],), 0.5 / logits.shape[-1])
    zero_or_nan = (logits.detach() @ weights).mul_(0.0)
    if _finite_on_cpu(zero_or_nan):
        return torch.zeros(problem.num_instances // restarts, dtype=torch.bool)
    per_instance = zero_or_nan.new_zeros(problem.num_instances).index_add_(0, problem.var_instance, zero_or_nan)
    return per_instance.isnan().view(-1, restarts).any(1)


def _finite_on_cpu(zero_or_nan: Tensor) -> bool:
    """Whether ``zero_or_nan`` (``_diverged``'s) is on the CPU and holds no NaN: its sum, read on the host."""
    return zero_or_nan.device.type == "cpu" and float(zero_or_nan.sum()) == 0


EXCLUDED_LOGIT = -1e4
"""The logit of a value a variable may not take: its probability underflows to exactly 0 in float32 (and float64), so
every estimator's gradient for it is exactly 0 and Adam never moves it; samples and modes never pick it."""


def _initial_logits(variables: int, categories: int, std: float, noise: KeyedNoise, device: torch.device,
                    allowed: Tensor | None = None, dtype: torch.dtype = torch.float32,
                    offsets: Tensor | None = None) -> Tensor:
    """Zero logits (uniform), or keyed Gaussian ones: the first draw of the current step's streams (step 0 at
    the start; at a reset, the estimator draws after it), so they depend only on each variable's key; plus
    ``offsets`` ``(F, K)`` when given (a warm start). Values outside ``allowed`` (bool ``(F, K)``, None: all
    allowed) start at ``EXCLUDED_LOGIT``. In ``dtype``, the problem's (float32 or float64)."""
    logits = torch.zeros(variables, categories, dtype=dtype, device=device)
    if std > 0:
        logits = normal(logits, noise).mul_(std)
    if offsets is not None:
        logits.add_(offsets)
    if allowed is not None:
        logits.masked_fill_(~allowed, EXCLUDED_LOGIT)
    return logits.requires_grad_(True)


def _record_solutions(
    results: PuzzleResults,
    problem: Problem,
    samples: Tensor,
    verdict: _Verdict,
    active: Tensor,
    newly: Tensor,
    restarts: int,
) -> None:
    """Store, for each newly solved puzzle, its first valid candidate (its restarts in order, each restart's
    samples before its mode). The choice is made on the verdict's flags, and only the chosen candidate of each
    instance is filled into a grid: one assignment gathered from the S + 1 candidates per variable, instead of
    filling every candidate of every row and choosing after (10 % less record time on the graded throughput file's
    first 300 steps, two threads)."""
    candidates = samples.shape[0] + 1  # the samples, then the mode
    num_active = active.shape[0]
    ok = torch.cat([verdict.sample_ok, verdict.mode_ok.unsqueeze(0)])  # (S+1, A * R)
    first = ok.view(candidates, num_active, restarts).permute(1, 2, 0).reshape(num_active, -1).int().argmax(1)
    instance = torch.arange(num_active, device=first.device) * restarts + first // candidates  # (A,)
    which = torch.zeros(problem.num_instances, dtype=torch.long, device=first.device)
    which[instance] = first % candidates  # per instance: its chosen candidate (0 where none is chosen)
    per_variable = which[problem.var_instance]  # (F,)
    from_samples = samples.gather(0, per_variable.clamp(max=candidates - 2).view(1, -1, 1).expand_as(samples[:1]))
    chosen = torch.where((per_variable == candidates - 1).unsqueeze(-1), verdict.mode[0], from_samples[0])
    grids = problem.fill(chosen.unsqueeze(0))[0]  # (A * R, *shape)
    _put(results.solution, active, newly, grids[instance])
    _put(results.found, active, newly, True)


def _record_best_modes(
    results: PuzzleResults,
    problem: Problem,
    verdict: _Verdict,
    active: Tensor,
    which: Tensor,
    restarts: int,
) -> None:
    """For puzzles stopping unsolved: the final mode of the restart with the lowest mode penalty."""
    num_active = active.shape[0]
    grids = problem.fill(verdict.mode)[0]
    grids = grids.view(num_active, restarts, *grids.shape[1:])
    best = verdict.mode_penalty.view(num_active, restarts).argmin(1)
    _put(results.solution, active, which, grids[torch.arange(num_active, device=best.device), best])
