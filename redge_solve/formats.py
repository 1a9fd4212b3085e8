"""Reading Sudoku puzzle files: every common text layout, auto-detected, with a precise reason for every bad puzzle.

``parse_text(text)`` turns a file's text into a list of entries, each a ``Puzzle`` (clues, optional solution,
metadata, the line it starts on) or a ``BadPuzzle`` (line and reason); a problem with the file as a whole
(empty, binary, not UTF-8 at all, missing, a CSV without a puzzle column) raises ``FormatError``; a
few bad bytes in a text file make only the puzzles they fall in bad. Layouts:

* one puzzle per line: N² symbols (16, 81, 256 or 625), ``0`` or ``.`` for blanks, digits then letters A–P above 9;
  spaces, ``|`` and ``+`` inside the line are ignored;
* tdoku style ``puzzle:count:solution``, or ``puzzle:solution`` (the second field is a solution when it is a full
  grid of the same length, a count when it is a number; anything else is an error);
* a grid written over N lines (one row per line, optional ``|``/``+``/space separators, separator lines made of
  ``-``, ``+``, ``=`` and ``|``), grids separated by blank lines or simply following each other;
* CSV/TSV (``,``, tab or ``;``) with a header naming a ``puzzle`` column (also ``puzzles``, ``quizzes``, ``quiz``,
  ``grid``) and optionally ``solution``/``solutions``; other columns are kept as metadata. A CSV without a header is
  read as ``puzzle[,solution]``, and one whose header is that single column name (what ``df[["puzzle"]].to_csv()``
  writes) as a CSV of one column.

``#`` starts a comment (whole line or trailing). Lines of 16 cells are 4×4 puzzles unless they carry separators
within a grid block of 16 such rows, or ``size=16`` is given; ``size`` forces the side of every puzzle.
A file may mix sizes; the caller groups puzzles by ``Puzzle.side``.
"""

from __future__ import annotations

import csv
import math
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Union

import torch
from torch import Tensor

from .problems.sudoku import SIZES, validate_puzzle

PUZZLE_COLUMNS = ("puzzle", "puzzles", "quizzes", "quiz", "grid")
SOLUTION_COLUMNS = ("solution", "solutions")
_LINE_LENGTHS = {n * n: n for n in SIZES}  # 16 -> 4, 81 -> 9, 256 -> 16, 625 -> 25
_SEPARATOR_LINE = re.compile(r"^[-+=|\s]+$")
_INNER_SEPARATORS = re.compile(r"[\s|+]")
BAD_BYTE = "\ufffd"  # what a byte that is not UTF-8 decodes to


class FormatError(ValueError):
    """The file as a whole cannot be read as puzzles; the message is one line for the user."""


@dataclass(frozen=True)
class Puzzle:
    index: int  # position among all entries of the file (good and bad), 0-based
    line: int  # 1-based line where the puzzle starts
    clues: Tensor  # (N²,) long, 0 = blank
    solution: Tensor | None = None  # (N²,) long, checked against the clues and the rules
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def side(self) -> int:
        return math.isqrt(self.clues.numel())


@dataclass(frozen=True)
class BadPuzzle:
    index: int
    line: int
    reason: str
    text: str = ""  # the raw text of the puzzle (for error records)


Entry = Union[Puzzle, BadPuzzle]


def read_bytes(path: str, what: str = "puzzle file", error: type[ValueError] = FormatError) -> bytes:
    """The bytes of ``path`` (``-`` = standard input); a file-level failure raises ``error`` with a one-line
    reason that does not repeat the path (``what`` names the kind of file expected)."""
    try:
        if path == "-":
            return sys.stdin.buffer.read()
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise error("no such file") from None
    except IsADirectoryError:
        raise error(f"is a directory, not a {what}") from None
    except PermissionError:
        raise error("permission denied") from None
    except OSError as exc:
        raise error(f"cannot read: {exc.strerror or exc}") from None


def read_puzzles(path: str, size: int | None = None) -> list[Entry]:
    """Read and parse a file (``-`` = standard input). Raises ``FormatError`` for file-level problems (the
    message does not repeat the path)."""
    data = read_bytes(path)
    return parse_bytes(data, size=size)


