"""`method_guide()`: the lesson's §6.1 "which method when" table, made interactive.

The controls of `lcedu.viz.practice.render_guide`, which draws the recommendation that
`lcedu.practice.guide.choose_method` computes.
"""

from __future__ import annotations

import ipywidgets as widgets

from lcedu.viz.practice import render_guide as render
from lcedu.widgets.explorer import Explorer

__all__ = ["render", "method_guide", "LENGTHS"]

LENGTHS = [2**p for p in range(11, 24)]  # 2K ... 8M: the menu's choices


def method_guide(original_len: int = 4096, target_len: int = 32768, gpus: int = 1) -> Explorer:
    """Menus for the lengths, a slider for GPUs, switches for fine-tuning and scratch."""
    if original_len not in LENGTHS or target_len not in LENGTHS:
        raise ValueError(
            f"the menus offer powers of two between 2048 and 8M, got "
            f"{original_len} and {target_len}"
        )
    style = {"description_width": "110px"}
    options = [(f"{n // 1024}K" if n < 2**20 else f"{n // 2**20}M", n) for n in LENGTHS]
    return Explorer(
        render,
        dict(
            original_len=widgets.Dropdown(options=options, value=original_len,
                                          description="trained length", style=style),
            target_len=widgets.Dropdown(options=options, value=target_len,
                                        description="target length", style=style),
            gpus=widgets.IntSlider(gpus, 1, 64, description="GPUs", style=style),
            can_finetune=widgets.Checkbox(value=True, description="can fine-tune"),
            from_scratch=widgets.Checkbox(value=False, description="training from scratch"),
        ),
        columns=2,
    )
