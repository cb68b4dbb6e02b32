"""`rope_explorer()`: method, factor, base, dim, original length, β_fast, β_slow → RoPE plots.

The controls of `lcedu.viz.rope.rope_explorer_figure`, which draws what
`lcedu.positions.scaling` computes (PI, NTK-aware, dynamic NTK, YaRN, Llama 3).
"""

from __future__ import annotations

import ipywidgets as widgets

from lcedu.viz.rope import METHODS
from lcedu.viz.rope import rope_explorer_figure as render
from lcedu.widgets.explorer import Explorer

__all__ = ["render", "rope_explorer"]


def _yarn(params) -> bool:
    return params["method"] == "YaRN"


def rope_explorer() -> Explorer:
    """Dropdown for the method; sliders for the factor, base, dim, original length and βs
    (the βs only while YaRN is chosen)."""
    style = {"description_width": "120px"}
    layout = widgets.Layout(width="400px")
    return Explorer(
        render,
        dict(
            method=widgets.Dropdown(options=list(METHODS), value="YaRN", description="method",
                                    style=style, layout=layout),
            factor=widgets.FloatLogSlider(value=8, base=2, min=0, max=5, step=0.25,
                                          description="factor s", style=style, layout=layout),
            base=widgets.FloatLogSlider(value=1e4, base=10, min=3, max=7, step=0.25,
                                        description="base", style=style, layout=layout),
            dim=widgets.IntSlider(value=128, min=16, max=256, step=16, description="head dim",
                                  style=style, layout=layout),
            original_max_position=widgets.IntSlider(value=4096, min=512, max=32768, step=512,
                                                    description="original length", style=style,
                                                    layout=layout),
            beta_fast=widgets.FloatSlider(value=32, min=2, max=128, step=1,
                                          description="β_fast", style=style, layout=layout),
            beta_slow=widgets.FloatSlider(value=1, min=0.25, max=16, step=0.25,
                                          description="β_slow", style=style, layout=layout),
        ),
        applies={"beta_fast": _yarn, "beta_slow": _yarn},
        columns=2,
    )
