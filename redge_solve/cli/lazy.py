"""Commands imported only when they are used, listed in the order a user meets them.

Importing a command module imports the library behind it (torch, and for some datasets or matplotlib), which
takes seconds. ``redge-solve --help`` needs none of that: it lists ``COMMANDS`` with their one-line summaries from
this table, and ``redge-solve COMMAND ...`` imports that one command's module (which registers it on ``app``)."""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup
from typer.main import get_command_from_info, get_group_from_info

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

    def list_commands(self, ctx: Any) -> list[str]:
        return [*COMMANDS, *(name for name in self.commands if name not in COMMANDS)]

    def get_command(self, ctx: Any, name: str) -> Any:
        if name not in self.commands and name in COMMANDS:
            if self.listing:
                summary = COMMANDS[name][1]
                return typer.main.TyperCommand(name=name, help=summary, short_help=summary)
            self.commands[name] = load_command(name, self.rich_markup_mode)
        return super().get_command(ctx, name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def load_command(name: str, rich_markup_mode: Any) -> Any:
    """Import the module of command ``name`` and build its Click command (a group for ``bench``)."""
    from .app import app

    importlib.import_module(f"{__package__}.{COMMANDS[name][0]}")
    for info in app.registered_commands:
        if info.name == name:
            return get_command_from_info(info, pretty_exceptions_short=True, rich_markup_mode=rich_markup_mode)
    for group in app.registered_groups:
        if group.name == name:
            return get_group_from_info(group, pretty_exceptions_short=True, suggest_commands=True,
                                       rich_markup_mode=rich_markup_mode)
    raise LookupError(f"{COMMANDS[name][0]} does not register the command {name!r}")
