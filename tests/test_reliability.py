"""What happens when things go wrong (issue 11): fuzzed input files for every file-reading command, numeric faults,
interrupts with real signals, resume with other settings, memory-sized sub-batches, byte-identical reruns.

Adding a file-reading command to the fuzzing is one line in ``FILE_COMMANDS``.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import signal
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import torch
from conftest import ROOT, grids_4, start_signalled
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from redge_solve import memory
from redge_solve import solver as solver_module
from redge_solve.cli import app
from redge_solve.memory import BUDGET_ENV, bytes_per_puzzle, puzzles_per_batch
from redge_solve.problems.sudoku import SudokuBatch
from redge_solve.runs.batch import settings_path
from redge_solve.runs.records import sudoku_records
from redge_solve.solver import Interrupted, SolverConfig, _head, restarts_at, solve

TINY = ["--steps", "5", "--samples", "1", "--restarts", "1"]
SOLUTION_4 = "1234341221434321"
SOLUTION_9 = "438176529921538746765942831384765912176329485592481673859217364613894257247653198"
# 50 files per command in the suite (derandomized: the same 50 every run, a regression corpus of 400 files that
# covers every mutation kind and layout many times over); a search for new failures takes more, e.g.
# REDGE_FUZZ_EXAMPLES=1000 (200 was the suite's count until the suite had to fit in 4 minutes: 90 s of its 350)
FUZZ = settings(max_examples=int(os.environ.get("REDGE_FUZZ_EXAMPLES", "50")), deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


# ---- the puzzles a fuzzed file is made of --------------------------------------------------------------------------


def relabel(solution: str, perm: list[int]) -> str:
    return "".join(str(perm[int(c) - 1]) for c in solution)


def one_blank(draw, side: int) -> tuple[str, str]:
    """A valid puzzle one cell from solved, and its solution: the tiny settings solve it at step 1 (a correct
    sample, else the mode: Adam's first step raises exactly the missing digit's logit)."""
    base = SOLUTION_4 if side == 4 else SOLUTION_9
    perm = draw(st.permutations(list(range(1, side + 1))))
    solution = relabel(base, perm)
    hole = draw(st.integers(0, len(solution) - 1))
    return solution[:hole] + draw(st.sampled_from("0.")) + solution[hole + 1:], solution


@dataclass
class Item:
    """One puzzle of a generated file: its bytes, and whether it must be solved ('good'), must be reported
    ('bad'), or may be either ('maybe': a mutation that can happen to give a valid puzzle)."""

    data: bytes
    kind: str
    line: int = 0  # set when the file is assembled


NOISE = "0123456789.xyz!?*@~^ "


@st.composite
def mutated(draw, puzzle: str) -> Item:
    """A puzzle string broken in one of the ways real files are: truncated, too long, a bad character, clues that
    conflict, a huge line, bytes that are not UTF-8, random text."""
    how = draw(st.sampled_from(["truncate", "extend", "badchar", "conflict", "long", "utf8", "random"]))
    if how == "truncate":
        return Item(puzzle[:draw(st.integers(1, len(puzzle) - 1))].encode(), "maybe")
    if how == "extend":
        return Item((puzzle + draw(st.text("0123456789", min_size=1, max_size=70))).encode(), "maybe")
    if how == "badchar":
        at = draw(st.integers(0, len(puzzle) - 1))
        return Item((puzzle[:at] + draw(st.sampled_from("xyz!?*@~^")) + puzzle[at + 1:]).encode(), "bad")
    if how == "conflict":
        return Item(("11" + puzzle[2:]).encode() if len(puzzle) == 16 else ("55" + "0" * 79).encode(), "bad")
    if how == "long":
        return Item(draw(st.sampled_from("0123456789")).encode() * draw(st.integers(300, 20000)), "maybe")
    if how == "utf8":
        at = draw(st.integers(0, len(puzzle)))
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xe2\x82", b"\x80"]))
        return Item(puzzle[:at].encode() + bad + puzzle[at:].encode(), "bad")
    text = draw(st.text(NOISE, min_size=1, max_size=120).filter(lambda t: t.strip()))
    return Item(text.encode(), "maybe")


@st.composite
def text_item(draw) -> Item:
    """A good puzzle in one of the text layouts (line, tdoku, grid over lines), or a broken line."""
    puzzle, solution = one_blank(draw, draw(st.sampled_from([4, 4, 4, 9])))
    layout = draw(st.sampled_from(["line", "tdoku", "grid", "bad", "bad", "badtdoku"]))
    if layout == "line":
        return Item((puzzle + draw(st.sampled_from(["", "  # a comment"]))).encode(), "good")
    if layout == "tdoku":
        return Item(f"{puzzle}:1:{solution}".encode(), "good")
    if layout == "grid":
        side = int(len(puzzle) ** 0.5)
        rows = [puzzle[r * side:(r + 1) * side] for r in range(side)]
        return Item("\n".join(" ".join(row) for row in rows).encode(), "good")
    if layout == "badtdoku":
        return Item(f"{puzzle}:abc".encode(), "bad")
    return draw(mutated(puzzle))


@st.composite
def text_file(draw) -> tuple[bytes, list[Item]]:
    """Puzzles separated by blank lines (so that short broken lines do not join into a grid), some comments."""
    items = draw(st.lists(text_item(), min_size=1, max_size=8))
    parts: list[bytes] = []
    line = 1
    for item in items:
        if draw(st.booleans()):
            parts.append(b"# comment\n")
            line += 1
        item.line = line
        parts.append(item.data + b"\n\n")
        line += item.data.count(b"\n") + 2
    return b"".join(parts), items


HEADERS = ["puzzle,solution,note", "note,puzzle,solution", "puzzle,puzzle,note", "puzzle;solution;note",
           "puzzle\tsolution\tnote"]


@st.composite
def csv_file(draw, headers: list[str] = HEADERS) -> tuple[bytes, list[Item]]:
    """A CSV/TSV with a puzzle column: good rows, broken puzzles, rows with missing or extra columns."""
    header = draw(st.sampled_from(headers))
    delimiter = next(d for d in ",;\t" if d in header)
    names = header.split(delimiter)
    items = []
    for number in range(2, 2 + draw(st.integers(1, 8))):
        puzzle, solution = one_blank(draw, draw(st.sampled_from([4, 4, 4, 9])))
        values = {"puzzle": puzzle, "solution": draw(st.sampled_from(["", solution])), "note": "n"}
        kind = "good"
        shape = draw(st.sampled_from(["ok", "ok", "mutate", "missing", "extra"]))
        if shape == "mutate":
            item = draw(mutated(puzzle))
            if delimiter.encode() in item.data:
                item = Item(b"xyz", "bad")
            fields = [item.data if name == "puzzle" else values[name].encode() for name in names]
            kind = item.kind
        else:
            fields = [values[name].encode() for name in names]
        if shape == "missing":
            fields = fields[:draw(st.integers(0, len(fields) - 1))]
            kind = "good" if names.index("puzzle") < len(fields) else "bad"
        if shape == "extra":
            fields = fields + [b"extra"] * draw(st.integers(1, 3))
        items.append(Item(delimiter.encode().join(fields) or b"-", kind, number))
    return header.encode() + b"\n" + b"".join(item.data + b"\n" for item in items), items


SCALARS = st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(allow_nan=False) | st.text(max_size=20)
JSON_VALUES = SCALARS | st.lists(SCALARS, max_size=3) | st.dictionaries(st.text(max_size=8), SCALARS, max_size=3)


@st.composite
def results_file(draw) -> tuple[bytes, list[Item]]:
    """A results JSONL (what ``batch`` writes) with fields of the wrong type, garbage and cut lines."""
    lines = []
    for index in range(draw(st.integers(1, 6))):
        puzzle, solution = one_blank(draw, 4)
        record = {"index": index, "puzzle": puzzle, "grid": solution, "found": True, "solved_last": False,
                  "solved_mode": True, "solved_any": False, "first_solved_step": draw(st.integers(1, 50)),
                  "mean_sample_penalty": 0.0, "violations": 0, "matches_solution": None, "verified": True,
                  "steps_run": 3, "seconds": 0.01, "meta": {"difficulty": draw(st.sampled_from(["easy", "hard"]))}}
        if draw(st.booleans()):
            record = {"index": index, "puzzle": puzzle, "error": "bad puzzle"}
        how = draw(st.sampled_from(["ok", "ok", "retype", "garbage", "cut"]))
        if how == "retype":
            record[draw(st.sampled_from(sorted(record)))] = draw(JSON_VALUES)
        line = json.dumps(record).encode()
        if how == "garbage":
            line = draw(st.binary(max_size=40)).replace(b"\n", b" ")
        if how == "cut":
            line = line[:draw(st.integers(1, len(line) - 1))]
        lines.append(Item(line, "maybe", index + 1))
    return b"".join(item.data + b"\n" for item in lines), lines


# ---- the commands that read files ------------------------------------------------------------------------------------


def jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


@dataclass(frozen=True)
class FileCommand:
    """A command that reads a puzzle file. per_puzzle: it reports each bad puzzle on its own and solves the rest
    (else it may refuse the whole file, with one line); records: its result records, each with the ``line`` of
    its puzzle (``index`` + 2 for a one-line-header CSV read as a table)."""

    name: str
    argv: Callable[[Path, Path], list[str]]
    files: st.SearchStrategy
    suffix: str
    per_puzzle: bool
    records: Callable[[Path], list[dict]] = jsonl


def _table_lines(path: Path) -> list[dict]:
    return [dict(record, line=record["index"] + 2) for record in jsonl(path)]


@st.composite
def mutated_file(draw, *examples: str) -> tuple[bytes, list[Item]]:
    """A shipped example file (Latin squares, DIMACS graphs, JSON specs) cut, with bytes flipped, lines duplicated,
    invalid UTF-8 or a very long line: these commands may refuse the whole file (one line, exit 2), never crash."""
    data = bytearray((ROOT / draw(st.sampled_from(examples))).read_bytes())
    for _ in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["cut", "flip", "insert", "duplicate", "long", "bad-utf8"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "cut":
            del data[at:]
        elif op == "flip" and data:
            data[at] = draw(st.integers(1, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=8)).replace(b"\x00", b"")
        elif op == "duplicate":
            lines = bytes(data).splitlines(keepends=True)
            if lines:
                line = draw(st.sampled_from(lines))
                data[at:at] = line
        elif op == "long":
            data[at:at] = draw(st.sampled_from([b"1", b".", b" e 1 2", b"0"])) * 20_000
        elif op == "bad-utf8":
            data[at:at] = b"\xff\xfe"
    return bytes(data), []


FILE_COMMANDS = [
    FileCommand("sudoku", lambda f, o: ["sudoku", f, *TINY, "--out", o, "-q"], text_file(), ".txt", True),
    FileCommand("sudoku-csv", lambda f, o: ["sudoku", f, *TINY, "--out", o, "-q"], csv_file(), ".csv", True),
    FileCommand("batch", lambda f, o: ["batch", f, *TINY, "--out", o], csv_file(HEADERS[:3]), ".csv", False,
                _table_lines),
    FileCommand("compare", lambda f, o: ["compare", f, "-e", "st", "--seeds", "1", *TINY, "-q"],
                csv_file(HEADERS[:3]), ".csv", False, lambda o: []),
    FileCommand("report", lambda f, o: ["report", f], results_file(), ".jsonl", False, lambda o: []),
    FileCommand("latin", lambda f, o: ["latin", f, *TINY, "-q"], mutated_file("puzzles/latin/squares.txt"), ".txt",
                False, lambda o: []),
    FileCommand("color", lambda f, o: ["color", f, "--colors", "4", *TINY, "-q"],
                mutated_file("puzzles/graphs/petersen.col", "puzzles/graphs/myciel3.col"), ".col", False, lambda o: []),
    FileCommand("solve", lambda f, o: ["solve", f, *TINY, "-q"], mutated_file("puzzles/specs/australia.json"),
                ".json", False, lambda o: []),
]

LINE_MESSAGE = re.compile(r"^(?:skipped|bad puzzle|error|failed): .*? line (\d+): ")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A scratch folder, and a private datasets cache so fuzzing leaves nothing in ~/.cache."""
    import datasets

    path = tmp_path_factory.mktemp("fuzz")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(datasets.config, "HF_DATASETS_CACHE", str(path / "hf-cache"))
        yield path


