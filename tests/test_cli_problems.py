"""``latin``, ``queens``, ``color``, ``solve`` and ``compare`` on problems end to end (in process, small sizes,
fixed seeds), and bad input: one line, exit 2, no traceback."""

from __future__ import annotations

import json

import pytest
from conftest import PUZZLES
from typer.testing import CliRunner

from redge_solve.cli import app


def invoke(*args: str, stdin: str | None = None):
    result = CliRunner().invoke(app, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def test_latin_solves_the_shipped_squares_and_writes_json(tmp_path):
    target = tmp_path / "latin.jsonl"
    result = invoke("latin", str(PUZZLES / "latin" / "squares.txt"), "--out", str(target))
    assert result.exit_code == 0, result.output
    assert "solved 4/4" in result.output
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["verified"] for r in records] == [True] * 4 and records[0]["grid"].isalnum()


def test_queens_prints_a_verified_board():
    result = invoke("queens", "6", "--seed", "0", "--out", "-", "--quiet")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["verified"] and sorted(record["columns"]) == list(range(6))
    board = invoke("queens", "5")
    assert board.exit_code == 0 and board.output.count("Q") == 5


@pytest.mark.parametrize("name", ["petersen", "myciel3", "myciel4"])
def test_color_solves_the_shipped_graphs_with_their_chromatic_number(name):
    result = invoke("color", str(PUZZLES / "graphs" / f"{name}.col"), "--out", "-", "--quiet")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["verified"] and max(record["colors"]) == record["num_colors"]


def test_color_with_too_few_colours_exits_1_and_lists_conflicting_edges():
    result = invoke("color", str(PUZZLES / "graphs" / "petersen.col"), "--colors", "2", "--steps", "40",
                    "--restarts", "1")
    assert result.exit_code == 1
    assert "conflicting edges" in result.output


def test_solve_spec_solves_the_shipped_example():
    result = invoke("solve", str(PUZZLES / "specs" / "australia.json"), "--out", "-", "--quiet")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assignment = record["assignment"]
    assert assignment["WA"] == "red" and assignment["T"] != "red" and assignment["SA"] not in (
        assignment["WA"], assignment["NT"], assignment["Q"], assignment["NSW"], assignment["V"])
    schema = invoke("solve", "--schema")
    assert schema.exit_code == 0 and "exactly_one" in json.loads(schema.stdout)["properties"]


def test_compare_on_a_directory_of_graphs_and_on_queens(tmp_path):
    result = invoke("compare", str(PUZZLES / "graphs"), "-e", "st", "--seeds", "1", "--steps", "150",
                    "-q", "--out", str(tmp_path / "cmp"))
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "cmp.json").read_text())
    assert data["puzzles"] == 5 and {r["name"] for r in data["runs"][0]["records"]} >= {"petersen", "queen6_6"}
    queens = invoke("compare", "queens:5,6", "-e", "st", "--seeds", "1", "--steps", "100", "-q")
    assert queens.exit_code == 0, queens.output


@pytest.mark.parametrize("args, text, reason", [
    (["latin"], "1..x\n", "bad character"),
    (["latin"], "11..\n", "appears twice in row 1"),
    (["latin"], "", "empty file"),
    (["color"], "e 1 2\n", "edge before"),
    (["color"], "p edge 2 1\ne 1 3\n", "vertex 3 is outside 1..2"),
    (["color", "--colors", "0"], "p edge 2 1\ne 1 2\n", "--colors must be"),
    (["solve"], '{"variables": 2}', "values: Field required"),
    (["solve"], '{"variables": 2, "values": 2, "differ": [[0, "z"]]}', "differ[0][1]: unknown variable 'z'"),
    (["solve"], "{", "not valid JSON"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, text, reason):
    path = tmp_path / "input"
    path.write_text(text)
    result = invoke(args[0], str(path), *args[1:])
    assert result.exit_code == 2, result.output
    assert reason in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_bad_arguments_exit_2():
    assert invoke("queens", "3").exit_code == 2
    assert invoke("latin", str(PUZZLES / "nope.txt")).exit_code == 2
    assert invoke("queens", "8", "-e", "nope").exit_code == 2
    assert invoke("compare", "queens:x", "-e", "st").exit_code == 2


@pytest.mark.parametrize("command, text, message", [
    ("latin", "abc\n", "<stdin>: line 1: 3 cells is not a square"),
    ("color", "", "<stdin>: empty file"),
    ("solve", "{", "<stdin>: not valid JSON"),
])
def test_a_bad_problem_on_stdin_is_named_and_exits_2(command, text, message):
    result = invoke(command, "-", stdin=text)
    assert result.exit_code == 2 and message in result.output
