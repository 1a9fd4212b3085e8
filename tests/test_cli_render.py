"""Tables read at 80 columns and in a pipe: every number of a row stays whole on the row's line (no "…", no
number folded onto the next line), long parameters fold onto their own lines, and the summary lines say which
criterion found the grids."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from rich.console import Console

from redge_solve.cli.compare_cmd import render_table
from redge_solve.cli.report_cmd import print_report
from redge_solve.cli.sudoku_cmd import summary_line
from redge_solve.compare import MeanStd
from redge_solve.report import summarize

ROOT = Path(__file__).resolve().parents[1]


def render(renderable, width: int = 80) -> list[str]:
    """What rich writes for ``renderable`` to a non-terminal of ``width`` columns, as lines."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, force_terminal=False, color_system=None).print(renderable)
    return buffer.getvalue().splitlines()


def line_of(lines: list[str], label: str) -> str:
    (line,) = [x for x in lines if x.split() and x.split()[0] == label]
    return line


def record(index: int, clues: int, difficulty: float, found: bool, step: int | None, seconds: float) -> dict:
    puzzle = "1" * clues + "0" * (81 - clues)
    return {"index": index, "puzzle": puzzle, "found": found, "solved_any": False, "solved_mode": found,
            "solved_last": False, "first_solved_step": step, "seconds": seconds, "meta": {"difficulty": difficulty}}


def test_report_tables_fit_80_columns_with_every_number_whole():
    # wide numbers everywhere: 100.0 %, 5-digit steps, 3-digit seconds, 5-digit row counts
    records = [record(i, 17 + i % 12, 2.0 + (i % 60) / 10, i % 3 != 0, 10000 + i, 151.25) for i in range(12000)]
    records += [{"index": 20000, "puzzle": "0" * 81, "error": "bad puzzle"}]
    report = summarize(records)
    buffer = io.StringIO()
    out = Console(file=buffer, width=80, force_terminal=False, color_system=None)
    print_report(report, out=out, source="/some/rather/long/path/to/results-of-the-night.jsonl")
    lines = buffer.getvalue().splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in buffer.getvalue()
    total = line_of(lines, "all").split()
    assert total[:3] == ["all", "12001", "1"]
    assert total[-1] == "151"  # mean seconds, whole
    for clues, summary in report.by_clues.items():
        cells = line_of(lines, str(clues)).split()
        found = "—" if summary.rate("found") is None else f"{summary.rate('found'):.1f}"
        assert cells[1] == str(summary.rows) and cells[3] == found
    # 60 distinct numeric difficulties are grouped into bands of width 1
    assert list(report.by_difficulty) == ["2–3", "3–4", "4–5", "5–6", "6–7", "7–8"]
    assert line_of(lines, "7–8").split()[1] == str(report.by_difficulty["7–8"].rows)


def test_few_or_textual_difficulties_are_kept_as_they_are():
    records = [record(i, 30, [1.5, 2.5, 3.5][i % 3], True, 5, 0.1) for i in range(9)]
    assert list(summarize(records).by_difficulty) == ["1.5", "2.5", "3.5"]
    for r, label in zip(records, ["easy", "hard", "easy"] * 3, strict=True):
        r["meta"]["difficulty"] = label
    assert list(summarize(records).by_difficulty) == ["easy", "hard"]


def compare_row(estimator: str, params: dict, diverged: int = 0) -> SimpleNamespace:
    stats = dict(loss=MeanStd(146.4, 117.94), solved_last=MeanStd(100.0, 0.0), solved_mode=MeanStd(71.7, 11.7),
                 solved_any=MeanStd(13.3, 3.3), found=MeanStd(83.3, 3.3))
    return SimpleNamespace(estimator=estimator, params=params, stats=stats, mean_step_to_solve=2579,
                           ms_per_step=112.4, diverged=diverged, seeds=[0, 1], config={"lr": 0.0512345})


