"""The differ pairs' terms of a one-hot assignment, kept up to date from the rows whose value changed.

Every step the solver evaluates its mode's term of every differ pair {u, v},

    same_uv = [label_u = label_v]      (Σ_c X[u,c] X[v,c] for one-hot X),

to judge the mode and to raise the breakout weights of the pairs it breaks: P terms, 320 000 for 32 restarts of a
10⁴-edge graph, two gathers and a comparison over all of them, and then a search (``nonzero``) for the few that are
1. Between two steps the mode changes in few rows (colouring G(1000, 10⁴) at K = 8: about 0.5 % of them a step
after the first 50 steps; DSJC250.9 at K = 74 about 1 %), and a pair's term changes only when one of its two rows
does. So ``PairTerms.update`` compares the labels with the last ones it saw, collects the pairs of the rows that
changed (the adjacency's CSR rows, each entry knowing its pair), and compares only those; it keeps the list of the
pairs whose term is 1 the same way (the raise changes exactly those). The terms are 0 or 1, so these are the
numbers the full comparison gives, bit for bit (``tests/test_coloring.py`` checks it after random changes).
"""

from __future__ import annotations

import torch
from torch import Tensor

FULL_FROM = 0.125
"""A share of rows changed from which ``update`` compares every pair again (a fresh start, the first steps)."""


class PairTerms:
    """``same`` ``(P,)``: each pair's term for the labels last given to ``update``; ``alike`` ``(M,)`` long: the pairs
    whose term is 1, in no particular order. Pairs ``u``, ``v`` ``(P,)`` over R rows; ``crow`` ``(R + 1,)`` and
    ``entry_pair`` ``(E,)``: the symmetric adjacency's CSR row pointers and, for each stored entry, its pair."""

    def __init__(self, u: Tensor, v: Tensor, crow: Tensor, entry_pair: Tensor) -> None:
        self.u, self.v, self.crow, self.entry_pair = u, v, crow.long(), entry_pair
        self.labels: Tensor | None = None
        self.same = torch.zeros(0)
        self.alike = torch.zeros(0, dtype=torch.long)

    def update(self, labels: Tensor) -> None:
        """Bring ``same`` and ``alike`` to ``labels`` ``(R,)`` (each row's value, as floats or integers)."""
        if self.labels is None or self.labels.shape != labels.shape or self.labels.dtype != labels.dtype:
            return self._compare_all(labels)
        changed = (labels != self.labels).nonzero().squeeze(1)
        if changed.shape[0] > FULL_FROM * labels.shape[0]:
            return self._compare_all(labels)
        self.labels = labels
        start = self.crow.index_select(0, changed)
        count = self.crow.index_select(0, changed + 1) - start
        total = int(count.sum())
        if not total:
            return None
        run_start = torch.cumsum(count, 0) - count  # where each changed row's entries begin in ``entries``
        entries = torch.arange(total, device=labels.device) + torch.repeat_interleave(start - run_start, count,
                                                                                      output_size=total)
        pairs = self.entry_pair.index_select(0, entries).long()  # a pair twice when both its rows changed
        alike = torch.eq(labels.index_select(0, self.u.index_select(0, pairs)),
                         labels.index_select(0, self.v.index_select(0, pairs)))
        before = self.same.index_select(0, pairs)
        self.same.index_copy_(0, pairs, alike.to(self.same.dtype))  # a pair listed twice gets the same value twice
        still = self.alike[self.same.index_select(0, self.alike) > 0]
        self.alike = torch.cat([still, torch.unique(pairs[alike & (before == 0)])])
        return None

    def _compare_all(self, labels: Tensor) -> None:
        self.labels = labels
        self.same = labels.new_empty(self.u.shape[0])
        torch.eq(labels.index_select(0, self.u), labels.index_select(0, self.v), out=self.same)
        self.alike = self.same.nonzero().squeeze(1)
