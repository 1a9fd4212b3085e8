"""The fewest colours for a graph: a DSATUR colouring first, then the gradient solver at K−1, K−2, … colours.

    K₀ = colours of DSATUR (networkx ``greedy_color(G, strategy="DSATUR")``)
    for K = K_best − 1, K_best − 2, … down to the lower bound L:
        solve the K-colouring problem (``coloring_spec``) within ``config.steps`` steps and ``max_seconds``,
        each restart warm-started from the best colouring so far with one of its classes dropped (``warm_start``);
        a colouring found (verified edge by edge) that uses K' ≤ K colours makes K_best = K';
        a failure stops the search, unless a time budget (``config.max_seconds``) has time left: then K, still
        open, is tried again (the next seed, ``config.seed + try``) until one succeeds or the budget is spent.
        With crossover (the default) each try again is a generation of ``retry_steps`` steps (default
        ``GENERATION_STEPS``) whose restarts start from the last try's: the ``ELITE`` best from their own best
        modes, the others from the greedy partition crossover (GPX) of two of them (``next_generation``), a
        memetic search with the gradient runs as its local search; the first try at each K, from the warm
        start, is then as long (at most ``config.steps``): at the frontier a long first try mostly stalls one to
        four edges off, where the generations after it go on (docs/coloring.md, "A first try as long as a
        generation"). Without, a try again starts from fresh restarts and runs ``RETRY_LENGTH · config.steps``
        (the colourings at the frontier K come late), a share ``retry_cold`` of its restarts from random logits
        alone (default: half; the other half warm).

Without a budget the search stops at the first K that fails within ``config.steps``; with one, no time is left
unused once a K fails (none goes to a K already reached or below the lower bound).

L is the size of the largest clique seen (``maximal_cliques``: networkx ``find_cliques``, capped so that dense
graphs stay fast; any clique is a lower bound on χ), raised to a known χ when one is given: no colouring with
fewer colours exists, so the search stops there and spends no time on a K below it. The cliques of exactly K
vertices also enter each K's penalty (``coloring_spec``). Each attempt records the seconds from the start of the
search to its end (``Attempt.elapsed``; ``SearchResult.seconds_to_colors``: the time to each number of colours
reached). Every colouring reported is checked directly on the edges, and the best never has more colours than
DSATUR's (DSATUR's own colouring is the fallback). Ctrl-C raises ``SearchInterrupted`` carrying the result so far,
whose best colouring is final.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Callable

import torch
from torch import Tensor

from ..problem_defaults import ELITE, GENERATION_STEPS, RETRY_COLD, RETRY_LENGTH, WARM_START
from ..problems.coloring import Graph, coloring_spec, maximal_cliques, to_networkx, verify_coloring
from ..problems.constraints import ConstraintBatch
from ..solver import Interrupted, Progress, SolverConfig, solve
from .records import on_cpu


@dataclass(frozen=True)
class Attempt:
    """One number of colours tried. method: ``"dsatur"`` or ``"gradient"``; colors: the K asked for; used: the
    colours the colouring found actually uses (≤ K), 0 when none was found; steps: solver steps run (0 for
    DSATUR); first_solved_step: the step the colouring appeared, −1 if none; stopped: why the attempt ended
    (``"solved"``, ``"steps"`` when the step budget ran out, ``"time"`` when ``max_seconds`` did, ``"interrupted"``);
    elapsed: seconds from the start of the search to the attempt's end, for a colouring found the time to reach it
    (the attempt stops at its first colouring); retry: how many times this K had been tried before (each try again
    starts from fresh restarts with the next seed)."""

    colors: int
    method: str
    found: bool
    used: int
    steps: int
    first_solved_step: int
    seconds: float
    stopped: str
    coloring: Tensor | None = None  # (V,) long, 0-based colours, when found
    elapsed: float = 0.0
    retry: int = 0  # 0 for the first try at this K; n for the n-th try again (seed config.seed + n)
    population: tuple[Tensor, Tensor] | None = None  # unsolved: each restart's best mode (R, V) and its penalty (R,)

    def record(self) -> dict:
        """JSON-ready fields (without the colouring itself)."""
        return {"colors": self.colors, "method": self.method, "found": self.found, "used": self.used,
                "steps": self.steps, "first_solved_step": self.first_solved_step,
                "seconds": round(self.seconds, 4), "elapsed_seconds": round(self.elapsed, 4), "stopped": self.stopped,
                "retry": self.retry, "lowest_penalty": None if self.population is None else
                float(self.population[1].min())}


@dataclass
class SearchResult:
    """The search so far. best_*: the fewest colours found, by which method, and the colouring (0-based);
    dsatur_colors: DSATUR's K; lower_bound: L (see the module docstring); optimal: best_colors == lower_bound."""

    graph: Graph
    dsatur_colors: int
    lower_bound: int
    best_colors: int
    best_method: str
    best_coloring: Tensor
    attempts: list[Attempt] = field(default_factory=list)
    budget_spent: bool = False  # the search's time budget (config.max_seconds) ended it

    @property
    def optimal(self) -> bool:
        return self.best_colors <= self.lower_bound

    @property
    def seconds_to_colors(self) -> dict[int, float]:
        """Seconds from the start of the search to the first colouring with each number of colours reached (the
        colours it uses), DSATUR's included: where the time went."""
        reached: dict[int, float] = {}
        for attempt in self.attempts:
            if attempt.found:
                reached.setdefault(attempt.used, attempt.elapsed)
        return reached

    def record(self, verified: bool, interrupted: bool = False) -> dict:
        """The JSON record of the search (what ``color --out`` writes): the best colouring (1-based colours), how it
        was found, DSATUR's K, the lower bound, whether the colouring passed the direct check (``verified``), every
        K tried (``attempts``), the seconds from the start to the first colouring with each number of colours reached
        (``seconds_to_colors``) and whether the time budget ended the search."""
        return {
            "name": self.graph.name or "graph",
            "vertices": self.graph.num_vertices,
            "edges": int(self.graph.edges.shape[0]),
            "found": True,  # a search always has a colouring: DSATUR's at worst
            "num_colors": self.best_colors,
            "method": self.best_method,
            "dsatur_colors": self.dsatur_colors,
            "lower_bound": self.lower_bound,
            "optimal": self.optimal,
            "verified": verified,
            "interrupted": interrupted,
            "colors": (self.best_coloring + 1).tolist(),
            "attempts": [a.record() for a in self.attempts],
            "seconds_to_colors": {str(k): round(v, 4) for k, v in self.seconds_to_colors.items()},
            "budget_spent": self.budget_spent,
        }


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during ``fewest_colors``; ``result`` holds every finished attempt and the best colouring so far."""

    def __init__(self, result: SearchResult) -> None:
        super().__init__()
        self.result = result


def dsatur(graph: Graph) -> Tensor:
    """A DSATUR colouring ``(V,)`` (0-based) by networkx ``greedy_color(G, strategy="DSATUR")``: repeatedly colour
    the vertex with the most distinct colours among its neighbours (ties: highest degree) with the lowest colour
    free there."""
    import networkx as nx

    colors = nx.greedy_color(to_networkx(graph), strategy="DSATUR")
    return torch.tensor([colors[v] for v in range(graph.num_vertices)], dtype=torch.long)


def largest_clique(cliques: list[list[int]]) -> list[int]:
    """The largest of ``cliques`` (the first of that size), [] when there are none: its size is a lower bound on
    the colours of any colouring, so no K below it can be reached."""
    return max(cliques, key=len, default=[])


def compact(coloring: Tensor) -> Tensor:
    """The same partition with the colours actually used renumbered 0..K'−1 (in the order of the old numbers)."""
    return torch.unique(coloring, return_inverse=True)[1]