def test_compare_table_fits_80_columns_with_long_parameters_on_their_own_lines():
    rows = [compare_row("st", {}),
            compare_row("redge-cov", {"n_steps": 9, "t_1": 0.123456789, "extra_parameter": 12345}, diverged=1),
            compare_row("reinforce", {})]
    title = "paper protocol · 30 puzzles · seeds 0,1 · 1000 steps, 1 sample(s), 1 restart(s), lr 0.05"
    lines = render(render_table(rows, title))
    text = "\n".join(lines)
    assert all(len(line) <= 80 for line in lines) and "…" not in text
    for name in ("st", "redge-cov", "reinforce"):
        assert line_of(lines, name).split()[1:] == ["146.4±117.9", "100.0±0.0", "71.7±11.7", "13.3±3.3",
                                                    "83.3±3.3", "2579", "112.4"]
    # the parameters are all there, under the estimator's name (folded, so compare without line breaks)
    joined = "".join(text.split())
    assert "n_steps=9,t_1=0.123456789,extra_parameter=12345" in joined
    assert "1of3runsdiverged" in joined
    tuned = "".join("\n".join(render(render_table(rows, title, show_lr=True))).split())
    assert "n_steps=9,t_1=0.123456789,extra_parameter=12345;lr=0.0512" in tuned


def test_sudoku_summary_says_where_the_grids_came_from():
    records = [{"found": True, "solved_mode": True, "solved_any": False, "solved_last": False},
               {"found": True, "solved_mode": True, "solved_any": True, "solved_last": True},
               {"found": False, "solved_mode": False, "solved_any": False, "solved_last": False}]
    line = summary_line(records, bad=1, elapsed=2.0, early_stop=True)
    assert "solved 2/3" in line and "found by the mode 2, by a sample 1" in line and "1 skipped" in line
    assert "last step" not in line  # meaningless with early stop: the puzzle stops when its mode is valid
    assert "in the last step 1" in summary_line(records, bad=0, elapsed=2.0, early_stop=False)


