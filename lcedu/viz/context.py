"""Figures for §1: context lengths over time, the quadratic wall, KV-cache memory growth.

Each function draws numbers computed elsewhere (the shipped table, a measurement from
`lcedu.bench.quadratic_wall`, `lcedu.kvcache.memory`) and returns a matplotlib Figure.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from matplotlib.figure import Figure

from lcedu.kvcache.memory import MODEL_PRESETS, ModelShape, format_bytes

__all__ = [
    "context_length_timeline",
    "quadratic_wall",
    "kv_cache_growth",
    "kv_calculator_figure",
]

GIB = 1024**3


def context_length_timeline(rows: Sequence[dict[str, Any]] | None = None) -> Figure:
    """Context length (log scale) against release year, one labelled point per model
    (default: the lesson's table shipped in `lcedu/data/context_lengths.csv`)."""
    if rows is None:
        from lcedu.data import load_context_lengths

        rows = load_context_lengths()
    if not rows:
        raise ValueError("context_length_timeline needs at least one row")
    fig = Figure(figsize=(8, 4.2), layout="constrained")
    ax = fig.add_subplot()
    families = sorted({r["model"] for r in rows})
    for i, fam in enumerate(families):
        pts = sorted(
            (r["year"], r["context_tokens"], r["variant"]) for r in rows if r["model"] == fam
        )
        xs = [p[0] + 0.08 * (i - len(families) / 2) for p in pts]
        ax.plot(xs, [p[1] for p in pts], "o-", label=fam, alpha=0.85)
    ax.set_yscale("log", base=2)
    ax.set_xlabel("release year")
    ax.set_ylabel("context length (tokens, log scale)")
    years = [r["year"] for r in rows]
    ax.set_xticks(range(min(years), max(years) + 1))
    ax.set_title("Context windows grew ~1000× in four years")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="upper left")
    return fig


def quadratic_wall(
    rows: Sequence[dict[str, Any]] | None = None,
    exponent_time: float | None = None,
    exponent_mem: float | None = None,
) -> Figure:
    """Measured time and peak memory of materialised attention vs n, log-log, with n² guides.

    With no rows, measures a quick run here (no record of it is shipped: it is this
    machine's) and fits the exponents with `fit_power_law`.
    """
    if rows is None:
        from lcedu.bench.quadratic_wall import fit_power_law, measure_quadratic_wall

        rows = measure_quadratic_wall((128, 256, 512, 1024), repeats=1)
    if rows and exponent_time is None:
        from lcedu.bench.quadratic_wall import fit_power_law

        exponent_time = fit_power_law([r["n"] for r in rows], [r["seconds"] for r in rows])[0]
        mem = [(r["n"], r["peak_bytes"]) for r in rows if r.get("peak_bytes")]
        if exponent_mem is None and len(mem) >= 2:
            exponent_mem = fit_power_law(*zip(*mem))[0]
    if not rows:
        raise ValueError("quadratic_wall needs measured rows")
    ns = [r["n"] for r in rows]
    fig = Figure(figsize=(9, 4.4), layout="constrained")
    ax_t, ax_m = fig.subplots(1, 2)
    ts = [r["seconds"] * 1e3 for r in rows]
    ax_t.loglog(ns, ts, "o-", label=f"measured (slope {exponent_time:.2f})")
    ax_t.loglog(ns, [ts[-1] * (n / ns[-1]) ** 2 for n in ns], "k--", alpha=0.5, label="∝ n²")
    ax_t.set_xlabel("sequence length n")
    ax_t.set_ylabel("time per call (ms)")
    ax_t.set_title("time")
    ax_t.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    mems = [(r["n"], r["peak_bytes"]) for r in rows if r.get("peak_bytes")]
    if mems:
        label = "measured peak" + (f" (slope {exponent_mem:.2f})" if exponent_mem else "")
        ax_m.loglog([m[0] for m in mems], [m[1] / 2**20 for m in mems], "o-", label=label)
    ax_m.loglog(
        ns,
        [r["score_matrix_bytes"] / 2**20 for r in rows],
        "k--",
        alpha=0.5,
        label="one score matrix (h·n²·4 B)",
    )
    ax_m.set_xlabel("sequence length n")
    ax_m.set_ylabel("MiB")
    ax_m.set_title("peak memory")
    ax_m.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)
    for ax in (ax_t, ax_m):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ns, [f"{n:,}" for n in ns])
        ax.minorticks_off()
        ax.grid(True, which="major", alpha=0.25)
    return fig


