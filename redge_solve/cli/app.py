"""The Typer application that every command module registers on."""

import typer

from .lazy import LazyCommands

app = typer.Typer(
    cls=LazyCommands,
    name="redge-solve",
    help="Solve Sudoku and constraint problems by gradient descent over mean-field categorical models, "
    "and compare gradient estimators (ReDGE, ST, Gumbel-Softmax, ReinMax, REINFORCE).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"redge-solve {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Show the version."),
) -> None:
    """Solve puzzles by gradient descent over mean-field categorical models; compare gradient estimators."""
    from ..memory import budget
    from .common import fail

    try:
        budget()  # a bad REDGE_MEMORY_BUDGET is refused before any work
    except ValueError as error:
        fail(str(error))
