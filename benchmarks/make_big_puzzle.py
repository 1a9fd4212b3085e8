"""Write a seeded big Sudoku puzzle (the 25×25 example of ``puzzles/``): a valid grid from the pattern
``(n·(r mod n) + ⌊r / n⌋ + c) mod N``, shuffled by permutations that keep the rules (digits; rows within a band,
the bands; columns within a stack, the stacks; a transpose), then a seeded fraction of its cells blanked.

    python benchmarks/make_big_puzzle.py --side 25 --blanks 0.45 --seed 1 --puzzle-only   # puzzles/25x25.txt

A puzzle made this way may have other solutions than the grid it came from (any completion that keeps the clues
and the rules solves it); the line written is ``puzzle::solution`` ('.' blank, digits 1-9 then letters A-P), or
the puzzle alone with ``--puzzle-only`` (then a solver's result is checked against the rules and clues only).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from redge_solve.problems.sudoku import verify_grid  # noqa: E402
from redge_solve.symbols import SYMBOLS  # noqa: E402


def random_grid(side: int, generator: torch.Generator) -> torch.Tensor:
    """A valid ``(N, N)`` grid of digits 1..N, shuffled from the pattern by rule-keeping permutations."""
    box = math.isqrt(side)
    r = torch.arange(side).view(-1, 1)
    c = torch.arange(side).view(1, -1)
    grid = (box * (r % box) + r // box + c) % side + 1

    def lines() -> torch.Tensor:  # a permutation of lines that keeps bands: bands shuffled, lines within each
        bands = torch.randperm(box, generator=generator)
        return torch.cat([band * box + torch.randperm(box, generator=generator) for band in bands.tolist()])

    grid = grid[lines()][:, lines()]
    if torch.rand(1, generator=generator).item() < 0.5:
        grid = grid.T
    digits = torch.cat([torch.zeros(1, dtype=torch.long), torch.randperm(side, generator=generator) + 1])
    return digits[grid]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--side", type=int, default=25, choices=(4, 9, 16, 25))
    parser.add_argument("--blanks", type=float, default=0.5, help="fraction of the cells blanked")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--puzzle-only", action="store_true", help="write the puzzle without its solution")
    args = parser.parse_args()
    generator = torch.Generator().manual_seed(args.seed)
    solution = random_grid(args.side, generator).flatten()
    cells = solution.numel()
    blank = torch.randperm(cells, generator=generator)[:round(args.blanks * cells)]
    puzzle = solution.clone()
    puzzle[blank] = 0
    assert verify_grid(solution, puzzle)
    text = "".join("." if d == 0 else SYMBOLS[d - 1] for d in puzzle.tolist())
    print(text if args.puzzle_only else f"{text}::{''.join(SYMBOLS[d - 1] for d in solution.tolist())}")


if __name__ == "__main__":
    main()
