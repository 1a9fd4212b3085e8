"""Problems: data in, a vectorised penalty and a direct verification out; independent of the estimators."""

from .sudoku import SudokuBatch, clue_conflicts, units_of_cells, verify_grid

__all__ = ["SudokuBatch", "clue_conflicts", "units_of_cells", "verify_grid"]
