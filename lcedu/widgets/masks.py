"""`mask_explorer()`: pattern, n, window, dilation, global tokens, random blocks, seed → the mask,
its density, and its score memory against dense attention.

The controls of `lcedu.viz.masks.mask_explorer_figure`, which draws the masks of
`lcedu.attention.masks` (Longformer, Beltagy et al., 2020; BigBird, Zaheer et al., 2020).
Only the controls the chosen pattern uses are shown.
"""

from __future__ import annotations

import ipywidgets as widgets

from lcedu.viz.masks import PATTERN_PARAMETERS, PATTERNS, build_mask, parse_positions
from lcedu.viz.masks import mask_explorer_figure as render
from lcedu.widgets.explorer import Explorer

__all__ = ["PATTERNS", "build_mask", "parse_positions", "render", "mask_explorer"]


def _uses(name: str):
    return lambda params: params["pattern"] in PATTERN_PARAMETERS[name]


def mask_explorer() -> Explorer:
    """Dropdown for the pattern, sliders for its parameters, text for the global tokens."""
    style = {"description_width": "120px"}
    return Explorer(
        render,
        dict(
            pattern=widgets.Dropdown(options=PATTERNS, value="longformer", description="pattern",
                                     style=style),
            n=widgets.IntSlider(24, 4, 64, description="n", style=style),
            window=widgets.IntSlider(2, 1, 16, description="window (one side)", style=style),
            dilation=widgets.IntSlider(2, 1, 6, description="dilation", style=style),
            global_tokens=widgets.Text("0", description="global tokens", style=style),
            block_size=widgets.IntSlider(3, 1, 8, description="BigBird block", style=style),
            num_random_blocks=widgets.IntSlider(1, 0, 4, description="random blocks",
                                                style=style),
            seed=widgets.IntSlider(0, 0, 20, description="seed", style=style),
        ),
        applies={name: _uses(name) for name in PATTERN_PARAMETERS},
        columns=2,
    )
