"""Reading a problem file as text, with one-line reasons for the file-level failures (shared by the problem
readers; Sudoku files go through ``formats.py``)."""

from __future__ import annotations

from ..formats import read_bytes


class ProblemFileError(ValueError):
    """A file cannot be used as a problem; the message is one line for the user (without the path)."""


def read_text(path: str) -> str:
    """The UTF-8 text of ``path`` (``-`` = standard input). Raises ``ProblemFileError`` when it is missing,
    a directory, unreadable, binary or not UTF-8."""
    data = read_bytes(path, "problem file", ProblemFileError)
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ProblemFileError(f"binary file (NUL byte at offset {nul}), expected text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProblemFileError(f"not UTF-8 text (bad byte at offset {error.start})") from None
    if not text.strip():
        raise ProblemFileError("empty file")
    return text
