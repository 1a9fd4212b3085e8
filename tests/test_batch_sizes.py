"""``batch`` on files that mix grid sizes: each size is solved with its own defaults under the options given
explicitly (as ``sudoku``), the settings record holds them by size, and ``--resume`` refuses settings that differ
for any size (an older record, one config for every size, resumes only where it still holds)."""

import json
from dataclasses import replace

import pytest
from conftest import PUZZLES, puzzles_4, read_jsonl, run_cli

from redge_solve.runs import grouped
from redge_solve.runs.batch import by_side, run_batch, settings_path, solver_settings
from redge_solve.settings import DEFAULTS, SolverConfig, sudoku_defaults

PUZZLE_9 = next(line for line in (PUZZLES / "easy.txt").read_text().splitlines() if not line.startswith("#"))
PUZZLE_16 = (PUZZLES / "16x16.txt").read_text().splitlines()[-1].partition("::")[0]


@pytest.fixture
def seen(monkeypatch):
    """The settings each grid side's batch reached the solver with (side -> config); the solver runs one step."""
    real, configs = grouped.solve, {}

    def spy(problem, config, *args, **kwargs):
        configs[problem.num_categories] = config
        return real(problem, replace(config, steps=1), *args, **kwargs)

    monkeypatch.setattr(grouped, "solve", spy)
    return configs


def mixed_csv(tmp_path, puzzles):
    path = tmp_path / "mixed.csv"
    path.write_text("puzzle\n" + "".join(p + "\n" for p in puzzles))
    return path


def one_line_error(result, needle):
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output
    return lines[0]


def recorded(out):
    return json.loads(settings_path(out).read_text())


def test_batch_solves_each_grid_size_with_its_defaults_and_records_them_by_size(tmp_path, seen):
    source = mixed_csv(tmp_path, [puzzles_4(1)[0][0], PUZZLE_9, PUZZLE_16])
    out = tmp_path / "r.jsonl"
    result = run_cli("batch", source, "--out", out, "--seed", "3", "--quiet")
    assert result.exit_code in (0, 1), result.output
    assert [r["index"] for r in read_jsonl(out)] == [0, 1, 2] and not any("error" in r for r in read_jsonl(out))
    assert seen[4] == replace(DEFAULTS, seed=3) and seen[9] == replace(DEFAULTS, seed=3)  # 9×9: the product's
    assert seen[16] == replace(sudoku_defaults(16), seed=3) != seen[9]
    by_size = recorded(out)["by_size"]
    assert set(by_size) == {"4x4", "9x9", "16x16", "25x25"}
    for side in (4, 9, 16, 25):
        assert by_size[f"{side}x{side}"] == solver_settings(replace(sudoku_defaults(side), seed=3))

    # an option given explicitly, even at 9×9's default value, applies to every size
    result = run_cli("batch", source, "--out", out, "--force", "--reset-every", str(DEFAULTS.reset_every), "--quiet")
    assert result.exit_code in (0, 1), result.output
    assert {config.reset_every for config in seen.values()} == {DEFAULTS.reset_every}
    assert seen[16].restarts == sudoku_defaults(16).restarts  # the options not given stay the size's own
    assert {each["reset_every"] for each in recorded(out)["by_size"].values()} == {DEFAULTS.reset_every}


