"""`ring_stepper()`: step through ring attention one hop at a time.

The controls of `lcedu.viz.ring.ring_stepper_figure`, which draws the trace that
`lcedu.attention.ring.ring_schedule` computes (Ring Attention, Liu et al., 2023).
"""

from __future__ import annotations

import ipywidgets as widgets

from lcedu.attention.ring import LAYOUTS
from lcedu.viz.ring import ring_stepper_figure as render
from lcedu.widgets.explorer import Explorer, follow_count

__all__ = ["render", "ring_stepper"]


def ring_stepper(
    world_size: int = 4, layout: str = "contiguous", causal: bool = True
) -> Explorer:
    """Sliders for the ring size and the step; a menu for the layout; a causal switch."""
    style = {"description_width": "90px"}
    w = widgets.IntSlider(world_size, 1, 8, description="world size", style=style)
    step = widgets.IntSlider(0, 0, max(0, world_size - 1), description="step", style=style)
    follow_count(w, step)
    return Explorer(
        render,
        dict(
            world_size=w,
            step=step,
            layout=widgets.Dropdown(options=list(LAYOUTS), value=layout, description="layout",
                                    style=style),
            causal=widgets.Checkbox(value=causal, description="causal"),
        ),
        fixed={"chunk": 4},
    )
