"""One way to build a ``SolverConfig`` (``config.build_config``), one ``--param`` coercion
(``estimators.coerce_params``), and the shared command-line options: explicit values beat the protocol, ``--help``
defaults are the ones that run, and a bad option value is one line with exit code 2."""

from __future__ import annotations

from dataclasses import fields

import pytest
import typer
from conftest import ROOT
from typer._click import Context  # typer's own click, as cli/lazy.py uses it
from typer.testing import CliRunner

from redge_solve.cli import app
from redge_solve.cli.options import _plain
from redge_solve.config import Protocol, build_config
from redge_solve.estimators import coerce_params
from redge_solve.problems.coloring import COLOR_DEFAULTS
from redge_solve.problems.latin import LATIN_DEFAULTS
from redge_solve.problems.queens import QUEENS_DEFAULTS
from redge_solve.problems.userspec import SPEC_DEFAULTS
from redge_solve.settings import RUN_FIELDS
from redge_solve.solver import DEFAULTS, PAPER_PROTOCOL, SolverConfig

PUZZLE = "...3..2.3..1..32"


def test_coerce_params_reads_strings_as_each_parameters_type():
    assert coerce_params("redge", {"n_steps": "5", "t_1": "1"}) == {"n_steps": 5, "t_1": 1.0}
    coerced = coerce_params("redge", {"n_steps": "5.0", "t_1": 1})
    assert coerced == {"n_steps": 5, "t_1": 1.0}
    assert type(coerced["n_steps"]) is int and type(coerced["t_1"]) is float
    with pytest.raises(ValueError, match=r"redge.n_steps must be an integer, got '5.5'"):
        coerce_params("redge", {"n_steps": "5.5"})
    with pytest.raises(ValueError, match=r"gumbel.tau must be a number, got 'hot'"):
        coerce_params("gumbel", {"tau": "hot"})
    with pytest.raises(ValueError, match=r"estimator 'st' has no parameter 'tau' \(its parameters: temperature\)"):
        coerce_params("st", {"tau": "1"})


def test_build_config_layers_defaults_protocol_and_explicit_values():
    base = build_config(COLOR_DEFAULTS)
    assert base == COLOR_DEFAULTS
    paper = build_config(COLOR_DEFAULTS, "redge", {"n_steps": "3"}, "paper")
    assert {k: getattr(paper, k) for k in PAPER_PROTOCOL} == PAPER_PROTOCOL
    assert paper.params == {"n_steps": 3} and paper.estimator == "redge"
    # an explicit value wins over the protocol's, even when it equals the default the protocol replaces
    chosen = build_config(DEFAULTS, protocol=Protocol.paper, steps=DEFAULTS.steps, samples=None, seed=4)
    assert (chosen.steps, chosen.samples, chosen.seed) == (DEFAULTS.steps, 1, 4)


def test_the_defaults_estimator_parameters_go_with_the_estimator_and_the_default_protocol():
    """Sudoku's ST samples at temperature 0.3: kept under ``-e st`` and under other ``-p`` values, replaced by a
    ``-p temperature``; another estimator, or the paper protocol, starts from the estimator's own defaults."""
    from redge_solve.settings import sudoku_defaults
    from redge_solve.solver import paper_protocol

    assert DEFAULTS.params == {"temperature": 0.3} and str(DEFAULTS.make_estimator()) == "st(temperature=0.3)"
    assert build_config().params == {"temperature": 0.3}
    assert build_config(DEFAULTS, "st").params == {"temperature": 0.3}
    assert build_config(DEFAULTS, "straight-through").params == {"temperature": 0.3}  # an alias is the same one
    assert build_config(DEFAULTS, params={"temperature": "1"}).params == {"temperature": 1.0}
    assert build_config(DEFAULTS, "gumbel").params == {}  # gumbel has no temperature: no error either
    assert build_config(DEFAULTS, "gumbel", {"tau": "0.5"}).params == {"tau": 0.5}
    assert build_config(DEFAULTS, protocol="paper").params == {}
    assert build_config(DEFAULTS, protocol="paper", params={"temperature": "0.5"}).params == {"temperature": 0.5}
    assert build_config(COLOR_DEFAULTS).params == {}  # the other problems' ST samples at temperature 1
    # the library's paper protocol: Sudoku's temperature off, parameters chosen for another estimator kept
    assert paper_protocol(DEFAULTS).params == {}
    assert paper_protocol(SolverConfig(estimator="gumbel", params={"tau": 0.5})).params == {"tau": 0.5}
    assert paper_protocol(SolverConfig(params={"temperature": 0.5})).params == {"temperature": 0.5}
    assert paper_protocol(sudoku_defaults(25)).params == {}  # 25×25's temperature is Sudoku's too


