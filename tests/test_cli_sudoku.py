"""``redge-solve sudoku`` end to end on 4×4 puzzles, and every kind of bad input with its exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from conftest import ROOT

from redge_solve.problems.sudoku import grid_from_string, verify_grid

PUZZLE_A, SOLUTION_A = "...3..2.3..1..32", "2413132432414132"
PUZZLE_B = "4...21...24...1."
FAST = ["--lr", "0.2", "--steps", "200"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "redge_solve", "sudoku", *args], cwd=ROOT, input=stdin,
                            capture_output=True)
    out = result.stdout.decode() + result.stderr.decode()
    assert "Traceback" not in out, out
    return result


def invoke(*args: str, stdin: str | None = None):
    """In-process run (one torch import for all the quick error cases)."""
    from typer.testing import CliRunner

    from redge_solve.cli import app

    result = CliRunner().invoke(app, ["sudoku", *args], input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result


def test_solves_a_file_writes_verified_json(tmp_path):
    source = tmp_path / "p.csv"
    source.write_text(f"puzzle,solution,name\n{PUZZLE_A},{SOLUTION_A},a\n{PUZZLE_B},,b\n1134000000000000,,c\n")
    target = tmp_path / "out.jsonl"
    result = run(str(source), *FAST, "--out", str(target))
    assert result.returncode == 0, result.stderr.decode()
    stderr = result.stderr.decode()
    assert "line 4" in stderr and "1 appears twice in row 1" in stderr  # bad one reported, good ones solved
    assert "solved 2/2" in result.stdout.decode()
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert [r["index"] for r in records] == [0, 1, 2]
    a, b, bad = records
    assert a["found"] and a["verified"] and a["matches_solution"] and a["grid"] == SOLUTION_A
    assert a["meta"] == {"name": "a"} and a["line"] == 2
    assert b["found"] and verify_grid(grid_from_string(b["grid"]), grid_from_string(PUZZLE_B))
    assert "error" in bad and "line 4" in bad["error"]
    assert not list(tmp_path.glob(".redge-*"))  # the temporary file was renamed away


def test_stdin_paper_protocol_and_json_on_stdout():
    result = invoke("-", "--protocol", "paper", "--steps", "60", "--lr", "0.2", "--out", "-", "--quiet",
                    stdin=f"{PUZZLE_A}\n")
    assert result.exit_code == 0, result.output  # found (seeded: a sample at step 58), so exit 0
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["steps_run"] == 60  # paper protocol: no early stop
    assert record["found"] and record["verified"] and record["matches_solution"] is None  # no solution given
    assert torch.equal(grid_from_string(record["grid"]), grid_from_string(SOLUTION_A))


def test_shipped_4x4_file_solves_with_grids_printed():
    result = invoke(str(ROOT / "puzzles" / "4x4.txt"), *FAST)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.count("solved at step") == 2 and "|" in out


def test_unsolved_exit_code_is_1(tmp_path):
    source = tmp_path / "p.txt"
    source.write_text("1.3.\n.4..\n..1.\n.2.3\n")  # consistent clues, no solution
    result = invoke(str(source), "--steps", "3", "--restarts", "1")
    assert result.exit_code == 1, result.output
    assert "unsolved" in result.output


@pytest.mark.parametrize(
    ("content", "args", "needle"),
    [
        ("0" * 80 + "\n", [], "line 1"),
        ("1234x41221434321\n", [], "bad character 'X' at position 5"),
        ("# c\n1134341221434321\n", [], "line 2: clues conflict: 1 appears twice in row 1"),
        ("", [], "empty file"),
        (b"\x00\x01binary", [], "binary file"),
        ("1134341221434321\n12\n", [], "no valid puzzle"),
        (PUZZLE_A, ["--param", "oops"], "--param must look like name=value"),
        (PUZZLE_A, ["--param", "nope=1"], "has no parameter 'nope'"),
        (PUZZLE_A, ["--estimator", "magic"], "unknown estimator 'magic'"),
        (PUZZLE_A, ["--steps", "0"], "--steps must be >= 1"),
        (PUZZLE_A, ["--size", "7"], "--size must be one of"),
        (PUZZLE_A, ["--out", "no/such/dir/out.jsonl"], "--out: no such directory"),
        (PUZZLE_A, ["--show", "-1"], "--show must be >= 0"),
    ],
)
def test_bad_input_exit_2_one_line(tmp_path, content, args, needle):
    source = tmp_path / "p.txt"
    if isinstance(content, bytes):
        source.write_bytes(content)
    else:
        source.write_text(content)
    result = invoke(str(source), *args)
    assert result.exit_code == 2, result.output
    assert needle in result.output, result.output
    assert result.output.strip().splitlines()[-1].startswith("error:")
    assert len(result.output.strip().splitlines()) <= 3


def test_missing_file_exit_2_in_a_subprocess():
    result = run("does/not/exist.txt")
    assert result.returncode == 2
    assert "error: does/not/exist.txt: no such file" in result.stderr.decode()


def test_interrupt_exits_130(tmp_path, monkeypatch):
    from redge_solve.runs import grouped

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(grouped, "solve", boom)
    source = tmp_path / "p.txt"
    source.write_text(PUZZLE_A)
    result = invoke(str(source))
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output


def test_shipped_16x16_puzzle_solves_end_to_end_by_gradient_steps():
    """The 16×16 example under its size's own defaults, with the pre-step cut to candidates so that the gradient
    search, not the singles, fills the grid (a few dozen steps)."""
    result = invoke(str(ROOT / "puzzles" / "16x16.txt"), "--deduce", "candidates", "--out", "-", "--quiet")
    assert result.exit_code == 0, result.output
    (record,) = [json.loads(line) for line in result.stdout.splitlines()]
    assert record["found"] and record["verified"] and record["first_solved_step"] > 1
    puzzle = grid_from_string(record["puzzle"])
    assert verify_grid(grid_from_string(record["grid"]), puzzle) and int((puzzle == 0).sum()) > 16 * 16 // 3
