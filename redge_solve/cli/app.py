"""The Typer application that every command module registers on."""

from typing import Optional

import typer

app = typer.Typer(
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
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True, help="Show the version."),
    threads: Optional[int] = typer.Option(
        None, "--threads", show_default=False, metavar="N",
        help="Threads for torch (default: OMP_NUM_THREADS, else as many as the other processes leave cores free). "
        "Results are byte-identical for the same seed and thread count."),
) -> None:
    """Solve puzzles by gradient descent over mean-field categorical models; compare gradient estimators."""
    import torch

    from .. import threads as thread_policy
    from ..memory import budget
    from .common import fail

    try:
        budget()  # a bad REDGE_MEMORY_BUDGET is refused before any work
        before = torch.get_num_threads()
        thread_policy.apply(threads)
    except ValueError as error:
        fail(str(error))
    ctx.call_on_close(lambda: torch.set_num_threads(before))  # a caller that runs the app in-process keeps its count
