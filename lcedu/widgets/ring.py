"""`ring_stepper()`: step through ring attention one hop at a time.

A thin ipywidgets wrapper over `render(...)`, which draws with `lcedu.viz.ring` the trace
that `lcedu.attention.ring.ring_schedule` computes (Ring Attention, Liu et al., 2023).
"""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from lcedu.attention.ring import LAYOUTS, ring_schedule
from lcedu.viz.ring import plot_ring_step

__all__ = ["render", "ring_stepper"]


def render(
    world_size: int = 4,
    step: int = 0,
    layout: str = "contiguous",
    causal: bool = True,
    chunk: int = 4,
) -> Figure:
    """The ring at `step`: holders, schedule, and the (query, key) pairs computed so far.

    Each rank holds `chunk` tokens, so the sequence has world_size·chunk tokens (zigzag
    splits a rank's tokens into two chunks, so `chunk` must be even there).
    """
    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    if layout == "zigzag" and chunk % 2:
        raise ValueError(
            f"the zigzag layout splits each rank's tokens in two: chunk must be even, got {chunk}"
        )
    step = min(step, world_size - 1)
    trace = ring_schedule(world_size * chunk, world_size, causal=bool(causal), layout=layout)
    return plot_ring_step(trace, step)


def ring_stepper(world_size: int = 4, layout: str = "contiguous", causal: bool = True):
    """Sliders for the ring size and the step; a menu for the layout; a causal switch."""
    style = {"description_width": "90px"}
    w = widgets.IntSlider(world_size, 1, 8, description="world size", style=style)
    step = widgets.IntSlider(0, 0, world_size - 1, description="step", style=style)

    def _follow(change):
        step.max = change["new"] - 1

    w.observe(_follow, names="value")
    return widgets.interactive(
        render,
        world_size=w,
        step=step,
        layout=widgets.Dropdown(
            options=list(LAYOUTS), value=layout, description="layout", style=style
        ),
        causal=widgets.Checkbox(value=causal, description="causal"),
        chunk=widgets.fixed(4),
    )
