"""Sudoku of any size n²×n² as a penalty over the free cells of a batch of puzzles.

A grid has ``N = n²`` rows, columns and blocks (``3N`` units), ``N²`` cells and digits ``1..N`` (``0`` = blank).
Only the blank cells are variables; all blank cells of all puzzles in a batch form one flat ``(F, K=N)`` tensor,
so a batch of puzzles with different numbers of clues is still a single tensor. For a one-hot assignment X,

    c_u = Σ_{i ∈ u} X_i  (+ the clue digits of u, constants),    f(X) = Σ_u ||c_u − 1||²

per puzzle, and a grid is solved when ``Σ_u Σ_k max(c_{u,k} − 1, 0) = 0`` (for one-hot X: exactly when f = 0).
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache

import torch
from torch import Tensor

from ..settings import DEDUCTION_LEVELS
from ..symbols import BLANKS, SYMBOLS
from ._sparse import sparse_product_into

SIZES = {4: 2, 9: 3, 16: 4, 25: 5}
"""side N -> block size n."""


@lru_cache(maxsize=None)
def units_of_cells(side: int) -> Tensor:
    """``(N², 3)`` long: for each cell (row-major) its row unit, column unit (N + c) and block unit (2N + b)."""
    box = math.isqrt(side)
    if box * box != side:
        raise ValueError(f"a Sudoku side must be a square number (4, 9, 16, 25, ...), got {side}")
    cells = torch.arange(side * side)
    row, col = cells // side, cells % side
    block = (row // box) * box + col // box
    return torch.stack([row, side + col, 2 * side + block], dim=1)


def unit_name(side: int, unit: int) -> str:
    """Human name of a unit index: 'row 3', 'column 7', 'block 5' (1-based)."""
    kind, index = divmod(unit, side)
    return f"{('row', 'column', 'block')[kind]} {index + 1}"


def unit_digit_counts(grids: Tensor) -> Tensor:
    """How often each unit holds each digit: ``(B, 3N, N + 1)`` long for grids ``(B, N²)`` (0 = blank),

        c[b, u, d] = #{cells i of unit u : grids[b, i] = d},

    units as in ``units_of_cells`` (N rows, N columns, N blocks), column 0 counting the blanks. One scatter-add
    over every (grid, cell, unit) at once."""
    grids = grids.long()
    count, cells = grids.shape
    side = math.isqrt(cells)
    units = units_of_cells(side).to(grids.device).expand(count, cells, 3)
    digits = grids.unsqueeze(-1).expand(count, cells, 3)
    batch = torch.arange(count, device=grids.device).view(count, 1, 1).expand(count, cells, 3)
    counts = torch.zeros(count, 3 * side, side + 1, dtype=torch.long, device=grids.device)
    return counts.index_put_((batch, units, digits), torch.ones_like(digits), accumulate=True)


def clue_conflicts(grid: Tensor) -> list[tuple[str, int]]:
    """Units in which a clue digit appears twice, as ``[(unit name, digit), ...]`` for one grid ``(N²,)``."""
    side = math.isqrt(grid.numel())
    bad = (unit_digit_counts(grid.view(1, -1))[0, :, 1:] > 1).nonzero().tolist()
    return [(unit_name(side, u), d + 1) for u, d in bad]


def verify_grid(grid: Tensor, clues: Tensor, solution: Tensor | None = None) -> bool:
    """A complete grid obeys the rules (every unit a permutation of 1..N), keeps the clues and, if given,
    equals the known solution. Checked directly on the digits, not through the penalty."""
    side = math.isqrt(grid.numel())
    digits = grid.long().view(side, side)
    if digits.min() < 1 or digits.max() > side:
        return False
    box = math.isqrt(side)
    blocks = digits.view(box, box, box, box).permute(0, 2, 1, 3).reshape(side, side)
    full = torch.arange(1, side + 1, device=digits.device)
    for units in (digits, digits.T, blocks):
        if not torch.equal(units.sort(dim=1).values, full.expand(side, side)):
            return False
    given = clues.long() != 0
    if not torch.equal(grid.long()[given], clues.long()[given]):
        return False
    return solution is None or torch.equal(grid.long(), solution.long())


@dataclass(frozen=True)
class SudokuBatch:
    """A batch of ``I`` puzzles of one size as a penalty over their free cells.

    grids: ``(I, N²)`` long, 0 for blanks. The remaining fields are derived by ``from_grids``.
    allowed: ``(I, N², N)`` bool, the digits each cell may take (see ``deduce``), or None: every digit.
    """

    grids: Tensor
    side: int
    var_instance: Tensor  # (F,) which puzzle each free cell belongs to
    var_cell: Tensor  # (F,) its cell index in the grid
    dtype: torch.dtype = torch.float32  # of the penalty's counts
    allowed: Tensor | None = None

    @classmethod
    def from_grids(cls, grids: Tensor, dtype: torch.dtype = torch.float32,
                   allowed: Tensor | None = None, device: torch.device | str | None = None) -> "SudokuBatch":
        """The batch of ``grids`` ``(I, N²)``, its tensors on ``device`` (default: where ``grids`` are)."""
        grids = grids.long() if device is None else grids.to(device=device, dtype=torch.long)
        allowed = allowed if allowed is None or device is None else allowed.to(device)
        side = math.isqrt(grids.shape[-1])
        units_of_cells(side)  # validates the size
        instance, cell = (grids == 0).nonzero(as_tuple=True)
        return cls(grids, side, instance, cell, dtype, allowed)

    def deduce(self, level: str) -> "SudokuBatch":
        """The batch after the exact pre-step ``deduce(grids, level)``: deduced digits become clues, and each free
        cell's categorical is restricted to its candidates (``candidates()``)."""
        if level == "none":
            return self
        grids, allowed = deduce(self.grids, level)
        return SudokuBatch.from_grids(grids, self.dtype, allowed)

    def candidates(self) -> Tensor | None:
        """Bool ``(F, N)``: the digits each free cell may take, or None when every digit may."""
        return None if self.allowed is None else self.allowed[self.var_instance, self.var_cell]

    @property
    def num_instances(self) -> int:
        return self.grids.shape[0]

    @property
    def num_variables(self) -> int:
        return self.var_cell.shape[0]

    @property
    def num_categories(self) -> int:
        return self.side

    @cached_property
    def _incidence(self) -> tuple[Tensor, Tensor]:
        """The unit-by-variable incidence ``A`` ``(I * 3N, F)`` as a sparse matrix (CSR) and its transpose.

        Row ``i * 3N + u`` of A has a 1 at each free cell of puzzle i in unit u (rows, then columns, then blocks),
        so ``A @ X`` is every unit's digit counts over the free cells in one sparse product. ``Aᵀ`` has exactly
        three nonzeros a row, already in order, so it is written down directly; A is its sorted transpose.
        """
        side, device = self.side, self.var_cell.device
        units = units_of_cells(side).to(device)[self.var_cell]  # (F, 3): r, N + c, 2N + b, increasing
        columns = (self.var_instance.unsqueeze(1) * (3 * side) + units).reshape(-1).int()
        starts = torch.arange(0, columns.shape[0] + 1, 3, dtype=torch.int32, device=device)
        ones = torch.ones(columns.shape[0], dtype=self.dtype, device=device)
        shape = (self.num_variables, self.num_instances * 3 * side)
        with warnings.catch_warnings():  # "sparse CSR support is in beta state"
            warnings.simplefilter("ignore", UserWarning)
            transpose = torch.sparse_csr_tensor(starts, columns, ones, shape)
            order = torch.sort(columns, stable=True)
            rows = torch.arange(self.num_variables, dtype=torch.int32, device=device).repeat_interleave(3)
            row_starts = torch.zeros(shape[1] + 1, dtype=torch.int32, device=device)
            row_starts[1:] = torch.bincount(columns, minlength=shape[1]).cumsum(0)
            matrix = torch.sparse_csr_tensor(row_starts, rows[order.indices], ones, shape[::-1])
        return matrix, transpose

    @cached_property
    def _clue_counts(self) -> Tensor:
        """Each unit's counts of the clue digits ``(I * 3N, N)`` (the constant part of ``c_u``)."""
        return unit_digit_counts(self.grids)[:, :, 1:].to(self.dtype).reshape(-1, self.side)

    @cached_property
    def _clue_counts_less_one(self) -> Tensor:
        return self._clue_counts - 1

    def unit_excess(self, x: Tensor) -> Tensor:
        """``c − 1`` ``(S, I * 3N, N)``: ``unit_counts(x) − 1`` with the 1 folded into the constant (one pass less)."""
        return self._plus_incidence_product(self._clue_counts_less_one, x)

    def unit_counts(self, x: Tensor) -> Tensor:
        """Digit counts ``(S, I * 3N, N)`` of assignments ``x`` ``(S, F, N)`` (one-hot or relaxed): for each
        puzzle its N rows, N columns, N blocks. ``c = A X + clue counts``, one sparse product per sample."""
        return self._plus_incidence_product(self._clue_counts, x)

    def _plus_incidence_product(self, constant: Tensor, x: Tensor) -> Tensor:
        """``constant + A X_s`` for every sample s of ``x`` ``(S, F, N)``: ``(S, I * 3N, N)``, one sparse product per
        sample (one product over the samples side by side, ``(F, S·N)``, measured slower on CPU at S = 2: the copy
        into the wide layout costs more than the second call)."""
        matrix, _ = self._incidence
        if x.requires_grad and torch.is_grad_enabled():  # differentiated through by autograd (not ``_Penalty``)
            return torch.stack([torch.addmm(constant, matrix, sample.contiguous()) for sample in x])
        out = x.new_empty(x.shape[0], *constant.shape)  # each sample's product written in place: no stacking copy
        for sample, product in zip(x, out, strict=True):
            torch.addmm(constant, matrix, sample.contiguous(), out=product)
        return out

    def penalty(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        """``f(X) = Σ_u ||c_u − 1||²`` per puzzle: ``(S, F, N) -> (S, I)``; with ``weights`` ``(I, 3N·N)`` (one per
        unit and digit, see ``terms``) the weighted ``Σ_{u,k} w_{u,k} (c_{u,k} − 1)²``.

        Its gradient is written out in ``_Penalty.backward``: ``∂f/∂X = 2 Aᵀ (w ⊙ (c − 1))``, again one sparse
        product per sample.
        """
        return _Penalty.apply(x, self, weights)

    def terms(self, x: Tensor, one_hot: bool | None = None) -> Tensor:
        """The penalty's terms ``(c_{u,k} − 1)²`` per puzzle ``(S, I, 3N·N)`` (unit-major); they sum to ``penalty``
        (``one_hot`` is not needed here)."""
        return self.unit_excess(x).square().view(x.shape[0], self.num_instances, -1)

    def sum_terms(self, terms: Tensor) -> Tensor:
        """Each puzzle's sum of the ``terms`` ``(I, 3N·N)`` of one assignment (``terms(x)[s]``): ``(I,)``, its
        penalty."""
        return terms.sum(-1)

    def raise_weights(self, weights: Tensor, terms: Tensor, step: float) -> None:
        """The breakout raise ``weights += step · terms`` (``terms``: one assignment's, ``terms(x)[s]``)."""
        weights.add_(terms, alpha=step)

    def select_weights(self, weights: Tensor, keep: Tensor) -> Tensor:
        """The weights ``(I, 3N·N)`` of the puzzles ``keep`` (bool ``(I,)``), as ``select(keep)`` orders them."""
        return weights.index_select(0, keep.nonzero().squeeze(1))

    def expected_penalty(self, probs: Tensor, weights: Tensor | None = None) -> Tensor:
        """``E_{X~π}[f(X)]`` per puzzle ``(I,)`` under the mean-field law with probabilities ``probs`` ``(F, N)``:

            E f = Σ_u ‖E c_u − 1‖² + Σ_u Σ_k Var(c_{u,k}) = f(probs) + 3 Σ_{i} Σ_k p_{ik}(1 − p_{ik})

        (E c_u = A p + clue counts; the variance of a count adds over the free cells of the unit, and every free
        cell lies in three units). With ``weights`` (see ``penalty``) each term is weighted: f_w(probs) +
        Σ_{u,k} w_{u,k} Σ_{i ∈ u} p_{ik}(1 − p_{ik}). Differentiable in ``probs``: its gradient is the exact ∇ E f."""
        variance = probs * (1 - probs)
        if weights is None:
            per_variable = 3 * variance.sum(-1)
            per_puzzle = variance.new_zeros(self.num_instances).index_add(0, self.var_instance, per_variable)
        else:
            unit_variance = self._incidence[0] @ variance  # (I * 3N, N)
            per_puzzle = (unit_variance.view(self.num_instances, -1) * weights).sum(-1)
        return self.penalty(probs.unsqueeze(0), weights)[0] + per_puzzle

    def violations(self, x: Tensor) -> Tensor:
        """``Σ_u Σ_k max(c_{u,k} − 1, 0)`` per puzzle: ``(S, F, N) -> (S, I)``; zero exactly on valid grids."""
        excess = (self.unit_counts(x) - 1).clamp(min=0).sum(-1)
        return excess.view(x.shape[0], self.num_instances, 3 * self.side).sum(-1)

    def violated_variables(self, values: Tensor) -> Tensor:
        """Bool ``(F,)``: the free cells of a row, column or block that holds a digit twice, under the assignment
        ``values`` ``(F,)`` (digit indices; −1: a cell left blank, counted in no unit). ``Aᵀ`` of the units with a
        count above 1 (``recombine``)."""
        x = torch.nn.functional.one_hot(values.clamp(min=0), self.side).to(self.dtype) * (values >= 0).unsqueeze(-1)
        twice = (self.unit_counts(x.unsqueeze(0))[0] > 1).any(-1)  # (I * 3N,)
        return (self._incidence[1] @ twice.to(self.dtype).unsqueeze(1)).squeeze(1) > 0

    def fill(self, x: Tensor) -> Tensor:
        """Complete grids ``(S, I, N²)``: the clues with the free cells set to ``argmax x + 1``."""
        grids = self.grids.expand(x.shape[0], -1, -1).clone()
        grids[:, self.var_instance, self.var_cell] = x.argmax(-1) + 1
        return grids

    def repeat(self, times: int) -> "SudokuBatch":
        """Each puzzle ``times`` times in a row (instance ``i * times + r``), e.g. for independent restarts."""
        if times == 1:
            return self
        allowed = None if self.allowed is None else self.allowed.repeat_interleave(times, 0)
        return SudokuBatch.from_grids(self.grids.repeat_interleave(times, 0), self.dtype, allowed)

    def select(self, keep: Tensor) -> "SudokuBatch":
        """The sub-batch of the instances where ``keep`` (bool ``(I,)``) is true, in order. What this batch has
        cached for its penalty (the clue counts, the incidence matrices) is sliced for the sub-batch, not rebuilt
        from its grids, and every slice is an ``index_select`` (about 5× a boolean index on CPU): the solver
        selects at every step where a puzzle leaves the batch, 129 times in the graded throughput file (143
        puzzles × 8 restarts, two threads: a shrink took 11.7 ms and the next penalty 7.5 ms more to rebuild;
        about 3.5 ms in all now)."""
        instances = keep.nonzero().squeeze(1)
        allowed = None if self.allowed is None else self.allowed.index_select(0, instances)
        kept = SudokuBatch.from_grids(self.grids.index_select(0, instances), self.dtype, allowed)
        cached, side = self.__dict__, self.side
        for name in ("_clue_counts", "_clue_counts_less_one"):
            if name in cached:  # (I * 3N, N): each instance's 3N rows
                rows = cached[name].view(self.num_instances, 3 * side, side).index_select(0, instances)
                kept.__dict__[name] = rows.view(-1, side)
        if "_incidence" in cached:
            kept.__dict__["_incidence"] = _select_incidence(*cached["_incidence"], instances,
                                                           self.variable_mask(keep), 3 * side)
        return kept

    def variable_mask(self, keep: Tensor) -> Tensor:
        """Bool ``(F,)``: which free cells belong to kept instances (to slice per-variable state)."""
        return keep[self.var_instance]


def _select_incidence(matrix: Tensor, transpose: Tensor, instances: Tensor, keep_variables: Tensor,
                      units: int) -> tuple[Tensor, Tensor]:
    """``SudokuBatch._incidence`` of the kept ``instances`` (ascending indices; their free cells are the bool
    ``keep_variables``) from the whole batch's: the matrices built from the kept grids, entries in the same order,
    without the sort. ``units``: rows of ``A`` per instance (3N). Every entry of ``A`` lies in its instance's rows
    and columns, so the kept entries are those of kept variables, renumbered; a kept row of ``Aᵀ`` has its unit
    columns shifted down by 3N for every instance dropped before its own. Every variable has three entries (its
    row, column and block), all ones."""
    with warnings.catch_warnings():  # "sparse CSR support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        variables = matrix.col_indices()
        index, device = variables.dtype, variables.device
        renumbered = (keep_variables.cumsum(0) - 1).to(index)
        kept_entries = keep_variables.index_select(0, variables).nonzero().squeeze(1)
        kept_variables = renumbered.index_select(0, variables.index_select(0, kept_entries))
        unit_rows = (instances.unsqueeze(1) * units + torch.arange(units, device=device)).view(-1)
        row_starts = torch.zeros(unit_rows.shape[0] + 1, dtype=index, device=device)
        row_starts[1:] = matrix.crow_indices().diff().index_select(0, unit_rows).cumsum(0)
        ones = matrix.values()[:kept_variables.shape[0]]
        shape = (unit_rows.shape[0], kept_variables.shape[0] // 3)
        kept_matrix = torch.sparse_csr_tensor(row_starts, kept_variables, ones, shape)
        new_less_old = torch.zeros(matrix.shape[0] // units, dtype=index, device=device)  # its new index less its old
        new_less_old[instances] = torch.arange(instances.shape[0], dtype=index, device=device) - instances.to(index)
        unit_columns = transpose.col_indices().view(-1, 3).index_select(0, keep_variables.nonzero().squeeze(1))
        unit_columns = unit_columns.view(-1) + new_less_old.index_select(0, unit_columns.view(-1) // units) * units
        starts = torch.arange(0, unit_columns.shape[0] + 1, 3, dtype=index, device=device)
        kept_transpose = torch.sparse_csr_tensor(starts, unit_columns, ones, shape[::-1])
    return kept_matrix, kept_transpose


class _Penalty(torch.autograd.Function):
    """``f(X) = Σ_{u,k} w_{u,k} (c_{u,k} − 1)²`` per puzzle (w = 1 when not given) with
    ``∂f/∂X = 2 Aᵀ (w ⊙ (c − 1))`` (see ``SudokuBatch.penalty``)."""

    @staticmethod
    def forward(ctx, x: Tensor, batch: SudokuBatch, weights: Tensor | None) -> Tensor:  # type: ignore[override]
        excess = batch.unit_excess(x)  # (S, I * 3N, N)
        ctx.transpose = batch._incidence[1]
        weighted = excess if weights is None else excess * weights.view(-1, batch.side)
        ctx.save_for_backward(weighted)
        return (excess * weighted).view(x.shape[0], batch.num_instances, -1).sum(-1)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        (weighted,) = ctx.saved_tensors
        count, side = grad.shape[0], weighted.shape[-1]
        scaled = weighted.view(count, grad.shape[1], -1, side) * (2 * grad).view(count, -1, 1, 1)
        out = scaled.new_empty(count, ctx.transpose.shape[0], side)
        for sample, product in zip(scaled, out, strict=True):
            sparse_product_into(ctx.transpose, sample.view(-1, side), product)
        return out, None, None


def grid_from_string(text: str, side: int | None = None) -> Tensor:
    """Parse one puzzle written as N² symbols (``'0'`` or ``'.'`` blank; digits, then letters A–P above 9,
    case-insensitive) into an ``(N²,)`` long tensor. The side N is inferred from the length unless given.
    Raises ``ValueError`` with the reason (wrong length, bad character)."""
    text = text.strip()
    if side is None:
        side = math.isqrt(len(text))
        if side * side != len(text) or side not in SIZES:
            sizes = ", ".join(f"{n * n} ({n}×{n})" for n in SIZES)
            raise ValueError(f"a puzzle has {sizes} cells, got {len(text)} characters")
    elif len(text) != side * side:
        raise ValueError(f"a {side}×{side} puzzle has {side * side} cells, got {len(text)} characters")
    if side not in SIZES:
        raise ValueError(f"unsupported size {side}×{side}; sizes: {', '.join(f'{n}×{n}' for n in SIZES)}")
    symbols = SYMBOLS[:side]
    values = []
    for position, char in enumerate(text.upper()):
        if char in BLANKS:
            values.append(0)
        elif char in symbols:
            values.append(symbols.index(char) + 1)
        else:
            raise ValueError(f"bad character {char!r} at position {position + 1} (a {side}×{side} grid uses "
                             f"{symbols[0]}–{symbols[-1]} and 0 or . for blanks)")
    return torch.tensor(values, dtype=torch.long)


def grid_to_string(grid: Tensor, blank: str = "0") -> str:
    """The inverse of ``grid_from_string``: N² symbols, ``blank`` for empty cells."""
    return "".join(blank if v == 0 else SYMBOLS[v - 1] for v in grid.tolist())


def validate_puzzle(puzzle: str, solution: str | None = None, size: int | None = None
                    ) -> tuple[Tensor, Tensor | None] | str:
    """The clues ``(N²,)`` and solution (or None) of a puzzle written as N² symbols (``grid_from_string``), or the
    reason it cannot be solved, one line: a wrong length or bad character (with its row and column when the size
    is known), a digit twice in a unit, a solution of the wrong size, with a blank, contradicting a clue, or
    breaking a rule. An empty ``solution`` counts as none. ``size`` forces the side N."""
    try:
        clues = grid_from_string(puzzle, size)
    except ValueError as error:
        return _with_row_column(str(error), puzzle.strip(), size)
    conflicts = clue_conflicts(clues)
    if conflicts:
        unit, digit = conflicts[0]
        extra = len(conflicts) - 1
        more = f" (and {extra} more conflict{'s' if extra > 1 else ''})" if extra else ""
        return f"clues conflict: {SYMBOLS[digit - 1]} appears twice in {unit}{more}"
    if solution is None or not solution.strip():
        return clues, None
    try:
        parsed = grid_from_string(solution, math.isqrt(clues.numel()))
    except ValueError as error:
        return f"solution: {error}"
    return _solution_problem(clues, parsed) or (clues, parsed)


def _with_row_column(reason: str, text: str, size: int | None) -> str:
    """Add the row and column to a 'bad character ... at position p' reason when the grid size is known."""
    match = re.search(r"at position (\d+)", reason)
    side = size or next((n for n in SIZES if n * n == len(text)), None)
    if match is None or side is None:
        return reason
    row, col = divmod(int(match.group(1)) - 1, side)
    return reason.replace(match.group(0), f"{match.group(0)} (row {row + 1}, column {col + 1})", 1)


def _solution_problem(clues: Tensor, solution: Tensor) -> str | None:
    side = math.isqrt(clues.numel())
    blanks = (solution == 0).nonzero().flatten().tolist()
    if blanks:
        row, col = divmod(blanks[0], side)
        return f"solution has a blank at row {row + 1}, column {col + 1}"
    differ = ((clues != 0) & (clues != solution)).nonzero().flatten().tolist()
    if differ:
        row, col = divmod(differ[0], side)
        return (f"solution contradicts the clues at row {row + 1}, column {col + 1} "
                f"(clue {SYMBOLS[int(clues[differ[0]]) - 1]}, solution {SYMBOLS[int(solution[differ[0]]) - 1]})")
    conflicts = clue_conflicts(solution)
    if conflicts:
        unit, digit = conflicts[0]
        return f"solution is not a valid grid: {SYMBOLS[digit - 1]} appears twice in {unit}"
    return None


def grid_violations(grids: Tensor) -> Tensor:
    """``Σ_u Σ_k max(c_{u,k} − 1, 0)`` of complete grids ``(B, N²)`` (digits 1..N; 0 counts as no digit)."""
    return (unit_digit_counts(grids)[:, :, 1:] - 1).clamp(min=0).sum((1, 2))


# ---- Sudoku as a generic constraint problem (the specialised penalty above is proven equal to it in the tests) ----


def sudoku_spec(grid: Tensor):
    """One puzzle ``(N²,)`` (0 = blank) as a ``ConstraintSpec``: the N² cells are the variables, digits 1..N the
    values 0..N−1, clues are fixed, and each (unit, digit) is an exactly-one group over the unit's cells — so
    its penalty Σ_{u,k} (c_{u,k} − 1)² is term by term the one of ``SudokuBatch.penalty``."""
    from .constraints import ConstraintSpec

    grid = grid.long()
    side = math.isqrt(grid.numel())
    units = units_of_cells(side)  # (N², 3)
    members = torch.stack([(units[:, j] == u).nonzero().flatten() for j in range(3) for u in
                           range(j * side, (j + 1) * side)])  # (3N, N) cells of each unit
    digits = torch.arange(side)
    groups = (members.unsqueeze(1) * side + digits.view(1, side, 1)).reshape(3 * side * side, side)
    return ConstraintSpec.build(side * side, side, fixed=grid - 1, exactly_one=groups)


def sudoku_constraints(grids: Tensor, dtype: torch.dtype = torch.float32):
    """A batch of puzzles ``(I, N²)`` as the generic ``ConstraintBatch``: the same variables (free cells, in the
    same order), the same penalty, the same ``Problem`` protocol as ``SudokuBatch.from_grids(grids)``."""
    from .constraints import ConstraintBatch

    return ConstraintBatch.from_specs([sudoku_spec(g) for g in grids.long()], dtype)


# ---- Exact deduction from the clues: the optional pre-step of the solver (``SolverConfig.deduce``) ----

def _unit_membership(side: int, device: torch.device) -> Tensor:
    """``(3N, N²)`` float: 1 where the cell belongs to the unit (rows, then columns, then blocks)."""
    units = units_of_cells(side).to(device)  # (N², 3)
    membership = torch.zeros(3 * side, side * side, device=device)
    cells = torch.arange(side * side, device=device).unsqueeze(1).expand(-1, 3)
    membership[units, cells] = 1.0
    return membership


def candidates_of(grids: Tensor) -> Tensor:
    """Bool ``(B, N², N)``: digit ``d + 1`` may go in the cell. A clue cell allows its own digit only; a blank cell
    every digit that none of its three units holds yet."""
    grids = grids.long()
    side = math.isqrt(grids.shape[-1])
    membership = _unit_membership(side, grids.device)
    placed = torch.nn.functional.one_hot(grids, side + 1)[..., 1:].float()  # (B, N², N)
    held = (membership @ placed) > 0  # (B, 3N, N): the unit already holds the digit
    blocked = (membership.T @ held.float()) > 0  # (B, N², N): some unit of the cell holds it
    return torch.where((grids == 0).unsqueeze(-1), ~blocked, placed > 0)


def deduce(grids: Tensor, level: str = "singles") -> tuple[Tensor, Tensor]:
    """The exact pre-step: ``(grids with the deduced digits placed, candidates (B, N², N))``.

    ``level`` is one of ``DEDUCTION_LEVELS``. With "singles", each round places at once every naked single (a
    blank cell with one candidate) and every hidden single (the only cell of a unit that can take a digit the unit
    lacks), then recomputes the candidates; it stops when a round places nothing. Every placement is implied by
    the clues, so a puzzle's solutions are unchanged. A puzzle without a solution may show a contradiction (a
    cell with two hidden singles, or none left): such a cell is left blank and the search goes on as usual.
    """
    if level not in DEDUCTION_LEVELS:
        raise ValueError(f"deduce must be one of {', '.join(DEDUCTION_LEVELS)}, got {level!r}")
    grids = grids.long().clone()
    side = math.isqrt(grids.shape[-1])
    if level == "none":
        return grids, torch.ones(*grids.shape, side, dtype=torch.bool, device=grids.device)
    membership = _unit_membership(side, grids.device)
    digits = torch.arange(1, side + 1, device=grids.device)
    while True:
        candidates = candidates_of(grids)
        if level == "candidates":
            return grids, candidates
        blank = grids == 0
        free = candidates & blank.unsqueeze(-1)
        naked = free & (free.sum(-1, keepdim=True) == 1)
        unit_options = membership @ free.float()  # (B, 3N, N): cells of the unit that can take the digit
        hidden = free & ((membership.T @ (unit_options == 1).float()) > 0)
        placed = naked | hidden
        single = placed.sum(-1) == 1  # a cell offered two digits (a contradiction) is left alone
        if not single.any():
            return grids, candidates
        grids = torch.where(single, (placed.long() * digits).sum(-1), grids)
