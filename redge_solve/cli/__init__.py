"""The command line: ``redge-solve COMMAND``. Each command lives in its own module and only wires the library."""

from __future__ import annotations

from . import batch_cmd, estimators_cmd, report_cmd  # noqa: F401  (registers the commands)
from .app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
