"""Figures for §2.1–2.2, sparse attention: mask heatmaps, a pattern gallery, the banded
kernel's blocks, receptive fields across layers, the lesson's errors row by row, and the
measured complexity.

Every mask comes from `lcedu.attention.masks` and every number from the library or the
benchmark CSV (Longformer, Beltagy et al., 2020; BigBird, Zaheer et al., 2020); these
functions only draw and return a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from lcedu.attention import masks as patterns
from lcedu.kvcache.memory import format_bytes

__all__ = [
    "draw_mask",
    "plot_mask",
    "plot_mask_gallery",
    "plot_lesson_global_diagram",
    "plot_banded_blocks",
    "plot_receptive_field",
    "plot_row_errors",
    "plot_sparse_bench",
    "PATTERNS",
    "parse_positions",
    "build_mask",
    "mask_explorer_figure",
]

_MASK_CMAP = ListedColormap(["#f4f4f4", "#2b6cb0"])


def _byte_axis(ax) -> None:
    """A log2 byte axis whose ticks sit on round binary sizes (1 KiB, 32 KiB, 1 MiB, ...)."""
    ax.set_yscale("log", base=2)
    low, high = ax.get_ylim()
    ticks = [2.0**p for p in range(0, 61, 5) if low <= 2.0**p <= high]
    ax.set_yticks(ticks, [format_bytes(int(t)) for t in ticks])
    ax.minorticks_off()


def draw_mask(ax, mask: torch.Tensor, title: str | None = None, *, grid: bool | None = None):
    """Draw a (queries, keys) boolean mask on ``ax``: filled = may attend; density in title."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.dim() != 2:
        raise ValueError("draw_mask: mask must be a 2-D boolean tensor (queries, keys)")
    nq, nk = mask.shape
    ax.imshow(mask.cpu().numpy(), cmap=_MASK_CMAP, vmin=0, vmax=1, interpolation="nearest")
    small = max(nq, nk) <= 32
    if grid if grid is not None else small:
        ax.set_xticks(np.arange(-0.5, nk, 1), minor=True)
        ax.set_yticks(np.arange(-0.5, nq, 1), minor=True)
        ax.grid(which="minor", color="white", linewidth=0.6)
        ax.tick_params(which="minor", length=0)
    if small:
        step = 1 if max(nq, nk) <= 16 else 2
        ax.set_xticks(range(0, nk, step))
        ax.set_yticks(range(0, nq, step))
        ax.tick_params(labelsize=8)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
    head = f"{title}\n" if title else ""
    ax.set_title(f"{head}density {patterns.density(mask):.2f}", fontsize=9)


def plot_mask(mask: torch.Tensor | None = None, *, title: str | None = None) -> Figure:
    """One mask heatmap (query/key tick labels and a cell grid for small n); default: a
    16-token Longformer mask, window 2, global token 0."""
    if mask is None:
        mask = patterns.longformer_mask(16, 2, [0])
        title = title or "Longformer, window 2, global [0]"
    fig = Figure(figsize=(4, 4), layout="constrained")
    draw_mask(fig.subplots(), mask, title)
    return fig


def plot_mask_gallery(
    n: int = 16,
    window: int = 2,
    *,
    dilation: int = 2,
    global_tokens: Sequence[int] = (0, 9),
    block_size: int = 2,
    num_random_blocks: int = 1,
    seed: int = 0,
) -> Figure:
    """Causal, local, dilated, global, Longformer and BigBird side by side."""
    masks = {
        "causal": patterns.causal_mask(n),
        f"local (window {window})": patterns.sliding_window_mask(n, window),
        f"dilated (window {window}, dilation {dilation})": patterns.dilated_window_mask(n, window,
                                                                               dilation),
        f"global {list(global_tokens)}": patterns.global_mask(n, list(global_tokens)),
        "Longformer = local + global": patterns.longformer_mask(n, window, list(global_tokens)),
        f"BigBird (blocks of {block_size}, seed {seed})": patterns.bigbird_mask(
            n, block_size, num_random_blocks=num_random_blocks, num_global_blocks=2, seed=seed
        ),
    }
    fig = Figure(figsize=(12, 7.6), layout="constrained")
    for ax, (name, m) in zip(fig.subplots(2, 3).flat, masks.items()):
        draw_mask(ax, m, name)
    fig.suptitle(f"Sparse attention patterns, n = {n} (blue = may attend)", fontsize=11)
    return fig


