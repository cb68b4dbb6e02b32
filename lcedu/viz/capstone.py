"""Figures for the capstone: training curves, loss vs evaluation length, passkey heat maps.

The length plot is the course's small-scale replication of the ALiBi paper's "train short,
test long" figure (Press et al., 2022, Fig. 1): each scheme trained at one length, scored on
longer windows of the same held-out text. The figures only draw recorded metrics dicts.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

__all__ = ["training_curves_figure", "length_figure", "passkey_figure", "SCHEME_LABELS"]

SCHEME_LABELS = {
    "none": "NoPE",
    "learned": "learned abs.",
    "sinusoidal": "sinusoidal",
    "rope": "RoPE",
    "alibi": "ALiBi",
    "rope_none_ft1024": "RoPE, fine-tuned at 1024",
    "rope_linear_ft1024": "RoPE + PI, fine-tuned at 1024",
    "rope_yarn_ft1024": "RoPE + YaRN, fine-tuned at 1024",
}
SCALING_LABELS = {
    "none": "no scaling",
    "linear": "PI",
    "ntk_aware": "NTK-aware",
    "dynamic_ntk": "dynamic NTK",
    "yarn": "YaRN",
    "llama3": "Llama 3",
}


def training_curves_figure(train_metrics: dict[str, dict]) -> Figure:
    """Validation loss vs step, one line per scheme (``{pos: metrics from lcedu train}``)."""
    if not train_metrics:
        raise ValueError("train_metrics is empty: give {scheme: metrics dict}")
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for pos, m in train_metrics.items():
        steps = [h["step"] for h in m["history"]]
        val = [h["val_loss"] for h in m["history"]]
        ax.plot(steps, val, marker="o", ms=3, label=SCHEME_LABELS.get(pos, pos))
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title("Training at 256 bytes")
    ax.set_ylim(top=min(3.5, ax.get_ylim()[1]))
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def length_figure(evaluations: dict[str, dict], *, ylim: float | None = None) -> Figure:
    """Loss vs evaluation length per scheme, RoPE's scalings dashed (``{pos: lcedu evaluate}``)."""
    if not evaluations:
        raise ValueError("evaluations is empty: give {scheme: evaluation dict}")
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    train_len = min(ev["train_len"] for ev in evaluations.values())
    for pos, ev in evaluations.items():
        for method, rows in ev["perplexity"].items():
            pts = [(r["length"], r["loss"]) for r in rows if r["loss"] is not None]
            if not pts:
                continue
            xs, ys = zip(*pts)
            label = SCHEME_LABELS.get(pos, pos)
            style = "-"
            if method != "none":
                label += f" + {SCALING_LABELS.get(method, method)}"
                style = "--"
            ax.plot(xs, ys, style, marker="o", ms=4, label=label)
    if train_len:  # the shortest training length among the curves
        ax.axvline(train_len, color="gray", lw=1, ls=":")
        ax.annotate("training length", (train_len, 0.02), xycoords=("data", "axes fraction"),
                    rotation=90, ha="right", va="bottom", fontsize=8, color="gray")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("evaluation length (bytes)")
    ax.set_ylabel("validation loss (nats/byte)")
    ax.set_title("Train short, test long: loss vs evaluation length")
    if ylim is not None:
        ax.set_ylim(top=ylim)
    ax.legend(fontsize=8, ncol=2)
    ax.grid(alpha=0.3)
    return fig


def passkey_figure(evaluations: dict[str, dict], *, key: str = "digit_accuracy") -> Figure:
    """One heat map per (scheme, scaling): passkey accuracy over length × depth."""
    panels = [
        (pos, method, res)
        for pos, ev in evaluations.items()
        for method, res in ev.get("passkey", {}).items()
    ]
    if not panels:
        raise ValueError("no passkey results in these evaluations")
    cols = min(4, len(panels))
    rows = math.ceil(len(panels) / cols)
    fig = Figure(figsize=(3.1 * cols, 2.6 * rows + 0.4), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    image = None
    for ax, (pos, method, res) in zip(axes.flat, panels):
        grid = np.array(
            [[np.nan if v is None else v for v in row] for row in res[key]], dtype=float
        )
        image = ax.imshow(grid.T, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto")
        ax.set_xticks(range(len(res["lengths"])), [str(n) for n in res["lengths"]], fontsize=7)
        ax.set_yticks(range(len(res["depths"])), [f"{d:.2f}" for d in res["depths"]], fontsize=7)
        title = SCHEME_LABELS.get(pos, pos)
        if method != "none":
            title += f" + {SCALING_LABELS.get(method, method)}"
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("length", fontsize=8)
        ax.set_ylabel("depth", fontsize=8)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    if image is not None:
        fig.colorbar(image, ax=axes, shrink=0.8, label=key.replace("_", " "))
    fig.suptitle("Passkey retrieval (chance for one digit = 0.1)")
    return fig
