"""The command line: ``redge-solve COMMAND``. Each command lives in its own module and only wires the library."""

from __future__ import annotations

from . import (
    compare_cmd,  # noqa: F401  (registers the command)
    estimators_cmd,  # noqa: F401  (registers the command)
)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
