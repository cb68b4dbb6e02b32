"""Figures for §4, ALiBi: the slopes per head, bias matrices, each head's span, memory.

Every number is computed by `lcedu.positions.alibi` (slopes, biases, spans, the lesson
module's buffer size) or `lcedu.attention.reference` (attention weights); these functions
only draw them and return a matplotlib Figure (Press et al., "Train Short, Test Long").
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from matplotlib.figure import Figure

from lcedu.attention.reference import attention
from lcedu.kvcache.memory import format_bytes
from lcedu.positions.alibi import (
    alibi_bias,
    alibi_bias_bytes,
    alibi_effective_span,
    alibi_slopes,
    lesson_buffer_bytes,
)

__all__ = [
    "plot_slopes",
    "plot_bias_matrices",
    "plot_effective_span",
    "plot_attention_pattern",
    "plot_bias_memory",
    "attention_weights",
    "draw_slopes",
    "draw_bias",
    "draw_attention",
    "alibi_explorer_figure",
]


def _check_heads(head_counts: Sequence[int]) -> list[int]:
    counts = list(head_counts)
    if not counts or any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in counts):
        raise ValueError(f"head_counts must be positive whole numbers, got {head_counts!r}")
    return counts


def _pick_heads(heads: Sequence[int] | None, num_heads: int) -> list[int]:
    """The heads to draw: those given (checked), or the first, middle and last."""
    if heads is None:
        heads = sorted({0, num_heads // 2, num_heads - 1})
    heads = list(heads)
    if not heads or any(not isinstance(h, int) or not 0 <= h < num_heads for h in heads):
        raise ValueError(f"heads must be indices in 0..{num_heads - 1}, got {heads!r}")
    return heads


def draw_slopes(ax, num_heads: int, *, highlight: int | None = None, label: str | None = None):
    """Draw −log2(m_h) against the head index on `ax`; the interleaved extra heads hollow."""
    slopes = alibi_slopes(num_heads, dtype=torch.float64)
    exps = [-math.log2(m) for m in slopes.tolist()]
    n = 2 ** int(math.floor(math.log2(num_heads)))
    heads = list(range(num_heads))
    (line,) = ax.plot(heads[:n], exps[:n], "o-", label=label or f"H = {num_heads}")
    if num_heads > n:
        ax.plot(heads[n:], exps[n:], "o", mfc="white", color=line.get_color(), ms=7)
    if highlight is not None:
        ax.plot([highlight], [exps[highlight]], "o", ms=13, mfc="none", color="crimson")
    ax.set_xlabel("head index", fontsize=10)
    ax.set_ylabel("−log2(slope)   (slope = 2^−y)", fontsize=10)
    ax.grid(True, alpha=0.3)
    return line


def plot_slopes(head_counts: Sequence[int] = (8, 12, 16, 20, 32)) -> Figure:
    """Slopes per head on a log2 scale for several head counts.

    A power of two H gives a straight line from 2^(−8/H) to 2^(−8). For other H the extra
    heads (hollow markers) take the in-between slopes of 2n heads: they interleave instead
    of continuing the line below 2^(−8).
    """
    counts = _check_heads(head_counts)
    fig = Figure(figsize=(2.1 * len(counts) + 0.9, 3.9), layout="constrained")
    axes = fig.subplots(1, len(counts), sharey=True, squeeze=False)[0]
    for ax, h in zip(axes, counts):
        draw_slopes(ax, h)
        ax.axhline(8, color="grey", ls=":", lw=1)
        ax.set_title(f"H = {h}", fontsize=11)
        ax.tick_params(labelsize=9)
        if ax is not axes[0]:
            ax.set_ylabel("")
    axes[0].invert_yaxis()
    fig.suptitle(
        "ALiBi slopes m_h = 2^(−8h/H), one point per head\n"
        "hollow: the extra heads of a non-power-of-two H, interleaved between the others",
        fontsize=11,
    )
    return fig


def draw_bias(ax, bias: torch.Tensor, title: str = "", *, vmin: float | None = None):
    """Draw one (q_len, k_len) bias matrix; −inf (masked) is shown white."""
    data = bias.detach().double().cpu().clone()
    data[torch.isinf(data)] = float("nan")
    im = ax.imshow(data.numpy(), cmap="viridis", vmin=vmin, vmax=0, interpolation="nearest")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
    return im


def plot_bias_matrices(
    num_heads: int = 8,
    seq_len: int = 24,
    heads: Sequence[int] | None = None,
    *,
    causal: bool = True,
    symmetric: bool = False,
) -> Figure:
    """The bias −m_h·(i−j) of several heads side by side, on one colour scale."""
    bias = alibi_bias(num_heads, seq_len, causal=causal, symmetric=symmetric)
    heads = _pick_heads(heads, num_heads)
    slopes = alibi_slopes(num_heads, dtype=torch.float64)
    finite = bias[torch.isfinite(bias)]
    vmin = float(finite.min())
    fig = Figure(figsize=(3.2 * len(heads) + 0.8, 3.4), layout="constrained")
    axes = fig.subplots(1, len(heads), squeeze=False)[0]
    im = None
    for ax, h in zip(axes, heads):
        im = draw_bias(ax, bias[h], f"head {h}: m = 2^{math.log2(slopes[h].item()):.2f}", vmin=vmin)
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="bias added to the score")
    kind = "causal, −m·(i−j)" if causal else "symmetric, −m·|i−j|"
    fig.suptitle(f"ALiBi bias, {num_heads} heads, {kind}", fontsize=10)
    return fig


def plot_effective_span(num_heads: int = 8, threshold: float = 10.0) -> Figure:
    """Per head, the distance at which the bias reaches −threshold (threshold / m_h), log2."""
    span = alibi_effective_span(num_heads, threshold)
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.add_subplot()
    ax.bar(range(num_heads), span.tolist(), color="tab:blue")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("head index")
    ax.set_ylabel(f"distance where bias = −{threshold:g}")
    ax.set_title(
        f"Effective span per head (H = {num_heads}): from {span.min().item():.0f} "
        f"to {span.max().item():,.0f} tokens"
    )
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def draw_attention(ax, weights: torch.Tensor, title: str = ""):
    """Draw a (q_len, k_len) matrix of attention probabilities."""
    im = ax.imshow(
        weights.detach().double().cpu().numpy(), cmap="magma", vmin=0, interpolation="nearest"
    )
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
    return im


def attention_weights(
    num_heads: int, seq_len: int, *, causal: bool = True, head_dim: int = 16, seed: int = 0
) -> torch.Tensor:
    """Attention probabilities (num_heads, L, L) of random q/k (seeded) with the ALiBi bias."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(1, num_heads, seq_len, head_dim, generator=g)
    k = torch.randn(1, num_heads, seq_len, head_dim, generator=g)
    bias = alibi_bias(num_heads, seq_len, causal=causal, symmetric=not causal)
    _, w = attention(q, k, k, bias=bias, return_weights=True)
    return w[0]


