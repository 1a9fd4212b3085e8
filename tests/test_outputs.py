"""The output-path policy (``redge_solve.runs.outputs``): no command overwrites one of its inputs (by the same name,
through a prefix, a symbolic link or ``..``), an existing file without ``--force``, or writes into a missing or
unwritable folder; every refusal is one line, exit 2, before any work, and leaves the file byte for byte as it was."""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from redge_solve.cli import app
from redge_solve.runs.outputs import OutputRefused, check_output, prefixed

ROOT = Path(__file__).resolve().parent.parent
PUZZLES = ROOT / "puzzles"
TINY = ["--steps", "5", "--samples", "2", "--restarts", "1"]
RESULT = {"index": 0, "puzzle": "1234341221434321", "found": True, "solved_any": True, "solved_mode": True,
          "solved_last": True, "first_solved_step": 1, "seconds": 0.1}


@dataclass
class Writer:
    """A command that writes a file: its input (copied into the test folder), and its argv for an input and an
    output; ``suffix`` is what a ``--out PREFIX`` command adds to the prefix (the file compared)."""

    name: str
    option: str
    source: Callable[[Path], Path] | None
    argv: Callable[[str | None, str], list[str]]
    suffix: str = ""


def _copy(name: str) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        target = folder / Path(name).name
        shutil.copy(PUZZLES / name, target)
        return target
    return make


def _results(folder: Path) -> Path:
    path = folder / "results.jsonl"
    path.write_text(json.dumps(RESULT) + "\n")
    return path


def _puzzle_csv(folder: Path) -> Path:
    path = folder / "puzzles.csv"
    path.write_text("puzzle,solution\n...3..2.3..1..32,2413132432414132\n")
    return path


WRITERS = [
    Writer("sudoku", "--out", _copy("4x4.txt"), lambda i, o: ["sudoku", i, "--out", o, *TINY, "-q"]),
    Writer("latin", "--out", _copy("latin/squares.txt"), lambda i, o: ["latin", i, "--out", o, *TINY, "-q"]),
    Writer("color", "--out", _copy("graphs/petersen.col"), lambda i, o: ["color", i, "--out", o, *TINY, "-q"]),
    Writer("solve", "--out", _copy("specs/australia.json"), lambda i, o: ["solve", i, "--out", o, *TINY, "-q"]),
    Writer("queens", "--out", None, lambda i, o: ["queens", "4", "--out", o, *TINY, "-q"]),
    Writer("batch", "--out", _puzzle_csv, lambda i, o: ["batch", i, "--out", o, *TINY]),
    Writer("report", "--png", _results, lambda i, o: ["report", i, "--png", o]),
    Writer("bench", "--out", None, lambda i, o: ["bench", "poly", "--out", o, "--steps", "3", "--seeds", "1", "-e",
                                                 "st", "--length", "4", "--powers", "2", "-q"], ".csv"),
]
WITH_INPUT = [w for w in WRITERS if w.source is not None]


def run(argv: list[str], cwd: Path):
    previous = os.getcwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(app, [str(a) for a in argv])
    finally:
        os.chdir(previous)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def refused(result, *names: str) -> str:
    """The run was refused: exit 2 and exactly one output line, the error, naming ``names``."""
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for name in names:
        assert name in lines[0], (name, lines[0])
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file of ``folder`` (recursively, links followed) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("writer", WITH_INPUT, ids=lambda w: w.name)
def test_the_input_by_the_same_name_is_refused_even_with_force(writer, tmp_path):
    source = writer.source(tmp_path)
    before = snapshot(tmp_path)
    line = refused(run([*writer.argv(source.name, source.name), "--force"], tmp_path), writer.option, source.name)
    assert "is the input file" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("writer", WITH_INPUT, ids=lambda w: w.name)
def test_the_input_through_dotdot_is_refused(writer, tmp_path):
    source = writer.source(tmp_path)
    (tmp_path / "sub").mkdir()
    out = f"sub/../{source.name}"
    before = snapshot(tmp_path)
    line = refused(run([*writer.argv(str(source), out), "--force"], tmp_path), out, str(source))
    assert "(the same file)" in line
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("writer", WITH_INPUT, ids=lambda w: w.name)
def test_the_input_through_a_symbolic_link_is_refused_both_ways(writer, tmp_path):
    source = writer.source(tmp_path)
    link = tmp_path / f"link{source.suffix}"
    link.symlink_to(source.name)
    before = snapshot(tmp_path)
    # the output is a link to the input
    refused(run([*writer.argv(source.name, link.name), "--force"], tmp_path), link.name, source.name)
    # the input is given as a link, the output is the file it points to
    refused(run([*writer.argv(link.name, source.name), "--force"], tmp_path), link.name, source.name)
    assert snapshot(tmp_path) == before
    assert link.is_symlink()


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.name)
def test_an_existing_file_is_kept_unless_force(writer, tmp_path):
    given = "old" if writer.suffix else "old.out"
    existing = tmp_path / (given + writer.suffix)
    existing.write_bytes(b"the user's own file\n")
    source = writer.source(tmp_path).name if writer.source else None
    before = snapshot(tmp_path)
    line = refused(run(writer.argv(source, given), tmp_path), writer.option, existing.name, "--force")
    assert "already exists" in line
    assert snapshot(tmp_path) == before
    result = run([*writer.argv(source, given), "--force"], tmp_path)
    assert result.exit_code in (0, 1), result.output
    assert existing.read_bytes() != b"the user's own file\n"
    if source is not None:
        assert (tmp_path / source).read_bytes() == before[source]  # the input itself is untouched


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.name)
def test_an_empty_existing_file_is_replaced_without_force(writer, tmp_path):
    """Nothing to lose: ``--out "$(mktemp)"`` works."""
    given = "fresh" if writer.suffix else "fresh.out"
    (tmp_path / (given + writer.suffix)).write_bytes(b"")
    source = writer.source(tmp_path).name if writer.source else None
    result = run(writer.argv(source, given), tmp_path)
    assert result.exit_code in (0, 1), result.output
    assert (tmp_path / (given + writer.suffix)).stat().st_size > 0


