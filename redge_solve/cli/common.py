"""Shared pieces of the command line: consoles, the one-line error with exit code 2, ``key=value`` parsing."""

from __future__ import annotations

import contextlib
import json
import signal
from typing import Any, Iterator, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err_console = Console(stderr=True)

EXIT_ALL_SOLVED, EXIT_SOME_UNSOLVED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def print_error(message: str) -> None:
    """``error: message`` on one line to stderr (``message`` is plain text, not markup)."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    """Print ``error: message`` on one line to stderr and exit with code 2 (bad input or usage); ``message`` is
    plain text (a path such as ``runs[1].csv`` is not read as markup)."""
    print_error(message)
    raise typer.Exit(EXIT_BAD_INPUT)


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Within the block SIGTERM raises ``KeyboardInterrupt``, so ``kill PID`` takes Ctrl-C's path (save what is
    finished, exit 130)."""

    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def parse_assignments(items: list[str], what: str) -> dict[str, str]:
    """``["n_steps=5", "t_1=0.3"]`` -> ``{"n_steps": "5", "t_1": "0.3"}``; a malformed item is a usage error."""
    parsed: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            fail(f"{what} must look like name=value, got {item!r}")
        parsed[key.strip()] = value.strip()
    return parsed


def write_json_lines(path: str, records: list[dict[str, Any]]) -> None:
    """One JSON line per record to ``path`` (written atomically), or to stdout for ``-``; a write error is a
    one-line error (exit 2)."""
    from ..atomic import write_atomic

    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if path == "-":
        console.file.write(text)
        console.file.flush()
        return
    try:
        write_atomic(path, text)
    except OSError as error:
        fail(f"cannot write {path}: {error.strerror or error}")
