"""`mask_explorer()`: pattern, n, window, dilation, global tokens, random blocks, seed → the mask,
its density, and its score memory against dense attention.

A thin ipywidgets wrapper over `render(...)`, which draws with `lcedu.viz.masks` the masks of
`lcedu.attention.masks` (Longformer, Beltagy et al., 2020; BigBird, Zaheer et al., 2020).
"""

from __future__ import annotations

import ipywidgets as widgets
import torch
from matplotlib.figure import Figure

from lcedu.attention.masks import (
    bigbird_mask,
    causal_mask,
    density,
    dilated_window_mask,
    global_mask,
    longformer_mask,
    sliding_window_mask,
)
from lcedu.kvcache.memory import format_bytes
from lcedu.viz.masks import draw_mask

__all__ = ["PATTERNS", "build_mask", "parse_positions", "render", "mask_explorer"]

PATTERNS = ("causal", "local", "dilated", "global", "longformer", "bigbird")


def parse_positions(text: str, n: int) -> list[int]:
    """'0, 5' -> [0, 5]; positions outside 0..n-1 raise ValueError."""
    out = []
    for part in str(text).replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            pos = int(part)
        except ValueError:
            raise ValueError(
                f"global tokens must be whole numbers like '0, 5', got {part!r}"
            ) from None
        if not 0 <= pos < n:
            raise ValueError(f"global token {pos} is outside the sequence 0..{n - 1}")
        out.append(pos)
    return out


def build_mask(pattern: str, n: int, window: int, dilation: int, global_tokens: list[int],
               block_size: int, num_random_blocks: int, seed: int) -> torch.Tensor:
    """The (n, n) mask of one named pattern."""
    if pattern not in PATTERNS:
        raise ValueError(f"pattern must be one of {PATTERNS}, got {pattern!r}")
    if pattern == "causal":
        return causal_mask(n)
    if pattern == "local":
        return sliding_window_mask(n, window)
    if pattern == "dilated":
        return dilated_window_mask(n, window, dilation)
    if pattern == "global":
        return global_mask(n, global_tokens)
    if pattern == "longformer":
        return longformer_mask(n, window, global_tokens)
    return bigbird_mask(n, block_size, num_random_blocks=num_random_blocks,
                        num_global_blocks=2, seed=seed)


def render(
    pattern: str = "longformer",
    n: int = 24,
    window: int = 2,
    dilation: int = 2,
    global_tokens: str = "0",
    block_size: int = 3,
    num_random_blocks: int = 1,
    seed: int = 0,
) -> Figure:
    """The mask (left) and the score memory it needs at n = 128K against dense (right)."""
    glob = parse_positions(global_tokens, n)
    mask = build_mask(pattern, n, window, dilation, glob, block_size, num_random_blocks, seed)
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    a, b = fig.subplots(1, 2, width_ratios=[1.2, 1])
    draw_mask(a, mask, pattern)
    # Memory at a long length: one head, fp32 scores; kept entries per row as in this mask.
    big = 131072
    per_row = {
        "causal": big / 2,
        "local": 2 * window + 1,
        "dilated": 2 * window + 1,
        "global": 2 * len(glob),
        "longformer": 2 * window + 1 + 2 * len(glob),
        "bigbird": block_size * (3 + 2 + num_random_blocks),
    }[pattern]
    dense_b = big * big * 4
    sparse_b = big * min(big, per_row) * 4
    bars = b.bar(["dense", pattern], [dense_b, sparse_b], color=["#a0aec0", "#2b6cb0"])
    b.set_yscale("log")
    b.bar_label(bars, [format_bytes(dense_b), format_bytes(sparse_b)], fontsize=8)
    b.set_ylabel("score memory, 1 head, fp32")
    b.set_title(f"at n = {big:,}: {sparse_b / dense_b:.2%} of dense", fontsize=9)
    fig.suptitle(f"{pattern}: {int(mask.sum())} of {n * n} pairs kept "
                 f"(density {density(mask):.2f})", fontsize=10)
    return fig


def mask_explorer() -> widgets.Widget:
    """Dropdown for the pattern, sliders for its parameters, text for the global tokens."""
    style = {"description_width": "120px"}
    return widgets.interactive(
        render,
        pattern=widgets.Dropdown(options=PATTERNS, value="longformer", description="pattern",
                                 style=style),
        n=widgets.IntSlider(24, 4, 64, description="n", style=style),
        window=widgets.IntSlider(2, 1, 16, description="window (one side)", style=style),
        dilation=widgets.IntSlider(2, 1, 6, description="dilation", style=style),
        global_tokens=widgets.Text("0", description="global tokens", style=style),
        block_size=widgets.IntSlider(3, 1, 8, description="BigBird block", style=style),
        num_random_blocks=widgets.IntSlider(1, 0, 4, description="random blocks", style=style),
        seed=widgets.IntSlider(0, 0, 20, description="seed", style=style),
    )
