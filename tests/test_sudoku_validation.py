"""One puzzle validation (``validate_puzzle``) and one per-unit digit count (``unit_digit_counts``), as used by
the file reader, ``batch`` and the penalty."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from redge_solve.cli.render import conflicting_cells
from redge_solve.data import PuzzleRow
from redge_solve.formats import BadPuzzle, parse_text
from redge_solve.problems.sudoku import (
    SudokuBatch,
    clue_conflicts,
    grid_violations,
    unit_digit_counts,
    units_of_cells,
    validate_puzzle,
)
from redge_solve.runs.batch import parse_row


@st.composite
def grids(draw):
    side = draw(st.sampled_from([4, 9]))
    count = draw(st.integers(1, 3))
    values = draw(st.lists(st.integers(0, side), min_size=count * side * side, max_size=count * side * side))
    return torch.tensor(values).view(count, side * side)


@settings(max_examples=60, deadline=None)
@given(grids())
def test_unit_digit_counts_counts_each_unit_cell_by_cell(batch):
    count, cells = batch.shape
    side = int(cells ** 0.5)
    units = units_of_cells(side)
    expected = torch.zeros(count, 3 * side, side + 1, dtype=torch.long)
    for b in range(count):
        for cell in range(cells):
            for unit in units[cell].tolist():
                expected[b, unit, batch[b, cell]] += 1
    assert torch.equal(unit_digit_counts(batch), expected)
    # its users agree with the definition
    assert torch.equal(grid_violations(batch), (expected[:, :, 1:] - 1).clamp(min=0).sum((1, 2)))
    assert len(clue_conflicts(batch[0])) == int((expected[0, :, 1:] > 1).sum())
    assert torch.equal(SudokuBatch.from_grids(batch)._clue_counts, expected[:, :, 1:].float().reshape(-1, side))
    in_conflict = torch.tensor([any(expected[0, u, batch[0, c]] > 1 for u in units[c].tolist())
                                for c in range(cells)])
    assert torch.equal(conflicting_cells(batch[0]), in_conflict & (batch[0] != 0))


def test_validate_puzzle_gives_the_grid_or_one_reason():
    clues, solution = validate_puzzle("...3..2.3..1..32", "2413132432414132")
    assert clues.tolist()[3] == 3 and clues.tolist()[0] == 0
    assert solution.tolist() == [int(c) for c in "2413132432414132"]
    assert validate_puzzle("...3..2.3..1..32", "  ")[1] is None
    assert validate_puzzle("1x00000000000000") == ("bad character 'X' at position 2 (row 1, column 2) (a 4×4 grid "
                                                   "uses 1–4 and 0 or . for blanks)")
    assert validate_puzzle("1100000000000001") == "clues conflict: 1 appears twice in row 1 (and 1 more conflict)"
    assert validate_puzzle("12340").startswith("a puzzle has 16 (4×4), 81 (9×9)")
    assert validate_puzzle("1000000000000000", "2234341221434321") == (
        "solution contradicts the clues at row 1, column 1 (clue 1, solution 2)")
    assert validate_puzzle("0" * 16, "1234123412341234") == "solution is not a valid grid: 1 appears twice in column 1"
    assert validate_puzzle("0" * 16, "123") == "solution: a 4×4 puzzle has 16 cells, got 3 characters"


def test_the_file_reader_and_batch_give_the_same_reason():
    for puzzle, solution in [("1100000000000000", None), ("1000000000000000", "2234341221434321"),
                             ("1x00000000000000", None)]:
        (entry,) = parse_text(f"puzzle,solution\n{puzzle},{solution or ''}\n")
        assert isinstance(entry, BadPuzzle)
        assert parse_row(PuzzleRow(0, puzzle, solution)) == entry.reason
