"""``redge-solve report results.jsonl``: the summary tables of a results file, and a steps-to-solve histogram."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..report import CRITERIA, CRITERION_LABELS, Report, ReportError, Summary, load_records, summarize, write_histogram
from . import options as opt
from .app import app
from .common import console, fail


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _row(label: str, summary: Summary) -> list[str]:
    return [label, str(summary.rows), str(summary.errors), *(_pct(summary.rate(c)) for c in CRITERIA),
            _num(summary.median_step, 0), _num(summary.mean_step, 0), _seconds(summary.mean_seconds)]


COLUMNS = ("rows", "err", *(CRITERION_LABELS[c] for c in CRITERIA), "med\nstep", "mean\nstep", "mean\ns")
LEGEND = ("[dim]% of the rows without error: found = a valid grid returned, solved by any = a sample at some step, "
          "mode = the mode, last = a sample of the last step. med/mean step: first solved step of the found rows. "
          "mean s: seconds per row.[/]")


def summary_table(title: str, first_column: str, rows: list[tuple[str, Summary]]) -> Table:
    """Rows, errors, the four solved rates in %, steps and seconds per group: ten narrow columns without vertical
    rules, so the table reads at 80 columns and in a pipe (long group labels fold, numbers never do)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column(first_column, style="bold", overflow="fold", min_width=len(first_column))
    for name in COLUMNS:
        table.add_column(name, justify="right", no_wrap=True)
    for label, summary in rows:
        table.add_row(*_row(label, summary))
    return table


def print_report(report: Report, out: Console = console, source: str = "") -> None:
    """The overall table, then the breakdowns by clue count and difficulty (when there are several groups)."""
    suffix = f" — {source}" if source else ""
    out.print(summary_table(f"results{suffix}", "", [("all", report.total)]))
    out.print(LEGEND)
    if len(report.by_clues) > 1:
        out.print(summary_table("by clue count", "clues", [(str(k), s) for k, s in report.by_clues.items()]))
    if report.by_difficulty:
        out.print(summary_table("by difficulty", "difficulty", list(report.by_difficulty.items())))


@app.command("report")
def report(
    results: Annotated[Path, typer.Argument(help="A results JSONL file written by `redge-solve batch`.")],
    png: Annotated[Optional[Path], typer.Option("--png", callback=opt.output_directory,
                                                help="Write a histogram of steps-to-solve (PNG).")] = None,
    difficulty_column: Annotated[str, typer.Option(
        "--difficulty-column", help="Meta column to break down by, when present.")] = "difficulty",
    force: opt.Force = False,
) -> None:
    """Summarise a results file: rows, errors, solve rates by criterion, steps and time, by clues and difficulty."""
    opt.check_output_or_exit("png", png, [results], force)
    try:
        records = load_records(results)
    except ReportError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"cannot read {results}: {exc.strerror or exc}")
    if not records:
        fail(f"{results} has no result records")
    print_report(summarize(records, difficulty_column), source=str(results))
    if png is not None:
        try:
            plotted = write_histogram(records, png)
        except OSError as exc:
            fail(f"cannot write {png}: {exc.strerror or exc}")
        console.print(f"histogram of {plotted} solved puzzles written to {png}", highlight=False)
