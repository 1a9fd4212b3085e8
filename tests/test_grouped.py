"""``grouped.solve_grouped``: one batch per shape, records in index order, and on Ctrl-C every finished item kept
— in the library and through ``sudoku``, ``batch`` and the constraint-problem commands."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from redge_solve.cli import app
from redge_solve.runs import grouped
from redge_solve.runs.grouped import GroupsInterrupted
from redge_solve.runs.instances import batch, instance_records, queens_instance, solve_instances
from redge_solve.solver import SolverConfig

FAST = SolverConfig(steps=150, samples=2, restarts=2, lr=0.2, init_std=1.0, weight_step=0.0)  # generic: no weights


def _interrupt_on_call(monkeypatch, number: int) -> list[int]:
    """Make the ``number``-th solve (1-based) of a grouped run raise Ctrl-C; returns the sizes of the groups seen."""
    real, sizes = grouped.solve, []

    def solve(problem, config, **kwargs):
        sizes.append(problem.num_instances)
        if len(sizes) == number:
            raise KeyboardInterrupt
        return real(problem, config, **kwargs)

    monkeypatch.setattr(grouped, "solve", solve)
    return sizes


def test_grouping_changes_no_record_and_keeps_the_input_order():
    instances = [queens_instance(n) for n in (6, 4, 6, 5)]
    together = solve_instances(instances, FAST)
    assert [r["index"] for r in together] == [0, 1, 2, 3]
    assert [r["name"] for r in together] == [i.name for i in instances]
    for index, instance in enumerate(instances):  # alone, under its own id: the same record but the timing
        (alone,) = grouped.solve_grouped(
            [(index, instance)], lambda item: 0, FAST, lambda g: batch([g[0][1]]), lambda g: [g[0][0]],
            lambda res, g: instance_records(res, [g[0][1]], [g[0][0]]))
        assert {k: v for k, v in alone.items() if k != "seconds"} == \
            {k: v for k, v in together[index].items() if k != "seconds"}


def test_an_interrupt_keeps_the_groups_already_solved(monkeypatch):
    sizes = _interrupt_on_call(monkeypatch, 2)
    with pytest.raises(GroupsInterrupted) as caught:
        solve_instances([queens_instance(n) for n in (5, 4, 4)], FAST)
    assert sizes == [2, 1]  # K = 4 (two boards) first, then K = 5
    assert [r["index"] for r in caught.value.records] == [1, 2]


def test_queens_interrupted_writes_the_finished_boards_and_exits_130(monkeypatch, tmp_path):
    _interrupt_on_call(monkeypatch, 2)
    out = tmp_path / "q.jsonl"
    result = CliRunner().invoke(app, ["queens", "4", "6", "--steps", "300", "--out", str(out), "-q"])
    assert result.exit_code == 130, result.output
    assert "interrupted: 1 of 2 board(s) solved before the interrupt; the 1 finished are in" in result.output
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["index"] == 0 and record["found"] and sorted(record["columns"]) == [0, 1, 2, 3]


def test_sudoku_interrupted_in_the_second_size_keeps_the_first(monkeypatch, tmp_path):
    _interrupt_on_call(monkeypatch, 2)
    source = tmp_path / "mixed.txt"
    source.write_text("...3..2.3..1..32\n" + "0" * 81 + "\n")  # a 4×4 (solved first) and a blank 9×9
    out = tmp_path / "s.jsonl"
    result = CliRunner().invoke(app, ["sudoku", str(source), "--steps", "200", "--out", str(out), "-q"])
    assert result.exit_code == 130, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["index"] for r in records] == [0] and records[0]["found"]


def test_batch_keeps_the_error_rows_and_finished_groups_of_the_chunk_in_flight(monkeypatch, tmp_path):
    from redge_solve.data import PuzzleRow
    from redge_solve.runs.batch import RowsInterrupted, solve_rows

    _interrupt_on_call(monkeypatch, 2)
    rows = [PuzzleRow(0, "0" * 81, None, {}), PuzzleRow(1, "...3..2.3..1..32", None, {}),
            PuzzleRow(2, "11..", None, {})]
    with pytest.raises(RowsInterrupted) as caught:
        solve_rows(rows, SolverConfig(steps=200, samples=2, restarts=2))
    records = caught.value.records
    assert [r["index"] for r in records] == [1, 2]
    assert records[0]["found"] and "error" in records[1]