@pytest.mark.slow
@pytest.mark.parametrize("command", FILE_COMMANDS, ids=lambda c: c.name)
def test_fuzzed_files_never_crash_and_lose_no_good_puzzle(command, workdir):
    counter = itertools.count()

    @FUZZ
    @given(command.files, st.booleans(), st.integers(0, 9))
    def check(file, with_nul, nul_at):
        data, items = file
        if with_nul and nul_at == 0:  # sometimes a NUL byte: a binary file, refused as a whole
            data = data[:len(data) // 2] + b"\x00" + data[len(data) // 2:]
        n = next(counter)
        source, out = workdir / f"{command.name}{n}{command.suffix}", workdir / f"{command.name}{n}.jsonl"
        source.write_bytes(data)
        result = CliRunner().invoke(app, [str(a) for a in command.argv(source, out)])
        output = result.output
        event(f"exit code {result.exit_code}")
        assert result.exit_code in (0, 1, 2), output
        assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
        assert "Traceback" not in output
        if result.exit_code == 2:
            errors = [line for line in output.splitlines() if line.startswith("error:")]
            assert len(errors) == 1 and output.strip().splitlines()[-1] == errors[0], output
            if command.per_puzzle and b"\x00" not in data:
                assert not any(item.kind == "good" for item in items), output  # a good puzzle is never lost
                named = [int(m.group(1)) for m in map(LINE_MESSAGE.match, output.splitlines()) if m]
                if named:  # each bad puzzle was named exactly once
                    assert sorted(named) == sorted(item.line for item in items), output
            return
        if b"\x00" in data:  # read by pandas as a character: no file-level refusal, the puzzle it falls in is bad
            assert not command.per_puzzle, output
            return
        records = command.records(out)
        if records and all(r.get("found") is True for r in records):
            assert result.exit_code == 0, output  # every puzzle read was solved
        if any(r.get("found") is False for r in records):
            assert result.exit_code == 1, output  # some puzzle left unsolved
        if command.per_puzzle or records:
            by_line = {}
            for record in records:
                assert record["line"] not in by_line, "two records for one puzzle"
                by_line[record["line"]] = record
            assert sorted(by_line) == sorted(item.line for item in items), output
            for item in items:
                record = by_line[item.line]
                if item.kind == "good":
                    assert record.get("found") is True, (item, record)
                if item.kind == "bad":
                    assert record.get("error"), (item, record)
        if command.per_puzzle:  # one message per bad puzzle, naming its line
            named = sorted(int(m.group(1)) for m in map(LINE_MESSAGE.match, output.splitlines()) if m)
            assert named == sorted(r["line"] for r in records if "error" in r), output

    check()


# ---- numeric faults -------------------------------------------------------------------------------------------------


@dataclass
class Poisoned:
    """A Sudoku batch whose penalty is NaN for the marked puzzles: their gradient, hence their logits, become NaN."""

    inner: SudokuBatch
    poison: torch.Tensor  # (I,) bool

    var_instance = property(lambda self: self.inner.var_instance)
    dtype = property(lambda self: self.inner.dtype)
    num_instances = property(lambda self: self.inner.num_instances)
    num_variables = property(lambda self: self.inner.num_variables)
    num_categories = property(lambda self: self.inner.num_categories)

    def penalty(self, x):
        scale = torch.where(self.poison, float("nan"), 1.0)  # (a where() over value would leak NaN gradients)
        return self.inner.penalty(x) * scale

    def penalties(self, x, weights=None):  # the weighted and the unweighted penalty, both poisoned
        value = self.penalty(x) if weights is None else self.inner.penalty(x, weights) * self._scale()
        return value, self.penalty(x.detach())

    def _scale(self):
        return torch.where(self.poison, float("nan"), 1.0)

    def fill(self, x):
        return self.inner.fill(x)

    def repeat(self, times):
        return Poisoned(self.inner.repeat(times), self.poison.repeat_interleave(times))

    def select(self, keep):
        return Poisoned(self.inner.select(keep), self.poison[keep])

    def variable_mask(self, keep):
        return self.inner.variable_mask(keep)

    def deduce(self, level):
        return Poisoned(self.inner.deduce(level), self.poison)

    def candidates(self):
        return self.inner.candidates()

    def expected_penalty(self, probs):
        return self.inner.expected_penalty(probs)


def puzzles_4(count: int, blanks: int, seed: int = 0) -> torch.Tensor:
    rng = random.Random(seed)
    grids = []
    for perm in itertools.islice(itertools.permutations([1, 2, 3, 4]), count):
        grid = [int(c) for c in relabel(SOLUTION_4, list(perm))]
        for cell in rng.sample(range(16), blanks):
            grid[cell] = 0
        grids.append(grid)
    return torch.tensor(grids)


def test_a_diverging_puzzle_leaves_the_batch_and_the_others_are_unchanged():
    grids = puzzles_4(4, blanks=9)
    config = SolverConfig(steps=40, samples=2, restarts=2, lr=0.2, seed=1, deduce="none", weight_step=0.0)
    poison = torch.tensor([False, True, False, False])
    mixed = solve(Poisoned(SudokuBatch.from_grids(grids), poison), config)
    clean = solve(SudokuBatch.from_grids(grids), config)
    assert mixed.diverged_step.tolist() == [-1, 1, -1, -1]  # found within its first step
    assert not mixed.found[1] and mixed.steps_run[1] == 1
    keep = ~poison
    for name in ("found", "solution", "first_solved_step", "steps_run", "penalty", "solved_mode"):
        assert torch.equal(getattr(mixed, name)[keep], getattr(clean, name)[keep]), name


def test_sudoku_and_batch_report_a_diverged_puzzle_with_its_step_and_solve_the_rest(tmp_path):
    text = SOLUTION_4 + "\n\n" + "0" * 16 + "\n"  # a complete grid (nothing to optimise) and a blank one
    source = tmp_path / "p.txt"
    source.write_text(text)
    diverge = ["-e", "gumbel", "-p", "tau=1e-38", *TINY]  # (θ + G) / τ overflows: NaN gradients at step 1
    result = CliRunner().invoke(app, ["sudoku", str(source), *diverge, "--out", str(tmp_path / "r.jsonl")])
    assert result.exit_code == 1, result.output
    assert "failed: puzzle 2 line 3: solver diverged: logits became NaN/inf at step 1" in result.output
    records = jsonl(tmp_path / "r.jsonl")
    assert records[0]["found"] and records[0]["verified"]
    assert "grid" not in records[1] and records[1]["error"].startswith("solver diverged")

    csv = tmp_path / "p.csv"
    csv.write_text(f"puzzle\n{SOLUTION_4}\n{'0' * 16}\n")
    result = CliRunner().invoke(app, ["batch", str(csv), *diverge, "--out", str(tmp_path / "b.jsonl")])
    assert result.exit_code == 1, result.output
    rows = jsonl(tmp_path / "b.jsonl")
    assert rows[0]["found"] and "grid" not in rows[1]
    assert rows[1]["error"].startswith("solver diverged: logits became NaN/inf at step 1")


@pytest.mark.parametrize("options, needle", [
    # one estimator parameter per command: the estimators' checks themselves are tested in test_estimators.py
    (["-e", "redge", "-p", "n_steps=0"], "n_steps must be an integer >= 1"),
    (["-e", "reinforce", "--samples", "1"], "reinforce needs at least 2 samples per step"),
    (["--lr", "1e38"], "lr must be a number > 0 and <= 1e+37"),
    (["--lr", "nan"], "lr must be a number > 0"),
])
@pytest.mark.parametrize("command", ["sudoku", "batch", "compare"])
def test_parameters_outside_their_domain_are_refused_before_any_work(tmp_path, command, options, needle):
    source = tmp_path / "p.csv"
    source.write_text(f"puzzle\n{SOLUTION_4[:-1]}0\n")
    args = {"sudoku": ["sudoku", str(source)], "batch": ["batch", str(source), "--out", str(tmp_path / "r.jsonl")],
            "compare": ["compare", str(source), "-e", options[1] if options[0] == "-e" else "st", "--seeds", "1"]}
    extra = options[2:] if command == "compare" and options[0] == "-e" else options
    if command == "compare" and extra[:1] == ["-p"]:
        extra = ["--param", f"{options[1]}.{extra[1]}"]
    result = CliRunner().invoke(app, [*args[command], *extra])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and needle in result.output
    assert not (tmp_path / "r.jsonl").exists() and not settings_path(tmp_path / "r.jsonl").exists()


def test_reinforce_with_restarts_learns_every_puzzle():
    # 6 puzzles of 12 blanks (4^12 = 16.8 M fills, at most 6 valid): at uniform logits a sample's mean penalty is
    # E0 = 33.5-35 and 1200 samples find a solution with probability < 1e-3, so only learning passes. After 150
    # steps every puzzle's last samples (4 per restart, 2 restarts) must average under E0 / 2 (measured: 3-11 on
    # seeds 0-3 at lr 0.2; 28-42 at lr 1e-30, i.e. without learning) and some puzzle must have been solved
    problem = SudokuBatch.from_grids(grids_4(6, blanks=12))
    uniform = problem.expected_penalty(torch.full((problem.num_variables, problem.num_categories), 0.25))
    results = solve(problem, SolverConfig(estimator="reinforce", steps=150, samples=4, restarts=2, lr=0.2,
                                          deduce="none", weight_step=0.0, early_stop=False))
    assert bool((results.penalty < uniform / 2).all()), (results.penalty, uniform)
    assert bool(results.found.any())


# ---- interrupts, with real processes and signals ---------------------------------------------------------------------


STEP = "redge_solve.optim:Adam.step"  # once per solver step (the penalty itself is not: with breakout weights
# the loop evaluates the weighted and unweighted penalties together)


def _mixed_9x9(easy: int, hard: int) -> list[str]:
    """``easy`` puzzles one cell from solved (done at step 1) and ``hard`` blank grids (never done)."""
    lines = [relabel(SOLUTION_9, [(d + i) % 9 + 1 for d in range(9)])[:-1] + "0" for i in range(easy)]
    return lines + ["0" * 81] * hard


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_sudoku_interrupted_prints_and_saves_what_was_solved_and_exits_130(tmp_path, sig):
    source = tmp_path / "p.txt"
    source.write_text("xyz\n" + "\n".join(_mixed_9x9(3, 2)) + "\n")  # the bad first line is reported at the start
    out = tmp_path / "r.jsonl"
    # the signal arrives right after step 20's Adam step, well past step 1 when the three easy puzzles were solved
    process = start_signalled(["sudoku", source, "--steps", "1000000", "--lr", "1e-4", "--samples", "1",
                               "--restarts", "1", "--out", out], STEP, 20, sig)
    stdout, stderr = process.communicate()
    assert "line 1" in stderr.splitlines()[0], stderr  # "skipped: ... line 1: ..." comes before solving starts
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "interrupted: 3 of 5 puzzle(s) solved before the interrupt" in stderr
    assert stdout.count("solved at step 1") == 3
    records = jsonl(out)  # written atomically: whole, and no temporary file left
    assert [r["line"] for r in records] == [1, 2, 3, 4]
    assert "error" in records[0] and all(r["found"] and r["verified"] for r in records[1:])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([source.name, out.name])


@pytest.mark.slow
def test_batch_interrupted_keeps_finished_rows_of_the_chunk_in_flight_and_resume_completes(tmp_path):
    source = tmp_path / "p.csv"
    source.write_text("puzzle\n" + "\n".join(_mixed_9x9(3, 2)) + "\n")
    out = tmp_path / "r.jsonl"
    args = ["batch", source, "--steps", "1000000", "--lr", "1e-4", "--samples", "1", "--restarts", "1", "--out", out]
    process = start_signalled(args, STEP, 20, signal.SIGINT)  # Ctrl-C after step 20 of the one chunk
    _, stderr = process.communicate()
    assert process.returncode == 130, stderr
    assert "3 rows of this run are saved" in stderr and "--resume" in stderr
    saved = jsonl(out)
    assert sorted(r["index"] for r in saved) == [0, 1, 2] and all(r["found"] for r in saved)

    result = CliRunner().invoke(app, ["batch", str(source), "--steps", "1000000", "--lr", "1e-4", "--samples", "1",
                                      "--restarts", "1", "--out", str(out), "--resume", "--limit", "3"])
    assert result.exit_code == 0, result.output  # nothing left to do among the first three rows
    assert len(jsonl(out)) == 3


# ---- resume with other settings --------------------------------------------------------------------------------------


def test_resume_refuses_other_solver_settings_but_not_another_chunk_size(tmp_path):
    source = tmp_path / "p.csv"
    source.write_text("puzzle\n" + "\n".join(relabel(SOLUTION_4, [1, 2, 3, 4])[:-1] + "0" for _ in range(4)) + "\n")
    out = tmp_path / "r.jsonl"
    base = ["batch", str(source), "--out", str(out), "-e", "gumbel", "-p", "tau=1", *TINY]
    assert CliRunner().invoke(app, [*base, "--limit", "2"]).exit_code == 0
    recorded = json.loads(settings_path(out).read_text())["by_size"]["4x4"]
    assert recorded["estimator"] == "gumbel" and recorded["params"] == {"tau": 1.0} and recorded["steps"] == 5

    other = CliRunner().invoke(app, [*base, "--resume", "--steps", "6"])
    assert other.exit_code == 2
    assert "--resume needs the same ones: steps 6 (was 5)" in other.output
    assert len(jsonl(out)) == 2  # nothing written

    same = CliRunner().invoke(app, [*base[:6], "-p", "tau=1.0", *TINY, "--resume", "--chunk-size", "1"])
    assert same.exit_code == 0, same.output
    assert sorted(r["index"] for r in jsonl(out)) == [0, 1, 2, 3]

    settings_path(out).unlink()  # results written before settings were recorded: resumed with a warning
    old = CliRunner().invoke(app, [*base, "--resume"])
    assert old.exit_code == 0 and "no record of its solver settings" in old.output
    assert settings_path(out).exists()


def test_results_recorded_before_the_pre_step_and_breakout_weights_resume_only_with_them_off(tmp_path):
    """A settings record written before ``deduce``/``weight_step`` (and ``init_std``/``reset_every``) existed has no
    such keys: the solver then ran with them off, so resuming with them off continues, with the new defaults not."""
    source = tmp_path / "p.csv"
    source.write_text("puzzle\n" + "\n".join(relabel(SOLUTION_4, [1, 2, 3, 4])[:-1] + "0" for _ in range(4)) + "\n")
    out = tmp_path / "r.jsonl"
    off = ["--deduce", "none", "--weight-step", "0", "--reset-every", "0"]
    base = ["batch", str(source), "--out", str(out), *TINY]
    assert CliRunner().invoke(app, [*base, *off, "--limit", "2"]).exit_code == 0
    record = {"settings": json.loads(settings_path(out).read_text())["by_size"]["4x4"]}  # one config: older records
    for key in ("deduce", "weight_step", "init_std", "reset_every"):
        del record["settings"][key]  # as an old run wrote it
    settings_path(out).write_text(json.dumps(record))

    new_defaults = CliRunner().invoke(app, [*base, "--resume"])
    assert new_defaults.exit_code == 2 and "deduce 'singles' (was 'none')" in new_defaults.output
    assert len(jsonl(out)) == 2
    old_settings = CliRunner().invoke(app, [*base, *off, "--resume"])
    assert old_settings.exit_code == 0, old_settings.output
    assert sorted(r["index"] for r in jsonl(out)) == [0, 1, 2, 3]


# ---- memory: sub-batches sized from a budget -------------------------------------------------------------------------


def _without_timing(results) -> dict:
    return {name: value for name, value in vars(results).items() if name != "seconds"}


def _same(got, value) -> bool:
    """One field of two runs' results alike: tensors bit for bit, the rest (the curve, fields left None) equal."""
    return torch.equal(got, value) if isinstance(value, torch.Tensor) else got == value


def test_a_batch_over_the_memory_budget_is_split_and_gives_the_same_results():
    grids = puzzles_4(7, blanks=9, seed=3)
    config = SolverConfig(steps=20, samples=2, restarts=2, lr=0.2, seed=5, deduce="none", weight_step=0.0)
    problem = SudokuBatch.from_grids(grids)
    per_puzzle = bytes_per_puzzle(9, 4, restarts=2, samples=2)
    variables = torch.bincount(problem.var_instance).tolist()
    assert max(variables) == 9
    assert puzzles_per_batch(variables, 4, restarts=2, samples=2, memory=3 * per_puzzle) == 3
    assert puzzles_per_batch(variables, 4, restarts=2, samples=2, memory=1) == 1
    whole = solve(problem, config, memory_budget=1 << 40)
    seen = []
    split = solve(problem, config, memory_budget=3 * per_puzzle, on_step=lambda p: seen.append((p.total, p.solved)))
    assert {total for total, _ in seen} == {7}  # progress speaks of the whole batch
    one_by_one = solve(problem, config, memory_budget=1)
    for name, value in _without_timing(whole).items():
        for other in (split, one_by_one):
            got = getattr(other, name)
            assert _same(got, value), name
    assert 0 < int(whole.found.sum()) < 7 or len(set(whole.steps_run.tolist())) > 1


def test_puzzles_whose_restarts_outgrow_the_budget_go_on_in_smaller_parts_with_the_same_results():
    # restarts 2 -> 4 at step 41 -> 8 at step 81 (a fresh start every 10 steps, doubling every 4th): a budget of 3
    # puzzles at 2 restarts holds 1 at 4, so the puzzles unsolved at step 41 go on one by one from there
    grids = puzzles_4(7, blanks=10, seed=3)
    config = SolverConfig(steps=100, samples=2, restarts=2, max_restarts=8, reset_every=10, lr=0.5, seed=5,
                          deduce="none", weight_step=0.0)
    problem = SudokuBatch.from_grids(grids)
    budget = 3 * bytes_per_puzzle(9, 4, restarts=2, samples=2)
    assert puzzles_per_batch([10] * 7, 4, restarts=4, samples=2, memory=budget) == 1
    whole = solve(problem, config, memory_budget=1 << 40)
    steps: list[tuple[int, int, int]] = []
    starts: list[int] = []
    parts = solve(problem, config, memory_budget=budget,
                  on_step=lambda p: (steps.append((p.step, p.solved, p.active)), starts.append(p.from_step)))
    for name, value in _without_timing(whole).items():
        got = getattr(parts, name)
        assert _same(got, value), name
    assert (whole.first_solved_step > 41).sum() >= 2  # puzzles found after the split: their parts went on rightly
    goes_back_to_41 = [i for i in range(1, len(steps)) if steps[i][0] == 41 and steps[i - 1][0] > 41]
    assert goes_back_to_41  # a part went on from the growth step after another had run past it
    assert all(starts[i] == 41 for i in goes_back_to_41) and starts[0] == 1
    assert all(solved <= 7 for _, solved, _ in steps) and steps[-1][1] == int(whole.found.sum())


def _growing_restarts(count: int, seed: int, steps: int):
    """``count`` 4×4 puzzles with 10 blanks whose restarts grow 2 → 4 at step 41 → 8 at step 81 (a fresh start every
    10 steps): the problem, the settings and their results in one batch."""
    config = SolverConfig(steps=steps, samples=2, restarts=2, max_restarts=8, reset_every=10, lr=0.5, seed=5,
                          deduce="none", weight_step=0.0)
    problem = SudokuBatch.from_grids(puzzles_4(count, blanks=10, seed=seed))
    return problem, config, solve(problem, config)


def test_grown_restarts_go_on_in_cache_sized_parts_with_the_same_results(monkeypatch):
    # on the CPU, puzzles whose restarts have grown go on in parts of at most memory.CACHE_LOGITS logits (here room
    # for one puzzle at 4 restarts), while the first part holds every puzzle the memory budget allows
    problem, config, whole = _growing_restarts(7, seed=3, steps=100)
    monkeypatch.setattr(memory, "CACHE_LOGITS", 4 * 10 * 4)
    assert memory.parts_in_cache([10] * 7, 4, restarts=4) == 1 and memory.parts_in_cache([10], 4, restarts=8) == 1
    steps: list[tuple[int, int]] = []
    parts = solve(problem, config, on_step=lambda p: steps.append((p.step, p.active)))
    for name, value in _without_timing(whole).items():
        assert _same(getattr(parts, name), value), name
    assert steps[0] == (1, 7)  # the first part is not cut to the cache
    going_on = [i for i in range(1, len(steps)) if steps[i][0] == 41 and steps[i - 1][0] > 41]
    unsolved_at_41 = int(((whole.first_solved_step > 40) | ~whole.found).sum())
    assert unsolved_at_41 >= 2 and len(going_on) == unsolved_at_41 - 1  # one part per puzzle, each from step 41


def test_parts_down_to_half_wait_at_a_fresh_start_and_go_on_together_with_the_same_results(monkeypatch):
    # room for 4 puzzles at 4 restarts and 2 at 8 (a fresh start every 10 steps; growth at 41 and 81): a part down
    # to half of that waits at its next fresh start for the queued parts of its sub-batch to reach that step, and
    # they go on together, cut to size again
    problem, config, whole = _growing_restarts(12, seed=1, steps=200)
    monkeypatch.setattr(memory, "CACHE_LOGITS", 2 * 8 * 10 * 4)
    runs: list[tuple[int, int]] = []
    run_part = solver_module._solve_batch

    def recorded(sub, config, ids, part, *args, **kwargs):
        runs.append((part.first_step, len(part.positions)))
        return run_part(sub, config, ids, part, *args, **kwargs)

    monkeypatch.setattr(solver_module, "_solve_batch", recorded)
    parts = solve(problem, config)
    for name, value in _without_timing(whole).items():
        assert _same(getattr(parts, name), value), name
    room = {step: memory.parts_in_cache([10], 4, restarts=restarts_at(config, step)) for step, _ in runs}
    assert all(size <= room[step] for step, size in runs[1:])
    joined = [(step, size) for step, size in runs if step not in (1, 41, 81) and 2 * size > room[step]]
    assert joined  # puzzles that waited at a fresh start went on together, more than either part had alone


def test_interrupted_split_solve_carries_the_finished_puzzles():
    grids = puzzles_4(5, blanks=9, seed=3)
    config = SolverConfig(steps=30, samples=2, restarts=2, lr=0.2, seed=5, deduce="none", weight_step=0.0)
    calls = []

    def stop_in_the_second_sub_batch(progress):
        calls.append(progress.step)
        if len(calls) > 1 and progress.step == 1:
            raise KeyboardInterrupt

    with pytest.raises(Interrupted) as caught:
        solve(SudokuBatch.from_grids(grids), config, memory_budget=3 * bytes_per_puzzle(9, 4, restarts=2, samples=2),
              on_step=stop_in_the_second_sub_batch)
    partial = caught.value.results
    whole = solve(SudokuBatch.from_grids(grids), config)
    assert len(partial.found) == 5  # the first sub-batch (3 puzzles) and the one in flight (2)
    assert torch.equal(partial.solution[:3], whole.solution[:3]) and (partial.steps_run[:3] > 0).all()


def test_interrupted_before_the_first_step_carries_no_puzzle():
    def stop(progress):
        raise KeyboardInterrupt

    with pytest.raises(Interrupted) as caught:
        solve(SudokuBatch.from_grids(puzzles_4(2, blanks=9)), SolverConfig(steps=5), memory_budget=1,
              on_step=stop)
    assert len(caught.value.results.found) == 1  # the first sub-batch had reached its first step
    none = _head(solve(SudokuBatch.from_grids(puzzles_4(1, blanks=9)), SolverConfig(steps=1)), 0)
    assert sudoku_records(none, torch.zeros(0, 16, dtype=torch.long), []) == []


def test_cli_splits_under_a_small_budget_with_identical_results(tmp_path, monkeypatch):
    source = tmp_path / "p.txt"
    source.write_text("\n".join("".join(map(str, g.tolist())) for g in puzzles_4(6, blanks=8, seed=1)) + "\n")
    args = ["sudoku", str(source), "--steps", "30", "--samples", "2", "--restarts", "2", "-q", "--out"]
    CliRunner().invoke(app, [*args, str(tmp_path / "whole.jsonl")])
    monkeypatch.setenv(BUDGET_ENV, "1")  # one puzzle per sub-batch
    CliRunner().invoke(app, [*args, str(tmp_path / "split.jsonl")])
    assert _strip_seconds(tmp_path / "whole.jsonl") == _strip_seconds(tmp_path / "split.jsonl")
    monkeypatch.setenv(BUDGET_ENV, "lots")
    bad = CliRunner().invoke(app, [*args, str(tmp_path / "x.jsonl")])
    assert bad.exit_code == 2 and f"{BUDGET_ENV} must be a positive number of bytes" in bad.output


# ---- determinism -----------------------------------------------------------------------------------------------------


def _strip_seconds(path: Path) -> bytes:
    """The file's bytes with every record's wall-clock ``seconds`` removed (nothing else touched)."""
    return re.sub(rb', "seconds": [0-9.e-]+', b"", path.read_bytes())


def test_same_seed_gives_byte_identical_results_files_on_any_chunk_size(tmp_path, monkeypatch):
    source = tmp_path / "p.csv"
    rows = ["".join(map(str, g.tolist())) for g in puzzles_4(9, blanks=9, seed=2)]
    source.write_text("puzzle,note\n" + "".join(f"{p},{i}\n" for i, p in enumerate(rows)) + "12,bad\n")
    common = ["--steps", "25", "--samples", "2", "--restarts", "2", "--seed", "11"]
    files = []
    for name, chunk, budget in [("a", "1000", None), ("b", "1000", None), ("c", "2", None), ("d", "1000", "1")]:
        if budget:
            monkeypatch.setenv(BUDGET_ENV, budget)
        out = tmp_path / f"{name}.jsonl"
        result = CliRunner().invoke(app, ["batch", str(source), "--out", str(out), "--chunk-size", chunk, *common])
        assert result.exit_code == 1, result.output
        files.append(_strip_seconds(out))
    assert files[0] == files[1] == files[2] == files[3]
    assert files[0].count(b"\n") == 10 and b'"found": false' in files[0] and b'"found": true' in files[0]

    monkeypatch.delenv(BUDGET_ENV)
    txt = tmp_path / "p.txt"
    txt.write_text("\n".join(rows) + "\n")
    for name in ("s1", "s2"):
        CliRunner().invoke(app, ["sudoku", str(txt), *common, "-q", "--out", str(tmp_path / f"{name}.jsonl")])
    assert _strip_seconds(tmp_path / "s1.jsonl") == _strip_seconds(tmp_path / "s2.jsonl")