def colors_used(coloring: Tensor) -> int:
    return int(torch.unique(coloring).numel())


def warm_start(coloring: Tensor, colors: int, restarts: int, strength: float = WARM_START) -> Tensor:
    """Initial logit offsets ``(R, V, K)`` that start K = ``colors`` colours from ``coloring``, a colouring with
    K + 1 classes (0..K): restart r drops class ``d_r``, the (r mod (K + 1))-th smallest, whose vertices start with
    no offset (free to take any colour), and every other vertex gets ``strength`` on its colour, the K kept
    classes renumbered 0..K−1 in order. Each restart is then a K-colouring but for one class to place, and the
    restarts spread over the classes, the smallest (the fewest vertices to re-place) first."""
    classes = int(coloring.max()) + 1
    if classes != colors + 1:
        raise ValueError(f"a warm start at {colors} colours needs a colouring with {colors + 1} classes, not {classes}")
    sizes = torch.bincount(coloring, minlength=classes)
    dropped = torch.argsort(sizes, stable=True)[torch.arange(restarts) % classes].unsqueeze(1)  # (R, 1)
    kept = coloring.unsqueeze(0) != dropped  # (R, V)
    renumbered = (coloring.unsqueeze(0) - (coloring.unsqueeze(0) > dropped).long()).clamp_(max=colors - 1)
    offsets = torch.zeros(restarts, coloring.shape[0], colors)
    return offsets.scatter_(2, renumbered.unsqueeze(-1), kept.unsqueeze(-1) * strength)


