"""The command line: ``redge-solve COMMAND``. Each command lives in its own module, imported only when the command
is used (see ``lazy``), and only wires the library."""

from __future__ import annotations

from ..allocator import keep_freed_memory
from ..threads import prepare

prepare()  # before anything imports torch: OpenMP reads its wait policy when torch loads it
keep_freed_memory()  # a step's freed tensors stay in the process for the next step (see ``allocator``)

from .app import app  # noqa: E402


def main() -> None:
    app()


__all__ = ["app", "main"]
