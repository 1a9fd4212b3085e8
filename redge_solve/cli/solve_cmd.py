"""``redge-solve solve SPEC.json``: a user-defined constraint problem in the JSON format of
``redge_solve.problems.userspec`` (``--schema`` prints its JSON schema)."""

from __future__ import annotations

import json
from typing import Any, List, Optional

import typer
from rich.table import Table

from ..problems.instances import user_instance
from ..problems.textfile import ProblemFileError, read_text
from ..problems.userspec import SPEC_DEFAULTS, json_schema, load_spec
from . import options as opt
from .app import app
from .common import console, fail
from .problem_run import check_json_path, run

TABLE_UP_TO = 200


def render_assignment(record: dict[str, Any]) -> Table | None:
    """The assignment as a two-column table (up to 200 variables), plus the broken constraints if unsolved."""
    assignment = record["assignment"]
    if len(assignment) > TABLE_UP_TO:
        return None
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("variable")
    table.add_column("value", style="green" if record["found"] else "")
    for variable, value in assignment.items():
        table.add_row(variable, "—" if value is None else value)
    if not record["found"]:
        table.caption = "broken: " + "; ".join(record["broken"])
    return table


@app.command("solve")
def solve_spec(
    spec: Optional[str] = typer.Argument(None, metavar="SPEC.json", show_default=False,
                                         help="The problem, '-' for stdin (format: README, or --schema)."),
    schema: bool = typer.Option(False, "--schema", help="Print the JSON schema of the format and exit."),
    estimator: str = opt.estimator_option(SPEC_DEFAULTS),
    param: Optional[List[str]] = opt.PARAM_OPTION,
    steps: Optional[int] = opt.steps_option(SPEC_DEFAULTS),
    samples: Optional[int] = opt.samples_option(SPEC_DEFAULTS),
    restarts: Optional[int] = opt.restarts_option(SPEC_DEFAULTS),
    lr: Optional[float] = opt.lr_option(SPEC_DEFAULTS),
    seed: Optional[int] = opt.seed_option(SPEC_DEFAULTS),
    json_path: Optional[str] = opt.JSON_OPTION,
    max_seconds: Optional[float] = opt.MAX_SECONDS_OPTION,
    quiet: bool = opt.QUIET_OPTION,
) -> None:
    """Solve a user-defined problem (variables, values, fixed values, groups, conflicts) by gradient descent.
    Exit 0 solved, 1 not solved, 2 bad input."""
    if schema:
        console.file.write(json.dumps(json_schema(), indent=1) + "\n")
        raise typer.Exit(0)
    if spec is None:
        fail("give a SPEC.json file (or --schema)")
    config = opt.make_config(SPEC_DEFAULTS, estimator, param, steps, samples, restarts, lr, seed,
                             max_seconds=max_seconds)
    check_json_path(json_path)
    name = "<stdin>" if spec == "-" else spec
    try:
        problem = load_spec(read_text(spec))
    except ProblemFileError as error:
        fail(f"{name}: {error}")
    instance = user_instance(problem)
    label = f"{instance.name}: {problem.spec.num_variables} variables × {problem.spec.num_categories} values"
    run([instance], config, label, render_assignment, json_path, quiet, "problem")
