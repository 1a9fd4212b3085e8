"""Plots of comparisons, rendered off-screen (matplotlib's Agg backend) to PNG bytes."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .compare import Comparison


def new_figure(width: float, height: float) -> "Figure":
    """An off-screen (Agg) matplotlib figure, without touching pyplot's global state."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def plot_mean_band(axes: "Axes", steps: Sequence[float], curves: Sequence[Sequence[float]], label: str,
                   linewidth: float = 1.5) -> None:
    """The mean of ``curves`` (one per seed, each over ``steps``) as a line, and their min..max as a band of the
    same colour when there is more than one."""
    columns = list(zip(*curves, strict=True))
    (line,) = axes.plot(steps, [sum(v) / len(v) for v in columns], label=label, linewidth=linewidth)
    if len(curves) > 1:
        axes.fill_between(steps, [min(v) for v in columns], [max(v) for v in columns],
                          color=line.get_color(), alpha=0.2, linewidth=0)


def png_bytes(figure: "Figure") -> bytes:
    """The figure laid out and rendered to PNG."""
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def comparison_png(comparison: "Comparison", title: str | None = None) -> bytes:
    """Puzzles found (%) vs step: one line per estimator spec (mean over seeds), band = min..max over seeds."""
    from .compare import curve_percent

    figure = new_figure(8, 5)
    axes = figure.subplots()
    length = max((len(run.curve) for run in comparison.runs), default=0)
    steps = list(range(1, length + 1))
    for row in comparison.rows:
        runs = [run for run in comparison.runs if run.spec.label == row.label and run.error is None]
        curves = [curve_percent(run, length) for run in runs]
        if not curves or not steps:
            continue
        plot_mean_band(axes, steps, curves, f"{row.label} ({row.found_mean:.1f}%)")
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
    return png_bytes(figure)