def plot_lesson_global_diagram(n: int = 7, global_tokens: Sequence[int] = (0,)) -> Figure:
    """The lesson's §2.1 "Global Attention" drawing (global column + diagonal, empty global
    row) next to the real pattern (global row *and* column): erratum 4."""
    g = list(global_tokens)
    lesson = torch.eye(n, dtype=torch.bool)
    lesson[:, g] = True
    lesson[g] = False
    lesson[g, g] = True  # the drawing's first row: only its own cell
    right = patterns.global_mask(n, g) | torch.eye(n, dtype=torch.bool)
    fig = Figure(figsize=(7.5, 3.8), layout="constrained")
    a, b = fig.subplots(1, 2)
    draw_mask(a, lesson, "the lesson's drawing (§2.1)")
    draw_mask(b, right, "global attention (+ self)")
    return fig


def plot_banded_blocks(n: int = 20, window: int = 3, *, causal: bool = False) -> Figure:
    """What the banded kernel computes: blocks of ``window`` queries each score one span of
    keys (light), of which the band |i − j| <= window is kept (blue); the rest never exists."""
    b = window
    allowed = patterns.sliding_window_mask(n, window, causal=causal).numpy()
    computed = np.zeros((n, n), dtype=bool)
    right = 0 if causal else window
    for c in range(0, n, b):  # each query block: one span of keys
        computed[c : c + b, max(0, c - window) : min(n, c + b + right)] = True
    img = np.where(allowed, 2, np.where(computed, 1, 0))
    fig = Figure(figsize=(5, 5), layout="constrained")
    ax = fig.subplots()
    ax.imshow(img, cmap=ListedColormap(["#f4f4f4", "#fbd38d", "#2b6cb0"]), vmin=0, vmax=2,
              interpolation="nearest")
    for c in range(b, n, b):
        ax.axhline(c - 0.5, color="k", linewidth=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("key j")
    ax.set_ylabel("query i (blocks of window)")
    frac = computed.sum() / (n * n)
    ax.set_title(f"computed: {frac:.0%} of n² (orange = scored then masked, blue = kept)",
                 fontsize=9)
    return fig


def plot_receptive_field(
    n: int = 64, window: int = 2, layers: Sequence[int] = (1, 2, 4, 8), *, query: int | None = None
) -> Figure:
    """Which tokens one query can draw on after L stacked windowed layers (left), and how far
    that reaches for plain and dilated windows (right): w·L, or w·dilation·L."""
    layers = list(layers)
    if not layers or any(isinstance(L, bool) or not isinstance(L, int) or L < 1 for L in layers):
        raise ValueError(f"layers must be positive integers, got {layers!r}")
    q = n // 2 if query is None else query
    if not 0 <= q < n:
        raise ValueError(f"query must be a position in 0..{n - 1}, got {q}")
    base = patterns.sliding_window_mask(n, window)
    rows = np.stack([patterns.receptive_field(base, L)[q].numpy() for L in layers])
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    a, b = fig.subplots(1, 2, width_ratios=[2, 1])
    a.imshow(rows, cmap=_MASK_CMAP, aspect="auto", interpolation="nearest")
    a.set_yticks(range(len(layers)), [f"{L} layer{'s' if L > 1 else ''}" for L in layers])
    a.axvline(q, color="crimson", linewidth=1)
    a.set_xlabel("token")
    a.set_title(f"what token {q} can see (window {window} per layer)", fontsize=9)
    depth = list(range(1, max(layers) + 1))
    pos = torch.arange(n)
    for dil in (1, 2):
        m = patterns.dilated_window_mask(n, window, dil)
        reach = [int((pos[patterns.receptive_field(m, L)[q]] - q).abs().max()) for L in depth]
        b.plot(depth, reach, "o-", label=f"dilation {dil}")
    b.set_xlabel("layers")
    b.set_ylabel("furthest token reached (distance)")
    b.legend(fontsize=8)
    b.grid(True, alpha=0.3)
    return fig


def plot_row_errors(got: torch.Tensor | None = None, expected: torch.Tensor | None = None,
                    window: int = 6, *, label: str = "lesson's sketch") -> Figure:
    """Largest |got − expected| per query row (over batch, heads, dims), edges shaded.

    Default: the lesson's sliding-window sketch against the correct window on seeded random
    q, k, v (n = 48, window 6), as in notebook 02.
    """
    if got is None or expected is None:
        from lcedu.attention.sliding_window import (
            lesson_sliding_window_attention,
            sliding_window_attention,
        )

        g = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(1, 2, 48, 16, generator=g) for _ in range(3))
        got = lesson_sliding_window_attention(q, k, v, window_size=2 * window)
        expected = sliding_window_attention(q, k, v, window)
    if got.shape != expected.shape or got.dim() != 4:
        raise ValueError("plot_row_errors: got and expected must be (B, H, n, D) of one shape")
    err = (got.double() - expected.double()).abs().amax(dim=(0, 1, 3)).numpy()
    n = err.shape[0]
    fig = Figure(figsize=(8, 3.2), layout="constrained")
    ax = fig.subplots()
    ax.axvspan(-0.5, window - 0.5, color="#fbd38d", alpha=0.5, label="zero-padded edge")
    ax.axvspan(n - window + 0.5, n - 0.5, color="#fbd38d", alpha=0.5)
    ax.bar(range(n), np.maximum(err, 1e-17), color="#c53030")
    ax.set_yscale("log")
    ax.set_xlabel("query row i")
    ax.set_ylabel("max |error|")
    ax.set_title(f"{label} vs the correct window, per row", fontsize=9)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def plot_sparse_bench(rows: list[dict[str, Any]] | None = None) -> Figure:
    """Median time and peak memory against n, per method (from `lcedu bench sparse`; default:
    the record shipped with the course)."""
    from lcedu.bench.sparse import LABELS, read_results

    if rows is None:
        rows = read_results()

    fig = Figure(figsize=(11, 4.6), layout="constrained")
    a, b = fig.subplots(1, 2)
    for method, label in LABELS.items():
        pts = [(r["n"], r["median_ms"], r["peak_bytes"]) for r in rows
               if r["method"] == method and r.get("status") == "ok"]
        if not pts:
            continue
        ns = [p[0] for p in pts]
        a.plot(ns, [p[1] for p in pts], "o-", label=label)
        mem = [(p[0], p[2]) for p in pts if p[2]]
        if mem:
            b.plot([m[0] for m in mem], [m[1] for m in mem], "o-", label=label)
    ns = sorted({r["n"] for r in rows})
    if ns:
        heads = rows[0]["heads"] or 1
        b.plot(ns, [heads * n * n * 4 for n in ns], "k--", label="dense score matrix (fp32)")
    for ax, ylabel in ((a, "median time (ms)"), (b, "peak memory (unit on each tick)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = b.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    _byte_axis(b)
    w = rows[0]["window"] if rows else "?"
    fig.suptitle(f"sliding window {w} (one-sided): dense grows as n², banded as n", fontsize=10)
    return fig


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
        return patterns.causal_mask(n)
    if pattern == "local":
        return patterns.sliding_window_mask(n, window)
    if pattern == "dilated":
        return patterns.dilated_window_mask(n, window, dilation)
    if pattern == "global":
        return patterns.global_mask(n, global_tokens)
    if pattern == "longformer":
        return patterns.longformer_mask(n, window, global_tokens)
    return patterns.bigbird_mask(n, block_size, num_random_blocks=num_random_blocks,
                        num_global_blocks=2, seed=seed)


# which of the explorer's parameters each pattern uses (the others are hidden)
PATTERN_PARAMETERS = {
    "window": ("local", "dilated", "longformer"),
    "dilation": ("dilated",),
    "global_tokens": ("global", "longformer"),
    "block_size": ("bigbird",),
    "num_random_blocks": ("bigbird",),
    "seed": ("bigbird",),
}


def mask_explorer_figure(
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
    fig = Figure(figsize=(10, 4.6), layout="constrained")
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
    b.set_yscale("log", base=2)
    b.set_ylim(sparse_b / 4, dense_b * 4)
    _byte_axis(b)
    b.bar_label(bars, [format_bytes(dense_b), format_bytes(sparse_b)], fontsize=9)
    b.set_ylabel("score memory, 1 head, fp32")
    b.set_title(f"at n = {big:,}: {sparse_b / dense_b:.2%} of dense", fontsize=10)
    fig.suptitle(f"{pattern}: {int(mask.sum())} of {n * n} pairs kept "
                 f"(density {patterns.density(mask):.2f})", fontsize=11)
    return fig
