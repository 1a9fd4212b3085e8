"""Named problem instances: a constraint spec plus the problem's own direct check and JSON view of a solution.

``Instance`` is what the CLI and ``compare`` handle for Latin squares, N-Queens, graph colouring and user specs:
``batch(instances)`` is the solver's ``Problem`` (instances of different K are widened to the largest, the extra
values forbidden), ``instance_records`` turns the solver's results into JSON-ready records whose ``verified``
and ``violations`` come from the problem's direct check, not from the penalty, and ``solve_instances`` does both
for instances of any mix of sizes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from ..problems.coloring import Graph, coloring_spec, conflicting_edges, maximal_cliques
from ..problems.constraints import ConstraintBatch, ConstraintSpec
from ..problems.latin import LatinPuzzle, latin_spec, line_conflicts, symbol
from ..problems.queens import attacking_pairs, queens_spec
from ..problems.userspec import UserProblem
from ..solver import PuzzleResults, SolverConfig
from .grouped import OnGroup, solve_grouped
from .records import cost_fields, divergence, on_cpu, outcome_fields


@dataclass(frozen=True)
class Instance:
    """One problem instance. check: the broken constraints of an assignment ``(V,)`` in words (empty = valid),
    computed directly from the problem's own rules; view: its JSON fields (e.g. a grid string)."""

    name: str
    spec: ConstraintSpec
    check: Callable[[Tensor], list[str]]
    view: Callable[[Tensor], dict[str, Any]]


def _domain_problems(values: Tensor, k: int) -> list[str]:
    bad = ((values < 0) | (values >= k)).nonzero().flatten().tolist()
    return [f"variable {v} has value {int(values[v])} outside 0..{k - 1}" for v in bad]


def latin_instance(puzzle: LatinPuzzle, name: str) -> Instance:
    clues = puzzle.clues
    n = puzzle.side

    def check(values: Tensor) -> list[str]:
        out = _domain_problems(values, n)
        if out:
            return out
        grid = values + 1
        out = [f"{symbol(d)} twice in {line}" for line, d in line_conflicts(grid)]
        changed = ((clues != 0) & (grid != clues)).nonzero().flatten().tolist()
        return out + [f"clue at row {c // n + 1}, column {c % n + 1} changed" for c in changed]

    return Instance(name, latin_spec(clues), check,
                    lambda values: {"grid": "".join(symbol(int(v) + 1) for v in values)})


def queens_instance(n: int) -> Instance:
    def check(values: Tensor) -> list[str]:
        return _domain_problems(values, n) or [f"queens of rows {a + 1} and {b + 1} attack each other"
                                               for a, b in attacking_pairs(values)]

    return Instance(f"queens-{n}", queens_spec(n), check, lambda values: {"columns": values.tolist()})


def coloring_instance(graph: Graph, colors: int, cliques: list[list[int]] | None = None) -> Instance:
    """``colors``-colouring of ``graph``; ``cliques``: its ``maximal_cliques`` when the caller has them already."""

    def check(values: Tensor) -> list[str]:
        return _domain_problems(values, colors) or [f"edge {u + 1}-{v + 1} has both ends colour {int(values[u]) + 1}"
                                                    for u, v in conflicting_edges(graph, values).tolist()]

    cliques = maximal_cliques(graph) if cliques is None else cliques
    return Instance(graph.name or "graph", coloring_spec(graph, colors, cliques), check,
                    lambda values: {"colors": (values + 1).tolist(), "num_colors": colors})


def user_instance(problem: UserProblem) -> Instance:
    def view(values: Tensor) -> dict[str, Any]:
        return {"assignment": {var: problem.value_names[int(v)] if 0 <= v < len(problem.value_names) else None
                               for var, v in zip(problem.variable_names, values.tolist(), strict=True)}}

    return Instance(problem.name or "spec", problem.spec, problem.spec.verify, view)


def batch(instances: Sequence[Instance], device: torch.device | str | None = None) -> ConstraintBatch:
    """The solver's ``Problem`` for these instances (one tensor batch on ``device``; K widened to the largest)."""
    width = max(i.spec.num_categories for i in instances)
    return ConstraintBatch.from_specs([i.spec.widen(width) for i in instances], device=device)


