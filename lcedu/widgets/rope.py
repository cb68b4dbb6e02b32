"""`rope_explorer()`: method, factor, base, dim, original length, β_fast, β_slow → RoPE plots.

A thin ipywidgets wrapper over `render(...)`, which draws with `lcedu.viz.rope` what
`lcedu.positions.scaling` computes (PI, NTK-aware, dynamic NTK, YaRN, Llama 3).
"""

from __future__ import annotations

import ipywidgets as widgets
from IPython.display import display
from matplotlib.figure import Figure

from lcedu.viz.rope import (
    METHODS,
    draw_angles,
    draw_decay,
    draw_frequency_ratio,
    draw_out_of_distribution,
    draw_ramp,
    draw_wavelengths,
    method_frequencies,
)

__all__ = ["render", "rope_explorer"]


def render(
    method: str = "YaRN",
    factor: float = 8.0,
    base: float = 10000.0,
    dim: int = 128,
    original_max_position: int = 4096,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
) -> Figure:
    """Six panels comparing `method` with plain RoPE: wavelengths, YaRN's ramp, the ratio of
    scaled to original frequency, the rotation angles (positions × pairs), the
    out-of-distribution view and long-term decay."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    methods = ("none",) if method == "none" else ("none", method)
    kw = dict(
        dim=dim,
        base=base,
        factor=factor,
        original_max_position=original_max_position,
        beta_fast=beta_fast,
        beta_slow=beta_slow,
    )
    fig = Figure(figsize=(16, 7.5), layout="constrained")
    (a, b, e), (f, c, d) = fig.subplots(2, 3)
    draw_wavelengths(a, methods, **kw)
    draw_ramp(b, **kw)
    draw_frequency_ratio(e, methods, **kw)
    inv, _ = method_frequencies(method, **kw)
    im = draw_angles(f, inv, 256, f"{method}: cos(m·θ_i), first 256 positions")
    fig.colorbar(im, ax=f, shrink=0.8)
    draw_out_of_distribution(c, methods, **kw)
    draw_decay(d, methods, **kw)
    fig.suptitle(
        f"{method}, s = {factor:g}: {original_max_position:,} → "
        f"{int(factor * original_max_position):,} tokens",
        fontsize=11,
    )
    return fig


def rope_explorer() -> widgets.Widget:
    """Dropdown for the method; sliders for the factor, base, dim, original length and βs."""
    style = {"description_width": "150px"}
    layout = widgets.Layout(width="420px")
    controls = dict(
        method=widgets.Dropdown(
            options=list(METHODS), value="YaRN", description="method", style=style, layout=layout
        ),
        factor=widgets.FloatLogSlider(
            value=8,
            base=2,
            min=0,
            max=5,
            step=0.25,
            description="factor s",
            style=style,
            layout=layout,
        ),
        base=widgets.FloatLogSlider(
            value=1e4,
            base=10,
            min=3,
            max=7,
            step=0.25,
            description="base",
            style=style,
            layout=layout,
        ),
        dim=widgets.IntSlider(
            value=128, min=16, max=256, step=16, description="head dim", style=style, layout=layout
        ),
        original_max_position=widgets.IntSlider(
            value=4096,
            min=512,
            max=32768,
            step=512,
            description="original length",
            style=style,
            layout=layout,
        ),
        beta_fast=widgets.FloatSlider(
            value=32, min=2, max=128, step=1, description="β_fast", style=style, layout=layout
        ),
        beta_slow=widgets.FloatSlider(
            value=1, min=0.25, max=16, step=0.25, description="β_slow", style=style, layout=layout
        ),
    )

    def _draw(**params):
        if params["beta_fast"] <= params["beta_slow"]:
            print("β_fast must be greater than β_slow")
            return
        display(render(**params))

    out = widgets.interactive_output(_draw, controls)
    return widgets.VBox(
        [
            widgets.HBox(
                [
                    widgets.VBox(list(controls.values())[:4]),
                    widgets.VBox(list(controls.values())[4:]),
                ]
            ),
            out,
        ]
    )
