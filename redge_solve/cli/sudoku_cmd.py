"""``redge-solve sudoku FILE``: solve every puzzle of a file, print the grids and a summary, optionally write JSON.

Exit codes: 0 every valid puzzle solved; 1 some valid puzzle unsolved; 2 usage error, unreadable file, or no
valid puzzle in the file (bad puzzles among good ones are reported on stderr, as error records in ``--json``, and
skipped: the exit code then reflects the good ones); 130 interrupted. Puzzles of different sizes in one file are
solved as one batch per size, each size with its own defaults (``settings.sudoku_defaults``: 16×16 and 25×25 have
theirs), the options given explicitly applying to every size. ``--json`` writes JSON Lines: one record per puzzle
in file order (see ``records``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.console import Console

from ..settings import DEFAULTS, SolverConfig
from . import options as opt
from .app import app
from .common import ExitCode, console, err_console, fail, group_progress, sigterm_as_interrupt, write_json_lines
from .progress import stopped_by_budget

if TYPE_CHECKING:  # the library behind the command imports torch: only when it runs, not for its --help
    from ..formats import BadPuzzle, Puzzle
    from ..problems.sudoku import SudokuBatch
    from ..solver import PuzzleResults

SHOW_ALL_UP_TO = 10
TABLE_UP_TO = 100


@app.command("sudoku", help="Solve the Sudoku puzzles of FILE by gradient descent. Exit 0 all solved, 1 some "
             "unsolved, 2 bad input.\n\n" + opt.size_defaults_help())
@opt.solver_options(DEFAULTS, deduce=True)
def sudoku(
    ctx: typer.Context,
    file: str = typer.Argument(..., metavar="FILE", show_default=False,
                               help="Puzzle file, '-' for standard input: one puzzle per line (81 chars, '0' or '.' "
                               "blank), tdoku puzzle:count:solution, grids over N lines, or CSV/TSV with a puzzle "
                               "column."),
    size: Optional[int] = typer.Option(None, "--size", show_default=False,
                                       help="Force the grid side (4, 9, 16, 25) instead of inferring it."),
    show: Optional[int] = typer.Option(None, "--show", min=0, show_default=False,
                                       help=f"How many grids to print (default: all up to {SHOW_ALL_UP_TO}, "
                                       "else none)."),
    json_path: opt.Out = None,
    force: opt.Force = False,
    quiet: opt.Quiet = False,
) -> None:
    """Solve the Sudoku puzzles of FILE by gradient descent (the help: above, with the big grids' defaults)."""
    from ..formats import BadPuzzle, FormatError, Puzzle, read_puzzles
    from ..problems.sudoku import SIZES
    from ..runs.grouped import GroupsInterrupted, solve_grouped

    config = opt.solver_config(ctx, DEFAULTS)  # a bad option fails here, before the file is read
    if size is not None and size not in SIZES:
        fail(f"--size must be one of {', '.join(map(str, SIZES))}, got {size}")
    opt.check_output_or_exit("out", json_path, [file], force)  # before spending time on the solve
    where = opt.command_device(ctx)
    name = "<stdin>" if file == "-" else file
    try:
        entries = read_puzzles(file, size=size)
    except FormatError as error:
        fail(f"{name}: {error}")
    good = [e for e in entries if isinstance(e, Puzzle)]
    bad = [e for e in entries if isinstance(e, BadPuzzle)]
    if not good:
        if len(bad) == 1:
            fail(f"{name} line {bad[0].line}: {bad[0].reason}")
        for entry in bad:
            err_console.print(f"[red]bad puzzle:[/] {name} line {entry.line}: {entry.reason}", highlight=False,
                              soft_wrap=True)
        fail(f"no valid puzzle in {name} ({len(bad)} bad)")
    for entry in bad:
        err_console.print(f"[yellow]skipped:[/] {name} line {entry.line}: {entry.reason}", highlight=False,
                          soft_wrap=True)

    out = err_console if json_path == "-" else console  # keep stdout clean for JSON
    configs = opt.sudoku_configs(ctx, {p.side for p in good})
    start = time.perf_counter()
    try:
        with sigterm_as_interrupt(), group_progress(lambda side: f"{side}×{side}", lambda side: configs[side].steps,
                                                    quiet, config.max_seconds) as on_group:
            records = solve_grouped(good, lambda p: p.side, configs.__getitem__, lambda group: _batch(group, where),
                                    lambda group: [p.index for p in group], _group_records, on_group)
    except GroupsInterrupted as interrupt:  # keep the puzzles that had finished
        records = interrupt.records
        _finish(out, json_path, records, good, bad, show, time.perf_counter() - start, quiet, configs)
        solved = sum(r["found"] for r in records if "error" not in r)
        saved = f"; the {len(records)} finished are in {json_path}" if json_path not in (None, "-") else ""
        err_console.print(f"interrupted: {solved} of {len(good)} puzzle(s) solved before the interrupt{saved}",
                          highlight=False)
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    _finish(out, json_path, records, good, bad, show, time.perf_counter() - start, quiet, configs)
    valid = {p.index for p in good}  # a puzzle that diverged is a valid one left unsolved
    all_solved = all(r.get("found", False) for r in records if r["index"] in valid)
    raise typer.Exit(ExitCode.ALL_SOLVED if all_solved else ExitCode.SOME_UNSOLVED)


def _finish(out: Console, json_path: str | None, records: list[dict[str, Any]], good: list[Puzzle],
            bad: list[BadPuzzle], show: int | None, elapsed: float, quiet: bool,
            configs: dict[int, SolverConfig]) -> None:
    """Add the bad puzzles' error records, write ``--json`` and print the grids and summary (``configs``: the
    settings each grid side was solved with)."""
    from ..runs.records import error_record

    for entry in bad:
        record = error_record(entry.index, entry.text, f"line {entry.line}: {entry.reason}")
        record["line"] = entry.line
        records.append(record)
    records.sort(key=lambda r: r["index"])
    if json_path is not None:
        write_json_lines(json_path, [_public(r) for r in records])
    if not quiet:
        _report(out, records, good, show, elapsed, configs)


def _batch(group: list[Puzzle], device: Any) -> SudokuBatch:
    import torch

    from ..problems.sudoku import SudokuBatch

    return SudokuBatch.from_grids(torch.stack([p.clues for p in group]), device=device)


def _group_records(results: PuzzleResults, group: list[Puzzle]) -> list[dict[str, Any]]:
    import torch

    from ..runs.records import sudoku_records

    clues = torch.stack([p.clues for p in group]) if group else torch.zeros(0, 0, dtype=torch.long)
    records = sudoku_records(results, clues, [p.index for p in group], [p.solution for p in group],
                             [p.meta for p in group])
    for record, puzzle in zip(records, group, strict=True):
        record["line"] = puzzle.line
        record["size"] = f"{puzzle.side}×{puzzle.side}"
        if "error" in record:  # diverged: reported on stderr like a bad puzzle, naming its line
            err_console.print(f"[red]failed:[/] puzzle {puzzle.index + 1} line {puzzle.line}: {record['error']}",
                              highlight=False, soft_wrap=True)
    return records


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "size"}


