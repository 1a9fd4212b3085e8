"""Named problem instances: a constraint spec plus the problem's own direct check and JSON view of a solution.

``Instance`` is what the CLI and ``compare`` handle for Latin squares, N-Queens, graph colouring and user specs:
``batch(instances)`` is the solver's ``Problem`` (instances of different K are widened to the largest, the extra
values forbidden), and ``instance_records`` turns the solver's results into JSON-ready records whose ``verified``
and ``violations`` come from the problem's direct check, not from the penalty.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from torch import Tensor

from ..solver import PuzzleResults
from .coloring import Graph, coloring_spec, conflicting_edges
from .constraints import ConstraintBatch, ConstraintSpec
from .latin import LatinPuzzle, latin_spec, line_conflicts, symbol
from .queens import attacking_pairs, queens_spec
from .userspec import UserProblem


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


def coloring_instance(graph: Graph, colors: int) -> Instance:
    def check(values: Tensor) -> list[str]:
        return _domain_problems(values, colors) or [f"edge {u + 1}-{v + 1} has both ends colour {int(values[u]) + 1}"
                                                    for u, v in conflicting_edges(graph, values).tolist()]

    return Instance(graph.name or "graph", coloring_spec(graph, colors), check,
                    lambda values: {"colors": (values + 1).tolist(), "num_colors": colors})


def user_instance(problem: UserProblem) -> Instance:
    def view(values: Tensor) -> dict[str, Any]:
        return {"assignment": {var: problem.value_names[int(v)] if 0 <= v < len(problem.value_names) else None
                               for var, v in zip(problem.variable_names, values.tolist(), strict=True)}}

    return Instance(problem.name or "spec", problem.spec, problem.spec.verify, view)


def batch(instances: Sequence[Instance]) -> ConstraintBatch:
    """The solver's ``Problem`` for these instances (one tensor batch; K widened to the largest)."""
    width = max(i.spec.num_categories for i in instances)
    return ConstraintBatch.from_specs([i.spec.widen(width) for i in instances])


def instance_records(results: PuzzleResults, instances: Sequence[Instance], indices: Sequence[int]
                     ) -> list[dict[str, Any]]:
    """One record per instance: index, name, found, the three solved criteria, first_solved_step, penalty,
    violations (count) and the first few broken constraints, verified, steps_run, seconds, and the solution's view."""
    records = []
    for i, (instance, index) in enumerate(zip(instances, indices, strict=True)):
        values = results.solution[i][: instance.spec.num_variables]
        broken = instance.check(values)
        first = int(results.first_solved_step[i])
        records.append({
            "index": int(index),
            "name": instance.name,
            "found": bool(results.found[i]),
            "solved_last": bool(results.solved_last[i]),
            "solved_mode": bool(results.solved_mode[i]),
            "solved_any": bool(results.solved_any[i]),
            "first_solved_step": first if first >= 0 else None,
            "penalty": round(float(results.penalty[i]), 6),
            "violations": len(broken),
            "broken": broken[:10],
            "verified": not broken,
            "steps_run": int(results.steps_run[i]),
            "seconds": round(float(results.seconds[i]), 4),
            **instance.view(values),
        })
    return records


def solution_values(results: PuzzleResults, instances: Sequence[Instance]) -> list[Tensor]:
    """Each instance's assignment ``(V_i,)`` from the padded ``results.solution``."""
    return [results.solution[i][: inst.spec.num_variables].clone() for i, inst in enumerate(instances)]


__all__ = ["Instance", "batch", "coloring_instance", "instance_records", "latin_instance", "queens_instance",
           "solution_values", "user_instance"]
