"""Generic constraint problems over categorical variables, as one vectorised quadratic penalty.

An instance has ``V`` variables, each taking one of ``K`` values (categories). It is described by plain data
(``ConstraintSpec``): fixed assignments (clues), "exactly one" groups, "at most one" groups, pairwise conflicts and
forbidden assignments, all written over *literals* ``ℓ = (v, c)`` ("variable v takes value c"), stored flat as
``v * K + c``. For an assignment X ∈ {0,1}^{V×K} (one-hot rows; relaxed rows in [0,1] during optimisation) and
``x_ℓ = X[v, c]``:

    exactly one,  group G:        (Σ_{ℓ∈G} x_ℓ − 1)²
    at most one,  group G:        Σ_{ℓ<ℓ' ∈ G} x_ℓ x_ℓ' = ((Σ_{ℓ∈G} x_ℓ)² − Σ_{ℓ∈G} x_ℓ²) / 2
    conflict      (ℓ, ℓ'):        x_ℓ x_ℓ'                         ("not both")
    differ        (u, v):         Σ_c X[u, c] X[v, c]               (one conflict (u,c),(v,c) per value c)
    forbidden     ℓ:              x_ℓ

    f(X) = Σ of all terms of the instance.

Every term is ≥ 0 on [0,1] inputs and, for one-hot X, integer and zero exactly when its constraint holds; so
f(X) = 0 exactly on valid solutions. Fixed variables are not optimised: their rows are constant one-hots, so a
constraint touching a clue becomes a constraint on the remaining free variables (a domain restriction).

``ConstraintBatch`` concatenates the free variables of I instances (each with its own V, same K) into one
``(F, K)`` tensor, like ``SudokuBatch``, and implements the solver's ``Problem`` protocol. Groups are padded index
tensors into a flat copy of all instances' rows (with one constant zero slot for padding), so the penalty is a
few gathers, products and one ``index_add`` — no Python loop over groups or instances. ``verify`` checks the
original constraints directly on an integer assignment, without the penalty.

"Differ" pairs (graph colouring's edges, all-different lists) are kept as variable pairs rather than K literal
conflicts each: with A the symmetric ``(R, R)`` adjacency of the pairs over all rows (sparse CSR),

    Σ_{(u,v)} Σ_c X[u,c] X[v,c] = ½ Σ_r ⟨X_r, (A X)_r⟩,     ∂/∂X_r = (A X)_r

one sparse-dense product per sample for the value, and the gradient written out from the same product
(``_DifferPenalty``). ``ConstraintSpec.expanded`` gives the same instance with every pair spelled out as literal
conflicts (the generic path); the tests prove the two penalties and gradients equal.

The solver's breakout weights (``SolverConfig.weight_step``) weight every term of ``terms``: each group, conflict
and forbidden literal, and each distinct differ pair {u, v}, whose weight w_uv goes on both entries of A, which
stays symmetric, so the kernel's gradient (W X)_r still holds:

    f_w(X) = Σ_t w_t term_t(X),    the differ part  ½ Σ_r ⟨X_r, (W X)_r⟩,  W_uv = W_vu = w_uv A_uv

A is block-diagonal (pairs never cross instances). When every instance has the same n rows (restarts of one
graph) and the blocks are dense (at least ``DENSE_DIFFER`` of their entries set, e.g. DSJC250.9), A and W are
kept as ``(I, n, n)`` dense blocks instead, and the product is one batched dense product per sample (BLAS), the
same sums in another order.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, fields, replace
from functools import cached_property

import torch
from torch import Tensor

from ._pair_terms import PairTerms
from ._sparse import sparse_product_into


def pad_groups(groups: list[list[int]] | Tensor) -> Tensor:
    """Groups of flat literals of varying length as ``(G, L)`` long, padded with −1."""
    if isinstance(groups, Tensor):
        return groups.long().reshape(-1, groups.shape[-1]) if groups.numel() else torch.zeros(0, 1, dtype=torch.long)
    width = max((len(g) for g in groups), default=1)
    out = torch.full((len(groups), max(width, 1)), -1, dtype=torch.long)
    for i, group in enumerate(groups):
        out[i, : len(group)] = torch.tensor(group, dtype=torch.long)
    return out


def differ_conflicts(pairs: Tensor, num_categories: int) -> Tensor:
    """``(P, 2)`` variable pairs that must differ -> ``(P·K, 2)`` conflicting literals ``(u·K+c, v·K+c)``."""
    pairs = pairs.long().reshape(-1, 2)
    values = torch.arange(num_categories)
    u = (pairs[:, :1] * num_categories + values).reshape(-1)
    v = (pairs[:, 1:] * num_categories + values).reshape(-1)
    return torch.stack([u, v], dim=1)


@dataclass(frozen=True)
class ConstraintSpec:
    """One instance: ``num_variables`` variables over ``num_categories`` values and its constraints.

    fixed: ``(V,)`` long, the value of a fixed variable (a clue) or −1 for a free one.
    exactly_one, at_most_one: ``(G, L)`` long flat literals ``v·K + c`` per group, −1 padding.
    conflicts: ``(C, 2)`` long pairs of flat literals that must not both hold.
    forbidden: ``(U,)`` long flat literals that must not hold.
    differ: ``(P, 2)`` long pairs of variables that must take different values.
    """

    num_variables: int
    num_categories: int
    fixed: Tensor
    exactly_one: Tensor = field(default_factory=lambda: torch.zeros(0, 1, dtype=torch.long))
    at_most_one: Tensor = field(default_factory=lambda: torch.zeros(0, 1, dtype=torch.long))
    conflicts: Tensor = field(default_factory=lambda: torch.zeros(0, 2, dtype=torch.long))
    forbidden: Tensor = field(default_factory=lambda: torch.zeros(0, dtype=torch.long))
    differ: Tensor = field(default_factory=lambda: torch.zeros(0, 2, dtype=torch.long))

    @classmethod
    def build(
        cls,
        num_variables: int,
        num_categories: int,
        fixed: Tensor | None = None,
        exactly_one: list[list[int]] | Tensor | None = None,
        at_most_one: list[list[int]] | Tensor | None = None,
        conflicts: Tensor | None = None,
        differ: Tensor | None = None,
        forbidden: Tensor | None = None,
    ) -> "ConstraintSpec":
        """Normalise and check the pieces (``differ``: ``(P, 2)`` variable pairs, kept as pairs: see the module
        docstring). Raises ``ValueError`` on an index out of range."""
        if num_variables < 1 or num_categories < 1:
            raise ValueError(f"need at least one variable and one value, got {num_variables} and {num_categories}")
        fixed = torch.full((num_variables,), -1, dtype=torch.long) if fixed is None else fixed.long().clone()
        if fixed.shape != (num_variables,):
            raise ValueError(f"fixed must have one entry per variable ({num_variables}), got {tuple(fixed.shape)}")
        if ((fixed < -1) | (fixed >= num_categories)).any():
            raise ValueError(f"a fixed value is outside 0..{num_categories - 1}")
        pairs = torch.zeros(0, 2, dtype=torch.long) if conflicts is None else conflicts.long().reshape(-1, 2)
        differ = torch.zeros(0, 2, dtype=torch.long) if differ is None else differ.long().reshape(-1, 2)
        if differ.numel() and ((differ < 0) | (differ >= num_variables)).any():
            raise ValueError(f"differ names a variable outside 0..{num_variables - 1}")
        spec = cls(
            num_variables,
            num_categories,
            fixed,
            pad_groups([] if exactly_one is None else exactly_one),
            pad_groups([] if at_most_one is None else at_most_one),
            pairs,
            torch.zeros(0, dtype=torch.long) if forbidden is None else forbidden.long().reshape(-1),
            differ,
        )
        literals = num_variables * num_categories
        for name in ("exactly_one", "at_most_one", "conflicts", "forbidden"):
            value = getattr(spec, name)
            if value.numel() and ((value < (-1 if name in ("exactly_one", "at_most_one") else 0)) |
                                  (value >= literals)).any():
                raise ValueError(f"{name} names a (variable, value) outside {num_variables} × {num_categories}")
        return spec

    def widen(self, num_categories: int) -> "ConstraintSpec":
        """The same instance over ``num_categories ≥ K`` values, the extra values forbidden for every variable
        (so instances of different K can share one batch)."""
        if num_categories == self.num_categories:
            return self
        if num_categories < self.num_categories:
            raise ValueError(f"cannot narrow {self.num_categories} values to {num_categories}")
        k, wide = self.num_categories, num_categories

        def remap(literals: Tensor) -> Tensor:
            return torch.where(literals >= 0, literals // k * wide + literals % k, literals)

        extra = (torch.arange(self.num_variables).view(-1, 1) * wide + torch.arange(k, wide)).reshape(-1)
        return ConstraintSpec(self.num_variables, wide, self.fixed, remap(self.exactly_one), remap(self.at_most_one),
                              remap(self.conflicts), torch.cat([remap(self.forbidden), extra]), self.differ)

    @cached_property
    def _adjacencies(self) -> dict[torch.dtype, Tensor]:
        """This instance's own differ adjacency by dtype (``local_adjacency``), built at first use."""
        return {}

    def __getstate__(self) -> dict:
        """Pickled (Ray tasks, copies) without the adjacencies built: a sparse CSR tensor cannot be pickled, and they
        are built again where they are used."""
        return {name: value for name, value in self.__dict__.items() if name != "_adjacencies"}

    def local_adjacency(self, dtype: torch.dtype) -> Tensor:
        """The ``(V, V)`` CSR adjacency of this instance's differ pairs (``_adjacency`` over its own rows), built
        once per dtype: a batch (restarts repeat an instance) puts it on its diagonal without sorting the pairs
        again."""
        if dtype not in self._adjacencies:
            self._adjacencies[dtype] = _adjacency(self.differ, self.num_variables, dtype)
        return self._adjacencies[dtype]

    def expanded(self) -> "ConstraintSpec":
        """The same instance with every differ pair (u, v) spelled out as K literal conflicts (u·K+c, v·K+c): the
        generic penalty, term by term the sum that the differ kernel computes as a sparse product."""
        if not self.differ.numel():
            return self
        conflicts = torch.cat([self.conflicts, differ_conflicts(self.differ, self.num_categories)])
        return ConstraintSpec(self.num_variables, self.num_categories, self.fixed, self.exactly_one,
                              self.at_most_one, conflicts, self.forbidden)

    def verify(self, assignment: Tensor) -> list[str]:
        """The constraints an integer assignment ``(V,)`` (values 0..K−1) breaks, in words; empty when valid.
        Checked directly on the values (counts of true literals), not through the penalty."""
        values = assignment.long()
        k = self.num_categories
        if values.shape != (self.num_variables,):
            return [f"expected {self.num_variables} values, got {tuple(values.shape)}"]
        if ((values < 0) | (values >= k)).any():
            return ["a value is outside the domain"]
        holds = torch.zeros(self.num_variables * k + 1, dtype=torch.long)  # last slot: padding, never true
        holds[torch.arange(self.num_variables) * k + values] = 1
        problems = []
        bad_fixed = ((self.fixed >= 0) & (values != self.fixed)).nonzero().flatten().tolist()
        problems += [f"variable {v} is fixed to {int(self.fixed[v])}" for v in bad_fixed]
        for name, groups, ok in (("exactly-one", self.exactly_one, lambda n: n == 1),
                                 ("at-most-one", self.at_most_one, lambda n: n <= 1)):
            counts = holds[groups].sum(-1) if groups.numel() else torch.zeros(0, dtype=torch.long)
            problems += [f"{name} group {g} has {int(counts[g])} true" for g in (~ok(counts)).nonzero().flatten()]
        both = (holds[self.conflicts[:, 0]] & holds[self.conflicts[:, 1]]).nonzero().flatten().tolist()
        problems += [f"conflict {c} holds on both sides" for c in both]
        same = (values[self.differ[:, 0]] == values[self.differ[:, 1]]).nonzero().flatten().tolist()
        problems += [f"variables {int(self.differ[p, 0])} and {int(self.differ[p, 1])} must differ" for p in same]
        problems += [f"forbidden assignment {int(u)} holds" for u in self.forbidden[holds[self.forbidden] == 1]]
        return problems


