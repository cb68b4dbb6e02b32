"""`tile_explorer()`: sequence length, block sizes, causal → which tiles FlashAttention computes.

The controls of `lcedu.viz.flash.tile_explorer_figure`, which draws the tile map that
`lcedu.attention.flash.visited_tiles` computes (FlashAttention-2, Dao 2023).
"""

from __future__ import annotations

import ipywidgets as widgets

from lcedu.viz.flash import tile_explorer_figure as render
from lcedu.widgets.explorer import Explorer

__all__ = ["render", "tile_explorer"]


def tile_explorer() -> Explorer:
    """Sliders for n and the two block sizes, a checkbox for causal."""
    style = {"description_width": "80px"}
    return Explorer(
        render,
        dict(
            n=widgets.IntSlider(512, 64, 2048, step=32, description="n", style=style),
            block_q=widgets.IntSlider(64, 16, 256, step=16, description="block_q", style=style),
            block_k=widgets.IntSlider(64, 16, 256, step=16, description="block_k", style=style),
            causal=widgets.Checkbox(True, description="causal"),
        ),
    )