def partition_crossover(first: Tensor, second: Tensor, colors: int) -> Tensor:
    """The greedy partition crossover (GPX, Galinier & Hao 1999) of two colourings ``(V,)`` with ``colors``
    classes: for c = 0, 1, …, K − 1, the largest class of the parent whose turn it is (first, second, first, …),
    counting only the vertices not yet placed, becomes the child's class c, and its vertices are removed from both
    parents. The child ``(V,)`` has colours 0..K−1 and −1 on the vertices left unplaced. Each class of the child is
    a subset of a class of a parent, so the child keeps the parents' large independent sets whole."""
    child = torch.full_like(first, -1)
    parents = [first.clone(), second.clone()]
    for color in range(colors):
        parent = parents[color % 2]
        sizes = torch.bincount(parent + 1, minlength=colors + 1)[1:]  # placed vertices are −1 there
        largest = int(sizes.argmax())
        if sizes[largest] == 0:
            break
        taken = parent == largest
        child[taken] = color
        for each in parents:
            each[taken] = -1
    return child


def next_generation(modes: Tensor, penalties: Tensor, colors: int, elite: int = ELITE,
                    strength: float = WARM_START, generator: torch.Generator | None = None) -> Tensor:
    """Warm-start offsets ``(R, V, K)`` for the next try at a K, from the last try's restarts: their best modes
    ``modes`` ``(R, V)`` and those modes' penalties ``(R,)``. The ``elite`` lowest-penalty restarts go on from their
    own modes; every other restart starts from the ``partition_crossover`` of two parents, each the better of two
    restarts drawn at random (a binary tournament). A vertex placed gets ``strength`` on its colour, an unplaced one
    nothing (its random logits alone), as in ``warm_start``."""
    restarts = modes.shape[0]
    order = torch.argsort(penalties, stable=True)
    children = [modes[int(r)] for r in order[:elite]]
    draws = torch.randint(restarts, (restarts - len(children), 2, 2), generator=generator)
    for pair in draws:
        first, second = (int(a) if penalties[a] <= penalties[b] else int(b) for a, b in pair)
        children.append(partition_crossover(modes[first], modes[second], colors))
    child = torch.stack(children)
    placed = child >= 0
    offsets = torch.zeros(restarts, modes.shape[1], colors)
    return offsets.scatter_(2, child.clamp(min=0).unsqueeze(-1), placed.unsqueeze(-1) * strength)


def fewest_colors(
    graph: Graph,
    config: SolverConfig,
    max_seconds: float = float("inf"),
    known_chromatic: int | None = None,
    on_attempt: Callable[[Attempt], None] | None = None,
    on_step: Callable[[int, Progress], None] | None = None,
    device: torch.device | str | None = None,
    warm: float = WARM_START,
    retry_steps: int | None = None,
    retry_cold: float = RETRY_COLD,
    crossover: bool = True,
) -> SearchResult:
    """The fewest colours this search reaches for ``graph`` (see the module docstring).

    config: the gradient solver's settings for every attempt (``config.steps`` bounds each attempt), and
    ``config.max_seconds`` the wall-clock budget of the whole search (DSATUR and the cliques included): each attempt
    gets what is left of it, and none starts once it is spent (the best colouring so far stands); max_seconds: a
    budget of each gradient attempt on top of that (0 or inf: none);
    known_chromatic: a χ known beforehand (stops the search there); warm: the strength of the warm start from
    the best colouring so far (``warm_start``; 0: every K starts from random logits alone); retry_steps: the
    steps of each try again at a K still open (None: ``RETRY_LENGTH · config.steps``); retry_cold: the share of
    the restarts of a try again that start from random logits alone, not warm (the last ones: the warm ones keep
    the smallest classes to drop); crossover: each try again instead starts from the last try's restarts
    recombined (``next_generation``) and runs ``retry_steps`` (default ``GENERATION_STEPS``), ``retry_cold``
    unused, and with a time budget the first try at each K runs as many (at most ``config.steps``). on_attempt
    is called after each attempt, on_step(K, progress) after each solver step; the attempts are solved on
    ``device`` (default: the CPU).
    Raises ``SearchInterrupted`` on Ctrl-C with the result so far.
    """
    if not 0 <= retry_cold <= 1:
        raise ValueError(f"retry_cold is a share of the restarts, between 0 and 1, not {retry_cold}")
    start = time.perf_counter()
    first = dsatur(graph)
    dsatur_k = colors_used(first)
    seconds = time.perf_counter() - start
    opening = Attempt(dsatur_k, "dsatur", True, dsatur_k, 0, -1, seconds, "solved", first, seconds)
    result = SearchResult(graph, dsatur_k, 1, dsatur_k, "dsatur", first, [opening])
    if on_attempt is not None:
        on_attempt(opening)
    try:
        cliques = maximal_cliques(graph)
    except KeyboardInterrupt:
        raise SearchInterrupted(result) from None
    result.lower_bound = max(len(largest_clique(cliques)), 1)
    if known_chromatic is not None:
        result.lower_bound = max(result.lower_bound, known_chromatic)
    deadline = None if config.max_seconds is None else start + config.max_seconds
    retry = 0
    population = None  # the last try's restarts at the K still open (crossover)
    generation = retry_steps or GENERATION_STEPS  # with crossover, the steps of a try again (and of a first try)
    while result.best_colors > result.lower_bound:
        budget = max_seconds if 0 < max_seconds < float("inf") else None
        if deadline is not None:
            left = deadline - time.perf_counter()
            if left <= 0:
                result.budget_spent = True
                break
            budget = left if budget is None else min(budget, left)
        k = result.best_colors - 1
        if crossover and population is not None:
            generator = torch.Generator().manual_seed(config.seed + retry)
            offsets = next_generation(*population, k, strength=warm or WARM_START, generator=generator)
            steps = generation
        else:
            offsets = warm_start(compact(result.best_coloring), k, config.restarts, warm) if warm > 0 else None
            if offsets is not None and retry > 0:
                offsets[config.restarts - round(retry_cold * config.restarts):] = 0  # these restarts start cold
            if retry > 0:
                steps = retry_steps or RETRY_LENGTH * config.steps
            elif crossover and deadline is not None:  # the first try at K is a generation too (a failure goes on)
                steps = min(config.steps, generation)
            else:  # the search ends at the first K that fails: its one try runs the whole step budget
                steps = config.steps
        attempt = _attempt(graph, cliques, k, replace(config, seed=config.seed + retry, steps=steps), budget,
                           on_step, device, offsets, crossover)
        attempt = replace(attempt, elapsed=time.perf_counter() - start, retry=retry)
        result.attempts.append(attempt)
        if attempt.found:
            result.best_colors, result.best_method, result.best_coloring = attempt.used, "gradient", attempt.coloring
        if on_attempt is not None:
            on_attempt(attempt)
        if attempt.stopped == "interrupted":
            raise SearchInterrupted(result)
        population = attempt.population
        if attempt.found:
            retry = 0
        elif deadline is None:
            break  # no budget to spend on this K: the search ends at the first K that fails
        else:
            retry += 1  # the K is still open and the budget has time left (checked above): try it again
    return result


