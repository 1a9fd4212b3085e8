"""``batch`` and ``report``: JSONL results per row, bad rows as errors, chunk-size invariance, resume after SIGKILL,
one-line errors, and report numbers checked against the file."""

import json
import signal
import statistics
import subprocess
from pathlib import Path

import pytest
from conftest import puzzles_4, read_jsonl, run_cli, run_subprocess, start_signalled, without_timing
from typer.testing import CliRunner

from redge_solve.cli import app
from redge_solve.data import iter_chunks, open_source
from redge_solve.runs.batch import OutputError, read_done, run_batch
from redge_solve.solver import SolverConfig

FAST = ["--steps", "60", "--samples", "2", "--restarts", "2", "--lr", "0.2"]


def write_csv(path: Path, rows, header="puzzle,solution,difficulty") -> Path:
    path.write_text(header + "\n" + "".join(f"{p},{s},{['easy', 'hard'][i % 2]}\n" for i, (p, s) in enumerate(rows)))
    return path


def test_local_csv_with_bad_rows_writes_one_line_per_row(tmp_path):
    rows = puzzles_4(5)
    rows.insert(1, ("12340", "1234"))  # wrong length
    rows.insert(3, ("1x00000000000000", "1234341221434321"))  # bad character
    rows.insert(4, ("1100000000000000", "1234341221434321"))  # 1 twice in row 1
    source = write_csv(tmp_path / "p.csv", rows)
    out = tmp_path / "r.jsonl"
    result = run_cli("batch", source, "--out", out, "--chunk-size", "3", *FAST)
    records = read_jsonl(out)
    assert [r["index"] for r in records] == list(range(8))
    errors = {r["index"]: r["error"] for r in records if "error" in r}
    assert set(errors) == {1, 3, 4}
    assert "cells" in errors[1] and "bad character" in errors[3] and "clues conflict" in errors[4]
    solved = [r for r in records if "error" not in r]
    assert all(r["found"] and r["verified"] for r in solved)
    assert solved[0]["meta"] == {"difficulty": "easy"}
    assert result.exit_code == 1  # some rows are errors


def test_existing_output_needs_resume_or_overwrite(tmp_path):
    source = write_csv(tmp_path / "p.csv", puzzles_4(3))
    out = tmp_path / "r.jsonl"
    out.write_text('{"index": 0, "puzzle": "x", "error": "y"}\n')
    result = run_cli("batch", source, "--out", out, *FAST)
    assert result.exit_code == 2
    assert "--resume" in result.output and "Traceback" not in result.output
    assert run_cli("batch", source, "--out", out, "--force", *FAST).exit_code == 0
    assert [r["index"] for r in read_jsonl(out)] == [0, 1, 2]
    assert all(r["found"] for r in read_jsonl(out))


def test_parquet_slicing_and_column_mapping(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = puzzles_4(6)
    table = [dict(quiz=p, answer=s, missing=7, difficulty=i, set="train", solving_time=0.0)
             for i, (p, s) in enumerate(rows)]
    pq.write_table(pa.Table.from_pylist(table), tmp_path / "p.parquet")
    out = tmp_path / "r.jsonl"
    result = run_cli("batch", tmp_path / "p.parquet", "--split", "train[2:5]", "--puzzle-column", "quiz",
                     "--solution-column", "answer", "--out", out, *FAST)
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert [r["index"] for r in records] == [0, 1, 2]
    assert [r["puzzle"] for r in records] == [p for p, _ in rows[2:5]]
    assert [r["meta"]["difficulty"] for r in records] == [2, 3, 4]
    # the solution column reached the records: each grid is compared with its own row's solution
    assert all(r["matches_solution"] is (r["grid"] == s) for r, (_, s) in zip(records, rows[2:5], strict=True))
    assert all(r["matches_solution"] and r["verified"] for r in records)


def test_jsonl_source_offset_and_limit(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps({"puzzle": p}) + "\n" for p, _ in puzzles_4(6)))
    out = tmp_path / "r.jsonl"
    result = run_cli("batch", path, "--offset", "2", "--limit", "3", "--out", out, *FAST)
    assert result.exit_code == 0, result.output
    records = read_jsonl(out)
    assert [r["index"] for r in records] == [2, 3, 4]
    assert all(r["matches_solution"] is None for r in records)


def test_results_do_not_depend_on_chunk_size_and_repeat_with_the_seed(tmp_path):
    rows = puzzles_4(6, blanks=9) + [(p, s) for p, s in puzzles_4(12, blanks=10)[6:]]
    source = write_csv(tmp_path / "p.csv", rows)
    dataset = open_source(str(source))
    config = SolverConfig(estimator="st", steps=25, samples=2, restarts=2, lr=0.2, seed=3)
    outputs = []
    for size in (7, 1000, 7):
        out = tmp_path / f"r{size}-{len(outputs)}.jsonl"
        for _ in run_batch(iter_chunks(dataset, size), config, out):
            pass
        outputs.append(without_timing(read_jsonl(out)))
    assert len(outputs[0]) == 12
    assert outputs[0] == outputs[1] == outputs[2]
    steps = {r["steps_run"] for r in outputs[0]}
    assert len(steps) > 1  # puzzles left the batch at different steps, so early stopping was exercised


