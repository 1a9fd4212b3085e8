"""The solving loop: Adam on mean-field logits, any estimator, a whole batch of puzzles as one tensor.

For a problem with I instances over F variables (all instances' variables concatenated) and K categories:

    θ ∈ R^{F×K} (zero: uniform);  each step:  X_1..X_S ~ π_θ  →  loss = Σ_instances mean_s f(X_s)  →  Adam on θ

with R independent restarts per puzzle in the same batch (instance ``p * R + r``). A puzzle is solved as soon as
any sample of any of its restarts, or the mode (argmax of its logits), is a valid solution; with early stopping
its rows then leave the batch, so the remaining steps cost only what the unsolved puzzles need. Randomness is
keyed by (seed, puzzle id, restart, variable), so a puzzle's trajectory does not depend on the rest of its batch.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, fields, replace
from typing import Callable, Mapping, Protocol

import torch
from torch import Tensor

from .estimators import Estimator, make_estimator
from .estimators._categorical import one_hot_argmax
from .estimators._noise import KeyedNoise, key_tensor, normal
from .memory import puzzles_per_batch


class Problem(Protocol):
    """What the loop needs from a problem (``SudokuBatch`` is one)."""

    var_instance: Tensor  # (F,) instance of each variable

    @property
    def num_instances(self) -> int: ...
    @property
    def num_variables(self) -> int: ...
    @property
    def num_categories(self) -> int: ...
    def penalty(self, x: Tensor) -> Tensor: ...  # (S, F, K) -> (S, I), zero exactly on valid one-hot solutions
    def fill(self, x: Tensor) -> Tensor: ...  # (S, F, K) -> (S, I, *solution shape)
    def repeat(self, times: int) -> "Problem": ...
    def select(self, keep: Tensor) -> "Problem": ...
    def variable_mask(self, keep: Tensor) -> Tensor: ...


MAX_LR = 1e37
"""Adam moves a logit by at most lr / (1 - β1) = 10 lr per step: above this the first step overflows float32."""


@dataclass(frozen=True)
class SolverConfig:
    """Settings of one solving run. The defaults are the product's, chosen by measurement (see README)."""

    # Defaults measured on Sudoku-3M dev puzzles (benchmarks/RESULTS_sudoku.md, benchmarks/tune_sudoku.py): on 50
    # hard (21-28 clue) puzzles, 3000 steps of ST with 4 samples x 4 restarts solved 31/50 at lr 0.05, 25/50 at
    # lr 0.2, 7/50 at lr 0.5, and 38/50 at lr 0.2 with a fresh start every 500 steps (35/50 every 300; 5/50 at lr
    # 0.1 every 500). Solutions come from the mode, almost never from a sample. Early stop keeps easy puzzles cheap.
    estimator: str = "st"
    params: Mapping[str, float | int] = field(default_factory=dict)
    steps: int = 3000
    samples: int = 4
    restarts: int = 4
    lr: float = 0.2
    early_stop: bool = True
    seed: int = 0
    init_std: float = 0.0  # std of Gaussian initial logits, keyed per (seed, puzzle, restart, cell); 0: uniform
    reset_every: int = 500  # every this many steps, unsolved puzzles restart from fresh logits and Adam state; 0: never

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
        estimator = self.make_estimator()  # validate the estimator name and parameters before any work
        if self.samples < estimator.min_samples:
            raise ValueError(f"{estimator.name} needs at least {estimator.min_samples} samples per step, got "
                             f"{self.samples}; pass --samples {estimator.min_samples} (or more)")

    def make_estimator(self) -> Estimator:
        return make_estimator(self.estimator, **dict(self.params))


DEFAULTS = SolverConfig()
"""The product's default settings (read these rather than repeating the tuned numbers)."""

PAPER_PROTOCOL = dict(steps=1000, samples=1, restarts=1, lr=0.05, early_stop=False, init_std=0.0, reset_every=0)
"""The paper's Table 2: 1000 Adam steps, lr 0.05, one sample per step, no restarts, no early stop, logits
starting at zero (every extra knob of ``SolverConfig`` switched off)."""


def paper_protocol(config: SolverConfig, **overrides) -> SolverConfig:
    """``config`` under the paper's protocol, then ``overrides`` (one step: a combination is validated whole)."""
    return replace(config, **{**PAPER_PROTOCOL, **overrides})


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
    diverged_step: the step at which the puzzle's logits became NaN/inf (it then left the batch unsolved, and
        its other fields are not results), -1 if never.
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


