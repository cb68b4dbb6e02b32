"""Figures for the capstone's byte-LM grid: strided loss vs length, and loss by position.

"Train short, test long" (Press et al., 2022, Fig. 1) on byte-level code, mean ± sd over seeds
as error bars and bands; drawn from the shipped records (`lcedu.models.byte_records`) when
called without arguments.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from lcedu.viz.capstone import _curves

__all__ = ["byte_length_figure", "byte_position_figure"]

SCHEMES = [(m, "none") for m in ("none", "learned", "sinusoidal", "rope", "alibi")]
ROPE = [("rope", s) for s in ("none", "linear", "ntk_aware", "dynamic_ntk", "yarn")]
FINE_TUNES = [("rope_ft256_linear", "linear"), ("rope_ft256_yarn", "yarn"),
              ("rope_ft256_none", "none")]
LENGTHS = (128, 256, 512, 1024)


def byte_length_figure(rows: list[dict] | None = None) -> Figure:
    """Strided loss (nats/byte) vs evaluation length: the five schemes, and RoPE's zero-shot
    scalings (factor = length / 128) beside its fine-tunes at 256 (factor max(2, length/128))."""
    from lcedu.models.byte_records import byte_rows
    from lcedu.models.recall_eval import summarize

    rows = byte_rows() if rows is None else rows
    if not rows:
        raise ValueError("rows is empty: give the rows of lcedu.models.byte_records.byte_rows")
    cells = summarize(rows, "loss")
    fig = Figure(figsize=(10, 5.6), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    panels = ((SCHEMES, "five schemes, no scaling"),
              (ROPE + FINE_TUNES, "RoPE: zero-shot scaling, and fine-tunes at 256"))
    drawn = 0
    for ax, (curves, title) in zip(axes, panels):
        for i, xs, ms, sds, ls, marker, label in _curves(cells, curves):
            ax.errorbar(xs, ms, yerr=sds, ls=ls, marker=marker, ms=5, capsize=3, label=label,
                        color=f"C{i}", alpha=0.9)
            drawn += 1
        ax.set_xscale("log", base=2)
        ax.set_xticks(LENGTHS, [f"{n}\n({n // 128}×)" for n in LENGTHS])
        ax.set_xlim(100, 1300)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("evaluation length (bytes)")
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    if drawn == 0:
        raise ValueError("none of the byte-LM curves is in the rows")
    axes[0].set_ylabel("strided loss (nats/byte)")
    fig.suptitle("Byte LMs trained at 128 bytes (mean ± sd over seeds)", fontsize=11)
    return fig


def byte_position_figure(curves: dict | None = None) -> Figure:
    """Loss at each position of a 1024-byte window (8× the training length), mean ± sd band
    over seeds: where in a long window each scheme stops predicting well."""
    from lcedu.models.byte_records import position_curves
    from lcedu.models.recall_records import MODEL_LABELS, SCALING_LABELS

    curves = position_curves() if curves is None else curves
    chosen = [("none", "none"), ("sinusoidal", "none"), ("rope", "none"), ("alibi", "none"),
              ("rope", "yarn"), ("rope_ft256_yarn", "yarn")]
    fig = Figure(figsize=(8, 4.4), layout="constrained")
    ax = fig.add_subplot()
    drawn = 0
    for i, key in enumerate(chosen):
        if key not in curves:
            continue
        c = curves[key]
        bucket = c["start"][1] - c["start"][0] if len(c["start"]) > 1 else 1
        xs = [s + bucket / 2 for s in c["start"]]
        lo = [m - s for m, s in zip(c["mean"], c["sd"])]
        hi = [m + s for m, s in zip(c["mean"], c["sd"])]
        label = MODEL_LABELS.get(key[0], key[0])
        if key[1] != "none" and not key[0].startswith("rope_ft"):
            label += " + " + SCALING_LABELS.get(key[1], key[1])
        ls = ("-", "--", "-.", ":")[i % 4]
        ax.plot(xs, c["mean"], ls=ls, marker="o", ms=3, color=f"C{i}", label=label)
        ax.fill_between(xs, lo, hi, color=f"C{i}", alpha=0.2, lw=0)
        drawn += 1
    if drawn == 0:
        raise ValueError("none of the byte-LM position curves is in `curves`")
    ax.axvline(128, color="0.4", lw=1, ls=":")
    ax.text(128, 1.0, " training length", transform=ax.get_xaxis_transform(), fontsize=9,
            va="bottom", color="0.3")
    ax.set_xlabel("position in a 1024-byte window (bytes of context)")
    ax.set_ylabel("loss at that position (nats/byte)")
    ax.set_title("Loss by position at 8× the training length (mean ± sd over seeds)",
                 fontsize=10, pad=14)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    return fig
