"""User-defined problems from a JSON file (``redge-solve solve SPEC.json``), validated by a pydantic model.

Format (every key but ``variables`` and ``values`` optional)::

    {
      "name": "map of Australia",
      "variables": ["WA", "NT", "SA", "Q", "NSW", "V", "T"],   # or a count: 7 (then named 0..6)
      "values": ["red", "green", "blue"],                      # or a count: 3 (then named 0..2)
      "fixed": {"WA": "red"},                                  # clues: variable -> value
      "differ": [["WA", "NT"], ["WA", "SA"]],                  # pairs of variables that must take different values
      "all_different": [["a", "b", "c"]],                      # every pair of the list must differ
      "exactly_one": [[["a", "red"], ["b", "red"]]],           # exactly one of these assignments holds
      "at_most_one": [[["a", "red"], ["c", "blue"]]],          # at most one of these assignments holds
      "conflicts": [[["a", "red"], ["b", "green"]]],           # these two assignments must not both hold
      "forbidden": [["T", "blue"]]                             # this assignment must not hold
    }

Variables and values are referred to by name or by 0-based index. Each kind of constraint maps to one term of
``constraints.ConstraintSpec`` (formulas there). Any error is one line naming the JSON path, e.g.
``exactly_one[2][0]: unknown variable 'X'``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Union

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..problem_defaults import SPEC_DEFAULTS  # noqa: F401  (re-exported: its home is torch-free)
from .constraints import ConstraintSpec
from .textfile import ProblemFileError

Ref = Union[int, str]
Literal_ = tuple[Ref, Ref]


class SpecModel(BaseModel):
    """The JSON document (structure only; names are resolved by ``load_spec``)."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    variables: Union[int, list[str]] = Field(description="a count, or the list of variable names")
    values: Union[int, list[str]] = Field(description="the domain size, or the list of value names")
    fixed: dict[str, Ref] = Field(default_factory=dict, description="variable -> value (clues)")
    differ: list[tuple[Ref, Ref]] = Field(default_factory=list, description="pairs of variables that must differ")
    all_different: list[list[Ref]] = Field(default_factory=list, description="lists of pairwise different variables")
    exactly_one: list[list[Literal_]] = Field(default_factory=list, description="groups of [variable, value]")
    at_most_one: list[list[Literal_]] = Field(default_factory=list, description="groups of [variable, value]")
    conflicts: list[tuple[Literal_, Literal_]] = Field(default_factory=list,
                                                       description="pairs of [variable, value] not both true")
    forbidden: list[Literal_] = Field(default_factory=list, description="[variable, value] that must not hold")


@dataclass(frozen=True)
class UserProblem:
    name: str
    variable_names: list[str]
    value_names: list[str]
    spec: ConstraintSpec


def json_schema() -> dict:
    """The JSON schema of the spec format (``redge-solve solve --schema``)."""
    return SpecModel.model_json_schema()


def _path(location: tuple) -> str:
    """``("exactly_one", 2, 0)`` -> ``exactly_one[2][0]``; pydantic's union branch tags (``int``, ``list[str]``)
    are left out."""
    out = ""
    for part in location:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part not in ("int", "str") and "[" not in part:
            out += f".{part}" if out else part
    return out or "(top level)"


def _first_error(error: ValidationError) -> str:
    """One line for the first problem; alternatives of a union failing at the same place become one message."""
    errors = error.errors()
    path = _path(errors[0]["loc"])
    same = [e for e in errors if _path(e["loc"]) == path]
    field = path.split("[")[0].split(".")[0]
    if len(same) > 1 and field in SpecModel.model_fields:
        message = f"expected {SpecModel.model_fields[field].description}, got {same[0]['input']!r}"
    else:
        message = errors[0]["msg"]
    rest = len(errors) - len(same)
    return f"{path}: {message}" + (f" (and {rest} more problem{'s' if rest > 1 else ''})" if rest else "")