def decode_text(data: bytes, expected: str, error: type[ValueError] = FormatError, strict: bool = True) -> str | None:
    """``data`` as UTF-8 text (an optional BOM dropped). A NUL byte is a binary file: ``error`` (one line, ending
    "expected ``expected``"). A byte that is not UTF-8 is such an ``error`` too when ``strict``; otherwise the
    result is None, and the caller decides what the bad bytes spoil."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise error(f"binary file (NUL byte at offset {nul}), expected {expected}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if strict:
            raise error(f"not UTF-8 text (bad byte at offset {exc.start}), expected {expected}") from None
        return None


def parse_bytes(data: bytes, size: int | None = None) -> list[Entry]:
    """Decode (UTF-8, optional BOM) and parse; binary data, or data where no puzzle is UTF-8, raises
    ``FormatError``."""
    text = decode_text(data, "puzzle text", strict=False)
    if text is not None:
        return parse_text(text, size=size)
    text = data.decode("utf-8-sig", errors="replace")  # bad bytes become U+FFFD
    if all(BAD_BYTE in line for line in text.splitlines() if _strip_comment(line).strip()):
        decode_text(data, "puzzle text")  # raises: not UTF-8 text (bad byte at offset ...)
    # a text file with a few bad bytes: only the puzzles they fall in are bad
    return [BadPuzzle(e.index, e.line, "not UTF-8: a bad byte in this puzzle", e.text)
            if isinstance(e, BadPuzzle) and BAD_BYTE in e.text else e for e in parse_text(text, size=size)]


def parse_text(text: str, size: int | None = None) -> list[Entry]:
    """Parse a file's text into puzzles and bad puzzles in file order (see the module docstring)."""
    if size is not None and size not in SIZES:
        raise FormatError(f"unsupported size {size}; sizes: {', '.join(str(n) for n in SIZES)}")
    if "\x00" in text:
        raise FormatError("binary data (NUL character), expected puzzle text")
    lines = [_strip_comment(line) for line in text.splitlines()]
    content = [(number, line) for number, line in enumerate(lines, 1) if line.strip()]
    if not content:
        raise FormatError("empty file: no puzzles (only blank lines or comments)" if text.strip() else
                          "empty file: no puzzles")
    first = content[0][1]
    delimiter = next((d for d in ("\t", ",", ";") if d in first), None)
    if delimiter is None and first.strip().strip('"').lower() in PUZZLE_COLUMNS:
        delimiter = ","  # a one-column CSV: its header is the puzzle column's name alone
    if delimiter is not None:
        return _parse_csv(content, delimiter, size)
    return _parse_lines(lines, size)


def _strip_comment(line: str) -> str:
    position = line.find("#")
    return line if position < 0 else line[:position]


# ----------------------------------------------------------------------------------------------------- checking


def _check(index: int, line: int, puzzle: str, solution: str | None, size: int | None,
           meta: dict[str, Any]) -> Entry:
    """One puzzle (and its solution) from their strings (separators removed), or the reason it is bad."""
    raw = puzzle.strip()
    checked = validate_puzzle(_compact(raw), None if solution is None else _compact(solution), size)
    if isinstance(checked, str):
        return BadPuzzle(index, line, checked, raw)
    clues, parsed_solution = checked
    return Puzzle(index, line, clues, parsed_solution, meta)


def _compact(text: str) -> str:
    return _INNER_SEPARATORS.sub("", text)


# ----------------------------------------------------------------------------------------------------------- CSV


def _parse_csv(content: list[tuple[int, str]], delimiter: str, size: int | None) -> list[Entry]:
    header_line, header_text = content[0]
    header = [name.strip() for name in next(csv.reader([header_text], delimiter=delimiter))]
    lowered = [name.lower() for name in header]
    puzzle_col = next((lowered.index(c) for c in PUZZLE_COLUMNS if c in lowered), None)
    rows = content[1:]
    if puzzle_col is None:
        if _looks_like_grid(header[0] if header else ""):  # no header: puzzle[,solution] rows
            rows, header, puzzle_col = content, [], 0
        else:
            name = {"\t": "TSV", ",": "CSV", ";": "CSV"}[delimiter]
            raise FormatError(f"{name} header (line {header_line}) has no puzzle column; expected one of "
                              f"{', '.join(PUZZLE_COLUMNS)}, got {', '.join(header) or 'nothing'}")
    solution_col = next((lowered.index(c) for c in SOLUTION_COLUMNS if c in lowered), None)
    if not header:
        solution_col = 1
    if not rows:
        raise FormatError(f"no puzzles: the file has only a header (line {header_line})")
    entries: list[Entry] = []
    for index, (number, text) in enumerate(rows):
        fields = next(csv.reader([text], delimiter=delimiter))
        if puzzle_col >= len(fields):
            entries.append(BadPuzzle(index, number, f"row has {len(fields)} fields, no puzzle column", text.strip()))
            continue
        solution = fields[solution_col] if solution_col is not None and solution_col < len(fields) else None
        meta = {}
        for column, value in enumerate(fields):
            if column in (puzzle_col, solution_col):
                continue
            name = header[column] if column < len(header) else f"column{column + 1}"
            meta[name] = _scalar(value.strip())
        entries.append(_check(index, number, fields[puzzle_col], solution, size, meta))
    return entries