def test_build_config_validates_the_combination_whole():
    with pytest.raises(ValueError, match="reinforce needs at least 2 samples"):
        build_config(DEFAULTS, "reinforce", protocol="paper")  # the paper's single sample
    assert build_config(DEFAULTS, "reinforce", protocol="paper", samples=2).samples == 2
    with pytest.raises(ValueError, match="unknown protocol 'table2'; choose from default, paper"):
        build_config(DEFAULTS, protocol="table2")
    with pytest.raises(ValueError, match="no solver setting 'stepz'"):
        build_config(DEFAULTS, stepz=3)


@pytest.fixture
def captured(monkeypatch):
    """The ``SolverConfig`` that ``sudoku`` and ``batch`` hand to the solver (which then stops the run)."""
    from redge_solve.runs import grouped

    configs: list[SolverConfig] = []

    def fake_solve(problem, config, *args, **kwargs):
        configs.append(config)
        raise KeyboardInterrupt

    monkeypatch.setattr(grouped, "solve", fake_solve)
    return configs


PAPER_ST = {**PAPER_PROTOCOL, "params": {}}  # the paper's ST samples at temperature 1, not Sudoku's 0.3


@pytest.mark.parametrize("args, expected", [
    ([], {}),
    (["--protocol", "paper"], PAPER_ST),
    (["--protocol", "PAPER", "--steps", "7"], {**PAPER_ST, "steps": 7}),
    (["--steps", str(DEFAULTS.steps), "--protocol", "paper"], {**PAPER_ST, "steps": DEFAULTS.steps}),
    (["--lr", str(DEFAULTS.lr), "--protocol", "paper", "--no-early-stop"], {**PAPER_ST, "lr": DEFAULTS.lr}),
    (["-e", "st"], {}),  # naming the default estimator keeps its sampling temperature
    (["-p", "temperature=1"], {"params": {"temperature": 1.0}}),  # plain ST
    (["--samples", "3", "-e", "redge", "-p", "n_steps=4"], {"samples": 3, "estimator": "redge",
                                                            "params": {"n_steps": 4}}),
])
@pytest.mark.parametrize("command", ["sudoku", "batch"])
def test_explicit_options_win_over_the_protocol(command, args, expected, captured, tmp_path):
    source = tmp_path / "p.csv"
    source.write_text(f"puzzle\n{PUZZLE}\n")
    argv = [command, str(source), *args] + (["--out", str(tmp_path / "r.jsonl")] if command == "batch" else [])
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 130, result.output
    (config,) = captured
    assert config == SolverConfig(**{**{f.name: getattr(DEFAULTS, f.name) for f in fields(DEFAULTS)}, **expected})


@pytest.mark.parametrize("command, defaults", [
    ("sudoku", DEFAULTS), ("batch", DEFAULTS), ("latin", LATIN_DEFAULTS), ("queens", QUEENS_DEFAULTS),
    ("color", COLOR_DEFAULTS), ("solve", SPEC_DEFAULTS),
])
def test_help_shows_the_defaults_that_run(command, defaults):
    """Each solver option's declared default (what ``--help`` prints) is the command's own setting."""
    group = typer.main.get_command(app)
    params = {p.name: p for p in group.get_command(Context(group), command).params}  # imports it if lazy
    for name in ("estimator", "steps", "samples", "restarts", "lr", "seed", *RUN_FIELDS):
        if name not in params or name == "max_seconds":  # max_seconds: no default (None), or color's own budget
            continue
        assert _plain(params[name].default) == getattr(defaults, name), (command, name)
        assert not params[name].hidden and params[name].show_default is not False, (command, name)