@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.name)
def test_a_missing_directory_is_refused_up_front(writer, tmp_path):
    source = writer.source(tmp_path).name if writer.source else None
    before = snapshot(tmp_path)
    refused(run(writer.argv(source, "no/such/dir/out"), tmp_path), writer.option, "no such directory", "no/such/dir")
    assert snapshot(tmp_path) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc, where no file can be created")
@pytest.mark.parametrize("writer", WRITERS, ids=lambda w: w.name)
def test_an_unwritable_directory_is_refused_up_front(writer, tmp_path):
    source = writer.source(tmp_path).name if writer.source else None
    refused(run(writer.argv(source, "/proc/out"), tmp_path), writer.option, "cannot write in /proc")


def test_an_output_that_is_a_directory_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    refused(run(["queens", "4", "--out", "out", "--force"], tmp_path), "--out out is a directory")


def test_bench_refuses_a_prefix_whose_file_is_in_the_input_data_folder(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("image,label\n")
    before = snapshot(tmp_path)
    line = refused(run(["bench", "vae", "--data", "data", "--out", "data/train", "--force"], tmp_path),
                   "--out data/train would write data/train.csv", "input directory data")
    assert "choose another output" in line
    assert snapshot(tmp_path) == before


def test_batch_resume_appends_to_its_own_file_but_never_to_the_input(tmp_path):
    source = _puzzle_csv(tmp_path)
    assert run(["batch", source.name, "--out", "r.jsonl", *TINY], tmp_path).exit_code in (0, 1)
    first = (tmp_path / "r.jsonl").read_bytes()
    assert run(["batch", source.name, "--out", "r.jsonl", "--resume", *TINY], tmp_path).exit_code in (0, 1)
    assert (tmp_path / "r.jsonl").read_bytes() == first  # every row was done: nothing appended
    before = snapshot(tmp_path)
    refused(run(["batch", source.name, "--out", source.name, "--resume", *TINY], tmp_path), "is the input file")
    line = refused(run(["batch", source.name, "--out", "r.jsonl", *TINY], tmp_path), "r.jsonl")
    assert "--resume" in line and "--force" in line
    assert snapshot(tmp_path) == before


# ---- the library function -------------------------------------------------------------------------------------------


def test_check_output_names_the_field_the_derived_file_and_the_input(tmp_path):
    source = tmp_path / "puzzles.csv"
    source.write_text("x\n")
    prefix = tmp_path / "puzzles"
    with pytest.raises(OutputRefused) as error:
        check_output("out", prefix, [source], force=True, suffixes=(".csv", ".json"))
    assert str(error.value) == (f"`out` {prefix} would write {source}, which is the input file {source}; "
                                "choose another output")


def test_check_output_lets_a_sidecar_exist_but_never_be_an_input(tmp_path):
    out, meta = tmp_path / "runs.jsonl", tmp_path / "runs.jsonl.meta.json"
    meta.write_text("{}")
    assert check_output("out", out, sidecars=[meta]) == [out]  # an existing sidecar is kept up to date
    out.write_text("{}\n")
    with pytest.raises(OutputRefused, match="already exists; resume it"):
        check_output("out", out, sidecars=[meta], hint="resume it")
    assert check_output("out", out, sidecars=[meta], existing_ok=True) == [out]
    with pytest.raises(OutputRefused, match=f"would write {meta}, which is the input file"):
        check_output("out", out, [meta], existing_ok=True, sidecars=[meta])


def test_check_output_sees_a_hard_link_and_skips_stdout_and_remote_sources(tmp_path):
    source = tmp_path / "a.txt"
    source.write_text("x\n")
    os.link(source, tmp_path / "b.txt")
    with pytest.raises(OutputRefused, match="the same file"):
        check_output("out", tmp_path / "b.txt", [source], force=True)
    assert check_output("out", "-", ["-"]) == []
    assert check_output("out", None) == []
    new = tmp_path / "new.jsonl"
    assert check_output("out", new, ["hf:owner/name", None, "-"]) == [new]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".probe")]  # the write probe leaves nothing


def test_prefixed_keeps_the_folder_and_appends_the_suffix(tmp_path):
    assert prefixed(tmp_path / "runs.v2", (".csv", "-curves.csv")) == [tmp_path / "runs.v2.csv",
                                                                        tmp_path / "runs.v2-curves.csv"]
