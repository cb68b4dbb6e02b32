"""The finish the memory-vs-length figures share: log2 axes, labels, grid, legend below.

Used by `lcedu.viz.kvcache` and `lcedu.viz.practice`, whose curves are bytes against a
sequence length that doubles; the legend goes below the axes (outside the data).
"""

from __future__ import annotations

from matplotlib.axes import Axes
from matplotlib.figure import Figure


def finish_log2_plot(fig: Figure, ax: Axes, xlabel: str, ylabel: str) -> None:
    """Log2 on both axes, the labels, a light grid and a two-column legend below."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    fig.legend(loc="outside lower center", ncol=2, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