@pytest.mark.parametrize("argv, needle", [
    (["sudoku", PUZZLE, "--stpes", "3"], "No such option: --stpes"),
    (["sudoku", PUZZLE, "--protocol", "table2"], "--protocol: 'table2' is not one of 'default', 'paper'"),
    (["sudoku", PUZZLE, "--samples", "0"], "--samples must be >= 1"),
    (["latin", PUZZLE, "--restarts", "0"], "--restarts must be >= 1"),
    (["queens", "5", "--param", "n_steps"], "--param must look like name=value, got 'n_steps'"),
    (["color", "g.col", "--lr", "0"], "lr must be a number > 0"),
    (["bench", "poly", "--seeds", "0"], "--seeds must be a count >= 1 or a list like 0,5,7, got '0'"),
    (["bench", "gmm", "--seeds", "1,1"], "--seeds must list distinct integers, got '1,1'"),
    (["batch", "x.csv", "--num-workers", "0"], "--num-workers must be >= 1"),
    (["batch", "x.csv", "--resume", "--force"], "--resume and --force exclude each other"),
    (["sudoku"], "Missing argument 'FILE'"),
])
def test_a_bad_option_is_one_line_with_exit_code_2(argv, needle):
    result = CliRunner().invoke(app, argv)
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.output


def test_each_sudoku_size_has_its_defaults_and_9x9_keeps_the_product_ones():
    from redge_solve.settings import BIG_GRID_DEFAULTS, sudoku_defaults

    assert sudoku_defaults(4) is DEFAULTS and sudoku_defaults(9) is DEFAULTS
    assert sudoku_defaults(16) is BIG_GRID_DEFAULTS[16] and sudoku_defaults(25) is BIG_GRID_DEFAULTS[25]
    assert sudoku_defaults(36) is BIG_GRID_DEFAULTS[25]  # beyond the measured sizes: the largest's
    # 9×9's settings: ST sampling at T = 0.3, restarts doubling at every fresh start
    assert DEFAULTS == SolverConfig(params={"temperature": 0.3}, growth_period=1)
    for config in BIG_GRID_DEFAULTS.values():
        assert config != DEFAULTS and config.deduce == DEFAULTS.deduce  # the pre-step stays the same
        assert config.growth_period == 4  # measured there before 9×9's period 1, and kept
        assert config.steps == 20000 < DEFAULTS.steps and config.max_seconds is None  # 9×9's longer budget: its
        # hardest puzzles; a big grid's step costs 5-10 times as much


def test_sudoku_solves_each_grid_size_with_its_defaults_under_the_explicit_options(monkeypatch, tmp_path):
    """A file mixing 4×4, 16×16 and 25×25 puzzles: each size's batch gets its own defaults, and an option given
    explicitly (even at 9×9's default value) applies to every size."""
    from dataclasses import replace

    from redge_solve.runs import grouped
    from redge_solve.settings import sudoku_defaults

    real, seen = grouped.solve, {}

    def spy(problem, config, *args, **kwargs):
        seen[problem.num_categories] = config
        return real(problem, replace(config, steps=1), *args, **kwargs)  # one step is enough to see the settings

    monkeypatch.setattr(grouped, "solve", spy)
    big = [(ROOT / "puzzles" / name).read_text().splitlines()[-1] for name in ("16x16.txt", "25x25.txt")]
    source = tmp_path / "mixed.txt"
    source.write_text("\n".join([PUZZLE, *big]) + "\n")
    result = CliRunner().invoke(app, ["sudoku", str(source), "--seed", "3", "--quiet"])
    assert result.exit_code in (0, 1), result.output
    assert seen[4] == replace(DEFAULTS, seed=3)
    assert seen[16] == replace(sudoku_defaults(16), seed=3) and seen[25] == replace(sudoku_defaults(25), seed=3)
    result = CliRunner().invoke(app, ["sudoku", str(source), "--reset-every", str(DEFAULTS.reset_every), "--quiet"])
    assert {config.reset_every for config in seen.values()} == {DEFAULTS.reset_every}
