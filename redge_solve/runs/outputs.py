"""Where a command may write: the one output-path policy, checked before any work starts.

A command that writes files (``sudoku --json``, ``batch --out``, ``report --png``, ``compare --out``,
``bench --out``, ``latin``/``queens``/``color``/``solve --json``) names what the user typed for the option, the
files it will write from it (the path itself, or a prefix's derived names such as ``PREFIX.csv``; see
``prefixed``) and the files it reads. ``check_output`` then refuses, with a one-line ``OutputRefused`` that names
the setting by its field (`` `out` ``; the CLI writes it as its option, ``cli/flags.py``):

1. an output that is one of the inputs: the same path, or the same file reached another way (a symbolic link,
   ``..``, a hard link), or an existing file inside an input directory — whatever ``force`` says;
2. an output that is an existing directory;
3. an output that is an existing non-empty file, unless ``force`` (an empty file holds nothing to lose, so
   ``--json "$(mktemp)"`` works) or ``existing_ok`` (a documented append, such as ``batch --resume``); a sidecar
   (such as ``batch``'s settings record ``OUT.meta.json``) may always exist;
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
    """An output path the policy refuses; the message is one line that names the setting and the files."""


def prefixed(prefix: str | os.PathLike, suffixes: Sequence[str]) -> list[Path]:
    """The files a ``--out PREFIX`` option writes: ``PREFIX + suffix`` for each suffix (``runs`` and
    ``(".csv", ".json")`` -> ``runs.csv``, ``runs.json``), in the same folder as the prefix."""
    prefix = Path(prefix)
    return [prefix.with_name(prefix.name + suffix) for suffix in suffixes]


def check_output(field: str, given: str | os.PathLike | None, inputs: Iterable[str | os.PathLike | None] = (), *,
                 force: bool = False, existing_ok: bool = False, suffixes: Sequence[str] | None = None,
                 sidecars: Sequence[str | os.PathLike] = (), hint: str = FORCE_HINT) -> list[Path]:
    """Check the files that the setting ``field`` (its value: ``given``) will write, before any work; see the module
    docstring.

    The files written: ``given`` itself, or with ``suffixes`` the files ``PREFIX + suffix`` (``prefixed``), then
    the ``sidecars`` (which may exist). ``inputs``: every file or directory the command reads (``None``, ``-`` and
    names that are not local files, such as ``hf:owner/name``, are skipped). ``hint`` ends the message for an
    existing file. Returns the files written but the sidecars, as ``Path`` objects (empty for ``-`` or ``None``);
    raises ``OutputRefused`` for the first file refused."""
    if given is None or str(given) == STDOUT:
        return []
    targets = [Path(given)] if suffixes is None else prefixed(given, suffixes)
    sources = [Path(p) for p in inputs if p is not None and str(p) != STDOUT and os.path.exists(p)]
    for target, may_exist in [(t, existing_ok) for t in targets] + [(Path(s), True) for s in sidecars]:
        _check_one(f"`{field}`", given, target, sources, force or may_exist, hint)
    return targets


def _check_one(option: str, given: str | os.PathLike, target: Path, sources: list[Path], may_exist: bool,
               hint: str) -> None:
    """``check_output``'s rules 1–4 for one file ``target``."""
    head = f"{option} {given}" if str(target) == str(given) else f"{option} {given} would write {target}, which"
    for source in sources:
        if _same(target, source):
            if source.is_dir():
                raise OutputRefused(f"{head} is a file of the input directory {source}; choose another output")
            note = "" if str(source) == str(target) else " (the same file)"
            raise OutputRefused(f"{head} is the input file {source}{note}; choose another output")
    if target.is_dir():
        raise OutputRefused(f"{head} is a directory")
    if target.exists() and target.stat().st_size > 0 and not may_exist:
        raise OutputRefused(f"{head} already exists; {hint}")
    problem = directory_problem(target)
    if problem:
        raise OutputRefused(f"{option}: {problem}")


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