def test_resume_refuses_settings_that_differ_for_any_size(tmp_path, seen):
    source = mixed_csv(tmp_path, [puzzles_4(1)[0][0], PUZZLE_9, PUZZLE_16])
    out = tmp_path / "r.jsonl"
    base = ["batch", source, "--out", out, "--quiet"]
    assert run_cli(*base, "--limit", "2").exit_code == 0
    assert set(seen) == {4, 9}

    line = one_line_error(run_cli(*base, "--resume", "--restarts", "32"), "--resume needs the same ones")
    assert "restarts 32 (was 8) for 4×4, 9×9;" in line and "16×16" not in line  # 16×16 and 25×25 have 32 already
    assert "25×25" not in line
    line = one_line_error(run_cli(*base, "--resume", "--lr", "0.1"), "lr 0.1 (was 0.3)")
    assert "lr 0.1 (was 0.3) for" not in line  # the same change for every size is said once
    line = one_line_error(run_cli(*base, "--resume", "--steps", "6"), "steps 6 (was 100000) for 4×4, 9×9")
    assert "steps 6 (was 20000) for 16×16, 25×25" in line  # the big grids keep their own budget
    assert line.endswith("give the recorded values again (an upgrade may have changed a default), or start afresh "
                         "with --force")
    record = recorded(out)
    record["by_size"]["16x16"]["max_logit"] = 0.0  # as if 16×16 alone had been written with other settings
    settings_path(out).write_text(json.dumps(record))
    one_line_error(run_cli(*base, "--resume"), "max_logit 3.0 (was 0.0) for 16×16")
    assert len(read_jsonl(out)) == 2  # nothing written by the refused runs

    record["by_size"]["16x16"]["max_logit"] = 3.0
    settings_path(out).write_text(json.dumps(record))
    assert run_cli(*base, "--resume").exit_code == 0
    assert [r["index"] for r in read_jsonl(out)] == [0, 1, 2] and seen[16] == sudoku_defaults(16)

    settings_path(out).write_text(json.dumps({"by_size": {"9x9": 5}}))
    one_line_error(run_cli(*base, "--resume"), "is not a settings record")
    one_line_error(run_cli("batch", tmp_path / "missing.csv", "--out", tmp_path / "other.jsonl"), "missing.csv")


def test_a_record_of_one_config_for_every_size_resumes_only_the_sizes_it_still_holds_for(tmp_path, seen):
    """Records written before the sizes had their own settings: one config solved every size. A file of 4×4 and
    9×9 rows resumes (their settings did not change) and its record is rewritten by size; one that holds a 16×16
    row solved with 9×9's settings is refused."""
    source = mixed_csv(tmp_path, [puzzles_4(1)[0][0], PUZZLE_9, PUZZLE_16])
    out = tmp_path / "r.jsonl"
    base = ["batch", source, "--out", out, "--quiet"]
    assert run_cli(*base, "--limit", "2").exit_code == 0
    settings_path(out).write_text(json.dumps({"settings": solver_settings(DEFAULTS)}))  # as an older run wrote it
    assert run_cli(*base, "--resume").exit_code == 0
    assert [r["index"] for r in read_jsonl(out)] == [0, 1, 2] and seen[16] == sudoku_defaults(16)
    assert recorded(out) == {"by_size": {f"{s}x{s}": solver_settings(sudoku_defaults(s)) for s in (4, 9, 16, 25)}}

    settings_path(out).write_text(json.dumps({"settings": solver_settings(DEFAULTS)}))  # now with a 16×16 row
    line = one_line_error(run_cli(*base, "--resume"), f"restarts {sudoku_defaults(16).restarts} (was 8) for 16×16")
    assert "4×4" not in line and "9×9" not in line and "before each grid size had its own settings" in line
    assert "--force" in line


def test_a_record_from_before_a_field_existed_resumes_under_its_off_value(tmp_path, seen):
    """A field added later (``max_logit``, ``tail_samples``) is missing from older records: they ran with it off, so
    they resume where it is still off and are refused where it is not (16×16's ``max_logit`` 3)."""
    out = tmp_path / "r.jsonl"
    base = ["batch", mixed_csv(tmp_path, [puzzles_4(1)[0][0], PUZZLE_9, PUZZLE_16]), "--out", out, "--quiet"]
    assert run_cli(*base, "--limit", "2").exit_code == 0
    record = recorded(out)
    for each in record["by_size"].values():
        del each["max_logit"], each["tail_samples"]
    settings_path(out).write_text(json.dumps(record))
    one_line_error(run_cli(*base, "--resume"), "max_logit 3.0 (was 0.0) for 16×16")
    record["by_size"]["16x16"]["max_logit"] = 3.0  # written after max_logit existed, before tail_samples did
    settings_path(out).write_text(json.dumps(record))
    assert run_cli(*base, "--resume").exit_code == 0
    assert [r["index"] for r in read_jsonl(out)] == [0, 1, 2]


def test_settings_by_side_cover_every_size_and_share_one_budget(tmp_path):
    assert by_side(DEFAULTS) == {side: DEFAULTS for side in (4, 9, 16, 25)}
    with pytest.raises(ValueError, match="lack 16×16, 25×25"):
        list(run_batch(iter([]), {4: DEFAULTS, 9: DEFAULTS}, tmp_path / "r.jsonl"))
    budgets = {side: SolverConfig(max_seconds=float(side)) for side in (4, 9, 16, 25)}
    with pytest.raises(ValueError, match="one max_seconds"):
        by_side(budgets)
