"""The Typer application that every command module registers on."""

import sys
from typing import Any, Optional, Sequence

import typer
from typer.core import TyperGroup

from .lazy import LazyCommands

# Click's base of usage errors (Typer may vendor its own Click, so found from the public ``typer.BadParameter``)
CLICK_ERROR: type[Exception] = next(k for k in typer.BadParameter.__mro__ if k.__name__ == "ClickException")


class OneLineErrors(TyperGroup):
    """The root group, with usage errors (a bad option value, ``min=`` violated, an unknown option, a missing
    argument) printed as the project's one line ``error: ...`` on stderr with exit code 2, like every other bad
    input, instead of Typer's multi-line panel."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, windows_expand_args: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        try:  # not standalone: typer.Exit comes back as its code, a usage error as the exception
            code = super().main(args, prog_name, complete_var, False, windows_expand_args, **extra)
        except CLICK_ERROR as error:
            from .common import ExitCode, print_error

            print_error(usage_message(error))
            sys.exit(getattr(error, "exit_code", 0) or ExitCode.BAD_INPUT)
        except typer.Abort:
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def usage_message(error: Exception) -> str:
    """One line for a Click usage error: ``--steps must be >= 1`` for a bad value (Typer's "Input should be
    greater than or equal to" read as "must be >="), Click's own text otherwise (``No such option: --stpes
    (Possible options: --samples, --size, --steps)``)."""
    param, ctx = getattr(error, "param", None), getattr(error, "ctx", None)
    if isinstance(error, typer.BadParameter) and type(error).__name__ != "MissingParameter" and param and ctx:
        name = max(param.opts, key=len) if param.param_type_name == "option" else param.human_readable_name
        text = error.message.removeprefix("Value error, ").replace("Input should be", "must be")
        for words, sign in (("greater than or equal to", ">="), ("less than or equal to", "<="),
                            ("greater than", ">"), ("less than", "<")):
            text = text.replace(words, sign)
        message = f"{name} {text}" if text.startswith("must ") else f"{name}: {text}"
    else:
        message = error.format_message()  # type: ignore[attr-defined]
    return " ".join(message.split())


class Root(LazyCommands, OneLineErrors):
    """The root group: commands imported on first use (``LazyCommands``), usage errors as one line, exit 2
    (``OneLineErrors``)."""


app = typer.Typer(
    cls=Root,
    name="redge-solve",
    help="Solve Sudoku and constraint problems by gradient descent over mean-field categorical models, "
    "and compare gradient estimators (ReDGE, ST, Gumbel-Softmax, ReinMax, REINFORCE).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


Root.registry = app  # where LazyCommands finds the commands it imports (lazy.py imports nothing from here)


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
    if ctx.meta.get("help_only"):  # `COMMAND --help` solves nothing: no thread set-up, no torch import
        return
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
