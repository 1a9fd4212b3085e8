"""Puzzle file parsing: round trips through every layout, robustness to garbage, precise error reasons."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redge_solve.formats import BadPuzzle, FormatError, Puzzle, parse_bytes, parse_text
from redge_solve.problems.sudoku import SudokuBatch, grid_to_string, verify_grid

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def pattern_grid(side: int, rows: list[int], cols: list[int], digits: list[int]) -> torch.Tensor:
    """A valid grid from the classic pattern, with rows/cols permuted inside bands and digits relabelled."""
    box = math.isqrt(side)
    values = [digits[(box * (r % box) + r // box + c) % side] for r in rows for c in cols]
    return torch.tensor(values)


@st.composite
def solved_grids(draw, sides=(4, 9)):
    side = draw(st.sampled_from(sides))
    box = math.isqrt(side)
    bands = draw(st.permutations(range(box)))
    rows = [b * box + r for b in bands for r in draw(st.permutations(range(box)))]
    stacks = draw(st.permutations(range(box)))
    cols = [s * box + c for s in stacks for c in draw(st.permutations(range(box)))]
    digits = draw(st.permutations(range(1, side + 1)))
    grid = pattern_grid(side, rows, cols, list(digits))
    assert verify_grid(grid, torch.zeros_like(grid))
    return grid


@st.composite
def puzzles(draw):
    solution = draw(solved_grids())
    mask = torch.tensor(draw(st.lists(st.booleans(), min_size=solution.numel(), max_size=solution.numel())))
    return solution.masked_fill(mask, 0), solution


def as_grid_text(clues: torch.Tensor, blank: str = ".") -> str:
    side = math.isqrt(clues.numel())
    box = math.isqrt(side)
    text = grid_to_string(clues, blank)
    lines = []
    for r in range(side):
        if r and r % box == 0:
            lines.append("+".join("-" * (2 * box + 1) for _ in range(box)))
        row = text[r * side:(r + 1) * side]
        lines.append(" | ".join(" ".join(row[b * box:(b + 1) * box]) for b in range(box)))
    return "\n".join(lines)


def only(entries) -> Puzzle:
    assert len(entries) == 1 and isinstance(entries[0], Puzzle), entries
    return entries[0]


@SETTINGS
@given(puzzles(), st.sampled_from(["line", "dots", "tdoku", "tdoku2", "grid", "csv", "tsv"]))
def test_round_trip_every_layout(pair, layout):
    clues, solution = pair
    line, sol = grid_to_string(clues), grid_to_string(solution)
    text = {
        "line": f"# a comment\n{line}\n",
        "dots": grid_to_string(clues, "."),
        "tdoku": f"{line}:1:{sol}",
        "tdoku2": f"{line}:{sol}",
        "grid": f"\n{as_grid_text(clues)}\n\n",
        "csv": f"id,puzzle,solution\n7,{line},{sol}\n",
        "tsv": f"puzzle\tsolution\tnote\n{line}\t{sol}\tx\n",
    }[layout]
    puzzle = only(parse_text(text))
    assert torch.equal(puzzle.clues, clues)
    if layout in ("tdoku", "tdoku2", "csv", "tsv"):
        assert torch.equal(puzzle.solution, solution)
    if layout == "csv":
        assert puzzle.meta == {"id": 7}


@SETTINGS
@given(st.lists(puzzles(), min_size=2, max_size=4))
def test_several_grids_and_lines_keep_order_and_lines(pairs):
    text = "\n\n".join(as_grid_text(c) for c, _ in pairs)
    entries = parse_text(text)
    assert [torch.equal(e.clues, c) for e, (c, _) in zip(entries, pairs, strict=True)] == [True] * len(pairs)
    assert [e.index for e in entries] == list(range(len(pairs)))
    lines = "\n".join(grid_to_string(c) for c, _ in pairs)
    assert [e.line for e in parse_text(lines)] == list(range(1, len(pairs) + 1))


@SETTINGS
@given(puzzles(), st.data())
def test_mutations_never_crash(pair, data):
    clues, solution = pair
    text = data.draw(st.sampled_from([grid_to_string(clues), as_grid_text(clues),
                                      f"{grid_to_string(clues)}:1:{grid_to_string(solution)}",
                                      f"puzzle,solution\n{grid_to_string(clues)},{grid_to_string(solution)}"]))
    chars = list(text)
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["replace", "delete", "insert"]))
        pos = data.draw(st.integers(0, max(len(chars) - 1, 0)))
        char = data.draw(st.characters(codec="utf-8", exclude_characters="\x00"))
        if op == "replace" and chars:
            chars[pos] = char
        elif op == "delete" and chars:
            del chars[pos]
        else:
            chars.insert(pos, char)
    try:
        entries = parse_text("".join(chars))
    except FormatError as error:
        assert str(error)
        return
    assert entries
    for entry in entries:
        assert isinstance(entry, (Puzzle, BadPuzzle))
        assert entry.line >= 1
        if isinstance(entry, BadPuzzle):
            assert entry.reason


@SETTINGS
@given(solved_grids(), st.data())
def test_penalty_zero_on_solution_positive_after_one_change(solution, data):
    side = math.isqrt(solution.numel())
    mask = torch.tensor(data.draw(st.lists(st.booleans(), min_size=side * side, max_size=side * side)))
    mask[data.draw(st.integers(0, side * side - 1))] = True  # at least one free cell
    clues = solution.masked_fill(mask, 0)
    batch = SudokuBatch.from_grids(clues.unsqueeze(0))
    free_digits = solution[batch.var_cell]
    x = torch.nn.functional.one_hot(free_digits - 1, side).float().unsqueeze(0)
    assert batch.penalty(x).item() == 0.0
    cell = data.draw(st.integers(0, batch.num_variables - 1))
    digit = data.draw(st.integers(1, side).filter(lambda d: d != int(free_digits[cell])))
    changed = free_digits.clone()
    changed[cell] = digit
    y = torch.nn.functional.one_hot(changed - 1, side).float().unsqueeze(0)
    assert batch.penalty(y).item() > 0


SOLVED_4 = "1234341221434321"


@pytest.mark.parametrize(
    ("text", "line", "needle"),
    [
        ("# header\n" + "0" * 80, 2, "81 (9×9)"),
        ("1234x41221434321", 1, "bad character 'X' at position 5 (row 2, column 1)"),
        ("1 2 | 3 4\n3 4 | 1 2\n2 1 | 4 z\n4 3 | 2 1\n", 1, "position 12 (row 3, column 4)"),
        ("1134341221434321", 1, "1 appears twice in row 1"),
        ("1200100000000000", 1, "1 appears twice in column 1"),
        ("1200210000000000", 1, "in block 1"),
        ("1234000000000000:1:2234341221434321", 1, "solution contradicts the clues at row 1, column 1"),
        ("0000000000000000:1:1234123412341234", 1, "solution is not a valid grid"),
        ("0000000000000000:1:123434122143432", 1, "solution: "),
        ("1 2 | 3 4\n3 4 | 1 2\n2 1 | 4 3\n", 1, "grid has 3 rows"),
        ("1 2 | 3 4\n3 4 | 1\n2 1 | 4 3\n4 3 | 2 1\n", 1, "row at line 2 has 3 cells"),
        ("12345\n", 1, "wrong length: 5 cells"),
    ],
)
def test_bad_puzzles_have_precise_reasons(text, line, needle):
    (entry,) = parse_text(text)
    assert isinstance(entry, BadPuzzle)
    assert entry.line == line
    assert needle in entry.reason, entry.reason


def test_mixed_file_keeps_good_and_reports_bad():
    entries = parse_text(f"{SOLVED_4}\n1134341221434321\n\n{'0' * 81}\n")
    assert [type(e).__name__ for e in entries] == ["Puzzle", "BadPuzzle", "Puzzle"]
    assert [e.line for e in entries] == [1, 2, 4]
    assert [e.side for e in entries if isinstance(e, Puzzle)] == [4, 9]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b"", "empty file"),
        (b"\n# just a comment\n\n", "empty file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
        (b"\xff\xfe12", "not UTF-8"),
        (b"a,b\n1,2\n", "no puzzle column"),
        (b"puzzle,solution\n", "only a header"),
        (b"puzzle\n", "only a header"),  # a one-column CSV's header alone
    ],
)
def test_file_level_errors(data, needle):
    with pytest.raises(FormatError, match=needle):
        parse_bytes(data)


@pytest.mark.parametrize("header", ["puzzle", "Quizzes", '"grid"'])
def test_one_column_csv_is_read_by_its_header(header):
    """A CSV of the puzzle column alone has no delimiter in its header: the name says it is a CSV (pandas'
    ``df[["puzzle"]].to_csv(index=False)``), not a first puzzle line of six cells."""
    entries = parse_text(f"{header}\n{SOLVED_4}\n{'0' * 81}\n")
    assert [type(e).__name__ for e in entries] == ["Puzzle", "Puzzle"]
    assert [e.line for e in entries] == [2, 3]


def test_size_override_reads_16_cell_rows_as_a_16x16_grid():
    grid = pattern_grid(16, list(range(16)), list(range(16)), list(range(1, 17)))
    text = "\n".join(grid_to_string(grid)[r * 16:(r + 1) * 16] for r in range(16))
    assert len(parse_text(text)) == 16  # without --size: sixteen 4×4 lines (all bad here)
    puzzle = only(parse_text(text, size=16))
    assert torch.equal(puzzle.clues, grid)
    with pytest.raises(FormatError, match="unsupported size"):
        parse_text(text, size=7)


def test_shipped_puzzle_files_parse():
    import pathlib

    root = pathlib.Path(__file__).resolve().parent.parent / "puzzles"
    from redge_solve.formats import read_puzzles

    for path in sorted(p for p in root.iterdir() if p.is_file()):  # subfolders hold other problems
        entries = read_puzzles(str(path))
        assert entries and all(isinstance(e, Puzzle) for e in entries), (path, entries)
        for e in entries:
            if e.solution is not None:
                assert verify_grid(e.solution, e.clues)
