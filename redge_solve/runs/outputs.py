"""Where a command may write: the one output-path policy, checked before any work starts.

A command that writes files (``sudoku --json``, ``batch --out``, ``report --png``, ``compare --out``,
``bench --out``, ``latin``/``queens``/``color``/``solve --json``) names what the user typed for the option, the
files it will write from it (the path itself, or a prefix's derived names such as ``PREFIX.csv``; see
``prefixed``) and the files it reads. ``check_outputs`` then refuses, with a one-line ``OutputRefused``:

1. an output that is one of the inputs: the same path, or the same file reached another way (a symbolic link,
   ``..``, a hard link), or an existing file inside an input directory — whatever ``force`` says;
2. an output that is an existing directory;
3. an output that is an existing non-empty file, unless ``force`` (an empty file holds nothing to lose, so
   ``--json "$(mktemp)"`` works) or ``existing_ok`` (a documented append, such as ``batch --resume``);
4. an output whose directory does not exist, is not a directory, or refuses a new file (checked by creating and
   removing a temporary file there, which is what the atomic write will do).

``-`` (standard output) is never checked. The writes themselves stay atomic (``atomic.write_atomic``). Nothing here
prints.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Iterable, Sequence

STDOUT = "-"
FORCE_HINT = "pass `force` to replace it"


class OutputRefused(ValueError):
    """An output path the policy refuses; the message is one line that names the option and the files."""


def prefixed(prefix: str | os.PathLike, suffixes: Sequence[str]) -> list[Path]:
    """The files a ``--out PREFIX`` option writes: ``PREFIX + suffix`` for each suffix (``runs`` and
    ``(".csv", ".json")`` -> ``runs.csv``, ``runs.json``), in the same folder as the prefix."""
    prefix = Path(prefix)
    return [prefix.with_name(prefix.name + suffix) for suffix in suffixes]


def check_outputs(option: str, given: str | os.PathLike | None, paths: Sequence[str | os.PathLike] | None = None,
                  inputs: Iterable[str | os.PathLike | None] = (), force: bool = False, existing_ok: bool = False,
                  hint: str = FORCE_HINT) -> list[Path]:
    """Check the files that ``option`` (as typed: ``given``) will write, before any work; see the module docstring.

    ``paths``: the files written (default: ``given`` itself). ``inputs``: every file or directory the command
    reads (``None``, ``-`` and names that are not local files, such as ``hf:owner/name``, are skipped).
    ``hint`` ends the message for an existing file. Returns ``paths`` as ``Path`` objects (empty for ``-`` or
    ``None``); raises ``OutputRefused`` for the first path refused."""
    if given is None or str(given) == STDOUT:
        return []
    targets = [Path(given)] if paths is None else [Path(p) for p in paths]
    sources = [Path(p) for p in inputs if p is not None and str(p) != STDOUT and os.path.exists(p)]
    for target in targets:
        head = f"{option} {given}" if str(target) == str(given) else f"{option} {given} would write {target}, which"
        for source in sources:
            if _same(target, source):
                if source.is_dir():
                    raise OutputRefused(f"{head} is a file of the input directory {source}; choose another output")
                note = "" if str(source) == str(target) else " (the same file)"
                raise OutputRefused(f"{head} is the input file {source}{note}; choose another output")
        if target.is_dir():
            raise OutputRefused(f"{head} is a directory")
        if target.exists() and target.stat().st_size > 0 and not (force or existing_ok):
            raise OutputRefused(f"{head} already exists; {hint}")
        problem = directory_problem(target)
        if problem:
            raise OutputRefused(f"{option}: {problem}")
    return targets


def directory_problem(target: Path) -> str | None:
    """Why no file can be written at ``target`` (its directory is missing, not a directory, or refuses a new
    file: checked by creating and removing a temporary file there, as the atomic write will), else None."""
    parent = target.parent
    if not parent.is_dir():
        return f"no such directory for {target}"
    try:
        fd, name = tempfile.mkstemp(prefix=".redge-solve-", suffix=".probe", dir=parent)
    except OSError as error:
        return f"cannot write in {parent}: {error.strerror or error}"
    os.close(fd)
    os.unlink(name)
    return None


def _same(target: Path, source: Path) -> bool:
    """``target`` is the file ``source``, or lies inside the directory ``source``."""
    real_target, real_source = Path(os.path.realpath(target)), Path(os.path.realpath(source))
    if source.is_dir():
        return real_target.exists() and real_source in real_target.parents
    if real_target == real_source:
        return True
    try:
        return target.exists() and os.path.samefile(target, source)  # a hard link
    except OSError:
        return False