@dataclass(frozen=True)
class Progress:
    step: int
    steps: int
    solved: int
    total: int
    active: int
    best_penalty: float
    elapsed: float
    results: PuzzleResults | None = None  # the run's results so far (finished puzzles are final)


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
) -> PuzzleResults:
    """Optimise every puzzle of ``problem`` with ``config``; returns per-puzzle results (see ``PuzzleResults``).

    puzzle_ids: a stable id per puzzle (e.g. its row in a dataset) for the noise keys; defaults to 0..B-1.
    A batch larger than ``memory_budget`` bytes (default: ``memory.budget()``) allows is solved as consecutive
    sub-batches sized by ``memory.puzzles_per_batch``; keyed noise makes the results the same as in one batch.
    Ctrl-C raises ``Interrupted`` carrying the results of the puzzles reached so far.
    """
    count, device = problem.num_instances, problem.var_instance.device
    ids = torch.arange(count, device=device) if puzzle_ids is None else puzzle_ids.long().to(device)
    size = puzzles_per_batch(problem, config, memory_budget)
    parts: list[PuzzleResults] = []
    live: list[PuzzleResults | None] = [None]  # the results of the sub-batch in flight

    def step(progress: Progress) -> None:
        live[0] = progress.results
        if on_step is not None:
            before = sum(int(part.found.sum()) for part in parts)
            rest = count - sum(len(part.found) for part in parts) - progress.total
            on_step(replace(progress, solved=before + progress.solved, total=count, active=progress.active + rest))

    try:
        for first in range(0, max(count, 1), size):
            keep = torch.zeros(count, dtype=torch.bool, device=device)
            keep[first:first + size] = True
            sub = problem if size >= count else problem.select(keep)
            parts.append(_solve_batch(sub, config, ids[keep], step))
            live[0] = None
    except KeyboardInterrupt:
        raise Interrupted(_concat(parts + ([live[0]] if live[0] is not None else []))) from None
    return parts[0] if len(parts) == 1 else _concat(parts)


def _concat(parts: list[PuzzleResults]) -> PuzzleResults:
    """The results of consecutive sub-batches as one; the curve adds up each part's solved count per step."""
    if not parts:  # interrupted before the first step
        return PuzzleResults(**{f.name: torch.zeros(0) for f in fields(PuzzleResults) if f.name != "curve"})
    tensors = {f.name: torch.cat([getattr(p, f.name) for p in parts]) for f in fields(PuzzleResults)
               if f.name != "curve"}
    longest = max(len(p.curve) for p in parts)
    curve = [(step, sum(p.curve[min(step, len(p.curve)) - 1][1] for p in parts if p.curve))
             for step in range(1, longest + 1)]
    return PuzzleResults(**tensors, curve=curve)