def instance_records(results: PuzzleResults, instances: Sequence[Instance], indices: Sequence[int]
                     ) -> list[dict[str, Any]]:
    """One record per instance: index, name, found, the three solved criteria, first_solved_step, penalty,
    violations (count) and the first few broken constraints, verified, steps_run, seconds, and the solution's view.
    An instance whose logits became NaN/inf has no result: ``{"index", "name", "found": False, "verified": False,
    "error"}``."""
    records = []
    results = on_cpu(results)
    for i, (instance, index) in enumerate(zip(instances, indices, strict=True)):
        diverged = divergence(results, i)
        if diverged is not None:
            records.append({"index": int(index), "name": instance.name, "found": False, "verified": False,
                            "error": diverged})
            continue
        values = results.solution[i][: instance.spec.num_variables]
        broken = instance.check(values)
        records.append({
            "index": int(index),
            "name": instance.name,
            **outcome_fields(results, i),
            "violations": len(broken),
            "broken": broken[:10],
            "verified": not broken,
            **cost_fields(results, i),
            **instance.view(values),
        })
    return records


def solve_instances(instances: Sequence[Instance], config: SolverConfig, on_group: OnGroup | None = None,
                    device: torch.device | str | None = None) -> list[dict[str, Any]]:
    """Solve ``instances``, one tensor batch per number of values K (``grouped.solve_grouped``; noise keyed by the
    position, so the grouping changes no result): one record each, in input order (``instance_records``; an
    instance whose logits became NaN/inf gets an error record), solved on ``device`` (default: the CPU). Ctrl-C
    raises ``GroupsInterrupted`` with the instances that had finished."""
    numbered = list(enumerate(instances))
    return solve_grouped(numbered, lambda item: item[1].spec.num_categories, config,
                         lambda group: batch([instance for _, instance in group], device),
                         lambda group: [index for index, _ in group],
                         lambda results, group: instance_records(results, [i for _, i in group], [j for j, _ in group]),
                         on_group)


def solution_values(results: PuzzleResults, instances: Sequence[Instance]) -> list[Tensor]:
    """Each instance's assignment ``(V_i,)`` from the padded ``results.solution``."""
    return [results.solution[i][: inst.spec.num_variables].clone() for i, inst in enumerate(instances)]


__all__ = ["Instance", "batch", "coloring_instance", "instance_records", "latin_instance", "queens_instance",
           "solution_values", "user_instance"]


QUEENS_PREFIX = "queens:"
"""A ``compare`` source of N-Queens boards: ``queens:8,16,32``."""


def problem_source(source: str, colors: int | None = None) -> list[Instance] | None:
    """The instances named by a ``compare`` source, or None when it is not one of these (Sudoku data then):
    ``queens:8,16,32`` (N-Queens boards), a DIMACS ``.col`` file, or a directory of them (sorted by name), each
    coloured with ``colors`` or else its ``c chromatic number``. Raises ``ProblemFileError`` (one line)."""
    import os

    from ..problems.coloring import parse_dimacs
    from ..problems.textfile import ProblemFileError, read_text

    if source.startswith(QUEENS_PREFIX):
        try:
            sizes = [int(n) for n in source.removeprefix(QUEENS_PREFIX).split(",") if n.strip()]
        except ValueError:
            raise ProblemFileError(f"{source}: expected queens:N1,N2,... with integers") from None
        if not sizes or any(n < 4 for n in sizes):
            raise ProblemFileError(f"{source}: expected queens:N1,N2,... with every N >= 4")
        return [queens_instance(n) for n in sizes]
    if os.path.isdir(source):
        paths = sorted(os.path.join(source, f) for f in os.listdir(source) if f.endswith(".col"))
        if not paths:
            raise ProblemFileError(f"{source}: no .col files in this directory")
    elif source.endswith(".col"):
        paths = [source]
    else:
        return None
    instances = []
    for path in paths:
        try:
            graph = parse_dimacs(read_text(path), os.path.splitext(os.path.basename(path))[0])
        except ProblemFileError as error:
            raise ProblemFileError(f"{path}: {error}") from None
        k = colors if colors is not None else graph.chromatic_number
        if k is None:
            raise ProblemFileError(f"{path}: give `colors` K (the file states no 'c chromatic number')")
        instances.append(coloring_instance(graph, k))
    return instances
