"""Figures for ring attention: the schedule, who computes which pair when, load, memory.

Draws what `lcedu.attention.ring` computes (its `RingTrace` and `ring_memory_per_rank`),
following Ring Attention (Liu et al., 2023) and the zigzag/striped layouts for causal
balance (ring-flash-attention; Brandon et al., 2023). Every function returns a Figure.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from lcedu.attention.ring import (
    LAYOUTS,
    RingTrace,
    ring_memory_per_rank,
    ring_schedule,
    token_positions,
)

__all__ = [
    "KIND_COLOURS",
    "plot_ring_schedule",
    "plot_pair_steps",
    "plot_ring_step",
    "plot_load_balance",
    "plot_memory_per_rank",
    "ring_stepper_figure",
    "pair_step_matrix",
]

KIND_COLOURS = {"full": "#4c72b0", "masked": "#dd8452", "skip": "#e6e6e6"}


def _check_trace(trace) -> None:
    if not isinstance(trace, RingTrace):
        raise ValueError(
            f"trace must be a RingTrace (from simulate_ring_attention or ring_schedule), "
            f"got {type(trace).__name__}"
        )


def _chunk_label(trace: RingTrace, src: int) -> str:
    W = trace.world_size
    if trace.layout == "zigzag":
        return f"c{src},{2 * W - 1 - src}"
    if trace.layout == "striped":
        return f"t≡{src}"
    return f"c{src}"


def draw_schedule(ax, trace: RingTrace, highlight_step: int | None = None) -> None:
    """Ranks × steps grid: the K/V block each rank holds, coloured by what it does with it."""
    W = trace.world_size
    for s in range(W):
        for r in range(W):
            st = trace.at(s, r)
            ax.add_patch(_rect(s, r, KIND_COLOURS[st.kind], bold=highlight_step == s))
            frac = st.attended / st.block if st.block else 0.0
            if W <= 4:
                txt = f"KV of r{st.kv_rank}\n{_chunk_label(trace, st.kv_rank)}"
            else:  # small cells: the block's rank only (its chunks are in the ring panel)
                txt = f"r{st.kv_rank}"
            if trace.causal:
                txt += f"\n{frac:.0%}"
            ax.text(s + 0.5, r + 0.5, txt, ha="center", va="center", fontsize=8)
    ax.set_xlim(0, W)
    ax.set_ylim(W, 0)
    ax.set_xticks([s + 0.5 for s in range(W)],
                  [f"step {s}" if W <= 4 else str(s) for s in range(W)], fontsize=8)
    ax.set_yticks([r + 0.5 for r in range(W)],
                  [f"rank {r}" if W <= 4 else f"r{r}" for r in range(W)], fontsize=8)
    ax.tick_params(length=0)
    ax.set_aspect("equal")


def _rect(s, r, colour, bold=False):
    return Rectangle(
        (s, r), 1, 1, facecolor=colour, edgecolor="black", linewidth=2.5 if bold else 0.5
    )


def _legend(fig_or_ax, causal: bool) -> None:
    kinds = ["full", "masked", "skip"] if causal else ["full"]
    labels = {"full": "computed, no mask", "masked": "computed with mask", "skip": "skipped"}
    handles = [Patch(facecolor=KIND_COLOURS[k], edgecolor="black", label=labels[k]) for k in kinds]
    fig_or_ax.legend(handles=handles, loc="outside lower center", ncol=3, fontsize=8, frameon=False)


def _default_trace(trace: RingTrace | None, layout: str = "contiguous") -> RingTrace:
    return ring_schedule(16, 4, causal=True, layout=layout) if trace is None else trace


def plot_ring_schedule(trace: RingTrace | None = None) -> Figure:
    """The ring schedule: which K/V block every rank holds at every step, and its fate
    (default: 16 tokens on 4 ranks, causal, contiguous)."""
    trace = _default_trace(trace)
    _check_trace(trace)
    W = trace.world_size
    fig = Figure(figsize=(1.0 * W + 1.6, 0.9 * W + 1.2), layout="constrained")
    ax = fig.subplots()
    draw_schedule(ax, trace)
    mode = "causal" if trace.causal else "non-causal"
    ax.set_title(f"ring schedule: {W} ranks, {trace.layout} layout, {mode}", fontsize=10)
    _legend(fig, trace.causal)
    return fig


def pair_step_matrix(trace: RingTrace, upto_step: int | None = None) -> np.ndarray:
    """(L, L) array: the step at which each (query, key) pair is computed; -1 = never
    (masked by causality), -2 = not yet (after `upto_step`)."""
    _check_trace(trace)
    W, L = trace.world_size, trace.seq_len
    owner = np.empty(L, dtype=np.int64)
    for r in range(W):
        owner[token_positions(L, W, r, trace.layout).numpy()] = r
    step = (owner[:, None] - owner[None, :]) % W
    if trace.causal:
        i = np.arange(L)
        step = np.where(i[None, :] <= i[:, None], step, -1)
    if upto_step is not None:
        step = np.where(step > upto_step, -2, step)
    return step


def draw_pair_steps(ax, trace: RingTrace, upto_step: int | None = None) -> None:
    W = trace.world_size
    m = pair_step_matrix(trace, upto_step)
    base = [(0.93, 0.93, 0.93), (1, 1, 1)]  # -2 not yet, -1 never
    steps = _step_colours(W)
    cmap = ListedColormap(base + steps)
    ax.imshow(m + 2, cmap=cmap, vmin=0, vmax=W + 1, interpolation="nearest")
    ax.set_xlabel("key position", fontsize=9)
    ax.set_ylabel("query position", fontsize=9)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=8)


def _step_colours(W: int) -> list[tuple[float, float, float]]:
    from matplotlib import colormaps

    cm = colormaps["viridis"]
    return [tuple(cm(0.1 + 0.8 * s / max(1, W - 1))[:3]) for s in range(W)]


def plot_pair_steps(trace: RingTrace | None = None, upto_step: int | None = None) -> Figure:
    """Every (query, key) pair coloured by the ring step that computes it (default: 16
    tokens on 4 ranks, causal, zigzag)."""
    trace = _default_trace(trace, "zigzag")
    _check_trace(trace)
    W = trace.world_size
    fig = Figure(figsize=(5.2, 4.6), layout="constrained")
    ax = fig.subplots()
    draw_pair_steps(ax, trace, upto_step)
    handles = [Patch(facecolor=c, label=f"step {s}") for s, c in enumerate(_step_colours(W))]
    fig.legend(handles=handles, loc="outside right center", fontsize=8, frameon=False)
    mode = "causal" if trace.causal else "non-causal"
    ax.set_title(f"which step computes each pair ({trace.layout}, {mode})", fontsize=10)
    return fig


def draw_ring(ax, trace: RingTrace, step: int) -> None:
    """Ranks on a circle; each labelled with the K/V block it holds at `step`; arrows = hops."""
    W = trace.world_size
    angles = [math.pi / 2 - 2 * math.pi * r / W for r in range(W)]
    xy = [(math.cos(a), math.sin(a)) for a in angles]
    for r in range(W):
        st = trace.at(step, r)
        x, y = xy[r]
        ax.add_patch(Circle((x, y), 0.33, facecolor=KIND_COLOURS[st.kind], edgecolor="black"))
        ax.text(
            x,
            y,
            f"rank {r}\nQ r{r}\nKV r{st.kv_rank}" if W <= 4 else f"r{r}\nKV r{st.kv_rank}",
            ha="center",
            va="center",
            fontsize=8,
        )
        if W > 1 and step < W - 1:
            x2, y2 = xy[(r + 1) % W]
            ax.add_patch(
                FancyArrowPatch(
                    (x, y),
                    (x2, y2),
                    shrinkA=24,
                    shrinkB=24,
                    arrowstyle="-|>",
                    mutation_scale=12,
                    connectionstyle="arc3,rad=-0.25",
                    color="#555555",
                )
            )
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")


def plot_ring_step(trace: RingTrace | None = None, step: int = 0) -> Figure:
    """One hop of the ring: who holds what now, and every pair computed up to this step."""
    trace = _default_trace(trace)
    _check_trace(trace)
    W = trace.world_size
    if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < W:
        raise ValueError(f"step must be an integer in 0..{W - 1}, got {step!r}")
    fig = Figure(figsize=(11, 3.9), layout="constrained")
    ax_ring, ax_grid, ax_pairs = fig.subplots(1, 3, width_ratios=[1, 1.1, 1])
    draw_ring(ax_ring, trace, step)
    arrow = "then each sends its K/V block on" if step < W - 1 else "last step: nothing to send"
    ax_ring.set_title(f"step {step}: {arrow}", fontsize=9)
    draw_schedule(ax_grid, trace, highlight_step=step)
    ax_grid.set_title("schedule (this step framed)", fontsize=9)
    draw_pair_steps(ax_pairs, trace, upto_step=step)
    done = int((pair_step_matrix(trace, step) >= 0).sum())
    total = int((pair_step_matrix(trace) >= 0).sum())
    ax_pairs.set_title(f"pairs computed so far: {done}/{total}", fontsize=9)
    _legend(fig, trace.causal)
    mode = "causal" if trace.causal else "non-causal"
    fig.suptitle(f"ring attention, {W} ranks, {trace.layout} layout, {mode}", fontsize=10)
    return fig


def plot_load_balance(seq_len: int = 64, world_size: int = 4) -> Figure:
    """Causal work per rank per step for each layout, and the time the slowest rank sets.

    Work is the number of (query, key) pairs a rank attends to at that step (what a causal
    flash kernel computes, up to tile granularity), in units of a full (L/W)² block. Ranks
    move in lockstep, so each step lasts as long as its busiest rank.
    """
    traces = [ring_schedule(seq_len, world_size, causal=True, layout=lay) for lay in LAYOUTS]
    W = world_size
    fig = Figure(figsize=(2.9 * len(LAYOUTS) + 3.4, 4.0), layout="constrained")
    axes = fig.subplots(1, len(LAYOUTS) + 1, width_ratios=[1] * len(LAYOUTS) + [1.2])
    number_size = 11 if W <= 4 else 9 if W <= 6 else 8
    for ax, tr in zip(axes, traces):
        block = tr.steps[0].block
        work = np.array(tr.grid("attended"), dtype=float).T / block  # [rank][step]
        ax.imshow(work, cmap="Blues", vmin=0, vmax=1)
        for r in range(W):
            for s in range(W):
                ax.text(
                    s,
                    r,
                    f"{work[r, s]:.2f}" if W <= 6 else f"{work[r, s]:.1f}",
                    ha="center",
                    va="center",
                    fontsize=number_size,
                    color="white" if work[r, s] > 0.6 else "black",
                )
        ax.set_xticks(range(W), [str(s) for s in range(W)], fontsize=9)
        ax.set_yticks(range(W), [str(r) for r in range(W)], fontsize=9)
        ax.set_xlabel("step", fontsize=10)
        ax.set_ylabel("rank", fontsize=10)
        ax.set_title(f"{tr.layout}: balance {tr.balance():.0%}", fontsize=11)
    ax = axes[-1]
    block = traces[0].steps[0].block
    crit = [tr.critical_path() / block for tr in traces]
    ideal = sum(traces[0].work_per_rank()) / (W * block)
    ax.bar(LAYOUTS, crit, color=["#c44e52", "#55a868", "#8172b2"])
    ax.axhline(ideal, color="black", linestyle="--", linewidth=1)
    ax.set_ylim(0, max(crit) * 1.25)
    for i, c in enumerate(crit):
        ax.text(i, c, f"{c:.2f}", ha="center", va="bottom", fontsize=10)
    ax.set_ylabel("time set by the slowest rank\n(full blocks of work)", fontsize=10)
    ax.tick_params(labelsize=9)
    ax.set_title("causal ring: total time\n(dashed: ideal = total work / W)", fontsize=11)
    fig.suptitle(
        f"causal load balance, {W} ranks, {seq_len} tokens (numbers: work per rank per step)",
        fontsize=11,
    )
    return fig


def plot_memory_per_rank(
    seq_len: int = 131072,
    world_sizes: tuple[int, ...] = (1, 2, 4, 8, 16, 32, 64),
    *,
    heads: int = 32,
    head_dim: int = 128,
    bytes_per_element: int = 2,
) -> Figure:
    """Bytes per rank for one attention layer against world size, for a fixed total length."""
    rows = [
        ring_memory_per_rank(
            seq_len, w, heads=heads, head_dim=head_dim, bytes_per_element=bytes_per_element
        )
        for w in world_sizes
    ]
    gib = 2.0**30
    fig = Figure(figsize=(7.2, 4.8), layout="constrained")
    ax = fig.subplots()
    if all(r["qkvo"] == r["kv_buffers"] for r in rows):  # one line, not one hiding the other
        series = [("qkvo", "Q, K, V, O shards = two K/V blocks in flight (same bytes)", "-o")]
    else:
        series = [("qkvo", "Q, K, V, O shards", ":o"), ("kv_buffers", "two K/V blocks", "-s")]
    series += [
        ("scores", "one fp32 score block (if materialised)", "-^"),
        ("total", "total", "-k"),
    ]
    for key, label, style in series:
        ax.plot(world_sizes, [r[key] / gib for r in rows], style, label=label, markersize=4)
    ax.axhline(
        rows[0]["single_device_scores"] / gib,
        color="#c44e52",
        linestyle="--",
        label="full L² score matrix on one device",
    )
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    low, high = ax.get_ylim()
    ax.set_ylim(low, high * 3)  # the one-device line inside the axes, not on its edge
    ax.set_xlabel("world size W (ranks)")
    ax.set_ylabel("GiB per rank")
    ax.set_xticks(list(world_sizes), [str(w) for w in world_sizes])
    fig.legend(loc="outside lower center", fontsize=8, ncol=2, frameon=False)
    ax.set_title(
        f"one attention layer, {seq_len:,} tokens, {heads} heads × {head_dim}, "
        f"{8 * bytes_per_element}-bit activations",
        fontsize=10,
    )
    return fig


def ring_stepper_figure(
    world_size: int = 4,
    step: int = 0,
    layout: str = "contiguous",
    causal: bool = True,
    chunk: int = 4,
) -> Figure:
    """The ring at `step` for world_size ranks holding `chunk` tokens each (the stepper)."""
    trace = ring_schedule(world_size * chunk, world_size, causal=bool(causal), layout=layout)
    return plot_ring_step(trace, step)
