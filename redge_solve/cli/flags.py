"""The one place where the library's words become the command line's: a library error names a setting by its field
(``samples``, ``num_workers``; in backticks inside a sentence, or bare at its start: "lr must be a number > 0"),
and ``as_flags`` writes it as the option a user types (``--samples``, ``--num-workers``)."""

from __future__ import annotations

import re

from ..settings import RUN_FIELDS

FLAGS: dict[str, str] = {
    **{name: "--" + name.replace("_", "-") for name in RUN_FIELDS},
    "estimator": "-e/--estimator", "estimators": "-e/--estimators", "params": "-p/--param", "param": "-p/--param",
    "early_stop": "--no-early-stop", "protocol": "--protocol", "device": "--device", "threads": "--threads",
    "executor": "--executor", "address": "--address", "num_workers": "--num-workers", "grid": "--grid",
    "offset": "--offset", "limit": "--limit", "colors": "--colors", "resume": "--resume", "force": "--force",
    "out": "--out", "png": "--png", "baseline": "--baseline", "puzzle_column": "--puzzle-column",
}
"""Field (of ``SolverConfig`` or another library argument) -> the option that sets it, in every command."""

QUOTED = re.compile(r"`(\w+)`")
LEADING = re.compile(r"^(\w+)(?= must )")


def as_flags(message: str) -> str:
    """``message`` with every field in backticks, and a field that starts it before "must", written as its option
    (``FLAGS``); other backticked words are left as they are."""
    message = QUOTED.sub(lambda m: FLAGS.get(m.group(1), m.group(0)), message)
    return LEADING.sub(lambda m: FLAGS.get(m.group(1), m.group(1)).split("/")[-1], message)