def plot_attention_pattern(
    num_heads: int = 8,
    seq_len: int = 32,
    heads: Sequence[int] | None = None,
    *,
    causal: bool = True,
    seed: int = 0,
) -> Figure:
    """Attention weights on random q/k for several heads: steep heads stay near the diagonal."""
    w = attention_weights(num_heads, seq_len, causal=causal, seed=seed)
    heads = _pick_heads(heads, num_heads)
    fig = Figure(figsize=(3.2 * len(heads), 3.4), layout="constrained")
    axes = fig.subplots(1, len(heads), squeeze=False)[0]
    for ax, h in zip(axes, heads):
        draw_attention(ax, w[h], f"head {h}")
    fig.suptitle("softmax(q·kᵀ/√d + ALiBi bias) on random q, k", fontsize=10)
    return fig


def plot_bias_memory(
    lengths: Sequence[int] = (1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072),
    num_heads: int = 32,
    max_seq_len: int = 8192,
) -> Figure:
    """Memory: the lesson's precomputed buffer vs the bias built for the length at hand.

    The lesson's int64 buffer is max_seq_len² (persistent, saved in the state_dict) and ends
    at max_seq_len. Built per call, the bias is H·L² fp32 for a whole sequence (transient),
    H·L for one decoding step; a fused FlexAttention kernel computes it in registers.
    """
    ls = _check_heads(lengths)
    buf = lesson_buffer_bytes(max_seq_len)
    fig = Figure(figsize=(8, 4), layout="constrained")
    ax = fig.add_subplot()
    inside = [n for n in ls if n <= max_seq_len]
    ax.plot(
        inside,
        [buf] * len(inside),
        "s-",
        color="crimson",
        label=f"lesson: int64 buffer for max_seq_len={max_seq_len:,} (persistent)",
    )
    if any(n > max_seq_len for n in ls):
        ax.axvline(max_seq_len, color="crimson", ls=":", lw=1)
        ax.text(
            max_seq_len * 1.05,
            buf,
            "beyond: RuntimeError",
            color="crimson",
            fontsize=8,
            va="bottom",
        )
    ax.plot(
        ls,
        [alibi_bias_bytes(num_heads, n) for n in ls],
        "o-",
        label=f"on the fly, whole sequence: H·L² fp32 (H={num_heads}, freed after the call)",
    )
    ax.plot(
        ls,
        [alibi_bias_bytes(num_heads, 1, n) for n in ls],
        "^-",
        label="on the fly, one decoding step: H·L fp32",
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log", base=2)
    ticks = [2**p for p in range(10, 41, 5)]
    ax.set_yticks(ticks, [format_bytes(t) for t in ticks])
    ax.set_xlabel("sequence length L")
    ax.set_ylabel("bytes")
    ax.set_title("A precomputed distance buffer vs a bias built for the length at hand")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return fig


EXPLORER_MODES = ("causal", "symmetric")


def alibi_explorer_figure(
    num_heads: int = 8, head: int = 0, seq_len: int = 32, mode: str = "causal", seed: int = 0
) -> Figure:
    """Three panels for one head: the slopes of all heads, its bias, its attention pattern."""
    if mode not in EXPLORER_MODES:
        raise ValueError(f"mode must be 'causal' or 'symmetric', got {mode!r}")
    if isinstance(head, bool) or not isinstance(head, int) or not 0 <= head < num_heads:
        raise ValueError(f"head must be an index in 0..{num_heads - 1}, got {head!r}")
    causal = mode == "causal"
    bias = alibi_bias(num_heads, seq_len, causal=causal, symmetric=not causal)
    weights = attention_weights(num_heads, seq_len, causal=causal, seed=seed)
    m = alibi_slopes(num_heads, dtype=torch.float64)[head].item()
    span = alibi_effective_span(num_heads)[head].item()

    fig = Figure(figsize=(12, 4.2), layout="constrained")
    ax_s, ax_b, ax_w = fig.subplots(1, 3)
    draw_slopes(ax_s, num_heads, highlight=head)
    ax_s.invert_yaxis()
    ax_s.set_title(f"slopes of {num_heads} heads (circled: head {head})", fontsize=10)
    im = draw_bias(ax_b, bias[head], f"bias of head {head}, m = 2^{math.log2(m):.2f}")
    fig.colorbar(im, ax=ax_b, shrink=0.8)
    im = draw_attention(ax_w, weights[head], "attention on random q, k")
    fig.colorbar(im, ax=ax_w, shrink=0.8)
    fig.suptitle(
        f"head {head}: bias reaches −10 at distance {span:,.0f} "
        f"({'within' if span < seq_len else 'beyond'} this {seq_len}-token window)",
        fontsize=11,
    )
    return fig