def _attempt(graph: Graph, cliques: list[list[int]], k: int, config: SolverConfig, budget: float | None,
             on_step: Callable[[int, Progress], None] | None, device: torch.device | str | None = None,
             offsets: Tensor | None = None, restart_modes: bool = False) -> Attempt:
    """One gradient attempt at ``k`` colours (the K-cliques as exactly-one groups, see ``coloring_spec``), from
    the initial logit ``offsets`` when given (``warm_start``), ended by success, ``config.steps``, ``budget``
    seconds or Ctrl-C (``stopped``). A colouring counts only if it passes ``verify_coloring``. ``restart_modes``:
    an attempt without a colouring keeps its restarts' best modes (``Attempt.population``)."""
    problem = ConstraintBatch.from_specs([coloring_spec(graph, k, cliques)], device=device)
    start = time.perf_counter()
    last: list[Progress | None] = [None]

    def step(progress: Progress) -> None:
        last[0] = progress
        if on_step is not None:
            on_step(k, progress)

    stopped = "steps"
    try:
        results = solve(problem, replace(config, early_stop=True, max_seconds=budget), on_step=step,
                        warm_start=offsets, restart_modes=restart_modes)
        if not bool(results.found[0]) and int(results.steps_run[0]) < config.steps:
            stopped = "time"  # the solver's wall-clock budget (SolverConfig.max_seconds) ended the run
    except Interrupted as interrupt:
        results, stopped = interrupt.results, "interrupted"
    results = on_cpu(results) if results is not None else None
    seconds = time.perf_counter() - start
    steps = last[0].step if last[0] is not None else 0
    found = results is not None and len(results.found) == 1 and bool(results.found[0])
    coloring = results.solution[0][: graph.num_vertices].clone() if found else None  # type: ignore[union-attr]
    if coloring is None or not verify_coloring(graph, coloring, k):
        population = None
        if results is not None and results.restart_modes is not None:
            population = (results.restart_modes[:, : graph.num_vertices], results.restart_penalties)
        return Attempt(k, "gradient", False, 0, steps, -1, seconds, stopped, population=population)
    coloring = compact(coloring)
    return Attempt(k, "gradient", True, colors_used(coloring), steps, int(results.first_solved_step[0]), seconds,
                   "solved" if stopped != "interrupted" else stopped, coloring)