def _solve_batch(
    problem: Problem,
    config: SolverConfig,
    puzzle_ids: Tensor,
    on_step: Callable[[Progress], None] | None = None,
) -> PuzzleResults:
    """``solve`` for one batch that fits in memory."""
    start = time.perf_counter()
    estimator = config.make_estimator()
    count, restarts, samples = problem.num_instances, config.restarts, config.samples
    device = problem.var_instance.device  # every tensor of the run lives where the problem does
    ids = torch.arange(count, device=device) if puzzle_ids is None else puzzle_ids.long().to(device)
    active = torch.arange(count, device=device)  # puzzles still in the batch
    current = problem.repeat(restarts)
    noise = KeyedNoise(instance_keys(ids, restarts, current, config.seed))
    logits = _initial_logits(current.num_variables, current.num_categories, config.init_std, noise, device)
    optimizer = Adam(logits, config.lr)

    example = problem.fill(torch.zeros(1, problem.num_variables, problem.num_categories, device=device))[0]
    results = PuzzleResults(
        solved_any=torch.zeros(count, dtype=torch.bool, device=device),
        solved_mode=torch.zeros(count, dtype=torch.bool, device=device),
        solved_last=torch.zeros(count, dtype=torch.bool, device=device),
        found=torch.zeros(count, dtype=torch.bool, device=device),
        solution=example.clone(),
        first_solved_step=torch.full((count,), -1, dtype=torch.long, device=device),
        penalty=torch.zeros(count, device=device),
        steps_run=torch.zeros(count, dtype=torch.long, device=device),
        seconds=torch.zeros(count, device=device),
        diverged_step=torch.full((count,), -1, dtype=torch.long, device=device),
    )

    for step in range(1, config.steps + 1):
        noise.next_step()
        if config.reset_every and step > 1 and (step - 1) % config.reset_every == 0:
            logits = _initial_logits(current.num_variables, current.num_categories, config.init_std, noise, device)
            optimizer = Adam(logits, config.lr)
        out = estimator.surrogate(current.penalty, logits, samples, noise)
        (grad,) = torch.autograd.grad(out.loss, logits)
        optimizer.step(grad)
        with torch.no_grad():
            diverged = torch.zeros(active.shape[0], dtype=torch.bool, device=device)
            # a finite sum implies finite logits (a NaN or inf would propagate into it); the full check only if not
            if not logits.sum().isfinite() and not torch.isfinite(logits).all():
                diverged = _diverged(logits, current, restarts)  # such a puzzle leaves the batch now, no result
                results.diverged_step[active[diverged]] = step
                results.found[active[diverged]] = False

            mode = one_hot_argmax(logits).unsqueeze(0)
            mode_penalty = current.penalty(mode)[0]
            sample_ok = out.values < 0.5  # (S, I): penalties of hard samples are integers
            mode_ok = mode_penalty < 0.5
            num_active = active.shape[0]
            puzzle_sample_ok = sample_ok.any(0).view(num_active, restarts).any(1)
            puzzle_mode_ok = mode_ok.view(num_active, restarts).any(1)
            newly = (puzzle_sample_ok | puzzle_mode_ok) & ~results.found[active] & ~diverged
            last_step = step == config.steps

            if newly.any():
                _record_solutions(results, current, out.samples, mode, sample_ok, mode_ok, active, newly, restarts)
                results.first_solved_step[active[newly]] = step
            results.solved_any[active] |= puzzle_sample_ok
            results.curve.append((step, int(results.found.sum())))

            stopping = (results.found[active] & config.early_stop) | last_step | diverged
            if stopping.any():
                done = active[stopping]
                results.solved_last[done] = puzzle_sample_ok[stopping]
                results.solved_mode[done] = puzzle_mode_ok[stopping]
                results.penalty[done] = out.values.mean(0).view(num_active, restarts).mean(1)[stopping]
                results.steps_run[done] = step
                results.seconds[done] = time.perf_counter() - start
                unsolved = stopping & ~results.found[active] & ~diverged
                if unsolved.any():
                    _record_best_modes(results, current, mode, mode_penalty, active, unsolved, restarts)
            if on_step is not None:
                on_step(
                    Progress(
                        step=step,
                        steps=config.steps,
                        solved=int(results.found.sum()),
                        total=count,
                        active=int((~stopping).sum()),
                        best_penalty=float(out.values.min()) if out.values.numel() else 0.0,
                        elapsed=time.perf_counter() - start,
                        results=results,
                    )
                )
            if last_step or bool(stopping.all()):
                break
            if stopping.any():
                keep = ~stopping
                keep_instances = keep.repeat_interleave(restarts)
                keep_vars = current.variable_mask(keep_instances)
                logits = logits[keep_vars].detach().requires_grad_(True)
                optimizer = optimizer.select(logits, keep_vars)
                noise = noise.select(keep_vars)
                current = current.select(keep_instances)
                active = active[keep]
    return results


class Adam:
    """Adam (β = (0.9, 0.999), ε = 1e-8) on one tensor of logits, computed as ``torch.optim.Adam`` computes it:

        m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,   θ ← θ − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)

    in torch's fused kernel (``torch._fused_adam_``, what ``torch.optim.Adam(fused=True)`` calls: one pass) where
    this torch has it for the device, else in the same elementwise steps as torch's unfused Adam. Not
    ``torch.optim`` itself: its first use imports ``torch._dynamo``, about 2 s at the start of every process.
    """

    BETA1, BETA2, EPS = 0.9, 0.999, 1e-8

    def __init__(self, logits: Tensor, lr: float) -> None:
        self.logits, self.lr = logits, lr
        self.exp_avg, self.exp_avg_sq = torch.zeros_like(logits), torch.zeros_like(logits)
        self.steps = torch.zeros((), dtype=torch.float32, device=logits.device)  # as torch keeps it for fusing

    def select(self, logits: Tensor, keep: Tensor) -> "Adam":
        """The state of the kept variables (bool ``(F,)``), continuing on ``logits`` (the kept logits)."""
        kept = Adam(logits, self.lr)
        kept.exp_avg, kept.exp_avg_sq, kept.steps = self.exp_avg[keep], self.exp_avg_sq[keep], self.steps.clone()
        return kept

    @torch.no_grad()
    def step(self, grad: Tensor) -> None:
        self.steps += 1
        if _fused_adam(self.logits.device):
            torch._fused_adam_([self.logits], [grad], [self.exp_avg], [self.exp_avg_sq], [], [self.steps],
                               amsgrad=False, lr=self.lr, beta1=self.BETA1, beta2=self.BETA2, weight_decay=0.0,
                               eps=self.EPS, maximize=False)
            return
        step = float(self.steps)
        self.exp_avg.lerp_(grad, 1 - self.BETA1)
        self.exp_avg_sq.mul_(self.BETA2).addcmul_(grad, grad, value=1 - self.BETA2)
        denom = (self.exp_avg_sq.sqrt() / math.sqrt(1 - self.BETA2**step)).add_(self.EPS)
        self.logits.addcdiv_(self.exp_avg, denom, value=-self.lr / (1 - self.BETA1**step))


