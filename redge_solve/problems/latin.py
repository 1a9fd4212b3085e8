"""Latin square completion: an n×n grid, each symbol 1..n once per row and once per column, some cells given.

Variables are the n² cells (row-major), values the symbols 0..n−1; clues are fixed; every (row, symbol) and
(column, symbol) is an exactly-one group over the n cells of the line:

    f(X) = Σ_{rows r} Σ_k (Σ_c X_{rc,k} − 1)² + Σ_{columns c} Σ_k (Σ_r X_{rc,k} − 1)²

Files use the Sudoku layouts that fit (``0``/``.`` blank, digits then letters A–P above 9, n ≤ 25): one puzzle per
line of n² symbols, or a grid over n lines (spaces, ``|`` and ``+`` ignored; separator lines of ``-+=|`` skipped);
puzzles are separated by blank lines; ``#`` starts a comment.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from ..solver import CONSTRAINT_DEFAULTS
from ..symbols import SYMBOLS
from .constraints import ConstraintSpec
from .textfile import ProblemFileError

MAX_SIDE = len(SYMBOLS)
_SEPARATOR_LINE = re.compile(r"^[-+=|\s]+$")
_IGNORED = re.compile(r"[\s|+]")


@dataclass(frozen=True)
class LatinPuzzle:
    line: int  # 1-based line where it starts
    clues: Tensor  # (n²,) long, 0 = blank, 1..n symbols

    @property
    def side(self) -> int:
        return math.isqrt(self.clues.numel())


def line_groups(side: int) -> Tensor:
    """``(2n·n, n)`` flat literals ``cell·n + value``: one exactly-one group per (row, value) and (column, value)."""
    cells = torch.arange(side * side).view(side, side)
    lines = torch.cat([cells, cells.T])  # (2n, n): rows, then columns
    values = torch.arange(side).view(1, side, 1)
    return (lines.unsqueeze(1) * side + values).reshape(2 * side * side, side)


def latin_spec(clues: Tensor) -> ConstraintSpec:
    """One puzzle ``(n²,)`` (0 = blank) as a constraint spec (see the module docstring)."""
    side = math.isqrt(clues.numel())
    return ConstraintSpec.build(side * side, side, fixed=clues.long() - 1, exactly_one=line_groups(side))


def line_conflicts(grid: Tensor) -> list[tuple[str, int]]:
    """``[(line name, symbol), ...]`` for every row or column where a symbol appears more than once."""
    side = math.isqrt(grid.numel())
    digits = grid.long().view(side, side)
    found = []
    for kind, lines in (("row", digits), ("column", digits.T)):
        counts = torch.zeros(side, side + 1, dtype=torch.long).scatter_add_(1, lines, torch.ones_like(lines))
        found += [(f"{kind} {i + 1}", d) for i, d in (counts[:, 1:] > 1).nonzero().tolist()]
    return [(name, d + 1) for name, d in found]


def verify_latin(grid: Tensor, clues: Tensor) -> bool:
    """Every row and column is a permutation of 1..n and the clues are kept; checked on the symbols directly."""
    side = math.isqrt(grid.numel())
    digits = grid.long().view(side, side)
    full = torch.arange(1, side + 1).expand(side, side)
    rows_ok = torch.equal(digits.sort(1).values, full) and torch.equal(digits.T.sort(1).values, full)
    given = clues.long() != 0
    return rows_ok and torch.equal(grid.long()[given], clues.long()[given])


def symbol(value: int) -> str:
    return "." if value == 0 else SYMBOLS[value - 1]


def _parse_one(text: str, side: int) -> Tensor:
    if not 2 <= side <= MAX_SIDE:
        raise ValueError(f"a Latin square here has side 2..{MAX_SIDE}, got {side}")
    values = []
    for position, char in enumerate(text.upper()):
        if char in "0.":
            values.append(0)
        elif char in SYMBOLS[:side]:
            values.append(SYMBOLS.index(char) + 1)
        else:
            row, col = divmod(position, side)
            raise ValueError(f"bad character {char!r} at row {row + 1}, column {col + 1} (an {side}×{side} square "
                             f"uses {SYMBOLS[0]}–{SYMBOLS[side - 1]} and 0 or . for blanks)")
    return torch.tensor(values, dtype=torch.long)


def parse_latin(text: str) -> list[LatinPuzzle]:
    """Every puzzle of a file's text. Raises ``ProblemFileError`` naming the line and the reason."""
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0]
        if not line.strip():
            blocks.append([])
        elif not _SEPARATOR_LINE.match(line):
            blocks[-1].append((number, _IGNORED.sub("", line)))
    puzzles = []
    for block in (b for b in blocks if b):
        if len(block) >= 2 and all(len(row) == len(block) for _, row in block):  # a grid over n lines
            items = [(block[0][0], "".join(row for _, row in block), len(block))]
        else:
            items = [(number, row, math.isqrt(len(row))) for number, row in block]
        for number, cells, side in items:
            if side * side != len(cells):
                raise ProblemFileError(f"line {number}: {len(cells)} cells is not a square n×n grid")
            try:
                clues = _parse_one(cells, side)
            except ValueError as error:
                raise ProblemFileError(f"line {number}: {error}") from None
            conflicts = line_conflicts(clues)
            if conflicts:
                name, digit = conflicts[0]
                raise ProblemFileError(f"line {number}: clues conflict: {symbol(digit)} appears twice in {name}")
            puzzles.append(LatinPuzzle(number, clues))
    if not puzzles:
        raise ProblemFileError("no puzzles (only comments or separators)")
    return puzzles


LATIN_DEFAULTS = replace(CONSTRAINT_DEFAULTS, init_std=1.0)
"""The ``latin`` command's solver settings: the product defaults with random initial logits. Measured on 2026-11-23
(2-core shared CPU, ST, 4 samples × 4 restarts, lr 0.2) on puzzles/latin/squares.txt (4×4 to 7×7), 2 seeds: first
solved steps 19/40/62/60 and 15/33/55/69 with random initial logits (std 1) against 9/69/70/128 and 6/59/93/161 from
uniform logits, and 12/157/172/404 at lr 0.1."""