def _report(out: Console, records: list[dict[str, Any]], good: list[Puzzle], show: int | None,
            elapsed: float, configs: dict[int, SolverConfig]) -> None:
    from ..problems.sudoku import grid_from_string
    from .render import render_grid, summary_table

    solved_records = [r for r in records if "error" not in r]
    limit = (len(solved_records) if len(solved_records) <= SHOW_ALL_UP_TO else 0) if show is None else show
    clues = {p.index: p.clues for p in good}
    for record in solved_records[:limit]:
        found = record["found"]
        if found:
            status = f"[green]solved[/] at step {record['first_solved_step']}"
        else:
            status = f"[red]unsolved[/] after {record['steps_run']} steps ({record['violations']} violations)"
        out.print(f"[bold]puzzle {record['index'] + 1}[/] (line {record['line']}, {record['size']}): {status}, "
                  f"{record['seconds']:.2f} s", highlight=False)
        out.print(render_grid(clues[record["index"]], grid_from_string(record["grid"]), found))
    if limit < len(solved_records) and len(records) <= TABLE_UP_TO:
        out.print(summary_table(records, "puzzles"))
    count = len(solved_records)
    sides = {p.index: p.side for p in good}
    stopped = sum(stopped_by_budget([r], configs[sides[r["index"]]]) for r in solved_records)
    config = next(iter(configs.values()))  # early stop and the budget are the same for every size
    out.print(summary_line(solved_records, len(records) - count, elapsed, config.early_stop, stopped,
                           config.max_seconds), highlight=False)


def summary_line(records: list[dict[str, Any]], bad: int, elapsed: float, early_stop: bool, stopped: int = 0,
                 budget: float | None = None) -> str:
    """``solved F/N in T s, R puzzles/s (found by the mode M, by a sample A)``: where the valid grids came from,
    and how many puzzles the time budget stopped.
    The last-step criterion is added only without early stop: with it a puzzle stops at the step its grid is
    found, usually by the mode, so the samples of that step are rarely valid and the count says nothing."""
    count = len(records)
    found = sum(r["found"] for r in records)
    mode, any_, last = (sum(r[k] for r in records) for k in ("solved_mode", "solved_any", "solved_last"))
    colour = "green" if found == count else "red"
    how = f"found by the mode {mode}, by a sample {any_}"
    if not early_stop:
        how += f", in the last step {last}"
    bad_text = f"; {bad} skipped (bad input or diverged)" if bad else ""
    if stopped:
        bad_text += f"; {stopped} stopped unsolved by the {budget:g} s budget"
    rate = count / elapsed if elapsed > 0 else 0.0
    return f"[{colour}]solved {found}/{count}[/] in {elapsed:.2f} s, {rate:.3g} puzzles/s ({how}){bad_text}"

