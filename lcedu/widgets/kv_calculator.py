"""`kv_cache_calculator()`: pick a model shape, dtype and context; see the KV cache in GiB.

The controls of `lcedu.viz.context.kv_calculator_figure`, which draws the numbers of
`lcedu.kvcache.memory` for your shape against published ones.
"""

from __future__ import annotations

import ipywidgets as widgets

from lcedu.viz.context import kv_calculator_figure as render
from lcedu.widgets.explorer import Explorer

__all__ = ["render", "kv_cache_calculator", "DTYPES"]

DTYPES = {"fp32 (4 B)": 4, "fp16/bf16 (2 B)": 2, "int8 (1 B)": 1}


def kv_cache_calculator() -> Explorer:
    """Sliders for the shape, a dtype menu and the context length; the plot follows."""
    style = {"description_width": "120px"}
    return Explorer(
        render,
        dict(
            num_layers=widgets.IntSlider(32, 1, 128, description="layers", style=style),
            # Query heads in steps of 8 and KV heads dividing 8: every pair is a valid
            # grouped-query shape (each KV head serves the same number of query heads).
            num_heads=widgets.IntSlider(32, 8, 128, step=8, description="query heads",
                                        style=style),
            num_kv_heads=widgets.Dropdown(options=[1, 2, 4, 8], value=8, description="KV heads",
                                          style=style),
            head_dim=widgets.Dropdown(options=[64, 80, 96, 128, 256], value=128,
                                      description="head dim", style=style),
            max_context_pow2=widgets.IntSlider(17, 11, 21, description="max context 2^",
                                               style=style),
            bytes_per_element=widgets.Dropdown(options=DTYPES, value=2, description="dtype",
                                               style=style),
            batch_size=widgets.IntSlider(1, 1, 64, description="batch", style=style),
        ),
        columns=2,
    )
