"""Plot helpers, rendered off-screen (matplotlib's Agg backend) to PNG bytes; the figures themselves live next
to what they show (``compare.comparison_png``, ``tuning.study_png``, ``diagnostics.diagnostics_png``)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def new_figure(width: float, height: float) -> "Figure":
    """An off-screen (Agg) matplotlib figure, without touching pyplot's global state."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def distinct_colors(axes: Sequence["Axes"], lines: int) -> None:
    """Give ``axes`` a colour cycle with ``lines`` distinct colours where matplotlib's default ten would repeat
    (the 20 of the ``tab20`` map up to 20 lines; beyond that colours repeat)."""
    if lines <= 10:
        return
    import matplotlib
    from matplotlib import cycler

    for each in axes:
        each.set_prop_cycle(cycler(color=matplotlib.colormaps["tab20"].colors))


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
