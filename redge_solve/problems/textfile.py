"""Reading a problem file as text, with one-line reasons for the file-level failures (shared by the problem
readers; Sudoku files go through ``formats.py``)."""

from __future__ import annotations

from ..formats import decode_text, read_bytes


class ProblemFileError(ValueError):
    """A file cannot be used as a problem; the message is one line for the user (without the path)."""


def read_text(path: str) -> str:
    """The UTF-8 text of ``path`` (``-`` = standard input). Raises ``ProblemFileError`` when it is missing,
    a directory, unreadable, binary or not UTF-8."""
    text = decode_text(read_bytes(path, "problem file", ProblemFileError), "text", ProblemFileError)
    assert text is not None  # strict: a bad byte raised
    if not text.strip():
        raise ProblemFileError("empty file")
    return text
