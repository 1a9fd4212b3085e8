"""Running constraint-problem instances from the command line: progress, records, ``--json``, summary, exit code.
Shared by ``latin``, ``queens``, ``color`` and ``solve``; each command only builds its instances and shows them."""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import torch
import typer
from rich.console import Console, RenderableType
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ..problems.instances import Instance, batch, instance_records
from ..solver import Interrupted, SolverConfig, solve
from ..solver import Progress as SolveProgress
from .common import (
    EXIT_ALL_SOLVED,
    EXIT_INTERRUPTED,
    EXIT_SOME_UNSOLVED,
    console,
    err_console,
    sigterm_as_interrupt,
    write_json_lines,
)


def solve_instances(instances: Sequence[Instance], config: SolverConfig, label: str, quiet: bool
                    ) -> list[dict[str, Any]]:
    """Solve the instances, one tensor batch per number of values K (as ``sudoku`` does per size), with a
    progress bar; one record each in input order (see ``instance_records``). An instance whose logits became
    NaN/inf gets an error record instead of a result; Ctrl-C (or SIGTERM) exits 130 after saying what was solved."""
    columns = (TextColumn(label), BarColumn(), TextColumn("step {task.completed:.0f}/{task.total:.0f}"),
               TextColumn("solved {task.fields[solved]}/{task.fields[count]}"),
               TextColumn("best penalty {task.fields[penalty]}"), TimeElapsedColumn())
    records: list[dict[str, Any]] = []
    try:
        with Progress(*columns, console=err_console, transient=True, disable=quiet) as bar, sigterm_as_interrupt():
            for k in sorted({i.spec.num_categories for i in instances}):
                indices = [j for j, i in enumerate(instances) if i.spec.num_categories == k]
                group = [instances[j] for j in indices]
                task = bar.add_task("solve", total=config.steps, solved=0, count=len(group), penalty="-")

                def on_step(p: SolveProgress, task=task) -> None:
                    bar.update(task, completed=p.step, solved=p.solved, penalty=f"{p.best_penalty:.0f}")

                results = solve(batch(group), config, puzzle_ids=torch.tensor(indices), on_step=on_step)
                records += instance_records(results, group, indices)  # a diverged one: an error record
                bar.remove_task(task)
    except KeyboardInterrupt as interrupt:
        partial = int(interrupt.results.found.sum()) if isinstance(interrupt, Interrupted) else 0
        err_console.print(f"interrupted: {sum(r['found'] for r in records) + partial} instance(s) solved before "
                          "the interrupt", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    return sorted(records, key=lambda r: r["index"])


def report(records: list[dict[str, Any]], show: Callable[[dict[str, Any]], RenderableType | None],
           json_path: str | None, quiet: bool, elapsed: float, what: str = "instance") -> None:
    """Write ``--json``, print each instance's status line and ``show(record)``, a summary; exit 0/1."""
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
        out.print(f"[{colour}]solved {found}/{len(records)}[/] {what}(s) in {elapsed:.2f} s", highlight=False)
    for record in records:
        if record["found"] and not record["verified"]:  # the penalty and the direct check disagree: a bug
            err_console.print(f"[red]{record['name']}: zero penalty but the direct check fails:[/] "
                              f"{'; '.join(record['broken'])}", highlight=False, soft_wrap=True)
    solved = all(r["found"] and r["verified"] for r in records)
    raise typer.Exit(EXIT_ALL_SOLVED if solved else EXIT_SOME_UNSOLVED)


def run(instances: Sequence[Instance], config: SolverConfig, label: str,
        show: Callable[[dict[str, Any]], RenderableType | None], json_path: str | None, quiet: bool,
        what: str = "instance") -> None:
    """Solve, report and exit (0 all solved, 1 some unsolved)."""
    start = time.perf_counter()
    records = solve_instances(instances, config, label, quiet)
    report(records, show, json_path, quiet, time.perf_counter() - start, what)


