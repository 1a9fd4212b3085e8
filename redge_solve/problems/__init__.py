"""Problems: data in, a vectorised penalty and a direct verification out; independent of the estimators."""

from .sudoku import (
    SudokuBatch,
    clue_conflicts,
    grid_from_string,
    grid_to_string,
    grid_violations,
    units_of_cells,
    verify_grid,
)

__all__ = [
    "SudokuBatch",
    "clue_conflicts",
    "grid_from_string",
    "grid_to_string",
    "grid_violations",
    "units_of_cells",
    "verify_grid",
]
