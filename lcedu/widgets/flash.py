"""`tile_explorer()`: sequence length, block sizes, causal → which tiles FlashAttention computes.

A thin ipywidgets wrapper over `render(...)`, which draws with `lcedu.viz.flash` the tile map
that `lcedu.attention.flash.visited_tiles` computes (FlashAttention-2, Dao 2023).
"""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from lcedu.viz.flash import plot_tile_map

__all__ = ["render", "tile_explorer"]


def render(n: int = 512, block_q: int = 64, block_k: int = 64, causal: bool = True) -> Figure:
    """The (query block × key block) map for an n × n attention with these block sizes."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    return plot_tile_map(n, n, block_q, block_k, causal)


def tile_explorer() -> widgets.Widget:
    """Sliders for n and the two block sizes, a checkbox for causal."""
    style = {"description_width": "80px"}
    return widgets.interactive(
        render,
        n=widgets.IntSlider(512, 64, 2048, step=32, description="n", style=style),
        block_q=widgets.IntSlider(64, 16, 256, step=16, description="block_q", style=style),
        block_k=widgets.IntSlider(64, 16, 256, step=16, description="block_k", style=style),
        causal=widgets.Checkbox(True, description="causal"),
    )
