"""The run layer, between the library (estimators, problems, solver) and the command line: grouped solving
(``grouped``), JSON records (``records``), the colour search (``color_search``), building and loading instances
(``instances``), resumable chunked Sudoku runs (``batch``) and the output-file policy (``outputs``).

It imports the library and never the command line; nothing below it (``problems/``, ``solver.py``, the
estimators) imports it. Importing this package imports no torch, so ``redge-solve COMMAND --help`` stays fast.
"""
