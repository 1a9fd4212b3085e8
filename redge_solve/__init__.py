"""redge-solve: gradient estimators for categorical variables, and a solver for Sudoku and constraint problems
built on them. The library never prints; ``redge_solve.cli`` is a thin command line over it."""

__version__ = "0.1.0"
