"""Figures for the practical guide: chunks and what they can see, the memory tricks measured,
the scan's O(n) memory against attention's O(n²), and the lesson's §6.1 decision guide.

Each draws what `lcedu.practice`, `lcedu.ssm` and `lcedu.kvcache.memory` compute and
returns a matplotlib Figure (not pyplot).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from lcedu.kvcache.memory import attention_matrix_bytes, kv_cache_bytes
from lcedu.practice.chunking import chunk_spans, chunk_visibility
from lcedu.practice.guide import HUGE, LONG, choose_method
from lcedu.ssm.scan import scan_state_bytes
from lcedu.viz._axes import finish_log2_plot

__all__ = [
    "plot_chunks",
    "plot_memory_tricks",
    "plot_scan_vs_attention_memory",
    "render_guide",
    "shipped_memory_tricks",
]


def plot_chunks(n: int = 64, chunk_size: int = 16, overlap: int = 4) -> Figure:
    """Left: the chunks over the tokens. Right: who can see whom, chunked vs one context."""
    spans = chunk_spans(n, chunk_size, overlap)
    vis = chunk_visibility(n, chunk_size, overlap).numpy().astype(float)
    causal = np.tril(np.ones((n, n)))
    fig = Figure(figsize=(9, 3.4), layout="constrained")
    a1, a2 = fig.subplots(1, 2, width_ratios=[1.3, 1])
    for i, (a, b) in enumerate(spans):
        a1.barh(i, b - a, left=a, color=f"C{i % 10}", alpha=0.7)
        if i:
            a1.barh(i, overlap, left=a, color="none", edgecolor="k", hatch="//")
    a1.invert_yaxis()
    a1.set_xlim(0, n)
    a1.set_xlabel("token")
    a1.set_ylabel("chunk")
    a1.set_title(f"{len(spans)} chunks of {chunk_size}, overlap {overlap} (hatched)", fontsize=9)
    a2.imshow(causal * 0.3 + vis * 0.7, cmap="Greens", vmin=0, vmax=1, interpolation="nearest")
    kept = vis.sum() / causal.sum()
    a2.set_title(f"visible pairs: {kept:.0%} of one long context (pale = lost)", fontsize=9)
    a2.set_xlabel("key")
    a2.set_ylabel("query")
    return fig


def shipped_memory_tricks() -> list[dict[str, Any]]:
    """The memory-tricks rows of the record `lcedu bench practice` shipped (practice_cpu.csv)."""
    import csv

    from lcedu.data import data_path

    def num(x: str) -> float | None:
        return float(x) if x else None

    with open(data_path("bench/practice_cpu.csv"), newline="", encoding="utf-8") as f:
        return [
            {"config": r["name"], **{k: num(r[k]) for k in ("time_ratio", "peak_ratio",
                                                            "saved_ratio")}}
            for r in csv.DictReader(f)
            if r["section"] == "memory_tricks"
        ]


def plot_memory_tricks(rows: Sequence[Mapping[str, Any]] | None = None) -> Figure:
    """Bars of time, peak memory and saved bytes relative to fp32 (rows from the bench;
    default: the shipped record)."""
    if rows is None:
        rows = shipped_memory_tricks()
    if not rows:
        raise ValueError("plot_memory_tricks needs the rows of measure_memory_tricks")
    metrics = [
        ("time_ratio", "step time"),
        ("peak_ratio", "peak memory"),
        ("saved_ratio", "saved for backward"),
    ]
    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(metrics))
    w = 0.8 / len(rows)
    for i, r in enumerate(rows):
        vals = [r.get(k) if r.get(k) is not None else np.nan for k, _ in metrics]
        ax.bar(x + i * w, vals, w, label=r["config"])
    ax.axhline(1, color="0.4", lw=0.8)
    ax.set_xticks(x + w * (len(rows) - 1) / 2, [m for _, m in metrics])
    ax.set_ylabel("relative to fp32, no checkpointing")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return fig


def plot_scan_vs_attention_memory(
    lengths: Sequence[int] = (1024, 4096, 16384, 65536, 262144, 1048576),
    *,
    heads: int = 32,
    head_dim: int = 128,
    channels: int = 5120,
    state: int = 16,
) -> Figure:
    """Per layer, fp16: attention scores (n²), KV cache (n), an SSM's state (constant)."""
    n = np.asarray(lengths, dtype=float)
    scores = [attention_matrix_bytes(int(L), heads) for L in lengths]
    kv = [kv_cache_bytes(1, heads, head_dim, int(L)) for L in lengths]
    st = [scan_state_bytes(channels, state)] * len(lengths)
    scan_act = [int(L) * channels * 2 for L in lengths]  # the scan's inputs/outputs, O(n)
    fig = Figure(figsize=(6, 3.8), layout="constrained")
    ax = fig.subplots()
    for ys, label, ls in (
        (scores, "attention scores (materialised), n²", "-"),
        (kv, "KV cache while decoding, n", "--"),
        (scan_act, "scan activations, n", "-."),
        (st, "SSM state while decoding, constant", ":"),
    ):
        ax.plot(n, np.asarray(ys, dtype=float), ls, marker="o", label=label)
    finish_log2_plot(fig, ax, "sequence length", "bytes per layer (fp16)")
    return fig