_FUSED_ADAM: dict[torch.device, bool] = {}


def _fused_adam(device: torch.device) -> bool:
    """Whether ``torch._fused_adam_`` runs on this device in this torch (CPU since torch 2.4), tried once."""
    if device not in _FUSED_ADAM:
        probe = torch.zeros(1, device=device)
        try:
            torch._fused_adam_([probe.clone()], [probe], [probe.clone()], [probe.clone()], [], [probe.clone()],
                               amsgrad=False, lr=0.1, beta1=0.9, beta2=0.999, weight_decay=0.0, eps=1e-8,
                               maximize=False)
            _FUSED_ADAM[device] = True
        except (AttributeError, RuntimeError, NotImplementedError):
            _FUSED_ADAM[device] = False
    return _FUSED_ADAM[device]


def _diverged(logits: Tensor, problem: Problem, restarts: int) -> Tensor:
    """Bool ``(puzzles,)``: puzzles with a NaN/inf logit in any restart (variables → instances → puzzles)."""
    bad = (~torch.isfinite(logits)).any(-1).float()
    per_instance = torch.zeros(problem.num_instances, device=logits.device).index_add_(0, problem.var_instance, bad)
    return (per_instance > 0).view(-1, restarts).any(1)


def _initial_logits(variables: int, categories: int, std: float, noise: KeyedNoise, device: torch.device) -> Tensor:
    """Zero logits (uniform), or keyed Gaussian ones: the first draw of the current step's streams (step 0 at
    the start; at a reset, the estimator draws after it), so they depend only on each variable's key."""
    logits = torch.zeros(variables, categories, dtype=torch.float32, device=device)
    if std > 0:
        logits = normal(logits, noise).mul_(std)
    return logits.requires_grad_(True)


def _record_solutions(
    results: PuzzleResults,
    problem: Problem,
    samples: Tensor,
    mode: Tensor,
    sample_ok: Tensor,
    mode_ok: Tensor,
    active: Tensor,
    newly: Tensor,
    restarts: int,
) -> None:
    """Store, for each newly solved puzzle, its first valid candidate (samples first, then the mode)."""
    candidates = problem.fill(torch.cat([samples, mode]))  # (S+1, I, *shape)
    ok = torch.cat([sample_ok, mode_ok.unsqueeze(0)])  # (S+1, I)
    num_active, shape = active.shape[0], candidates.shape[2:]
    candidates = candidates.view(candidates.shape[0], num_active, restarts, *shape)
    ok = ok.view(ok.shape[0], num_active, restarts)
    # order candidates per puzzle restart-major, samples before the mode
    candidates = candidates.transpose(0, 1).transpose(1, 2).reshape(num_active, -1, *shape)
    ok = ok.permute(1, 2, 0).reshape(num_active, -1)
    first = ok.int().argmax(1)
    chosen = candidates[torch.arange(num_active, device=first.device), first]
    results.solution[active[newly]] = chosen[newly]
    results.found[active[newly]] = True


def _record_best_modes(
    results: PuzzleResults,
    problem: Problem,
    mode: Tensor,
    mode_penalty: Tensor,
    active: Tensor,
    which: Tensor,
    restarts: int,
) -> None:
    """For puzzles stopping unsolved: the final mode of the restart with the lowest mode penalty."""
    num_active = active.shape[0]
    grids = problem.fill(mode)[0]
    grids = grids.view(num_active, restarts, *grids.shape[1:])
    best = mode_penalty.view(num_active, restarts).argmin(1)
    results.solution[active[which]] = grids[torch.arange(num_active, device=best.device), best][which]