def _names(value: int | list[str], what: str) -> list[str]:
    if isinstance(value, int):
        if value < 1:
            raise ProblemFileError(f"{what}: need at least 1, got {value}")
        return [str(i) for i in range(value)]
    if not value:
        raise ProblemFileError(f"{what}: the list is empty")
    seen = set()
    for i, name in enumerate(value):
        if name in seen:
            raise ProblemFileError(f"{what}[{i}]: {name!r} appears twice")
        seen.add(name)
    return list(value)


def _resolve(ref: Ref, names: list[str], what: str, path: str) -> int:
    if isinstance(ref, int):
        if 0 <= ref < len(names):
            return ref
        raise ProblemFileError(f"{path}: {what} index {ref} is outside 0..{len(names) - 1}")
    try:
        return names.index(ref)
    except ValueError:
        raise ProblemFileError(f"{path}: unknown {what} {ref!r}") from None


def load_spec(text: str) -> UserProblem:
    """Parse and validate a spec document. Raises ``ProblemFileError`` with one line naming the JSON path."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProblemFileError(f"not valid JSON: {error.msg} at line {error.lineno}, column {error.colno}") from None
    except ValueError:  # Python refuses integers of more than 4300 digits while parsing
        raise ProblemFileError("not a usable JSON document: a number with more than 4300 digits") from None
    try:
        model = SpecModel.model_validate(document)
    except ValidationError as error:
        raise ProblemFileError(_first_error(error)) from None
    variables = _names(model.variables, "variables")
    values = _names(model.values, "values")
    k = len(values)

    def var(ref: Ref, path: str) -> int:
        return _resolve(ref, variables, "variable", path)

    def literal(pair: Literal_, path: str) -> int:
        return var(pair[0], f"{path}[0]") * k + _resolve(pair[1], values, "value", f"{path}[1]")

    fixed = torch.full((len(variables),), -1, dtype=torch.long)
    for name, value in model.fixed.items():
        index = var(int(name) if name.isdigit() and name not in variables else name, f"fixed.{name}")
        fixed[index] = _resolve(value, values, "value", f"fixed.{name}")
    differ = [(var(a, f"differ[{i}][0]"), var(b, f"differ[{i}][1]")) for i, (a, b) in enumerate(model.differ)]
    for i, group in enumerate(model.all_different):
        members = [var(ref, f"all_different[{i}][{j}]") for j, ref in enumerate(group)]
        differ += [(a, b) for j, a in enumerate(members) for b in members[j + 1:]]
    for i, (a, b) in enumerate(differ):
        if a == b:
            raise ProblemFileError(f"differ/all_different: variable {variables[a]!r} cannot differ from itself "
                                   f"(pair {i})")
    groups = {}
    for kind in ("exactly_one", "at_most_one"):
        groups[kind] = []
        for i, group in enumerate(getattr(model, kind)):
            if not group:
                raise ProblemFileError(f"{kind}[{i}]: an empty group")
            members = [literal(pair, f"{kind}[{i}][{j}]") for j, pair in enumerate(group)]
            if len(set(members)) != len(members):
                raise ProblemFileError(f"{kind}[{i}]: an assignment appears twice in the group")
            groups[kind].append(members)
    conflicts = [(literal(a, f"conflicts[{i}][0]"), literal(b, f"conflicts[{i}][1]"))
                 for i, (a, b) in enumerate(model.conflicts)]
    forbidden = [literal(pair, f"forbidden[{i}]") for i, pair in enumerate(model.forbidden)]
    spec = ConstraintSpec.build(
        len(variables), k, fixed=fixed, exactly_one=groups["exactly_one"], at_most_one=groups["at_most_one"],
        conflicts=torch.tensor(conflicts, dtype=torch.long).reshape(-1, 2),
        differ=torch.tensor(differ, dtype=torch.long).reshape(-1, 2),
        forbidden=torch.tensor(forbidden, dtype=torch.long))
    return UserProblem(model.name, variables, values, spec)

