"""``--help`` is fast because it imports nothing heavy: the root help lists the commands from a table without
importing them, in the order a user meets them; a command's help imports only its own module."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from redge_solve.cli.lazy import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "datasets", "matplotlib", "pandas", "ray")

# Run the CLI in a fresh interpreter, then report which heavy libraries it imported and which command modules.
PROBE = """
import runpy, sys
sys.argv = ["redge-solve", *sys.argv[1:]]
try:
    runpy.run_module("redge_solve", run_name="__main__")
except SystemExit:
    pass
sys.stdout = sys.__stdout__
print("HEAVY:" + ",".join(m for m in %r if m in sys.modules))
print("COMMANDS:" + ",".join(sorted(m.rsplit(".", 1)[1] for m in sys.modules if m.endswith("_cmd"))))
"""


def probe(*args: str) -> tuple[str, list[str], list[str]]:
    done = subprocess.run([sys.executable, "-c", PROBE % (HEAVY,), *args], cwd=ROOT, capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    heavy = lines[-2].removeprefix("HEAVY:")
    modules = lines[-1].removeprefix("COMMANDS:")
    return "\n".join(lines[:-2]), heavy.split(",") if heavy else [], modules.split(",") if modules else []


def test_root_help_imports_no_command_and_no_heavy_library():
    text, heavy, modules = probe("--help")
    assert heavy == [] and modules == []
    listed = [line.split()[1] for line in text.splitlines() if len(line.split()) > 1 and line.split()[1] in COMMANDS]
    assert listed == list(COMMANDS)  # sudoku first, in the order of the table
    assert list(COMMANDS)[:4] == ["sudoku", "batch", "report", "compare"]


@pytest.mark.parametrize("args", [(name,) for name in COMMANDS] + [("bench", "poly")])
def test_a_command_help_imports_only_its_own_module_and_no_torch(args):
    """Every command's help, Sudoku's defaults and the constraint problems' included (``settings`` and
    ``problem_defaults`` are torch-free): a lazy import moved back to a module's top fails here."""
    text, heavy, modules = probe(*args, "--help")
    assert "Usage:" in text
    assert modules == [COMMANDS[args[0]][0]]
    assert heavy == []


def test_the_helps_defaults_are_the_libraries():
    """The constants written out for a torch-free --help equal the ones the library uses."""
    from redge_solve.cli.options import DEFAULT_ESTIMATORS
    from redge_solve.estimators import PAPER_ESTIMATORS
    from redge_solve.problems.coloring import COLOR_DEFAULTS
    from redge_solve.problems.latin import LATIN_DEFAULTS
    from redge_solve.problems.queens import QUEENS_DEFAULTS
    from redge_solve.problems.userspec import SPEC_DEFAULTS
    from redge_solve.settings import CONSTRAINT_DEFAULTS

    assert DEFAULT_ESTIMATORS == ",".join(PAPER_ESTIMATORS)
    assert SPEC_DEFAULTS == CONSTRAINT_DEFAULTS
    assert LATIN_DEFAULTS == QUEENS_DEFAULTS == CONSTRAINT_DEFAULTS.__class__(
        **{**vars(CONSTRAINT_DEFAULTS), "init_std": 1.0, "lr": 0.2})
    assert COLOR_DEFAULTS == CONSTRAINT_DEFAULTS.__class__(**{
        **vars(CONSTRAINT_DEFAULTS), "lr": 0.5, "init_std": 1.0, "max_logit": 3.0, "weight_step": 0.05, "restarts": 32,
        "samples": 2, "reset_every": 0, "steps": 10000})
    color = " ".join(re.sub(r"[│╭╮╰╯─]", " ", help_text("color")).split())
    for flag in ("--max-logit", "--weight-step", "--reset-every"):
        assert flag in color
    text = help_text("sudoku")
    flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())
    for flag in ("--deduce", "--weight-step", "--reset-every", "--max-seconds"):
        assert flag in flat
    assert "[default: singles]" in flat
    from redge_solve.cli.options import size_defaults_help
    from redge_solve.settings import BIG_GRID_DEFAULTS

    assert " ".join(size_defaults_help().split()) in flat  # --help says the big grids pick their own defaults
    batch = " ".join(re.sub(r"[│╭╮╰╯─]", " ", help_text("batch")).split())
    assert " ".join(size_defaults_help().split()) in batch and "--resume needs the settings of every size" in batch
    for side, config in BIG_GRID_DEFAULTS.items():
        assert f"{side}×{side}: " in flat and f"--reset-every {config.reset_every}" in size_defaults_help()
    assert "16×16: plain st," in size_defaults_help()  # 16×16 samples at temperature 1, 25×25 at 0.4
    assert "25×25: -p temperature=0.4," in size_defaults_help()
    assert "the estimator st draws its samples at -p temperature=0.3" in flat  # 9×9's, and what turns it off


def test_every_listed_summary_is_the_start_of_the_command_help():
    """The table's summaries (shown without importing) must not drift from the commands' own docstrings."""
    from typer.main import get_command

    from redge_solve.cli import app

    group = get_command(app)
    for name, (_, summary) in COMMANDS.items():
        command = group.get_command(None, name)
        assert command is not None and (command.help or "").startswith(summary.rstrip(".")), name


def help_text(*args: str) -> str:
    from typer.testing import CliRunner

    from redge_solve.cli import app

    result = CliRunner().invoke(app, [*args, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("args", [(), *((name,) for name in COMMANDS), ("bench", "poly"), ("bench", "vae")])
def test_help_reads_the_same_in_every_command(args):
    """Values named by kind (N, X, TEXT, PATH, NAME=VALUE, a|b), arguments in capitals, nothing after a flag,
    and no space left before punctuation by a default written in brackets."""
    text = help_text(*args)
    assert not re.search(r"<(str|int|float|bool|path|list\[str\])[^>]*>", text), text
    assert not re.search(r"\S [.,;](\s|$)", text, re.M), text  # "batch ." where Rich ate "[default: ...]"
    usage = next(line for line in text.splitlines() if "Usage:" in line)
    for argument in re.findall(r"[{\[]([^\]}]+)[}\]]", usage.split("[OPTIONS]")[-1]):
        assert argument.split(".")[0].isupper(), usage  # FILE, SOURCE, N..., FILE.col
    if args in (("sudoku",), ("batch",), ("compare",)):
        assert re.search(r"--param\s+-p\s+NAME=VALUE", text) or "--param" in text and "NAME=VALUE" in text
        assert re.search(r"--steps\s+N\b", text) and re.search(r"--lr\s+X\b", text)
    if args == ("batch",):
        flat = " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())
        assert "(default: sized to the available memory)" in flat  # Rich dropped it as markup


def test_estimators_lists_redge_cov_with_the_clamped_variance_the_code_uses():
    from typer.testing import CliRunner

    from redge_solve.cli import app

    result = CliRunner().invoke(app, ["estimators"], terminal_width=80)
    assert result.exit_code == 0
    flat = "".join(result.output.split())
    assert "N(p,max(p(1−p),0.1))" in flat
    assert "exact∇E[f]from" in flat  # a summary is text: Rich took "[f]" for markup and dropped it
