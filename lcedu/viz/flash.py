"""Figures for FlashAttention: online softmax block by block, the tile map causal skips, the IO
model, and measured time/memory against sequence length.

Draws what `lcedu.attention.flash` computes (`online_softmax`, `visited_tiles`,
`hbm_bytes_naive`/`hbm_bytes_flash`, after Dao et al., 2022) and the records written by
`lcedu bench attention`. Every function returns a `matplotlib.figure.Figure`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import NullLocator

from lcedu.attention.flash import (
    hbm_bytes_flash,
    hbm_bytes_naive,
    online_softmax,
    visited_tiles,
)

__all__ = [
    "plot_online_softmax",
    "plot_tile_map",
    "tile_explorer_figure",
    "plot_io_model",
    "plot_bench",
    "load_bench_records",
    "METHOD_STYLE",
]

TILE_COLOURS = ["#eeeeee", "#4c72b0", "#dd8452"]  # skipped, full, masked
METHOD_STYLE = {
    "naive": ("naive (materialised)", "#c44e52", "o"),
    "flash": ("flash_attention (ours, 128)", "#4c72b0", "s"),
    "flash_b512": ("flash_attention (ours, 512)", "#64b5cd", "s"),
    "sdpa_flash": ("SDPA flash", "#55a868", "^"),
    "sdpa_efficient": ("SDPA mem-efficient", "#8172b2", "v"),
    "sdpa_cudnn": ("SDPA cuDNN", "#937860", "D"),
    "sdpa_math": ("SDPA math", "#da8bc3", "x"),
    "triton": ("Triton kernel (ours)", "#dd8452", "*"),
}


def plot_online_softmax(scores: torch.Tensor | None = None, block: int = 5) -> Figure:
    """Left: the scores, shaded by block, with the running max after each block. Right: the
    running sum l, rescaled each time the max grows, ending at the softmax denominator.
    (Default scores: 20 seeded standard normals × 2, as in notebook 03.)"""
    if scores is None:
        scores = torch.randn(20, generator=torch.Generator().manual_seed(0)) * 2
    probs, ms, ls = online_softmax(scores, block)
    x = scores.detach().double().numpy()
    n, nb = x.size, ms.numel()
    fig = Figure(figsize=(10, 3.9), layout="constrained")
    ax, ax2 = fig.subplots(1, 2)
    for b in range(nb):
        idx = np.arange(b * block, min((b + 1) * block, n))
        ax.bar(idx, x[idx], color=f"C{b % 10}", alpha=0.75, label=f"block {b}")
        ax.hlines(float(ms[b]), 0, idx[-1] + 0.4, colors=f"C{b % 10}", linestyles="--")
    ax.set(
        title="scores, one block at a time (dashed: running max m)",
        xlabel="key j",
        ylabel="score s_j",
    )
    ax.legend(fontsize=8, ncol=min(nb, 5), loc="upper center", bbox_to_anchor=(0.5, -0.2),
              frameon=False)
    steps = np.arange(1, nb + 1)
    ax2.plot(steps, ls.numpy(), "o-", label="running sum l (relative to current m)")
    true_l = float(np.exp(x - x.max()).sum())
    ax2.axhline(true_l, color="k", ls=":", label="Σ e^(s−max s) over all keys")
    ax2.set(title="the running sum after each block", xlabel="blocks read", ylabel="l")
    ax2.set_xticks(steps)
    ax2.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    del probs
    return fig


def plot_tile_map(
    n_q: int = 512, n_k: int = 512, block_q: int = 64, block_k: int = 64, causal: bool = True
) -> Figure:
    """The (query block × key block) grid: computed in full, computed with a mask, skipped."""
    grid = visited_tiles(n_q, n_k, block_q, block_k, causal)
    fig = Figure(figsize=(6.2, 4.4), layout="constrained")
    ax = fig.subplots()
    ax.imshow(grid.numpy(), cmap=ListedColormap(TILE_COLOURS), vmin=0, vmax=2)
    tq, tk = grid.shape
    ax.set_xticks(np.arange(-0.5, tk, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, tq, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=1)
    ax.tick_params(which="minor", length=0)
    visited = int((grid > 0).sum())
    ax.set(
        title=f"{'causal' if causal else 'full'}: {visited} of {tq * tk} tiles computed",
        xlabel=f"key block ({block_k} keys)",
        ylabel=f"query block ({block_q} queries)",
    )
    ax.legend(
        handles=[
            Patch(color=c, label=lab)
            for c, lab in zip(TILE_COLOURS, ("skipped", "full", "masked (diagonal)"))
        ],
        loc="center left",
        bbox_to_anchor=(1.02, 0.5),
        fontsize=9,
        frameon=False,
    )
    return fig


def tile_explorer_figure(
    n: int = 512, block_q: int = 64, block_k: int = 64, causal: bool = True
) -> Figure:
    """The tile map of an n × n attention with these block sizes (the tile explorer's view)."""
    return plot_tile_map(n, n, block_q, block_k, causal)


def plot_io_model(
    sizes: Sequence[int] = (512, 1024, 2048, 4096, 8192, 16384, 32768),
    head_dim: int = 64,
    sram_kib: tuple[int, ...] = (100, 192),
) -> Figure:
    """HBM bytes moved per head (fp16) against n: standard attention vs FlashAttention."""
    if not sizes:
        raise ValueError("sizes must be a non-empty list of sequence lengths")
    ns = np.array(sizes)
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.loglog(
        ns,
        [hbm_bytes_naive(int(n), head_dim) for n in ns],
        "o-",
        color="#c44e52",
        label="standard: Θ(nd + n²)",
    )
    for i, kib in enumerate(sram_kib):
        ax.loglog(
            ns,
            [hbm_bytes_flash(int(n), head_dim, sram_bytes=kib * 1024) for n in ns],
            "s-",
            color=f"C{i}",
            label=f"flash, SRAM {kib} KiB: Θ(n²d²/M)",
        )
    ax.set(
        xlabel="sequence length n",
        ylabel="HBM bytes per head (fp16)",
        title=f"IO model (Dao et al., 2022), d = {head_dim}",
    )
    ax.legend(fontsize=8, loc="upper left")
    return fig


def load_bench_records(folder: str | Path) -> list[dict[str, Any]]:
    """Every `attention_*.json` record under folder (as written by `lcedu bench attention`)."""
    folder = Path(folder)
    records = []
    for path in sorted(folder.glob("attention_*.json")):
        rec = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(rec, dict) and "rows" in rec and "environment" in rec:
            rec["path"] = path.name
            records.append(rec)
    return records


def plot_bench(rows: list[dict[str, Any]] | None = None, title: str = "") -> Figure:
    """Median time (non-causal, causal) and peak extra memory against n, one line per method
    (default: the first CPU record shipped in `lcedu/data/bench/`)."""
    if rows is None:
        from lcedu.bench.attention import BENCH_DIR

        rec = next(r for r in load_bench_records(BENCH_DIR) if r["environment"]["device"] == "cpu")
        rows = rec["rows"]
        title = title or f"recorded: {rec['environment']['device_name']}"
    ok = [r for r in rows if r.get("status") == "ok"]
    if not ok:
        raise ValueError("no measured rows to plot (every method was skipped)")
    fig = Figure(figsize=(12, 4.4), layout="constrained")
    axes = fig.subplots(1, 3)
    methods = [m for m in METHOD_STYLE if any(r["method"] == m for r in ok)]
    for m in methods:
        label, colour, marker = METHOD_STYLE[m]
        for ax, causal in zip(axes[:2], (False, True)):
            pts = sorted(
                (r["n"], r["median_ms"]) for r in ok if r["method"] == m and r["causal"] == causal
            )
            if pts:
                ax.loglog(*zip(*pts), marker=marker, color=colour, label=label)
        pts = sorted(
            (r["n"], r["peak_bytes"] / 2**20)
            for r in ok
            if r["method"] == m and not r["causal"] and r.get("peak_bytes")
        )
        if pts:
            axes[2].loglog(*zip(*pts), marker=marker, color=colour, label=label)
    axes[0].set(title="non-causal", xlabel="n", ylabel="median time (ms)")
    axes[1].set(title="causal", xlabel="n", ylabel="median time (ms)")
    axes[2].set(title="peak extra memory (non-causal)", xlabel="n", ylabel="MiB")
    ns = sorted({r["n"] for r in ok})
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [f"{n:,}" for n in ns])
        ax.xaxis.set_minor_locator(NullLocator())
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
