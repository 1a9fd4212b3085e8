"""Graph colouring: colour the V vertices with K colours so that no edge joins two vertices of the same colour.

Variables are the vertices, values the colours; every edge (u, v) must differ, i.e. one conflict per colour:

    f(X) = Σ_{(u,v) ∈ E} Σ_k X_{u,k} X_{v,k}     (the number of monochromatic edges for a one-hot X)

With ``cliques`` (what the ``color`` command, the fewest-colours search and ``compare`` use), every given clique
C of exactly K vertices also gets Sudoku's term per colour: a proper K-colouring uses each colour exactly once on
it, so

    f(X) = Σ_{(u,v) ∈ E} Σ_k X_{u,k} X_{v,k} + Σ_{C, |C| = K} Σ_k (Σ_{v ∈ C} X_{v,k} − 1)²

is still a non-negative integer on one-hot X and zero exactly on proper colourings; the added terms pull each
colour into the clique instead of only pushing neighbours apart (measured: mulsol.i.1 and zeroin.i.1 at χ = 49,
unsolved in 3000 steps without them, solved at steps 186 and 240 with them; anna at step 51 instead of 1045).

Graphs are read from DIMACS ``.col`` files (``c`` comment lines, one ``p edge V E`` line, then ``e u v`` lines with
1-based vertices; ``p col`` is accepted too). A comment ``c chromatic number K`` (written by ``puzzles/graphs/
make_graphs.py``) records a known χ. Also here: the classic small graphs the examples are built from (Petersen,
Mycielski's construction, random geometric graphs) and an exact chromatic number by backtracking search for them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
from torch import Tensor

from ..problem_defaults import COLOR_DEFAULTS  # noqa: F401  (re-exported: its home is torch-free)
from .constraints import ConstraintSpec
from .textfile import ProblemFileError


@dataclass(frozen=True)
class Graph:
    """An undirected simple graph: ``edges`` ``(E, 2)`` long, 0-based, each once with u < v."""

    num_vertices: int
    edges: Tensor
    name: str = ""
    chromatic_number: int | None = None  # when known (from the file's comment)

    @classmethod
    def from_edges(cls, num_vertices: int, edges: list[tuple[int, int]] | Tensor, name: str = "",
                   chromatic_number: int | None = None) -> "Graph":
        pairs = torch.as_tensor(edges, dtype=torch.long).reshape(-1, 2)
        pairs = torch.stack([pairs.min(1).values, pairs.max(1).values], 1)
        pairs = torch.unique(pairs, dim=0) if pairs.numel() else pairs
        return cls(num_vertices, pairs, name, chromatic_number)


def coloring_spec(graph: Graph, colors: int, cliques: list[list[int]] | None = None) -> ConstraintSpec:
    """The colouring problem of ``graph`` with ``colors`` colours (see the module docstring): the edges as
    differ pairs, and an exactly-one group per colour on each of ``cliques`` (vertex lists) with exactly
    ``colors`` vertices; other cliques are ignored (the edges already cover them)."""
    full = [clique for clique in cliques or [] if len(clique) == colors]
    groups = torch.tensor(full, dtype=torch.long).reshape(-1, 1, colors) * colors
    groups = (groups + torch.arange(colors).view(1, colors, 1)).reshape(-1, colors)  # (C·K, K): v·K + k
    return ConstraintSpec.build(graph.num_vertices, colors, differ=graph.edges, exactly_one=groups)


MAX_CLIQUES = 20_000
"""Maximal cliques ``maximal_cliques`` enumerates at most (dense graphs have very many)."""


def to_networkx(graph: Graph):
    """The graph as a ``networkx.Graph`` on nodes 0..V−1."""
    import networkx as nx

    nx_graph = nx.Graph()
    nx_graph.add_nodes_from(range(graph.num_vertices))
    nx_graph.add_edges_from(graph.edges.tolist())
    return nx_graph


def maximal_cliques(graph: Graph, max_cliques: int = MAX_CLIQUES) -> list[list[int]]:
    """Maximal cliques of ``graph`` (sorted vertex lists), by networkx ``find_cliques`` (Bron–Kerbosch with
    pivoting): the first ``max_cliques`` it yields, which is all of them on the sparse DIMACS benchmark graphs."""
    import itertools

    import networkx as nx

    return [sorted(c) for c in itertools.islice(nx.find_cliques(to_networkx(graph)), max_cliques)]


def conflicting_edges(graph: Graph, coloring: Tensor) -> Tensor:
    """``(M, 2)`` the edges whose two ends have the same colour, checked directly."""
    colors = coloring.long()
    same = colors[graph.edges[:, 0]] == colors[graph.edges[:, 1]]
    return graph.edges[same]


def verify_coloring(graph: Graph, coloring: Tensor, colors: int) -> bool:
    """Every vertex has a colour in 0..K−1 and no edge is monochromatic."""
    values = coloring.long()
    in_range = values.numel() == graph.num_vertices and bool(((values >= 0) & (values < colors)).all())
    return in_range and conflicting_edges(graph, values).shape[0] == 0


# ---- DIMACS ----------------------------------------------------------------------------------------------------

_CHROMATIC = re.compile(r"chromatic number\D*?([0-9]{1,9})(?![0-9])", re.IGNORECASE)
_NUMBER = re.compile(r"[0-9]{1,9}")  # ASCII digits only ('²'.isdigit() is true), small enough to be a graph size
MAX_VERTICES = 1_000_000


def parse_dimacs(text: str, name: str = "") -> Graph:
    """A graph from DIMACS ``.col`` text. Raises ``ProblemFileError`` with the line and reason: no or two ``p``
    lines, an edge before ``p``, a vertex outside 1..V, a self-loop, a malformed or unknown line."""
    vertices: int | None = None
    edges: list[tuple[int, int]] = []
    chromatic = None
    for number, raw in enumerate(text.splitlines(), 1):
        fields = raw.split()
        if not fields:
            continue
        kind = fields[0]
        if kind == "c":
            match = _CHROMATIC.search(raw)
            chromatic = int(match.group(1)) if match else chromatic
        elif kind == "p":
            if vertices is not None:
                raise ProblemFileError(f"line {number}: a second 'p' line")
            if len(fields) != 4 or fields[1] not in ("edge", "col") or not all(map(_NUMBER.fullmatch, fields[2:])):
                raise ProblemFileError(f"line {number}: expected 'p edge VERTICES EDGES', got {raw.strip()!r}")
            vertices = int(fields[2])
            if not 1 <= vertices <= MAX_VERTICES:
                raise ProblemFileError(f"line {number}: a graph needs 1 to {MAX_VERTICES:,} vertices, got {vertices:,}")
        elif kind == "e":
            if vertices is None:
                raise ProblemFileError(f"line {number}: edge before the 'p edge V E' line")
            if len(fields) != 3 or not all(map(_NUMBER.fullmatch, fields[1:])):
                raise ProblemFileError(f"line {number}: expected 'e U V' with vertex numbers, got {raw.strip()!r}")
            u, v = int(fields[1]), int(fields[2])
            if not (1 <= u <= vertices and 1 <= v <= vertices):
                raise ProblemFileError(f"line {number}: vertex {u if not 1 <= u <= vertices else v} is outside "
                                       f"1..{vertices}")
            if u == v:
                raise ProblemFileError(f"line {number}: self-loop on vertex {u} (no colouring exists)")
            edges.append((u - 1, v - 1))
        elif kind in ("n", "x", "d", "v"):  # other DIMACS line kinds (vertex weights etc.): not used here
            continue
        else:
            raise ProblemFileError(f"line {number}: unknown line type {kind!r} (expected c, p or e)")
    if vertices is None:
        raise ProblemFileError("no 'p edge VERTICES EDGES' line: not a DIMACS graph")
    return Graph.from_edges(vertices, edges, name, chromatic)


def to_dimacs(graph: Graph, comments: list[str] = ()) -> str:
    """DIMACS ``.col`` text (1-based vertices); ``comments`` become ``c`` lines at the top."""
    lines = [f"c {c}" for c in comments]
    if graph.chromatic_number is not None:
        lines.append(f"c chromatic number {graph.chromatic_number}")
    lines.append(f"p edge {graph.num_vertices} {graph.edges.shape[0]}")
    lines += [f"e {u + 1} {v + 1}" for u, v in graph.edges.tolist()]
    return "\n".join(lines) + "\n"


# ---- classic graphs and an exact chromatic number ----------------------------------------------------------------


def petersen() -> Graph:
    """The Petersen graph: outer 5-cycle 0..4, inner pentagram 5..9, spokes i—i+5 (10 vertices, 15 edges, χ = 3)."""
    outer = [(i, (i + 1) % 5) for i in range(5)]
    inner = [(5 + i, 5 + (i + 2) % 5) for i in range(5)]
    spokes = [(i, i + 5) for i in range(5)]
    return Graph.from_edges(10, outer + inner + spokes, "petersen")


def mycielski(graph: Graph) -> Graph:
    """Mycielski's construction μ(G): vertices v_i, copies u_i and a hub w; edges of G, u_i—v_j for every edge
    v_i—v_j, and u_i—w. It keeps G triangle-free and raises χ by exactly one."""
    n = graph.num_vertices
    e = graph.edges
    copies = torch.cat([torch.stack([e[:, 0] + n, e[:, 1]], 1), torch.stack([e[:, 1] + n, e[:, 0]], 1)])
    hub = torch.stack([torch.arange(n, 2 * n), torch.full((n,), 2 * n)], 1)
    return Graph.from_edges(2 * n + 1, torch.cat([e, copies, hub]))


def myciel(k: int) -> Graph:
    """The DIMACS ``myciel{k}`` graph: μ applied k−2 times to one edge (myciel3 = Grötzsch graph, 11 vertices, χ = 4;
    myciel4: 23 vertices, χ = 5); χ(myciel k) = k + 1."""
    graph = Graph.from_edges(2, [(0, 1)])
    for _ in range(k - 1):
        graph = mycielski(graph)
    return Graph.from_edges(graph.num_vertices, graph.edges, f"myciel{k}")


def queen_graph(rows: int, columns: int) -> Graph:
    """The DIMACS ``queen{rows}_{columns}`` graph: one vertex per square of a rows × columns board (row-major), an
    edge between two squares a queen moves between (same row, column or diagonal)."""
    square = torch.arange(rows * columns)
    r, c = torch.div(square, columns, rounding_mode="floor"), square % columns
    dr, dc = r.view(-1, 1) - r.view(1, -1), c.view(-1, 1) - c.view(1, -1)
    attacks = (dr == 0) | (dc == 0) | (dr.abs() == dc.abs())
    return Graph.from_edges(rows * columns, torch.triu(attacks, diagonal=1).nonzero(), f"queen{rows}_{columns}")


def random_geometric(n: int, radius: float, seed: int) -> Graph:
    """n points uniform in the unit square (torch generator seeded with ``seed``), an edge when closer than
    ``radius``."""
    points = torch.rand(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    close = torch.cdist(points, points) < radius
    edges = torch.triu(close, diagonal=1).nonzero()
    return Graph.from_edges(n, edges, f"geometric-{n}-{radius}-{seed}")


def colorable(graph: Graph, colors: int) -> Tensor | None:
    """A proper colouring with ``colors`` colours found by exact backtracking search (most constrained vertex
    first, symmetric colours skipped), or None when none exists. For small graphs (tens of vertices)."""
    n = graph.num_vertices
    neighbours: list[set[int]] = [set() for _ in range(n)]
    for u, v in graph.edges.tolist():
        neighbours[u].add(v)
        neighbours[v].add(u)
    color = [-1] * n

    def search(done: int, used: int) -> bool:
        if done == n:
            return True
        # the uncoloured vertex with the most distinct neighbour colours (ties: the highest degree)
        vertex = max((v for v in range(n) if color[v] < 0),
                     key=lambda v: (len({color[w] for w in neighbours[v] if color[w] >= 0}), len(neighbours[v])))
        taken = {color[w] for w in neighbours[vertex]}
        for c in range(min(used + 1, colors)):  # a fresh colour is tried once: all fresh colours are alike
            if c not in taken:
                color[vertex] = c
                if search(done + 1, max(used, c + 1)):
                    return True
        color[vertex] = -1
        return False

    return torch.tensor(color) if search(0, 0) else None


def clique_number(graph: Graph) -> int:
    """ω(G), the size of a largest clique, by Bron–Kerbosch with pivoting (a lower bound on χ)."""
    neighbours: list[set[int]] = [set() for _ in range(graph.num_vertices)]
    for u, v in graph.edges.tolist():
        neighbours[u].add(v)
        neighbours[v].add(u)
    best = 0

    def expand(size: int, candidates: set[int], excluded: set[int]) -> None:
        nonlocal best
        if not candidates and not excluded:
            best = max(best, size)
            return
        if size + len(candidates) <= best:
            return
        pivot = max(candidates | excluded, key=lambda v: len(neighbours[v] & candidates))
        for v in list(candidates - neighbours[pivot]):
            expand(size + 1, candidates & neighbours[v], excluded & neighbours[v])
            candidates.remove(v)
            excluded.add(v)

    expand(0, set(range(graph.num_vertices)), set())
    return best


def chromatic_number(graph: Graph) -> int:
    """χ(G) by exact search: the least K ≥ ω(G) for which ``colorable`` finds a colouring."""
    for k in range(max(clique_number(graph), 1), graph.num_vertices + 1):
        if colorable(graph, k) is not None:
            return k
    return max(graph.num_vertices, 1)


def geometric_radius_for(n: int) -> float:
    """A radius giving a graph of moderate density (mean degree ≈ 6) for n points in the unit square."""
    return math.sqrt(6.0 / (math.pi * n))

