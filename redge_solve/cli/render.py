"""Rendering Sudoku results for the terminal (CLI side; the library never prints)."""

from __future__ import annotations

import math

import torch
from rich.table import Table
from rich.text import Text

from ..problems.sudoku import unit_digit_counts, units_of_cells
from ..symbols import SYMBOLS


def cell_style(bad: bool, clue: bool, solved: bool) -> str:
    """How a grid shows a cell: in a conflict red (bold when the solver filled it), else a clue dim, else a filled
    cell bold (green when the grid is solved). Shared by the Sudoku and Latin-square grids."""
    if bad:
        return "red" if clue else "bold red"
    if clue:
        return "dim"
    return "bold green" if solved else "bold"


def conflicting_cells(grid: torch.Tensor) -> torch.Tensor:
    """Bool ``(N²,)``: cells whose digit appears more than once in one of their units (blanks never conflict)."""
    grid = grid.long()
    counts = unit_digit_counts(grid.view(1, -1))[0]  # (3N, N + 1)
    bad = (counts[units_of_cells(math.isqrt(grid.numel())), grid.unsqueeze(1)] > 1).any(1)
    return bad & (grid != 0)


def render_grid(clues: torch.Tensor, grid: torch.Tensor, solved: bool) -> Text:
    """The grid with box separators: clues dim, filled digits bold (green when solved), conflicts red."""
    side = math.isqrt(grid.numel())
    box = math.isqrt(side)
    clues, grid = clues.long().tolist(), grid.long()
    bad = conflicting_cells(grid).tolist() if not solved else [False] * grid.numel()
    digits = grid.tolist()
    width = 2 if side <= 9 else 2  # one symbol per cell (letters above 9)
    rule = "+".join("-" * (width * box + 1) for _ in range(box))
    text = Text()
    for r in range(side):
        if r and r % box == 0:
            text.append(rule + "\n", style="dim")
        for c in range(side):
            if c and c % box == 0:
                text.append(" |", style="dim")
            cell = r * side + c
            value = digits[cell]
            symbol = "." if value == 0 else SYMBOLS[value - 1]
            text.append(" ")
            text.append(symbol, style=cell_style(bad[cell], clues[cell] != 0, solved))
        text.append("\n")
    return text


def summary_table(rows: list[dict], title: str) -> Table:
    """A per-puzzle table: line, size, solved, step (first solved, else steps run), the returned grid's violations,
    seconds (or the error)."""
    table = Table(title=title, title_justify="left")
    for name, justify in (("#", "right"), ("line", "right"), ("size", "left"), ("result", "left"),
                          ("step", "right"), ("violations", "right"), ("seconds", "right")):
        table.add_column(name, justify=justify)
    for row in rows:
        if "error" in row:
            table.add_row(str(row["index"] + 1), str(row["line"]), "", "[red]bad input[/]", "", "", "",
                          end_section=False)
            continue
        result = "[green]solved[/]" if row["found"] else "[red]unsolved[/]"
        step = row["first_solved_step"] if row["first_solved_step"] is not None else row["steps_run"]
        table.add_row(str(row["index"] + 1), str(row["line"]), row["size"], result, str(step),
                      str(row["violations"]), f"{row['seconds']:.2f}")
    return table