def kv_cache_growth(
    shapes: Sequence[ModelShape] | None = None,
    lengths: Sequence[int] = tuple(2**p for p in range(10, 18)),
    *,
    bytes_per_element: int = 2,
    batch_size: int = 1,
    budget_gib: float | None = 80.0,
) -> Figure:
    """KV-cache size (GiB) vs context length for each model shape, with a GPU-memory line."""
    if shapes is None:
        shapes = list(MODEL_PRESETS.values())
    if not shapes or not lengths:
        raise ValueError("kv_cache_growth needs at least one model shape and one length")
    # Shapes with the same KV-cache sizes (e.g. Llama 3 8B and Mistral 7B) share one line
    # and one label, so no line hides under another.
    series: dict[tuple[int, ...], list[tuple[int, str]]] = {}
    for i, shape in enumerate(shapes):
        key = tuple(
            shape.kv_cache_bytes(n, batch_size=batch_size, bytes_per_element=bytes_per_element)
            for n in lengths
        )
        series.setdefault(key, []).append((i, shape.name))
    fig = Figure(figsize=(8.5, 4.8), layout="constrained")
    ax = fig.add_subplot()
    for sizes, named in series.items():
        names = " = ".join(n for _, n in named)
        ax.loglog(
            lengths,
            [b / GIB for b in sizes],
            "o-",
            color=f"C{named[0][0] % 10}",  # a shape keeps its colour whatever it merges with
            label=f"{names}: {format_bytes(sizes[-1])} at {lengths[-1]:,}",
        )
    if budget_gib:
        ax.axhline(budget_gib, color="crimson", ls=":", label=f"{budget_gib:g} GiB (one large GPU)")
        low, high = ax.get_ylim()
        ax.set_ylim(low, max(high, budget_gib) * 2)  # the GPU line inside the axes, not on its edge
    ax.set_xscale("log", base=2)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("KV cache (GiB)")
    ax.set_title(f"KV cache, batch {batch_size}, {bytes_per_element} bytes per element")
    ax.grid(True, which="both", alpha=0.25)
    long = max(len(t.get_label()) for t in ax.get_lines()) > 55
    fig.legend(loc="outside lower center", fontsize=8, ncol=1 if long else 2, frameon=False)
    return fig


def kv_calculator_figure(
    num_layers: int = 32,
    num_heads: int = 32,
    num_kv_heads: int = 8,
    head_dim: int = 128,
    max_context_pow2: int = 17,
    bytes_per_element: int = 2,
    batch_size: int = 1,
) -> Figure:
    """The KV calculator's view: your shape against the presets, up to 2**max_context_pow2."""
    if num_kv_heads > num_heads:
        raise ValueError(
            "num_kv_heads cannot exceed num_heads (each KV head serves ≥ 1 query head)"
        )
    group = num_heads / num_kv_heads
    custom = ModelShape(
        f"your model ({num_layers}L, {num_heads} Q / {num_kv_heads} KV heads × {head_dim}, "
        f"{group:g} Q per KV)",
        num_layers,
        num_heads,
        num_kv_heads,
        head_dim,
    )
    lengths = [2**p for p in range(10, max_context_pow2 + 1)]
    fig = kv_cache_growth(
        [custom, *MODEL_PRESETS.values()],
        lengths,
        bytes_per_element=bytes_per_element,
        batch_size=batch_size,
    )
    total = custom.kv_cache_bytes(
        lengths[-1], batch_size=batch_size, bytes_per_element=bytes_per_element
    )
    fig.suptitle(f"your model at {lengths[-1]:,} tokens: {format_bytes(total)}", fontsize=11)
    return fig
