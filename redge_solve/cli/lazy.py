"""Commands imported only when they are used, listed in the order a user meets them.

Importing a command module imports the library behind it (torch, and for some datasets or matplotlib), which
takes seconds. ``redge-solve --help`` needs none of that: it lists ``COMMANDS`` with their one-line summaries from
this table, and ``redge-solve COMMAND ...`` imports that one command's module (which registers it on ``app``)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

import typer
from typer._click import Context
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info

from .aliases import renamed

# name: (module in redge_solve.cli, the summary ``redge-solve --help`` shows: the start of the command's own
# help, checked by the tests), in the order a user meets them
COMMANDS: dict[str, tuple[str, str]] = {
    "sudoku": ("sudoku_cmd", "Solve the Sudoku puzzles of FILE by gradient descent."),
    "batch": ("batch_cmd", "Solve every puzzle of a dataset into a JSONL results file (resumable; Ctrl-C keeps "
                           "finished rows)."),
    "report": ("report_cmd", "Summarise a results file: rows, errors, solve rates by criterion, steps and time, by "
                             "clues and difficulty."),
    "compare": ("compare_cmd", "Compare gradient estimators on the same puzzles: loss, solved % (last sample / mode "
                               "/ any), speed."),
    "estimators": ("estimators_cmd", "List the gradient estimators with their parameters and defaults."),
    "latin": ("latin_cmd", "Complete partial Latin squares by gradient descent."),
    "queens": ("queens_cmd", "Solve N-Queens by gradient descent."),
    "color": ("color_cmd", "Colour a graph by gradient descent."),
    "solve": ("solve_cmd", "Solve a user-defined problem (variables, values, fixed values, groups, conflicts) by "
                           "gradient descent."),
    "bench": ("bench_cmd", "The paper's other experiments: polynomial programming, GMM inference, VAEs."),
}


class LazyCommands(TyperGroup):
    """A root group whose commands are built from their modules on first use. While the group's own help is
    formatted, a command not yet imported is shown by its summary in ``COMMANDS`` without importing it."""

    listing = False
    registry: Any = None  # the Typer app the command modules register on (set by ``app``, which imports this module)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for command in self.commands.values():  # commands whose modules were imported before the group was built
            tidy(command)

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in self.commands and name in COMMANDS:
            if self.listing:
                summary = COMMANDS[name][1]
                return typer.main.TyperCommand(name=name, help=summary, short_help=summary)
            self.commands[name] = load_command(self.registry, name, self.rich_markup_mode)
        return super().get_command(ctx, name)

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        # the command will only print its help: the root callback then skips the thread set-up (and torch)
        ctx.meta["help_only"] = "--help" in args
        name, command, rest = super().resolve_command(ctx, args)
        return name, command, renamed(name or "", rest, _notice)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        tidy(self)
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def load_command(app: Any, name: str, rich_markup_mode: Any) -> Any:
    """Import the module of command ``name`` (which registers it on the Typer ``app``) and build its Click command
    (a group for ``bench``)."""
    importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")
    for info in app.registered_commands:
        if info.name == name:
            return tidy(get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=rich_markup_mode))
    for group in app.registered_groups:
        if group.name == name:
            return tidy(get_group_from_info(group, pretty_exceptions_short=True, suggest_commands=True,
                                            rich_markup_mode=rich_markup_mode))
    raise LookupError(f"{COMMANDS[name][0]} does not register the command {name!r}")


def _notice(message: str) -> None:
    from .common import err_console

    err_console.print(f"[yellow]note:[/] {message}", highlight=False, soft_wrap=True)


# the value each kind of option takes, as every command's help names it (an option's own metavar wins)
METAVARS = {int: "N", float: "X", str: "TEXT", Path: "PATH"}
PAIRS = {"param", "grid"}  # repeatable ``NAME=VALUE`` options
IN_BRACKETS = re.compile(r"\s*\[(default: [^\]]*)\]")


def tidy(command: Any) -> Any:
    """One look for every command's help, whatever Typer infers from the declarations: arguments in capitals
    (``FILE``, ``SOURCE``), values named by kind (``N``, ``X``, ``TEXT``, ``PATH``, ``NAME=VALUE``, ``a|b`` for a
    choice) instead of ``<int>``, ``<str>`` or ``<list[str]>``, nothing after a flag, and a default written in the
    help text shown as ``(default: ...)`` (in brackets, Rich took it for markup and dropped it, leaving "batch .")."""
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    command.get_help_option(Context(command)).metavar = ""  # built (and kept) here, so it is tidied too
    for param in command.params:
        if param.help:
            param.help = IN_BRACKETS.sub(r" (\1)", param.help)
        if param.param_type_name == "argument":
            param.display_type_rich = lambda ctx: None  # its name in capitals says it; no "<str>" beside it
            if param.metavar and param.nargs != 1:  # Typer adds the "..." of a repeated argument itself
                param.metavar = param.metavar.removesuffix("...")
        if param.metavar is not None:
            continue
        if param.param_type_name == "argument":
            param.metavar = param.name.upper()
        elif getattr(param, "is_flag", False):
            param.metavar = ""
        elif param.name in PAIRS:
            param.metavar = "NAME=VALUE"
        else:
            kind = param.type_descriptor
            choices = [getattr(c, "value", c) for c in kind.choices or ()] if kind.is_choice else []
            param.metavar = "|".join(map(str, choices)) or ("PATH" if kind.is_path else
                                                             METAVARS.get(kind.annotation, "TEXT"))
    return command
