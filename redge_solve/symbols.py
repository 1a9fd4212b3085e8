"""The symbols of a grid cell, shared by every grid format (Sudoku, Latin squares) and the results report.

Digit ``d`` (1-based) is written ``SYMBOLS[d - 1]``: ``1``–``9``, then ``A``–``P`` (up to 25×25); a blank is ``0``
or ``.``. Kept free of torch so that reading a results file stays quick.
"""

SYMBOLS = "123456789ABCDEFGHIJKLMNOP"
BLANKS = "0."
