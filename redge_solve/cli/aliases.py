"""Old spellings of options, accepted for one release as hidden aliases of the new ones (``docs/cli.md``).

The root group rewrites a command's arguments before Typer parses them (``renamed``), so no command declares
the old names: they are absent from ``--help``, and each use prints one line naming the new spelling."""

from __future__ import annotations

from typing import Callable

SOLVING = {"--json": "--out"}
PROGRESS = {"--no-progress": "--quiet", "--progress": ""}  # "" : dropped (it was the default)

ALIASES: dict[str, dict[str, str]] = {
    "sudoku": SOLVING, "latin": SOLVING, "queens": SOLVING, "color": SOLVING, "solve": SOLVING,
    "batch": {"--overwrite": "--force"},
    "compare": PROGRESS,
    "bench": PROGRESS,
}
"""command: {old option: new option}; ``bench``'s apply to each of its experiments."""


def renamed(command: str, args: list[str], notice: Callable[[str], None]) -> list[str]:
    """``args`` of ``command`` with every old spelling replaced by the new one (``--json=x`` too), calling
    ``notice`` once per old spelling used; arguments after ``--`` are left as they are."""
    table = ALIASES.get(command, {})
    out: list[str] = []
    told: set[str] = set()
    for position, arg in enumerate(args):
        if arg == "--":
            return out + args[position:]
        name, sep, value = arg.partition("=")
        if name in table:
            new = table[name]
            if name not in told:
                told.add(name)
                notice(f"{name} is now {new}; the old spelling goes in the next release" if new else
                       f"{name} is the default now; the option goes in the next release")
            if new:
                out.append(new + sep + value)
            continue
        out.append(arg)
    return out
