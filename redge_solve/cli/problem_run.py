"""Running constraint-problem instances from the command line: progress, ``--json``, summary, exit code (the
solving itself is the library's ``runs.instances.solve_instances``). Shared by ``latin``, ``queens``, ``color``
and ``solve``; each command only builds its instances and shows them."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, Sequence

import typer
from rich.console import Console, RenderableType

from ..settings import SolverConfig
from .common import ExitCode, console, err_console, group_progress, sigterm_as_interrupt, write_json_lines
from .progress import stopped_by_budget

if TYPE_CHECKING:
    from ..runs.instances import Instance


def report(records: list[dict[str, Any]], show: Callable[[dict[str, Any]], RenderableType | None],
           json_path: str | None, quiet: bool, elapsed: float, what: str = "instance", note: str = "") -> None:
    """Write ``--out``, print each instance's status line and ``show(record)``, a summary; exit 0/1."""
    if json_path is not None:
        write_json_lines(json_path, records)
    out: Console = err_console if json_path == "-" else console
    if not quiet:
        for record in records:
            if "error" in record:
                err_console.print(f"[red]failed[/]: {record['name']}: {record['error']}", highlight=False)
                continue
            if record["found"]:
                status = f"[green]solved[/] at step {record['first_solved_step']}"
            else:
                status = (f"[red]unsolved[/] after {record['steps_run']} steps "
                          f"({record['violations']} constraint(s) broken)")
            out.print(f"[bold]{record['name']}[/]: {status}, {record['seconds']:.2f} s", highlight=False)
            shown = show(record)
            if shown is not None:
                out.print(shown)
        found = sum(r["found"] for r in records)
        colour = "green" if found == len(records) else "red"
        out.print(f"[{colour}]solved {found}/{len(records)}[/] {what}(s) in {elapsed:.2f} s{note}", highlight=False)
    for record in records:
        if record["found"] and not record["verified"]:  # the penalty and the direct check disagree: a bug
            err_console.print(f"[red]{record['name']}: zero penalty but the direct check fails:[/] "
                              f"{'; '.join(record['broken'])}", highlight=False, soft_wrap=True)
    solved = all(r["found"] and r["verified"] for r in records)
    raise typer.Exit(ExitCode.ALL_SOLVED if solved else ExitCode.SOME_UNSOLVED)


def run(instances: Sequence[Instance], config: SolverConfig, label: str,
        show: Callable[[dict[str, Any]], RenderableType | None], json_path: str | None, quiet: bool,
        what: str = "instance", device: Any = None) -> None:
    """Solve on ``device`` (a progress bar per group), report and exit (0 all solved, 1 some unsolved). Ctrl-C (or
    SIGTERM) writes the finished instances to ``--out``, says what was solved, and exits 130."""
    from ..runs.grouped import GroupsInterrupted  # torch: imported when solving, not for a command's --help
    from ..runs.instances import solve_instances

    start = time.perf_counter()
    try:
        with sigterm_as_interrupt(), \
                group_progress(lambda k: label, config.steps, quiet, config.max_seconds) as on_group:
            records = solve_instances(instances, config, on_group, device)
    except GroupsInterrupted as interrupt:
        if json_path is not None:
            write_json_lines(json_path, interrupt.records)
        saved = f"; the {len(interrupt.records)} finished are in {json_path}" if json_path not in (None, "-") else ""
        err_console.print(f"interrupted: {sum(r['found'] for r in interrupt.records)} of {len(instances)} "
                          f"{what}(s) solved before the interrupt{saved}", highlight=False)
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    stopped = stopped_by_budget(records, config)
    note = f"; {stopped} stopped unsolved by the {config.max_seconds:g} s budget" if stopped else ""
    report(records, show, json_path, quiet, time.perf_counter() - start, what, note)
