"""Ctrl-C and ``kill`` on every command that runs long: exit 130, a one-line note and no traceback.

Each run is a real process that sends itself the signal right after its 3rd optimiser step (``start_signalled``:
an event in the run, not a clock), on settings that cannot finish by then (a million steps, a learning rate too
small to solve, or an unsatisfiable instance). ``sudoku`` and ``batch`` have their own, more detailed interrupt
tests (what is saved, resuming) in ``test_reliability.py`` and ``test_batch.py``.
"""

from __future__ import annotations

import json
import signal

import pytest
from conftest import PUZZLES, start_signalled

LONG = ["--steps", "1000000", "--lr", "1e-4"]
SOLVER_STEP = "redge_solve.optim:Adam.step"  # once per step of every solve() (sudoku, latin, queens, ...)
TORCH_STEP = "torch.optim:Adam.step"  # once per step of the bench experiments


def two_colour_australia(tmp_path) -> str:
    """The shipped map-colouring spec with two colours: WA, NT and SA are pairwise adjacent, so no solution."""
    spec = json.loads((PUZZLES / "specs" / "australia.json").read_text())
    spec["values"], spec["forbidden"] = ["red", "green"], []
    path = tmp_path / "two.json"
    path.write_text(json.dumps(spec))
    return str(path)


COMMANDS = {
    "compare": lambda tmp: (["compare", PUZZLES / "graphs", "-e", "st", "--seeds", "1", "--colors", "2", *LONG,
                             "--out", tmp / "cmp"], SOLVER_STEP),
    "latin": lambda tmp: (["latin", PUZZLES / "latin" / "squares.txt", *LONG], SOLVER_STEP),
    "queens": lambda tmp: (["queens", "40", *LONG], SOLVER_STEP),
    "color": lambda tmp: (["color", PUZZLES / "graphs" / "petersen.col", "--colors", "2", *LONG], SOLVER_STEP),
    "solve": lambda tmp: (["solve", two_colour_australia(tmp), *LONG], SOLVER_STEP),
    "bench-poly": lambda tmp: (["bench", "poly", "--steps", "1000000", "--seeds", "1", "-e", "st", "-q",
                                "--out", tmp / "poly"], TORCH_STEP),
}


# one signal per command, alternating (a process each costs a torch import): both paths for the shared code
SIGNALS = dict(zip(COMMANDS, [signal.SIGTERM, signal.SIGINT] * 3, strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("command", list(COMMANDS))
def test_long_commands_exit_130_on_interrupt_without_a_traceback(command, tmp_path):
    sig = SIGNALS[command]
    args, hook = COMMANDS[command](tmp_path)
    process = start_signalled(args, hook, 3, sig)
    stdout, stderr = process.communicate()
    assert process.returncode == 130, f"{command}: exit {process.returncode}\n{stdout[-2000:]}\n{stderr[-2000:]}"
    assert "Traceback" not in stdout + stderr
    assert "interrupt" in (stdout + stderr).lower(), stderr