def test_report_in_a_pipe_fits_80_columns(tmp_path):
    path = tmp_path / "results.jsonl"
    records = [record(i, 20 + i % 15, 1.0 + (i % 80) / 10, i % 2 == 0, 1000 + i, 12.5) for i in range(200)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    done = subprocess.run([sys.executable, "-m", "redge_solve", "report", str(path)], capture_output=True,
                          text=True, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    assert "…" not in done.stdout and "by difficulty" in done.stdout
    assert line_of(lines, "all").split()[:4] == ["all", "200", "0", "50.0"]


def test_time_left_is_the_remaining_steps_at_the_mean_rate_capped_by_the_budget():
    from redge_solve.cli.progress import clock, seconds_left, time_left_text

    assert seconds_left(100, 3000, 10.0) == 290.0  # 2900 steps at 0.1 s
    assert seconds_left(3000, 3000, 10.0) == 0.0
    assert seconds_left(0, 3000, 0.0) is None and time_left_text(0, 3000, 0.0) == ""
    assert seconds_left(100, 3000, 10.0, budget=60.0) == 50.0  # the budget ends first
    assert seconds_left(150, 3000, 10.0, from_step=101) == 570.0  # a part going on from step 101: 50 steps in 10 s
    assert seconds_left(0, 3000, 0.0, budget=60.0) == 60.0
    assert seconds_left(100, 3000, 70.0, budget=60.0) == 0.0  # overspent: nothing left, never negative
    assert clock(0.2) == "0:01" and clock(61) == "1:01" and clock(3600 + 62) == "1:01:02"
    assert time_left_text(100, 3000, 10.0) == "≤ 4:50 left"


def test_max_seconds_stops_unsolved_puzzles_and_says_so(tmp_path):
    from typer.testing import CliRunner

    from redge_solve.cli import app

    out = tmp_path / "r.jsonl"
    result = CliRunner().invoke(app, ["sudoku", str(ROOT / "puzzles" / "sudoku17-10.txt"), "--steps", "100000",
                                      "--max-seconds", "0.001", "--out", str(out), "--show", "0",
                                      "--deduce", "none"],  # singles alone solves some 17-clue puzzles
                                terminal_width=200)
    assert result.exit_code == 1, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 10 and not any(r["found"] for r in records)
    assert all(1 <= r["steps_run"] < 100000 for r in records)
    assert "10 stopped unsolved by the 0.001 s budget" in " ".join(result.output.split())
    bad = CliRunner().invoke(app, ["sudoku", str(ROOT / "puzzles" / "easy.txt"), "--max-seconds", "-1"])
    assert bad.exit_code == 2 and "--max-seconds must be a number of seconds > 0" in bad.output


def test_batch_budget_bounds_the_whole_run_and_is_not_a_resume_setting(monkeypatch, tmp_path):
    """Each chunk gets what is left of the run's budget, none is drawn once it is spent (a clock that each chunk
    moves on by 3 s; budget 5 s: the second chunk gets 2 s, the third none)."""
    from types import SimpleNamespace

    from redge_solve.data import PuzzleRow
    from redge_solve.runs import batch
    from redge_solve.runs.batch import run_batch, solver_settings
    from redge_solve.solver import SolverConfig

    clock, calls = [100.0], []

    def fake_rows(rows, config, on_step=None, device=None):
        assert len({each.max_seconds for each in config.values()}) == 1  # every grid size gets the time left
        calls.append((len(rows), config[9].max_seconds))
        clock[0] += 3.0
        return [{"index": row.index, "found": False} for row in rows]

    monkeypatch.setattr(batch, "time", SimpleNamespace(time=lambda: clock[0]))
    monkeypatch.setattr(batch, "solve_rows", fake_rows)
    chunks = [[PuzzleRow(2 * c + i, "0" * 81, None, {}) for i in range(2)] for c in range(3)]
    out = tmp_path / "r.jsonl"
    done = list(run_batch(iter(chunks), SolverConfig(max_seconds=5.0), out))
    assert calls == [(2, 5.0), (2, 2.0)] and sum(len(d.records) for d in done) == 4
    assert len(out.read_text().splitlines()) == 4
    assert solver_settings(SolverConfig(max_seconds=5.0)) == solver_settings(SolverConfig())
    assert solver_settings(SolverConfig(steps=7)) != solver_settings(SolverConfig())


def test_bench_table_reads_at_80_columns():
    from typer.testing import CliRunner

    from redge_solve.cli import app

    result = CliRunner().invoke(app, ["bench", "poly", "--steps", "3", "--length", "6", "--samples", "8", "--seeds",
                                      "2"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("p=")]
    assert len(rows) == 3 * 6 and all(len(line) <= 80 for line in rows)
    for line in rows:  # setting, label, three mean±std cells and the seconds: nothing cut or folded
        cells = line.split()
        assert len(cells) == 6 and all(re.fullmatch(r"\d+\.\d+±\d+\.\d+", c) for c in cells[2:5]), line
    assert "redge-max(t_1=0.8)" in result.output and "…" not in result.output


def test_sudoku_and_latin_grids_style_cells_alike():
    """One rule for both grids (``render.cell_style``): a conflicting clue red, a conflicting filled cell bold red,
    else a clue dim and a filled cell bold (green when solved)."""
    import torch

    from redge_solve.cli.latin_cmd import render_square
    from redge_solve.cli.render import cell_style

    assert [cell_style(True, True, False), cell_style(True, False, False), cell_style(False, True, True),
            cell_style(False, False, True), cell_style(False, False, False)] == \
        ["red", "bold red", "dim", "bold green", "bold"]
    square = render_square(torch.tensor([1, 0, 0, 0]), "1121", solved=False)  # rows "11", "21": column 2 "11"
    assert [span.style for span in square.spans] == ["red", "bold red", "bold", "bold red"]
    square = render_square(torch.tensor([1, 0, 0, 0]), "1221", solved=True)
    assert [span.style for span in square.spans] == ["dim", "bold green", "bold green", "bold green"]
