"""`kv_cache_calculator()`: pick a model shape, dtype and context; see the KV cache in GiB.

A thin ipywidgets wrapper over `render(...)`, which draws `lcedu.viz.context.kv_cache_growth`
and states the numbers from `lcedu.kvcache.memory`.
"""

from __future__ import annotations

import ipywidgets as widgets
from matplotlib.figure import Figure

from lcedu.kvcache.memory import MODEL_PRESETS, ModelShape, format_bytes
from lcedu.viz.context import kv_cache_growth

__all__ = ["render", "kv_cache_calculator"]

DTYPES = {"fp32 (4 B)": 4, "fp16/bf16 (2 B)": 2, "int8 (1 B)": 1}


def render(
    num_layers: int = 32,
    num_heads: int = 32,
    num_kv_heads: int = 8,
    head_dim: int = 128,
    max_context_pow2: int = 17,
    bytes_per_element: int = 2,
    batch_size: int = 1,
) -> Figure:
    """The figure for one setting: custom shape vs the presets, up to 2**max_context_pow2."""
    if num_kv_heads > num_heads:
        raise ValueError(
            "num_kv_heads cannot exceed num_heads (each KV head serves ≥ 1 query head)"
        )
    custom = ModelShape(
        f"your model ({num_layers}L, {num_kv_heads} KV heads × {head_dim})",
        num_layers,
        num_heads,
        num_kv_heads,
        head_dim,
    )
    lengths = [2**p for p in range(10, max_context_pow2 + 1)]
    shapes = [custom, *MODEL_PRESETS.values()]
    fig = kv_cache_growth(
        shapes, lengths, bytes_per_element=bytes_per_element, batch_size=batch_size
    )
    total = custom.kv_cache_bytes(
        lengths[-1], batch_size=batch_size, bytes_per_element=bytes_per_element
    )
    fig.suptitle(f"your model at {lengths[-1]:,} tokens: {format_bytes(total)}", fontsize=10)
    return fig


def kv_cache_calculator() -> widgets.Widget:
    """Sliders for the shape, a dtype menu and the context length; the plot follows."""
    style = {"description_width": "120px"}
    return widgets.interactive(
        render,
        num_layers=widgets.IntSlider(32, 1, 128, description="layers", style=style),
        num_heads=widgets.IntSlider(32, 1, 128, description="query heads", style=style),
        num_kv_heads=widgets.IntSlider(8, 1, 128, description="KV heads", style=style),
        head_dim=widgets.Dropdown(
            options=[64, 80, 96, 128, 256], value=128, description="head dim", style=style
        ),
        max_context_pow2=widgets.IntSlider(17, 11, 21, description="max context 2^", style=style),
        bytes_per_element=widgets.Dropdown(
            options=DTYPES, value=2, description="dtype", style=style
        ),
        batch_size=widgets.IntSlider(1, 1, 64, description="batch", style=style),
    )
