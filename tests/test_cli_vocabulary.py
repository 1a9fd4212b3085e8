"""One command line: every command's options read the same (docs/cli.md), old spellings still work with a notice,
``--max-seconds`` bounds each command's whole run, and ``--device`` reaches the problems the library builds."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from redge_solve.cli import app
from redge_solve.cli.lazy import COMMANDS
from redge_solve.cli.options import DEVICE_HELP, MAX_SECONDS_HELP, SUDOKU_ONLY
from redge_solve.settings import RUN_FIELDS

ROOT = Path(__file__).resolve().parents[1]
PUZZLES = ROOT / "puzzles"
SOLVING = ("sudoku", "batch", "compare", "latin", "queens", "color", "solve")
SUDOKU = ("sudoku", "batch", "compare")  # the commands whose problems have --deduce's pre-step
SEVERAL = ("compare", "bench")  # the commands that run several estimators
CUDA = torch.cuda.is_available()


def command(*path: str):
    """The Click command of ``redge-solve PATH...`` (its module imported)."""
    from typer.main import get_command

    found = get_command(app)
    for name in path:
        found = found.get_command(None, name)
    return found


def options(cmd) -> dict[str, object]:
    return {name: param for param in cmd.params for name in (*param.opts, *param.secondary_opts)}


WALKED = [(name,) for name in SOLVING] + [("bench", "poly"), ("bench", "gmm"), ("bench", "vae")]


@pytest.mark.parametrize("path", WALKED, ids=" ".join)
def test_every_command_speaks_the_same_vocabulary(path):
    cmd = command(*path)
    opts = options(cmd)
    for flag in ("-q", "--quiet", "-o", "--out", "--force", "--device", "-p", "--param", "-e"):
        assert flag in opts, (path, flag)
    for old in ("--json", "--overwrite", "--no-progress", "--progress", "--max-seconds-per-k"):
        assert old not in opts, (path, old)  # old spellings are hidden aliases, not options
    assert opts["-e"] is opts["--estimators" if path[0] in SEVERAL else "--estimator"]
    assert opts["-q"] is opts["--quiet"] and opts["-o"] is opts["--out"] and opts["-p"] is opts["--param"]
    assert opts["--device"].default == "auto" and opts["--device"].help.startswith(DEVICE_HELP.split(":")[0])
    assert opts["--max-seconds"].help == MAX_SECONDS_HELP and opts["--max-seconds"].default is None
    if path[0] not in SOLVING:
        return
    flags = [f"--{name.replace('_', '-')}" + ("s" if name == "seed" and path[0] in SEVERAL else "")
             for name in RUN_FIELDS if name not in SUDOKU_ONLY or path[0] in SUDOKU]
    for flag in (*flags, "--protocol", "--no-early-stop"):
        assert flag in opts, (path, flag)
    assert opts["--max-seconds"].help == MAX_SECONDS_HELP and opts["--max-seconds"].default is None
    for flag in ("--steps", "--samples", "--restarts", "--lr", "--estimator", "--estimators", "--seed", "--seeds"):
        param = opts.get(flag)
        if param is None:
            continue  # --estimator or --estimators, --seed or --seeds
        shown = param.show_default is not False and param.default is not None
        assert shown or "(default: " in (param.help or ""), (path, flag)  # the value that will run is visible


def test_every_command_with_solver_options_was_walked():
    assert set(SOLVING) | {"bench"} | {"report", "estimators"} == set(COMMANDS)


def invoke(*args: str, stdin: str | None = None):
    return CliRunner().invoke(app, list(args), input=stdin, terminal_width=200)


def test_old_spellings_still_work_with_a_one_line_notice(tmp_path):
    target = tmp_path / "out.jsonl"
    result = invoke("queens", "5", "--steps", "50", "--json", str(target), "-q")
    assert result.exit_code in (0, 1), result.output
    assert json.loads(target.read_text())["name"] == "queens-5"
    assert "--json is now --out" in result.output and result.output.count("note:") == 1
    again = invoke("queens", "5", "--steps", "50", "--json=" + str(target), "--overwrite", "-q")
    assert "no such option" in again.output.lower() or again.exit_code == 2  # batch's alias is batch's only


@pytest.mark.skipif(CUDA, reason="torch sees a GPU here")
@pytest.mark.parametrize("args", [
    ["sudoku", str(PUZZLES / "easy.txt")], ["batch", str(PUZZLES / "sample.csv")],
    ["compare", str(PUZZLES / "sample.csv")], ["latin", str(PUZZLES / "latin" / "squares.txt")], ["queens", "8"],
    ["color", str(PUZZLES / "graphs" / "petersen.col")], ["solve", str(PUZZLES / "specs" / "australia.json")],
    ["bench", "poly"]], ids=lambda a: a[0] if a[0] != "bench" else "bench poly")
def test_device_cuda_without_a_gpu_is_one_line_exit_2(args, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written, and batch's default output lands here
    result = invoke(*args, "--device", "cuda")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--device cuda" in lines[0] and "error:" in lines[0], result.output
    assert not list(tmp_path.iterdir())


def test_a_device_name_that_is_none_is_a_usage_error():
    result = invoke("queens", "8", "--device", "tpu")
    assert result.exit_code == 2 and "--device must be auto, cpu, cuda or cuda:N" in result.output


def test_resolve_device():
    from redge_solve.devices import DeviceUnavailable, resolve_device

    assert resolve_device("auto") == torch.device("cuda" if CUDA else "cpu")
    assert resolve_device("CPU") == torch.device("cpu") and resolve_device(None) == resolve_device("auto")
    with pytest.raises(DeviceUnavailable, match="unknown device"):
        resolve_device("tpu")
    if not CUDA:
        with pytest.raises(DeviceUnavailable, match="torch sees no CUDA GPU"):
            resolve_device("cuda:1")


def test_problems_are_built_on_the_device_asked_for():
    """Every tensor of a constraint batch moves (the meta device: no memory, but a device of its own), and
    restarts and sub-batches stay there; a Sudoku batch follows its ``device`` argument."""
    from redge_solve.problems.constraints import ConstraintBatch
    from redge_solve.problems.sudoku import SudokuBatch
    from redge_solve.runs.instances import batch, queens_instance

    meta = ConstraintBatch.from_specs([queens_instance(5).spec] * 2, device="meta")
    tensors = {name: value for name, value in vars(meta).items() if isinstance(value, torch.Tensor)}
    assert tensors and all(t.device.type == "meta" for t in tensors.values())
    assert meta.repeat(2).device.type == "meta" and meta.fixed_values.device.type == "meta"
    assert batch([queens_instance(5)], "cpu").device == torch.device("cpu")
    grids = torch.zeros(2, 16, dtype=torch.int32)
    sudoku = SudokuBatch.from_grids(grids, device="cpu")
    assert sudoku.grids.dtype == torch.long and sudoku.var_instance.device == torch.device("cpu")


def test_device_cpu_gives_the_results_of_the_default_here(tmp_path):
    runs = []
    for extra in ([], ["--device", "cpu"]):
        target = tmp_path / f"out{len(runs)}.jsonl"
        result = invoke("sudoku", str(PUZZLES / "4x4.txt"), "--steps", "40", "-o", str(target), "-q", *extra)
        assert result.exit_code in (0, 1), result.output
        runs.append([{k: v for k, v in json.loads(line).items() if k != "seconds"}
                     for line in target.read_text().splitlines()])
    if not CUDA:
        assert runs[0] == runs[1]


def test_memory_budget_is_one_policy_for_solver_and_chunks(monkeypatch):
    from redge_solve.memory import BUDGET_ENV, available_memory, budget, bytes_per_puzzle, device_memory
    from redge_solve.runs.batch import MAX_CHUNK, MIN_CHUNK, default_chunk_size
    from redge_solve.settings import DEFAULTS

    assert device_memory("cpu") == device_memory(None) == pytest.approx(available_memory(), rel=0.2)
    per = bytes_per_puzzle(64, 9, restarts=DEFAULTS.restarts, samples=DEFAULTS.samples)
    monkeypatch.setenv(BUDGET_ENV, str(100 * per))  # honoured by batch's chunks too (it was not)
    assert budget() == 100 * per and default_chunk_size(DEFAULTS) == 100
    assert MIN_CHUNK <= default_chunk_size(DEFAULTS, memory=1) <= MAX_CHUNK


# ---- --max-seconds bounds the whole command: a tiny budget, a step count no run could reach --------------------

HARD = [line.strip().replace("0", ".") for line in (PUZZLES / "sudoku17-10.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")]  # '.' for blanks: a CSV reader would take 0070... for a number
NEVER = "100000"


def hard_csv(path: Path) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["puzzle"])
        writer.writerows([p] for p in HARD)
    return path


def test_batch_max_seconds_bounds_the_whole_run(tmp_path):
    source, target = hard_csv(tmp_path / "hard.csv"), tmp_path / "r.jsonl"
    result = invoke("batch", str(source), "--solution-column", "", "--steps", NEVER, "--max-seconds", "0.001",
                    "--deduce", "none", "--chunk-size", "2", "-o", str(target), "-q")
    assert result.exit_code == 1, result.output
    # Only the first chunk can start before the deadline (none does if the budget is spent before it is drawn:
    # the rows are left for a resume); a run that went on drawing chunks after it, each with a budget of its own,
    # would write all ten rows.
    records = [json.loads(line) for line in target.read_text().splitlines()] if target.exists() else []
    assert len(records) <= 2, records
    assert all(not r.get("found") and r.get("steps_run", 0) < int(NEVER) for r in records), records


def test_batch_refuses_out_dash_where_other_commands_write_standard_output(tmp_path, monkeypatch):
    source = hard_csv(tmp_path / "hard.csv")
    monkeypatch.chdir(tmp_path)
    result = invoke("batch", str(source), "--solution-column", "", "-o", "-", "-q")
    assert result.exit_code == 2 and "--out -" in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "-").exists() and not (tmp_path / "-.meta.json").exists()


def test_compare_max_seconds_is_shared_by_every_run(tmp_path):
    source = hard_csv(tmp_path / "hard.csv")
    result = invoke("compare", str(source), "--solution-column", "", "--steps", NEVER, "--max-seconds", "0.001",
                    "--deduce", "none", "-e", "st,gumbel", "--seeds", "2", "-o", str(tmp_path / "cmp"), "-q")
    assert result.exit_code == 0, result.output
    runs = json.loads((tmp_path / "cmp.json").read_text())["runs"]
    assert len(runs) == 4 and all(r["steps"] < int(NEVER) for r in runs)
    assert all(not rec["found"] for r in runs for rec in r["records"])
    refused = invoke("compare", str(source), "--max-seconds", "1", "--diagnose")
    assert refused.exit_code == 2 and "--max-seconds" in refused.output


@pytest.mark.parametrize("args", [
    ["queens", "300"],
    ["latin", "-"],
    ["solve", str(PUZZLES / "specs" / "australia.json"), "--restarts", "1", "--samples", "1", "--lr", "1e-30"],
], ids=lambda a: a[0])
def test_constraint_commands_max_seconds_bounds_the_run(args, tmp_path):
    target = tmp_path / "r.jsonl"
    blank = "0" * 400 + "\n"  # a blank 20×20 Latin square: not completed in a step or two
    result = invoke(*args, "--steps", NEVER, "--max-seconds", "0.001", "--no-early-stop", "-o", str(target), "-q",
                    stdin=blank)
    assert result.exit_code in (0, 1), result.output
    records = [json.loads(line) for line in target.read_text().splitlines()]
    assert records and all(1 <= r["steps_run"] < int(NEVER) for r in records)


def test_bench_max_seconds_bounds_the_grid(tmp_path):
    """A run cut by the budget is dropped (no final figures), and no other starts."""
    result = invoke("bench", "poly", "--steps", "10000000", "--length", "4", "--samples", "2", "--seeds", "3",
                    "--powers", "2", "-e", "st,gumbel", "--max-seconds", "0.001", "-o", str(tmp_path / "p"), "-q")
    assert result.exit_code == 1 and "time budget of 0.001 s spent after 0/6 runs" in result.output
    assert not list(tmp_path.iterdir())  # nothing finished, nothing written


def test_library_fields_become_options_in_one_place():
    from redge_solve.cli.flags import as_flags

    assert as_flags("lr must be a number > 0") == "--lr must be a number > 0"
    assert as_flags("max_seconds must be a finite number > 0") == "--max-seconds must be a finite number > 0"
    assert as_flags("`address` and `num_workers` need `executor` ray") == \
        "--address and --num-workers need --executor ray"
    assert as_flags("map yours with `puzzle_column`") == "map yours with --puzzle-column"
    assert as_flags("`baseline` 'x' is not among") == "--baseline 'x' is not among"
    assert as_flags("see `redge-solve estimators`; `unknown` stays") == "see `redge-solve estimators`; `unknown` stays"
    result = invoke("sudoku", str(PUZZLES / "easy.txt"), "-e", "reinforce", "--samples", "1")
    assert result.exit_code == 2 and "set --samples to 2 (or more)" in result.output
