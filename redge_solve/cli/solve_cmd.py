"""``redge-solve solve SPEC.json``: a user-defined constraint problem in the JSON format of
``redge_solve.problems.userspec`` (``--schema`` prints its JSON schema)."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer
from rich.table import Table

from ..problem_defaults import SPEC_DEFAULTS
from . import options as opt
from .app import app
from .common import ExitCode, console, fail, read_problem
from .problem_run import run

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
@opt.solver_options(SPEC_DEFAULTS)
def solve_spec(
    ctx: typer.Context,
    spec: Optional[str] = typer.Argument(None, metavar="SPEC.json", show_default=False,
                                         help="The problem, '-' for stdin (format: README, or --schema)."),
    schema: bool = typer.Option(False, "--schema", help="Print the JSON schema of the format and exit."),
    json_path: opt.Out = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
) -> None:
    """Solve a user-defined problem (variables, values, fixed values, groups, conflicts) by gradient descent.
    Exit 0 solved, 1 not solved, 2 bad input."""
    from ..problems.userspec import json_schema, load_spec
    from ..runs.instances import user_instance  # torch: not for --help

    if schema:
        console.file.write(json.dumps(json_schema(), indent=1) + "\n")
        raise typer.Exit(ExitCode.ALL_SOLVED)
    if spec is None:
        fail("give a SPEC.json file (or --schema)")
    config = opt.solver_config(ctx, SPEC_DEFAULTS)
    opt.check_output_or_exit("out", json_path, [spec], force)
    problem = read_problem(spec, lambda text, _: load_spec(text))
    instance = user_instance(problem)
    label = f"{instance.name}: {problem.spec.num_variables} variables × {problem.spec.num_categories} values"
    run([instance], config, label, render_assignment, json_path, quiet, "problem", opt.command_device(ctx))
