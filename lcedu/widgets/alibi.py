"""`alibi_explorer()`: heads, head, length, causal/symmetric → slopes, bias, attention pattern.

A thin ipywidgets wrapper over `render(...)`, which draws with `lcedu.viz.alibi` what
`lcedu.positions.alibi` computes (Press et al., "Train Short, Test Long").
"""

from __future__ import annotations

import math

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from lcedu.positions.alibi import alibi_bias, alibi_effective_span, alibi_slopes
from lcedu.viz.alibi import attention_weights, draw_attention, draw_bias, draw_slopes

__all__ = ["render", "alibi_explorer"]

MODES = {"causal: −m·(i−j)": "causal", "symmetric: −m·|i−j| (encoder)": "symmetric"}


def render(
    num_heads: int = 8, head: int = 0, seq_len: int = 32, mode: str = "causal", seed: int = 0
) -> Figure:
    """Three panels for one head: the slopes of all heads, its bias, its attention pattern."""
    if mode not in ("causal", "symmetric"):
        raise ValueError(f"mode must be 'causal' or 'symmetric', got {mode!r}")
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < num_heads:
        raise ValueError(f"head must be an index in 0..{num_heads - 1}, got {head!r}")
    causal = mode == "causal"
    bias = alibi_bias(num_heads, seq_len, causal=causal, symmetric=not causal)
    weights = attention_weights(num_heads, seq_len, causal=causal, seed=seed)
    m = alibi_slopes(num_heads, dtype=torch.float64)[head].item()
    span = alibi_effective_span(num_heads)[head].item()

    fig = Figure(figsize=(12, 3.8), layout="constrained")
    ax_s, ax_b, ax_w = fig.subplots(1, 3)
    draw_slopes(ax_s, num_heads, highlight=head)
    ax_s.invert_yaxis()
    ax_s.set_title(f"slopes of {num_heads} heads (circled: head {head})", fontsize=9)
    im = draw_bias(ax_b, bias[head], f"bias of head {head}, m = 2^{math.log2(m):.2f}")
    fig.colorbar(im, ax=ax_b, shrink=0.8)
    im = draw_attention(ax_w, weights[head], "attention on random q, k")
    fig.colorbar(im, ax=ax_w, shrink=0.8)
    fig.suptitle(
        f"head {head}: bias reaches −10 at distance {span:,.0f} "
        f"({'within' if span < seq_len else 'beyond'} this {seq_len}-token window)",
        fontsize=10,
    )
    return fig


def alibi_explorer() -> widgets.Widget:
    """Sliders for the head count, the head and the length; a menu for causal/symmetric."""
    style = {"description_width": "110px"}
    num_heads = widgets.IntSlider(8, 1, 32, description="num_heads", style=style)
    head = widgets.IntSlider(0, 0, 7, description="head", style=style)

    def _follow(change):
        head.max = change["new"] - 1

    num_heads.observe(_follow, names="value")
    return widgets.interactive(
        render,
        num_heads=num_heads,
        head=head,
        seq_len=widgets.IntSlider(32, 4, 96, description="sequence length", style=style),
        mode=widgets.Dropdown(options=MODES, value="causal", description="bias", style=style),
        seed=widgets.fixed(0),
    )
