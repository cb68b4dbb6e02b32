"""Matplotlib figure functions: stateless, each returns a Figure of what the core computes.

Figures are built with `matplotlib.figure.Figure` (not pyplot), so a notebook shows each one
once, as the cell's value. Importing this package teaches IPython to render such a Figure as
a PNG, which pyplot's inline backend would otherwise do only for figures it created itself.
"""

from __future__ import annotations

from matplotlib.figure import Figure

__all__ = ["Figure", "register_ipython_display"]


def _figure_png(fig: Figure) -> bytes:
    from IPython.core.pylabtools import print_figure

    return print_figure(fig, fmt="png", bbox_inches="tight", dpi=100)


def register_ipython_display() -> bool:
    """Render `Figure` values as PNG in the running IPython kernel; False outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    shell.display_formatter.formatters["image/png"].for_type(Figure, _figure_png)
    return True


register_ipython_display()
