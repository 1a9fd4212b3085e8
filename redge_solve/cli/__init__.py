"""The command line: ``redge-solve COMMAND``. Each command lives in its own module, imported only when the command
is used (see ``lazy``), and only wires the library."""

from __future__ import annotations

from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