def test_read_done_repairs_a_cut_last_line(tmp_path):
    out = tmp_path / "r.jsonl"
    good = '{"index": 0, "puzzle": "p", "error": "e"}\n{"index": 1, "puzzle": "p", "error": "e"}\n'
    out.write_text(good + '{"index": 2, "puz')
    assert set(read_done(out)) == {0, 1}
    assert out.read_text() == good
    out.write_text(good + "garbage\n" + good)
    with pytest.raises(OutputError):
        read_done(out)


def _start_and_stop(args, chunks: int, sig: int) -> subprocess.Popen:
    """Run ``batch ARGS`` in a subprocess that sends itself ``sig`` right after appending its ``chunks``-th chunk
    to the output (a chunk of rows already done counts, as an empty append), and wait for it to end."""
    process = start_signalled(args, "redge_solve.runs.batch:append_records", chunks, sig)
    process.wait()
    return process


@pytest.mark.slow
def test_sigterm_then_sigkill_then_resume_gives_exactly_one_line_per_row(tmp_path):
    out = tmp_path / "r.jsonl"
    total = 30
    source = tmp_path / "blank.csv"  # empty 4×4 grids with a tiny step size: never solved, so every row runs
    source.write_text("puzzle\n" + "".join("0" * 16 + "\n" for _ in range(total)))
    args = ["batch", str(source), "--chunk-size", "1", "--steps", "6", "--samples", "1", "--restarts", "1",
            "--lr", "1e-4", "--out", str(out)]

    stopped = _start_and_stop(args, 2, signal.SIGTERM)  # SIGTERM right after the second row is written
    assert stopped.returncode == 130
    message = stopped.stderr.read()
    assert "resume with:" in message and "--resume" in message and "Traceback" not in message
    after_term = read_done(out, repair=False)
    assert sorted(after_term) == [0, 1]  # exactly the rows written before the signal

    # killed right after 3 more rows: the resumed run also "writes" the two finished rows' chunks as empty ones
    killed = _start_and_stop(args + ["--resume"], 2 + 3, signal.SIGKILL)
    assert killed.returncode == -signal.SIGKILL
    before = read_done(out, repair=False)
    assert sorted(before) == [0, 1, 2, 3, 4]
    with open(out, "a") as handle:  # what a kill in the middle of a write leaves behind
        handle.write('{"index": 99, "puzzle": "00')

    finished = run_subprocess(*args, "--resume")
    assert finished.returncode == 1, finished.stderr  # completed; the blank grids stay unsolved
    records = read_jsonl(out)
    assert sorted(r["index"] for r in records) == list(range(total))
    assert len(records) == total
    by_index = {r["index"]: r for r in records}
    assert all(by_index[i] == record for i, record in before.items())  # finished rows were kept as they were


def test_unreachable_hub_is_one_line_exit_2():
    result = run_subprocess("batch", "hf:nobody-xyz/not-a-dataset")
    assert result.returncode == 2
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Hugging Face Hub" in lines[0], result.stderr


def test_report_numbers_match_the_file_and_png_is_written(tmp_path):
    rows = puzzles_4(8, blanks=9)
    rows.insert(2, ("1100000000000000", ""))
    source = write_csv(tmp_path / "p.csv", rows)
    out = tmp_path / "r.jsonl"
    run_cli("batch", source, "--out", out, "--steps", "30", "--samples", "1", "--restarts", "1", "--lr", "0.2",
            "--deduce", "none", "--weight-step", "0")
    records = read_jsonl(out)
    ok = [r for r in records if "error" not in r]
    found_steps = [r["first_solved_step"] for r in ok if r["found"]]
    assert 0 < len(found_steps) < len(ok), "want a mix of solved and unsolved rows"
    png = tmp_path / "h.png"
    result = CliRunner().invoke(app, ["report", str(out), "--png", str(png)], terminal_width=200)
    assert result.exit_code == 0, result.output
    all_row = next(line for line in result.output.splitlines() if line.split()[:1] == ["all"])
    cells = all_row.split()
    seconds = statistics.fmean(r["seconds"] for r in ok)
    expected = [
        "all", str(len(records)), str(len(records) - len(ok)),
        *(f"{100 * sum(bool(r[c]) for r in ok) / len(ok):.1f}"
          for c in ("found", "solved_any", "solved_mode", "solved_last")),
        f"{statistics.median(found_steps):.0f}", f"{statistics.fmean(found_steps):.0f}",
        f"{seconds:.2f}" if seconds < 10 else f"{seconds:.1f}",
    ]
    assert cells == expected
    assert "by difficulty" in result.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".h.png")]  # no temp file left


def test_report_of_missing_file_is_one_line(tmp_path):
    result = run_cli("report", tmp_path / "none.jsonl")
    assert result.exit_code == 2 and "no such file" in result.output
