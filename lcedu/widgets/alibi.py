"""`alibi_explorer()`: heads, head, length, causal/symmetric → slopes, bias, attention pattern.

The controls of `lcedu.viz.alibi.alibi_explorer_figure`, which draws what
`lcedu.positions.alibi` computes (Press et al., "Train Short, Test Long").
"""

from __future__ import annotations

import ipywidgets as widgets

from lcedu.viz.alibi import alibi_explorer_figure as render
from lcedu.widgets.explorer import Explorer, follow_count

__all__ = ["render", "alibi_explorer", "MODES"]

MODES = {"causal: −m·(i−j)": "causal", "symmetric: −m·|i−j| (encoder)": "symmetric"}


def alibi_explorer() -> Explorer:
    """Sliders for the head count, the head and the length; a menu for causal/symmetric."""
    style = {"description_width": "110px"}
    num_heads = widgets.IntSlider(8, 1, 32, description="num_heads", style=style)
    head = widgets.IntSlider(0, 0, 7, description="head", style=style)
    follow_count(num_heads, head)
    return Explorer(
        render,
        dict(
            num_heads=num_heads,
            head=head,
            seq_len=widgets.IntSlider(32, 4, 96, description="sequence length", style=style),
            mode=widgets.Dropdown(options=MODES, value="causal", description="bias", style=style),
        ),
        fixed={"seed": 0},
    )
