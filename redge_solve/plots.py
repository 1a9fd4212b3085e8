"""Plots of comparisons, rendered off-screen (matplotlib's Agg backend) to PNG bytes."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compare import Comparison


def comparison_png(comparison: "Comparison", title: str | None = None) -> bytes:
    """Puzzles found (%) vs step: one line per estimator spec (mean over seeds), band = min..max over seeds."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    from .compare import curve_percent

    figure = Figure(figsize=(8, 5), dpi=100)
    axes = figure.subplots()
    length = max((len(run.curve) for run in comparison.runs), default=0)
    steps = list(range(1, length + 1))
    for row in comparison.rows:
        runs = [run for run in comparison.runs if run.spec.label == row.label and run.error is None]
        curves = [curve_percent(run, length) for run in runs]
        if not curves or not steps:
            continue
        mean = [sum(values) / len(values) for values in zip(*curves, strict=True)]
        low = [min(values) for values in zip(*curves, strict=True)]
        high = [max(values) for values in zip(*curves, strict=True)]
        (line,) = axes.plot(steps, mean, label=f"{row.label} ({row.found_mean:.1f}%)", linewidth=1.5)
        if len(curves) > 1:
            axes.fill_between(steps, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
    seeds = len({run.seed for run in comparison.runs})
    config = comparison.rows[0].config if comparison.rows else {}
    axes.set_title(
        title
        or f"{comparison.protocol} protocol: {len(comparison.puzzle_ids)} puzzles, {seeds} seed(s), "
        f"{config.get('samples')} sample(s), {config.get('restarts')} restart(s)"
    )
    axes.set_xlabel("step")
    axes.set_ylabel("puzzles solved so far (%, sample or mode)")
    axes.set_ylim(-2, 102)
    axes.grid(True, alpha=0.3)
    axes.legend(loc="best", fontsize="small")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