def _looks_like_grid(text: str) -> bool:
    return len(_compact(text)) in _LINE_LENGTHS and all(c.isalnum() or c == "." for c in _compact(text))


def _scalar(value: str) -> Any:
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


# ------------------------------------------------------------------------------------------- lines and grids


def _parse_lines(lines: list[str], size: int | None) -> list[Entry]:
    """One-line puzzles (also tdoku ``:`` fields) and grids over several lines, in file order."""
    items: list[tuple[int, str, str | None, dict[str, Any], str | None]] = []  # line, puzzle, solution, meta, error
    block: list[tuple[int, str]] = []  # rows of the grid being read: (line, cells)

    def flush() -> None:
        if block:
            items.extend(_grids_of_block(block, size))
            block.clear()

    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped:
            flush()
            continue
        if _SEPARATOR_LINE.match(stripped):
            continue  # ---+---+--- inside a grid
        if ":" in stripped:
            flush()
            items.append(_tdoku(number, stripped))
            continue
        cells = _compact(stripped)
        if _is_row(cells, stripped, size):
            block.append((number, cells))
        else:
            flush()
            items.append((number, stripped, None, {}, None))
    flush()
    entries: list[Entry] = []
    for index, (number, puzzle, solution, meta, error) in enumerate(items):
        if error is not None:
            entries.append(BadPuzzle(index, number, error, puzzle))
        else:
            entries.append(_check(index, number, puzzle, solution, size, meta))
    return entries


def _is_row(cells: str, raw: str, size: int | None) -> bool:
    """Whether a content line is one row of a multi-line grid (else it is a whole puzzle on one line)."""
    if size is not None:
        return len(cells) <= size
    if len(cells) == 16:
        return cells != raw  # 16 cells with separators: a row of a 16×16 grid (re-checked per block)
    return len(cells) <= 25


def _tdoku(number: int, text: str):
    parts = [part.strip() for part in text.split(":")]
    puzzle = parts[0]
    length = len(_compact(puzzle))
    if len(parts) == 3:
        count, solution = parts[1], parts[2]
        meta = {"count": _scalar(count)} if count else {}
        return (number, puzzle, solution or None, meta, None)
    if len(parts) == 2:
        second = parts[1]
        if len(_compact(second)) == length:
            return (number, puzzle, second, {}, None)
        if second.isdigit() or not second:
            return (number, puzzle, None, {"count": int(second)} if second else {}, None)
        return (number, puzzle, None, {}, f"second ':' field is neither a count nor a {length}-cell solution")
    return (number, puzzle, None, {}, f"expected puzzle:count:solution, got {len(parts)} ':' fields")


def _grids_of_block(block: list[tuple[int, str]], size: int | None):
    """Split consecutive row lines into N×N grids; wrong shapes become errors naming the line."""
    lengths = {len(cells) for _, cells in block}
    if size is None and lengths == {16} and len(block) % 16 != 0:
        # 16-cell lines with separators that do not make 16×16 grids: 4×4 puzzles, one per line
        return [(number, cells, None, {}, None) for number, cells in block]
    out = []
    i = 0
    while i < len(block):
        first_line, first_cells = block[i]
        side = size if size is not None else len(first_cells)
        if side not in SIZES:
            out.append((first_line, first_cells, None, {},
                        f"wrong length: {len(first_cells)} cells; a one-line puzzle has 16, 81, 256 or 625, "
                        f"a grid row 4, 9, 16 or 25"))
            i += 1
            while i < len(block) and len(block[i][1]) == len(first_cells):
                i += 1
            continue
        rows = block[i:i + side]
        text = "".join(cells for _, cells in rows)
        bad = next(((n, c) for n, c in rows if len(c) != side), None)
        if bad is not None:
            error = f"grid row at line {bad[0]} has {len(bad[1])} cells, a {side}×{side} grid needs {side}"
        elif len(rows) == 1:
            error = (f"wrong length: {side} cells; a one-line puzzle has 16, 81, 256 or 625 "
                     f"(or a {side}×{side} grid written over {side} lines)")
        elif len(rows) < side:
            error = f"grid has {len(rows)} rows, a {side}×{side} grid needs {side}"
        else:
            error = None
        out.append((first_line, text, None, {}, error))
        i += side
    return out


def grid_tensor(entries: list[Puzzle]) -> Tensor:
    """``(B, N²)`` clues of puzzles of one size."""
    return torch.stack([entry.clues for entry in entries])
