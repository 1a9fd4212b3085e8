"""``redge-solve estimators``: the registry as a table."""

from __future__ import annotations

from rich import box
from rich.markup import escape
from rich.table import Table

from .app import app
from .common import console


@app.command("estimators")
def list_estimators() -> None:
    """List the gradient estimators with their parameters and defaults."""
    from ..estimators import ESTIMATORS, parameter_defaults  # here: `estimators --help` needs no torch

    table = Table(title="gradient estimators", title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False)
    table.add_column("name", style="bold cyan")
    table.add_column("parameters (defaults)")
    table.add_column("what it does")
    for name, cls in ESTIMATORS.items():
        params = ", ".join(f"{k}={v}" for k, v in parameter_defaults(name).items()) or "—"
        table.add_row(name, escape(params), escape(cls.summary))  # text, not markup: '∇E[f]' stays
    console.print(table)
    console.print("[dim]Choose one with -e NAME and set a parameter with -p NAME=VALUE (e.g. -e redge -p t_1=0.3). "
                  "Formulas: docs/method.md.[/]")
