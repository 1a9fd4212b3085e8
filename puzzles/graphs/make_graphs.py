"""Write the example DIMACS graphs of this folder, each with its chromatic number computed by exact search.

    python puzzles/graphs/make_graphs.py        # rewrites petersen.col, myciel3.col, myciel4.col, geometric-40.col,
                                                # queen6_6.col

The graphs come from ``redge_solve.problems.coloring``: the Petersen graph (χ = 3), Mycielski graphs built by
code (myciel3 = Grötzsch graph, χ = 4; myciel4, χ = 5 — the same graphs as the DIMACS files of those names), a
random geometric graph (40 points in the unit square, seed 0) and the 6 × 6 queen graph (the same graph as the
DIMACS queen6_6.col, χ = 7). χ is found by ``chromatic_number`` (backtracking), never typed in.
"""

from __future__ import annotations

import pathlib

from redge_solve.problems.coloring import (
    Graph,
    chromatic_number,
    geometric_radius_for,
    myciel,
    petersen,
    queen_graph,
    random_geometric,
    to_dimacs,
)

HERE = pathlib.Path(__file__).resolve().parent


def graphs() -> dict[str, tuple[Graph, str]]:
    radius = round(geometric_radius_for(40) * 1.3, 3)
    return {
        "petersen": (petersen(), "Petersen graph: outer 5-cycle, inner pentagram, 5 spokes"),
        "myciel3": (myciel(3), "Mycielski graph of a 5-cycle (Groetzsch graph), built by Mycielski's construction"),
        "myciel4": (myciel(4), "Mycielski graph myciel4, built by Mycielski's construction"),
        "geometric-40": (random_geometric(40, radius, seed=0),
                         f"random geometric graph: 40 points uniform in the unit square (torch seed 0), "
                         f"edge when closer than {radius}"),
        "queen6_6": (queen_graph(6, 6), "the 6 x 6 queen graph: squares of a chessboard, an edge when a queen moves "
                                        "between them"),
    }


def main() -> None:
    for name, (graph, description) in graphs().items():
        known = Graph(graph.num_vertices, graph.edges, name, chromatic_number(graph))
        text = to_dimacs(known, [f"{name}.col: {description}",
                                 "written by puzzles/graphs/make_graphs.py (chromatic number by exact search)"])
        (HERE / f"{name}.col").write_text(text)
        print(f"{name}: {graph.num_vertices} vertices, {graph.edges.shape[0]} edges, chi = {known.chromatic_number}")


if __name__ == "__main__":
    main()
