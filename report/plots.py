"""Histograms of the global measurements, source against the later stages, as PNG files.

matplotlib is imported inside :func:`histogram` only (Agg canvas, no pyplot state), so importing
this module stays cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Measure:
    """A ``features`` column drawn over a physiological range in bins of ``step``."""

    column: str
    label: str
    unit: str
    lo: float
    hi: float
    step: float
    tick: float  # the labelled x ticks are its multiples

    @property
    def title(self) -> str:
        return f"{self.label} ({self.unit})"

    def bins(self) -> np.ndarray:
        return np.arange(self.lo, self.hi + self.step / 2, self.step)


MEASURES = (
    Measure("hr_bpm", "Heart rate", "bpm", 20, 220, 5, 20),
    Measure("pr_ms", "PR interval", "ms", 60, 400, 10, 50),
    Measure("qrs_ms", "QRS duration", "ms", 40, 220, 5, 20),
    Measure("qtc_bazett_ms", "QTc, Bazett", "ms", 250, 650, 10, 50),
    Measure("qrs_axis_deg", "QRS axis", "deg", -180, 180, 15, 45),
)
#: The source is drawn as grey bars, each later group as a step line (colour, dashes, width;
#: Okabe-Ito colours, colour-blind safe), narrower and dashed after the first so that groups
#: that coincide (the accepted records of a selection) stay visible.
SOURCE_COLOUR = "#b8bec8"
LINES = (("#0072B2", "solid", 2.6), ("#D55E00", (0, (4, 2)), 1.5), ("#009E73", (0, (1, 1.5)), 1.5))
FIGSIZE_IN, DPI = (6.0, 3.4), 110


@dataclass(frozen=True)
class Tally:
    """A group's values against a measure's range: finite, NaN or null, below and above it."""

    measured: int
    missing: int
    below: int
    above: int

    @classmethod
    def of(cls, values: np.ndarray, m: Measure) -> Tally:
        finite = values[np.isfinite(values)]
        return cls(finite.size, values.size - finite.size, int((finite < m.lo).sum()), int((finite > m.hi).sum()))


def caption(groups: dict[str, np.ndarray], m: Measure) -> str:
    """What each group holds: measured values, those not measurable (NaN) and those beyond the
    drawn range, which the plot leaves out."""
    parts = []
    for name, values in groups.items():
        t = Tally.of(values, m)
        text = f"{name}: {t.measured:,} measured, {t.missing:,} not measurable (NaN)"
        beyond = [f"{n:,} {side} {edge:g} {m.unit}" for n, side, edge in ((t.below, "below", m.lo), (t.above, "above", m.hi)) if n]
        parts.append(text + (f", not drawn: {', '.join(beyond)}" if beyond else ""))
    return f"{m.title}, bins of {m.step:g} {m.unit}. " + "; ".join(parts) + "."


def histogram(groups: dict[str, np.ndarray], m: Measure, path: Path) -> Path:
    """Write the histogram of ``groups`` (name -> values, the source first) as a PNG: the source
    as grey bars, each later group as a step line, each as % of its measured records per
    ``m.step`` bin over ``m.lo``..``m.hi``."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MultipleLocator

    fig = Figure(figsize=FIGSIZE_IN, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    bins = m.bins()
    for i, (name, values) in enumerate(groups.items()):
        finite = values[np.isfinite(values)]
        weights = np.full(finite.size, 100.0 / finite.size) if finite.size else None
        label = f"{name} (n={finite.size:,})"
        if i == 0:
            ax.hist(finite, bins=bins, weights=weights, color=SOURCE_COLOUR, label=label)
        else:
            colour, dashes, width = LINES[(i - 1) % len(LINES)]
            ax.hist(finite, bins=bins, weights=weights, histtype="step", color=colour, linestyle=dashes,
                    linewidth=width, label=label)
    ax.set_xlim(m.lo, m.hi)
    if not any(np.isfinite(v).any() for v in groups.values()):
        ax.text(0.5, 0.5, "no measured values", transform=ax.transAxes, ha="center", va="center", color="#5a6270")
    ax.set_ylim(bottom=0)
    ax.xaxis.set_major_locator(MultipleLocator(m.tick))
    ax.set_xlabel(m.title)
    ax.set_ylabel("% of measured records")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    fig.legend(loc="outside upper center", ncols=len(groups), frameon=False, fontsize="small")
    fig.savefig(path, format="png")
    return path
