"""Figures for KV caches: which positions each cache holds over time, the paged block table,
cache memory as the sequence grows, and what evicting an attention sink does.

Each function draws what `lcedu.kvcache` computes (`cache_history`, `PagedKVCache`'s block
tables, `nbytes()`, `decode_qkv`) and returns a matplotlib Figure (not pyplot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from lcedu.kvcache.paged import PagedKVCache
from lcedu.viz._axes import finish_log2_plot

__all__ = ["plot_cache_history", "plot_block_table", "plot_cache_memory", "plot_sink_effect"]


def plot_cache_history(histories: Mapping[str, torch.Tensor] | None = None) -> Figure:
    """One panel per cache: row = decoding step, column = position, dark = held in cache
    (default: full, sliding W=5 and sinks 2 + 3 over 16 steps, as in notebook 08)."""
    if histories is None:
        from lcedu.kvcache.decode import cache_history
        from lcedu.kvcache.full import KVCache
        from lcedu.kvcache.sinks import SinkCache
        from lcedu.kvcache.sliding import SlidingWindowCache

        histories = {
            "full": cache_history(KVCache(), 16),
            "sliding, W=5": cache_history(SlidingWindowCache(5), 16),
            "sinks, 2 + 3": cache_history(SinkCache(2, 3), 16),
        }
    if not histories:
        raise ValueError("plot_cache_history needs at least one cache history")
    fig = Figure(figsize=(3.2 * len(histories), 3.4), layout="constrained")
    axes = fig.subplots(1, len(histories), squeeze=False)[0]
    for ax, (name, held) in zip(axes, histories.items()):
        h = held.to(torch.int).numpy()
        causal = np.tril(np.ones_like(h))
        ax.imshow(causal * 0.25 + h * 0.75, cmap="Blues", vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{name}\nholds {int(h[-1].sum())} of {h.shape[1]}", fontsize=9)
        ax.set_xlabel("position")
        ax.set_ylabel("step")
    fig.suptitle("what each cache holds after each step (pale = evicted)", fontsize=10)
    return fig


def _example_paged_cache() -> PagedKVCache:
    """A 6-token prompt, a fork sharing it, and each sequence grown a little (notebook 08)."""
    g = torch.Generator().manual_seed(0)
    cache = PagedKVCache(block_size=4, num_blocks=12)
    prompt = torch.randn(1, 2, 6, 8, generator=g)
    cache.update(prompt, prompt, seq_ids=[0])
    sample = cache.fork(0)
    more = torch.randn(1, 2, 3, 8, generator=g)
    cache.update(more, more, seq_ids=[0])
    one = torch.randn(1, 2, 1, 8, generator=g)
    cache.update(one, one, seq_ids=[sample])
    return cache


def plot_block_table(cache: PagedKVCache | None = None) -> Figure:
    """Each sequence's block table (logical block → pool block) and the pool's occupancy."""
    if cache is None:
        cache = _example_paged_cache()
    if not isinstance(cache, PagedKVCache):
        raise ValueError("plot_block_table needs a PagedKVCache")
    seqs = cache.sequences
    fig = Figure(figsize=(8, 1.0 + 0.6 * (len(seqs) + 1)), layout="constrained")
    ax = fig.subplots()
    colours = [f"C{i % 10}" for i in range(len(seqs))]
    for row, s in enumerate(seqs):
        y = len(seqs) - row
        n = cache.seq_len(s)
        for i, b in enumerate(cache.block_table(s)):
            filled = min(cache.block_size, n - i * cache.block_size) / cache.block_size
            shared = cache.refcount(b) > 1
            ax.add_patch(Rectangle((i, y), filled * 0.9, 0.8, color=colours[row], alpha=0.8))
            ax.add_patch(
                Rectangle(
                    (i, y),
                    0.9,
                    0.8,
                    fill=False,
                    lw=2 if shared else 0.8,
                    ls="--" if shared else "-",
                )
            )
            ax.text(i + 0.45, y + 0.4, str(b), ha="center", va="center", fontsize=8)
        ax.text(-0.2, y + 0.4, f"seq {s} ({n} tok)", ha="right", va="center", fontsize=8)
    for b in range(cache.num_blocks):
        used = cache.refcount(b)
        ax.add_patch(Rectangle((b * 0.5, 0), 0.45, 0.5, color="0.3" if used else "0.9"))
    ax.text(-0.2, 0.25, "pool", ha="right", va="center", fontsize=8)
    width = max([cache.num_blocks * 0.5] + [len(cache.block_table(s)) for s in seqs])
    ax.set_xlim(-2.5, width + 0.5)
    ax.set_ylim(-0.2, len(seqs) + 1)
    ax.axis("off")
    ax.set_title(
        f"block tables (numbers = pool blocks, dashed = shared); block_size="
        f"{cache.block_size}, {cache.num_free_blocks}/{cache.num_blocks} free",
        fontsize=9,
    )
    return fig


def plot_cache_memory(rows: Sequence[Mapping[str, Any]] | None = None) -> Figure:
    """Cache bytes against sequence length, one line per cache type (rows from the bench).

    Caches that hold the same bytes at every length share one line and one label.
    """
    if rows is None:
        from lcedu.bench.practice import measure_cache_memory

        rows = measure_cache_memory((128, 512, 2048, 8192))
    if not rows:
        raise ValueError("plot_cache_memory needs rows with cache, seq_len and cache_bytes")
    series: dict[tuple, list[str]] = {}
    for name in dict.fromkeys(r["cache"] for r in rows):
        pts = tuple(sorted((r["seq_len"], r["cache_bytes"]) for r in rows if r["cache"] == name))
        series.setdefault(pts, []).append(name)
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    for i, (pts, names) in enumerate(series.items()):
        ax.plot(
            [p[0] for p in pts],
            [p[1] / 2**20 for p in pts],
            marker="o",
            label=" = ".join(names),
            ls=["-", "--", ":", "-."][i % 4],
        )
    finish_log2_plot(fig, ax, "tokens in the sequence", "cache MiB (one layer)")
    return fig


def plot_sink_effect(norms: Mapping[str, torch.Tensor] | None = None, window: int = 8) -> Figure:
    """Output size per step for each cache; the line at `window` marks token 0's eviction
    (default: the toy sink sequence of notebook 08 through full, sliding and sink caches)."""
    if norms is None:
        from lcedu.kvcache.decode import decode_qkv
        from lcedu.kvcache.full import KVCache
        from lcedu.kvcache.sinks import SinkCache, sink_toy_qkv
        from lcedu.kvcache.sliding import SlidingWindowCache

        q, k, v = sink_toy_qkv(48, generator=torch.Generator().manual_seed(0))
        caches = {
            "full cache": KVCache(),
            f"sliding window (W={window})": SlidingWindowCache(window),
            f"sinks (1 + {window - 1})": SinkCache(1, window - 1),
        }
        norms = {n: decode_qkv(q, k, v, c)[0, 0].norm(dim=-1) for n, c in caches.items()}
    fig = Figure(figsize=(6.5, 3.4), layout="constrained")
    ax = fig.subplots()
    for name, y in norms.items():
        ax.plot(np.asarray(y, dtype=float), label=name)
    ax.axvline(window, color="0.5", ls="--", lw=1)
    ax.text(
        window + 0.5, ax.get_ylim()[1] * 0.95, "token 0 leaves the window", fontsize=8, va="top"
    )
    ax.set_xlabel("decoding step")
    ax.set_ylabel("|attention output|")
    fig.legend(loc="outside lower center", ncol=3, fontsize=8, frameon=False)
    return fig