def render_guide(
    original_len: int = 4096,
    target_len: int = 32768,
    gpus: int = 1,
    can_finetune: bool = True,
    from_scratch: bool = False,
) -> Figure:
    """The lesson's length bands on a log axis, the jump marked, the recommendation written."""
    rec = choose_method(
        original_len, target_len, gpus=gpus, can_finetune=can_finetune, from_scratch=from_scratch
    )
    fig = Figure(figsize=(8.5, 4.0), layout="constrained")
    ax = fig.subplots()
    bands = [
        (1024, LONG, "positions: PI (x2) / YaRN / ALiBi", "C0"),
        (LONG, HUGE, "+ FlashAttention, Ring, sparse", "C1"),
        (HUGE, 16 * HUGE, "+ Mamba / SSM", "C3"),
    ]
    for lo, hi, label, c in bands:
        ax.axvspan(lo, hi, ymin=0.78, ymax=0.95, color=c, alpha=0.3)
        ax.text(
            (lo * hi) ** 0.5,
            0.865,
            label,
            ha="center",
            va="center",
            fontsize=8,
            transform=ax.get_xaxis_transform(),
        )
    ax.annotate(
        "",
        xy=(target_len, 0.65),
        xytext=(original_len, 0.65),
        xycoords=("data", "axes fraction"),
        arrowprops={"arrowstyle": "->", "lw": 2},
    )
    ax.text(
        original_len,
        0.58,
        f"{original_len:,}",
        ha="center",
        fontsize=8,
        transform=ax.get_xaxis_transform(),
    )
    ax.text(
        target_len,
        0.58,
        f"{target_len:,}",
        ha="center",
        fontsize=8,
        transform=ax.get_xaxis_transform(),
    )
    ax.set_xscale("log", base=2)
    ax.set_xlim(1024, 16 * HUGE)
    ax.set_yticks([])
    ax.set_xlabel("context length (tokens)")
    text = "\n".join(
        [f"• {m}: {r}" for m, r in zip(rec.methods, rec.reasons)]
        + [f"  note: {n}" for n in rec.notes]
    )
    ax.text(0.01, 0.48, text, transform=ax.transAxes, va="top", fontsize=8, wrap=True)
    setting = (
        f"{original_len:,} → {target_len:,} tokens, {gpus} GPU{'s' if gpus > 1 else ''}, "
        f"{'can' if can_finetune else 'cannot'} fine-tune"
        + (", training from scratch" if from_scratch else "")
    )
    ax.set_title(f"{setting}\nlesson §6.1 row(s): {', '.join(rec.rows)}", fontsize=10)
    return fig