@dataclass(frozen=True)
class ConstraintBatch:
    """I instances (same K) as one penalty over their concatenated free variables; the solver's ``Problem``.

    Derived by ``from_specs``: every instance's rows (free and fixed) are laid out one after another, instance i
    starting at row ``row_start[i]``; a flat assignment ``(S, R·K + 1)`` holds them with a constant zero last.
    """

    specs: tuple[ConstraintSpec, ...]
    var_instance: Tensor  # (F,) instance of each free variable
    var_index: Tensor  # (F,) its variable index within the instance
    var_row: Tensor  # (F,) its row in the concatenated layout
    base: Tensor  # (R + 1, K): one-hots of fixed rows, zeros elsewhere (the last row is the padding slot)
    member_literal: Tensor  # (M,) the flat literal of every group member (exactly-one groups first, no padding)
    member_group: Tensor  # (M,) its group: 0..GE−1 exactly-one, GE..GE+GA−1 at-most-one
    num_exact: int  # GE
    num_groups: int  # GE + GA
    pairs: Tensor  # (C, 2)
    singles: Tensor  # (U,)
    term_instance: Tensor  # (GE + GA + C + U,) instance of each penalty term, in that order
    width: int  # V_max of ``fill``'s output; kept by ``select`` and ``repeat`` so solutions keep one shape
    row_instance: Tensor  # (R,) instance of each row
    adjacency: Tensor | None  # (R, R) sparse CSR: the differ pairs over rows, both directions; None when none
    dtype: torch.dtype = torch.float32

    @classmethod
    def from_specs(cls, specs: list[ConstraintSpec] | tuple[ConstraintSpec, ...],
                   dtype: torch.dtype = torch.float32, width: int | None = None,
                   device: torch.device | str | None = None) -> "ConstraintBatch":
        """The batch of ``specs``, its tensors on ``device`` (default: the CPU; the specs themselves stay there)."""
        batch = cls._on_cpu(tuple(specs), dtype, width)
        if device is None or torch.device(device) == batch.base.device:
            return batch
        return replace(batch, **{f.name: getattr(batch, f.name).to(device) for f in fields(batch)
                                 if isinstance(getattr(batch, f.name), Tensor)})

    @property
    def device(self) -> torch.device:
        return self.base.device

    @classmethod
    def _on_cpu(cls, specs: tuple[ConstraintSpec, ...], dtype: torch.dtype, width: int | None) -> "ConstraintBatch":
        if not specs:
            raise ValueError("no instances")
        k = specs[0].num_categories
        if any(s.num_categories != k for s in specs):
            raise ValueError("every instance of a batch must have the same number of values")
        sizes = torch.tensor([s.num_variables for s in specs])
        row_start = torch.cumsum(sizes, 0) - sizes
        rows = int(sizes.sum())
        pad = rows * k
        fixed = torch.cat([s.fixed for s in specs])
        base = torch.zeros(rows + 1, k, dtype=dtype)
        clue_rows = (fixed >= 0).nonzero().flatten()
        base[clue_rows, fixed[clue_rows]] = 1.0
        instance_of_row = torch.repeat_interleave(torch.arange(len(specs)), sizes)
        free = (fixed < 0).nonzero().flatten()

        def shifted(name: str) -> tuple[Tensor, Tensor]:
            parts = [getattr(s, name) for s in specs]
            width = max((p.shape[1] for p in parts if p.dim() == 2), default=1)
            out, owner = [], []
            for i, part in enumerate(parts):
                offset = int(row_start[i]) * k
                if part.dim() == 2 and part.shape[1] < width:
                    part = torch.cat([part, part.new_full((part.shape[0], width - part.shape[1]), -1)], 1)
                out.append(torch.where(part >= 0, part + offset, torch.full_like(part, pad)))
                owner.append(torch.full((part.shape[0],), i, dtype=torch.long))
            return torch.cat(out), torch.cat(owner)

        exact, exact_owner = shifted("exactly_one")
        atmost, atmost_owner = shifted("at_most_one")
        groups = torch.cat([torch.nn.functional.pad(g, (0, max(exact.shape[1], atmost.shape[1]) - g.shape[1]),
                                                    value=pad) for g in (exact, atmost)])
        real = groups != pad
        pairs, pair_owner = shifted("conflicts")
        singles, single_owner = shifted("forbidden")
        has_differ = any(s.differ.numel() for s in specs)
        return cls(
            specs=specs,
            var_instance=instance_of_row[free],
            var_index=free - row_start[instance_of_row[free]],
            var_row=free,
            base=base,
            member_literal=groups[real],
            member_group=real.nonzero()[:, 0],
            num_exact=exact.shape[0],
            num_groups=groups.shape[0],
            pairs=pairs,
            singles=singles,
            term_instance=torch.cat([exact_owner, atmost_owner, pair_owner, single_owner]),
            width=max(int(sizes.max()), width or 0),
            row_instance=instance_of_row,
            adjacency=_block_diagonal(specs, dtype) if has_differ else None,
            dtype=dtype,
        )

    @property
    def num_instances(self) -> int:
        return len(self.specs)

    @property
    def num_variables(self) -> int:
        return self.var_row.shape[0]

    @property
    def num_categories(self) -> int:
        return self.base.shape[1]

    @cached_property
    def fixed_values(self) -> Tensor:
        """``(I, V_max)`` long: each instance's fixed values, −1 at free variables and past its V_i."""
        return torch.stack([torch.nn.functional.pad(s.fixed, (0, self.width - s.num_variables), value=-1)
                            for s in self.specs]).to(self.device)

    def flat(self, x: Tensor) -> Tensor:
        """``(S, F, K)`` free rows -> ``(S, (R+1)·K)``: every instance's rows (clues as constant one-hots) and
        the zero padding slot, flattened so that a literal of row r, value c sits at ``r·K + c``."""
        full = self.base.to(x.dtype).expand(x.shape[0], -1, -1).index_copy(1, self.var_row, x)
        return full.reshape(x.shape[0], -1)

    def group_terms(self, x: Tensor) -> Tensor:
        """The terms of the groups, conflicts and forbidden literals ``(S, GE + GA + C + U)`` (formulas in the module
        docstring). Group sums Σ_{ℓ∈G} x_ℓ and Σ_{ℓ∈G} x_ℓ² are an ``index_add`` over the groups' members (padding
        never touched)."""
        flat = self.flat(x)
        count = x.shape[0]
        members = flat.index_select(1, self.member_literal)  # (S, M): x_ℓ of every group member
        sums = flat.new_zeros(count, self.num_groups).index_add_(1, self.member_group, members)
        squares = flat.new_zeros(count, self.num_groups).index_add_(1, self.member_group, members.square())
        exact = sums[:, : self.num_exact].sub(1).square()
        atmost = (sums[:, self.num_exact:].square() - squares[:, self.num_exact:]) / 2
        conflict = flat.index_select(1, self.pairs[:, 0]) * flat.index_select(1, self.pairs[:, 1])
        single = flat.index_select(1, self.singles)
        return torch.cat([exact, atmost, conflict, single], 1)

    def terms(self, x: Tensor, one_hot: bool | None = None) -> Tensor:
        """Every penalty term ``(S, T)``, the layout of the breakout weights: the ``group_terms``, then one term per
        distinct differ pair {u, v}, ``m_uv Σ_c X[u,c] X[v,c]`` (m_uv: how often the pair is listed). They sum to
        ``penalty``. ``one_hot``: whether ``x`` is one-hot (the solver's modes are); None: looked up (which waits
        for the device). One one-hot assignment on the CPU (the solver's mode, every step) is compared with the
        last one: only the pairs of its rows that changed are compared again (``PairTerms``, the same numbers)."""
        if self.adjacency is None:
            return self.group_terms(x)
        rows = self._rows(x)
        u, v, count, _ = self._differ_pairs
        if one_hot is None:
            one_hot = bool(((rows == 0) | (rows == 1)).all()) and bool((rows.sum(-1) == 1).all())
        tracked = one_hot and rows.shape[0] == 1 and rows.device.type == "cpu"
        if one_hot:  # Σ_c X[u,c] X[v,c] is whether u and v have the same value, without K products
            labels = rows @ torch.arange(rows.shape[-1], dtype=rows.dtype, device=rows.device)  # exact: one-hot
            if tracked:  # the solver's mode, step after step: the pairs of the rows that changed (``PairTerms``)
                self._pair_terms.update(labels[0])
                same = self._pair_terms.same.unsqueeze(0).clone()  # the caller's own: the tracker's changes later
            else:
                same = labels.new_empty(labels.shape[0], u.shape[0])  # the comparison written as floats (1.1
                for row, out in zip(labels, same, strict=True):  # against 3.2 ms for 320k pairs through booleans)
                    torch.eq(row.index_select(0, u), row.index_select(0, v), out=out)
        else:
            same = (rows.index_select(1, u) * rows.index_select(1, v)).sum(-1)
        pair_terms = same if self._single_pairs else same * count  # a graph's edges are listed once: times 1
        out = pair_terms if not self.term_instance.numel() else torch.cat([self.group_terms(x), pair_terms], 1)
        if tracked:
            self._tracked_terms[:] = [out, out._version]
        return out

    @cached_property
    def _pair_terms(self) -> PairTerms:
        """The mode's pair terms kept from step to step (CPU; see ``terms``)."""
        u, v, _, entry_pair = self._differ_pairs
        return PairTerms(u, v, self.adjacency.crow_indices(), entry_pair)

    @cached_property
    def _tracked_terms(self) -> list:
        """``[terms, their version]``: the last ``terms`` of a one-hot assignment that ``_pair_terms`` tracked,
        whose non-zero pair terms are then its ``alike`` list (``_tracked_alike``); empty when there are none."""
        return []

    def _tracked_alike(self, terms: Tensor) -> Tensor | None:
        """The pairs whose term in ``terms`` (``(T,)``, one assignment's) is non-zero, long ``(M,)``, when ``terms``
        are (a view of) the last ones ``_pair_terms`` tracked, unchanged since: its ``alike`` list; else None."""
        tracked = self._tracked_terms
        if tracked and terms.data_ptr() == tracked[0].data_ptr() and terms.shape[-1] == tracked[0].shape[-1] \
                and tracked[0]._version == tracked[1]:
            return self._pair_terms.alike
        return None

    @cached_property
    def _entries(self) -> tuple[Tensor, Tensor]:
        """The row and the column (long ``(E,)`` each) of every stored entry of the adjacency, in CSR order."""
        crow = self.adjacency.crow_indices().long()
        row = torch.repeat_interleave(torch.arange(crow.shape[0] - 1, device=crow.device), crow.diff())
        return row, self.adjacency.col_indices().long()

    @cached_property
    def _differ_pairs(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The distinct differ pairs over rows, u < v (``(P,)`` each, sorted by u, so by instance), how often each is
        listed, and for every stored entry of the adjacency (both directions, CSR order) the pair it belongs to
        (indices in the adjacency's index dtype: int32 gathers are the faster on CPU)."""
        matrix = self.adjacency
        row, col = self._entries
        keys = torch.minimum(row, col) * matrix.shape[0] + torch.maximum(row, col)
        pairs, entry_pair = torch.unique(keys, return_inverse=True)
        count = matrix.values().new_zeros(pairs.shape[0]).index_add_(0, entry_pair, matrix.values()) / 2
        index = matrix.col_indices().dtype
        return ((pairs // matrix.shape[0]).to(index), (pairs % matrix.shape[0]).to(index), count,
                entry_pair.to(index))

    @cached_property
    def weight_instance(self) -> Tensor:
        """``(T,)`` the instance of each term of ``terms`` (what ``select_weights`` keeps by)."""
        if self.adjacency is None:
            return self.term_instance
        return torch.cat([self.term_instance, self.row_instance[self._differ_pairs[0]]])

    def sum_terms(self, terms: Tensor) -> Tensor:
        """Each instance's sum of the ``terms`` ``(T,)`` of one assignment (``terms(x)[s]``): ``(I,)``, its penalty.
        The differ pairs' terms, in runs by instance, are summed run by run (``segment_reduce``)."""
        generic = self.term_instance.shape[0]
        out = terms.new_zeros(self.num_instances).index_add_(0, self.term_instance, terms[:generic])
        if self.adjacency is None:
            return out
        if self._pair_runs_equal:  # the restarts of one graph: a row sum (0.03 against 0.47 ms for 32 × 10⁴ pairs)
            return out + terms[generic:].view(self.num_instances, -1).sum(1)
        return out + torch.segment_reduce(terms[generic:], "sum", lengths=self._pairs_per_instance, unsafe=True)

    @cached_property
    def _pair_runs_equal(self) -> bool:
        """Whether every instance has as many differ pairs (then each instance's run of pair terms is a row). A
        one-hot assignment's terms are small integers, so their sums are exact in any order: a row sum gives
        ``segment_reduce``'s bits."""
        runs = self._pairs_per_instance
        return bool((runs == runs[0]).all()) if runs.numel() else False

    @cached_property
    def _pairs_per_instance(self) -> Tensor:
        """``(I,)`` how many distinct differ pairs each instance has (they come in that order)."""
        return torch.bincount(self.row_instance[self._differ_pairs[0]], minlength=self.num_instances)

    def select_weights(self, weights: Tensor, keep: Tensor) -> Tensor:
        """The weights ``(T,)`` of the terms of the instances ``keep`` (bool ``(I,)``), in the order of the terms
        of ``select(keep)``."""
        return weights[keep[self.weight_instance]]

    @cached_property
    def _all_free(self) -> bool:
        """Whether the free variables are all the rows, in order (then ``x`` is the full assignment)."""
        return self.var_row.shape[0] == self.row_instance.shape[0]

    def _rows(self, x: Tensor) -> Tensor:
        """``(S, R, K)`` every row of every instance (clues as constant one-hots), from the free rows ``x``."""
        return x if self._all_free else self.flat(x).view(x.shape[0], -1, self.num_categories)[:, :-1]

    def penalty(self, x: Tensor, weights: Tensor | None = None) -> Tensor:
        """``f(X)`` per instance: ``(S, F, K) -> (S, I)``, the sum of the instance's terms, the differ pairs'
        ``½ Σ_r ⟨X_r, (A X)_r⟩`` by the sparse kernel (``_DifferPenalty``). With ``weights`` ``(T,)`` (one per
        term of ``terms``): the weighted sum ``Σ_t w_t term_t``, the differ pairs' as ``½ Σ_r ⟨X_r, (W X)_r⟩`` with
        W the adjacency whose entries (u, v) and (v, u) both carry the weight of the pair {u, v}."""
        group_terms = self.group_terms(x) if self.term_instance.numel() else None
        return self._weighted_sum(group_terms, x, weights)

    def _weighted_sum(self, group_terms: Tensor | None, x: Tensor, weights: Tensor | None) -> Tensor:
        """``(S, I)``: the ``group_terms`` ``(S, GE + GA + C + U)`` (None when there are none) summed per instance,
        plus the differ pairs' sparse penalty of ``x`` (free rows ``(S, F, K)``), each term weighted by
        ``weights`` (see ``penalty``) when given."""
        out = x.new_zeros(x.shape[0], self.num_instances)
        generic = self.term_instance.shape[0]
        if group_terms is not None:
            out = out.index_add(1, self.term_instance,
                                group_terms if weights is None else group_terms * weights[:generic])
        if self.adjacency is not None:
            plain = self.adjacency if self._dense_blocks is None else self._dense_blocks[0]
            matrix = plain if weights is None else self._weighted_adjacency(weights)
            out = out + _DifferPenalty.apply(self._rows(x), matrix, self.row_instance, self.num_instances,
                                             self._rows_each)
        return out

    def _weighted_adjacency(self, weights: Tensor) -> Tensor:
        """The differ adjacency with both entries of each pair multiplied by its weight (``weights``: one per term of
        ``terms``, the pairs' after the group terms'): still symmetric, as ``_DifferPenalty`` needs; as dense blocks
        when the batch has them (``_dense_blocks``), else a CSR matrix of the adjacency's pattern. Built once for a
        weights tensor (sparse: one gather of the P weights onto the 2P entries; dense: a zero fill and a scatter into
        the V² entries of every block) and then kept up to date by ``raise_weights``, which rewrites the entries of
        the pairs a raise changed: the dense rebuild cost a fifth of a DSJC250.9 step, the sparse one (the gather)
        about a twentieth of a G(1000, 10⁴) step once the raise finds its pairs without a search (see
        ``raise_weights``)."""
        kept = self._kept_adjacency(weights)
        if kept is not None:
            return kept
        matrix = self.adjacency
        values = weights[self.term_instance.shape[0]:].index_select(0, self._differ_pairs[3])
        if not self._single_pairs:
            values = matrix.values() * values
        if self._dense_blocks is not None:
            blocks, position = self._dense_blocks
            built = values.new_zeros(blocks.numel()).index_put_((position,), values).view(blocks.shape)
        else:
            built = _csr(matrix.crow_indices(), matrix.col_indices(), values, matrix.shape[0])
        self._kept_weighted[:] = [weights, weights._version, built]
        return built

    @cached_property
    def _rows_each(self) -> int:
        """n when every instance has n rows (the restarts of one graph), else 0."""
        sizes = torch.bincount(self.row_instance, minlength=self.num_instances)
        return int(sizes[0]) if sizes.numel() and bool((sizes == sizes[0]).all()) else 0

    @cached_property
    def _kept_weighted(self) -> list:
        """``[weights, its version, the weighted adjacency built from it]`` once ``_weighted_adjacency`` has built
        it, kept current by ``raise_weights``; empty before."""
        return []

    def _kept_adjacency(self, weights: Tensor) -> Tensor | None:
        """The weighted adjacency kept for ``weights`` as they are now (the same tensor, not changed since it was
        built or last updated), else None."""
        kept = self._kept_weighted
        return kept[2] if kept and kept[0] is weights and kept[1] == weights._version else None

    def raise_weights(self, weights: Tensor, terms: Tensor, step: float) -> None:
        """The breakout raise ``weights += step · terms`` (``terms``: one assignment's, ``terms(x)[s]``). When the
        weighted adjacency was built from ``weights`` as they were, the entries of the pairs raised are rewritten in
        it with their new weights (``A_e · w``, as a rebuild writes them), on CPU (on a GPU finding the pairs would
        be a synchronisation; it rebuilds). The pairs raised are the mode's monochromatic ones, which the tracked
        terms list (``_tracked_alike``), and with them only those weights are rewritten (w + step: a graph's pair
        terms are 0 or 1); other terms are searched (``nonzero``)."""
        kept = self._kept_adjacency(weights)
        if kept is None or weights.device.type != "cpu":
            weights.add_(terms, alpha=step)
            return
        generic = self.term_instance.shape[0]
        changed = self._tracked_alike(terms)
        if changed is not None and self._single_pairs:  # the mode's pair terms are 0 or 1: w + step or w itself,
            weights[:generic].add_(terms[:generic], alpha=step)  # the numbers of the pass over all of them
            pair_weights = weights[generic:]
            pair_weights.index_copy_(0, changed, pair_weights.index_select(0, changed).add_(step))
        else:
            weights.add_(terms, alpha=step)
            changed = terms[generic:].nonzero().squeeze(1) if changed is None else changed
        values = weights[generic:].index_select(0, changed)
        if not self._single_pairs:
            values = values * self._differ_pairs[2].index_select(0, changed)
        flat = kept.view(-1) if kept.layout == torch.strided else kept.values()
        for positions in self._pair_positions.index_select(0, changed).T:  # the pair's two entries
            flat.index_put_((positions,), values)
        self._kept_weighted[1] = weights._version

    @cached_property
    def _pair_positions(self) -> Tensor:
        """``(P, 2)`` where the two entries, (u, v) and (v, u), of each pair are stored in the weighted adjacency:
        their flat positions in the dense blocks (as ``_dense_blocks`` places them), or their CSR entries."""
        if self._dense_blocks is None:  # each pair has two entries, (u, v) in row u before (v, u) in row v
            return torch.sort(self._differ_pairs[3].long(), stable=True).indices.view(-1, 2)
        n = self._dense_blocks[0].shape[-1]
        u, v = (rows.long() for rows in self._differ_pairs[:2])
        return torch.stack([_block_position(u, v, n), _block_position(v, u, n)], 1)

    @cached_property
    def _dense_blocks(self) -> tuple[Tensor, Tensor] | None:
        """The adjacency as dense diagonal blocks ``(I, n, n)`` and the flat position in them of each of its CSR
        entries (where ``_weighted_adjacency`` writes the weighted values), when every instance has the same n rows,
        at least ``DENSE_DIFFER`` of the blocks' entries are set and they hold at most ``MAX_DENSE_DIFFER``
        numbers; else None (the sparse CSR product)."""
        matrix = self.adjacency
        if matrix is None:
            return None
        n = self._rows_each
        cells = self.num_instances * n * n
        if not n or cells > MAX_DENSE_DIFFER or matrix.values().shape[0] < DENSE_DIFFER * cells:
            return None
        row, col = self._entries
        position = _block_position(row, col, n)
        blocks = matrix.values().new_zeros(cells).index_put_((position,), matrix.values())
        return blocks.view(self.num_instances, n, n), position

    @cached_property
    def _single_pairs(self) -> bool:
        """Whether every differ pair is listed once (the adjacency's entries all 1, as for a graph's edges): the
        weighted entries are then the pairs' weights themselves, with no product."""
        return bool((self.adjacency.values() == 1).all())

    @cached_property
    def _moment_plan(self) -> tuple[Tensor, ...]:
        """Index tensors of ``expected_penalty``: the distinct (group, literal) members with their multiplicity m,
        each one's (group, row) slot, and the group of every slot."""
        literals = self.base.numel()
        pairs, count = torch.unique(self.member_group * literals + self.member_literal, return_counts=True)
        group, literal = pairs // literals, pairs % literals
        slots, slot_of = torch.unique(group * (literals // self.num_categories) + literal // self.num_categories,
                                      return_inverse=True)
        slot_group = slots // (literals // self.num_categories)
        return literal, group, count.to(self.dtype), slot_of, slot_group

    def expected_penalty(self, probs: Tensor, weights: Tensor | None = None) -> Tensor:
        """``E_{X~π}[f(X)]`` per instance ``(I,)`` in closed form, for independent rows ``X_v ~ Cat(probs_v)`` with
        probabilities ``probs`` ``(F, K)`` (differentiable: its gradient is the exact ∇ E f; fixed rows are
        constant one-hots).

        With p_ℓ = P(x_ℓ = 1): E[x_ℓ x_ℓ'] = p_ℓ p_ℓ' for literals of different variables, p_ℓ for the same
        literal (x² = x) and 0 for two values of one variable. So, with s_G = Σ_{ℓ∈G} x_ℓ (members counted with
        their multiplicity) and s_{G,v} its part on variable v (independent across v):

            exactly one:  E(s_G − 1)² = (E s_G − 1)² + Σ_v Var s_{G,v}
            at most one:  E[(s_G² − Σ x_ℓ²) / 2] = ((E s_G)² + Σ_v Var s_{G,v} − E s_G) / 2
            conflict:     E[x_ℓ x_ℓ'] (as above);   forbidden: p_ℓ

        where E s_{G,v} = Σ_c m_c p_{v,c} and E s_{G,v}² = Σ_c m_c² p_{v,c} (m_c: how often (v, c) is in G).
        A differ pair joins two different variables, so E[Σ_c X[u,c] X[v,c]] = Σ_c p_{u,c} p_{v,c}: the differ
        penalty of ``probs`` itself. With ``weights`` (see ``penalty``) each term's expectation is weighted.
        """
        flat = self.flat(probs.unsqueeze(0))
        literal, group, count, slot_of, slot_group = self._moment_plan
        k, s = self.num_categories, 1
        p = flat.index_select(1, literal)
        slots = slot_group.shape[0]
        slot_mean = flat.new_zeros(s, slots).index_add_(1, slot_of, p * count)
        slot_square = flat.new_zeros(s, slots).index_add_(1, slot_of, p * count.square())
        variance = flat.new_zeros(s, self.num_groups).index_add_(1, slot_group, slot_square - slot_mean.square())
        mean = flat.new_zeros(s, self.num_groups).index_add_(1, group, p * count)
        exact = (mean[:, : self.num_exact] - 1).square() + variance[:, : self.num_exact]
        rest, spread = mean[:, self.num_exact:], variance[:, self.num_exact:]
        atmost = (rest.square() + spread - rest) / 2
        a, b = flat.index_select(1, self.pairs[:, 0]), flat.index_select(1, self.pairs[:, 1])
        same_row = self.pairs[:, 0] // k == self.pairs[:, 1] // k
        same_literal = self.pairs[:, 0] == self.pairs[:, 1]
        conflict = torch.where(same_row, a * same_literal.to(a.dtype), a * b)
        terms = torch.cat([exact, atmost, conflict, flat.index_select(1, self.singles)], 1)
        return self._weighted_sum(terms, probs.unsqueeze(0), weights)[0]

    def fill(self, x: Tensor) -> Tensor:
        """Complete assignments ``(S, I, V_max)``: clue values, free variables at ``argmax x``; −1 past V_i."""
        out = self.fixed_values.expand(x.shape[0], -1, -1).clone()
        out[:, self.var_instance, self.var_index] = x.argmax(-1)
        return out

    def repeat(self, times: int) -> "ConstraintBatch":
        """Each instance ``times`` times in a row (instance ``i * times + r``), e.g. for restarts."""
        if times == 1:
            return self
        return ConstraintBatch.from_specs([s for s in self.specs for _ in range(times)], self.dtype, self.width,
                                          self.device)

    def select(self, keep: Tensor) -> "ConstraintBatch":
        """The sub-batch of the instances where ``keep`` (bool ``(I,)``) is true, in order."""
        chosen = keep.nonzero().flatten().tolist()
        return ConstraintBatch.from_specs([self.specs[i] for i in chosen], self.dtype, self.width, self.device)

    def deduce(self, level: str) -> "ConstraintBatch":
        """No exact pre-step for generic constraints: the batch itself, whatever the level."""
        return self

    def candidates(self) -> Tensor | None:
        """Every value is open to every free variable (the penalty alone enforces the constraints)."""
        return None

    def variable_mask(self, keep: Tensor) -> Tensor:
        """Bool ``(F,)``: which free variables belong to kept instances."""
        return keep[self.var_instance]


DENSE_DIFFER = 0.6
"""The share of the adjacency's diagonal blocks that must be set for the dense block product (``_dense_blocks``).
Measured (benchmarks/README.md, "Dense blocks"): a colouring step is 1.6× as fast at density 0.9 (DSJC250.9,
K = 80), 1.3× at 0.7, about the same at 0.5 and slower at 0.25, where the sparse product does less work."""

MAX_DENSE_DIFFER = 2**26
"""The most numbers the dense blocks may hold (256 MiB in float32): larger batches keep the sparse product."""


def _block_diagonal(specs: tuple[ConstraintSpec, ...], dtype: torch.dtype) -> Tensor:
    """The batch's differ adjacency: the instances' own (``ConstraintSpec.local_adjacency``) on the diagonal, rows
    and columns shifted by the rows before them (pairs never cross instances). Concatenating CSR blocks in row order
    gives exactly the matrix ``_adjacency`` builds from all the shifted pairs at once (the same entries in the same
    order, duplicates summed within their instance), without its sort: at 32 restarts of DSJC250.9 that sort of 1.8
    million entries cost about 0.15 s at every start."""
    crows, cols, values, stored, start = [], [], [], 0, 0
    for spec in specs:
        if spec.differ.numel():
            local = spec.local_adjacency(dtype)
            crows.append(local.crow_indices()[:-1].long() + stored)
            cols.append(local.col_indices().long() + start)
            values.append(local.values())
            stored += local.values().shape[0]
        else:
            crows.append(torch.full((spec.num_variables,), stored, dtype=torch.long))
        start += spec.num_variables
    return _csr(torch.cat([*crows, torch.tensor([stored])]), torch.cat(cols), torch.cat(values), start)


def _adjacency(pairs: Tensor, rows: int, dtype: torch.dtype) -> Tensor:
    """The ``(rows, rows)`` symmetric adjacency of variable pairs as a sparse CSR matrix: entry (u, v) counts the
    pairs {u, v} (a pair listed twice counts twice, as its literal conflicts would). Its indices are int32 when
    they fit (``_csr``)."""
    both = torch.cat([pairs, pairs.flip(1)]).T
    values = torch.ones(both.shape[1], dtype=dtype)
    with warnings.catch_warnings():  # "sparse CSR support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        matrix = torch.sparse_coo_tensor(both, values, (rows, rows)).coalesce().to_sparse_csr()
    return _csr(matrix.crow_indices(), matrix.col_indices(), matrix.values(), rows)


def _csr(crow: Tensor, col: Tensor, values: Tensor, rows: int) -> Tensor:
    """The ``(rows, rows)`` sparse CSR matrix of these arrays, its indices int32 when they fit: the CPU's sparse-dense
    product then takes about two thirds of the time (measured at 10⁴ edges × 32); int64 otherwise."""
    if max(rows, values.shape[0]) < 2**31:
        crow, col = crow.int(), col.int()
    with warnings.catch_warnings():  # "sparse CSR support is in beta state"
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, col, values, (rows, rows))


def _block_position(row: Tensor, col: Tensor, n: int) -> Tensor:
    """The flat position of entry (row, col) of a block-diagonal matrix stored as ``(I, n, n)`` dense blocks (block
    i = row // n = col // n)."""
    return (row // n) * n * n + (row % n) * n + col % n


class _DifferPenalty(torch.autograd.Function):
    """The differ pairs' penalty per instance, ``f_i(X) = ½ Σ_{r ∈ i} ⟨X_r, (A X)_r⟩ = Σ_{(u,v)} A_uv Σ_c X_uc X_vc``,
    from one sparse product per sample; since A is symmetric (also with breakout weights: one per pair, on both of its
    entries), ``∂f_i/∂X_r = (A X)_r``: the backward pass reuses the forward product (no second sparse product)."""

    @staticmethod
    def forward(ctx, rows: Tensor, matrix: Tensor, row_instance: Tensor,  # type: ignore[override]
                num_instances: int, rows_each: int = 0) -> Tensor:
        neighbours = rows.new_empty(rows.shape)  # (S, R, K): (A X)_r, each sample's product written in place
        for sample, product in zip(rows, neighbours, strict=True):
            if matrix.layout == torch.strided:  # dense blocks (I, n, n): one batched product over the instances
                torch.bmm(matrix, sample.contiguous().view(matrix.shape[0], -1, sample.shape[-1]),
                          out=product.view(matrix.shape[0], -1, sample.shape[-1]))
            else:
                sparse_product_into(matrix, sample.contiguous(), product)
        per_row = ((rows * neighbours) @ rows.new_ones(rows.shape[-1])).mul_(0.5)
        ctx.save_for_backward(neighbours, row_instance)
        ctx.rows_each = rows_each
        out = per_row.new_zeros(rows.shape[0], num_instances)
        return out.index_add_(1, row_instance, per_row)

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        """``(A X)_r`` times the incoming gradient of row r's instance; with ``rows_each`` n (every instance n rows)
        as a broadcast over each instance's n·K entries, without gathering the gradient per row (the same
        products: 0.15 against 0.37 ms for 2 × 32 × 1000 × 8, one thread)."""
        neighbours, row_instance = ctx.saved_tensors
        if ctx.rows_each:
            per_instance = neighbours.view(*grad.shape, -1) * grad.unsqueeze(-1)
            return per_instance.view(neighbours.shape), None, None, None, None
        return neighbours * grad[:, row_instance].unsqueeze(-1), None, None, None, None
