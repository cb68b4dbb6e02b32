"""Figures for the capstone: recall accuracy and local loss vs length, byte-LM loss vs length.

The recall figures draw the shipped associative-recall grid (mean ± sd over seeds as error
bars): a small-scale "train short, test long" (Press et al., 2022, Fig. 1) measured on
retrieval, split by how far back the fact lies. The byte-LM figures draw recorded metrics
dicts. Every function draws shipped records when called without arguments.
"""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "training_curves_figure",
    "length_figure",
    "passkey_figure",
    "recall_schemes_figure",
    "recall_rope_figure",
    "recall_local_loss_figure",
    "SCHEME_LABELS",
]

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


def _shipped_byte_metrics() -> tuple[dict, dict]:
    from lcedu.models.evaluate import shipped_metrics
    from lcedu.models.positional import SCHEMES

    train, evals = {}, {}
    for pos in SCHEMES:
        train[pos], evals[pos] = shipped_metrics(pos)
    return train, evals


def _byte_metrics(given: dict | None, which: int, name: str, what: str) -> dict:
    """`given`, or the shipped byte-LM metrics (0: training, 1: evaluations) when it is None;
    an empty dict is refused, naming the argument and what its values should be."""
    if given is None:
        given = _shipped_byte_metrics()[which]
    if not given:
        raise ValueError(f"{name} is empty: give {{scheme: {what}}}")
    return given


def training_curves_figure(train_metrics: dict[str, dict] | None = None) -> Figure:
    """Validation loss vs step, one line per scheme (``{pos: metrics from lcedu train}``)."""
    train_metrics = _byte_metrics(train_metrics, 0, "train_metrics", "metrics dict")
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
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def length_figure(evaluations: dict[str, dict] | None = None, *,
                  ylim: float | None = None) -> Figure:
    """Loss vs evaluation length per scheme, RoPE's scalings dashed (``{pos: lcedu evaluate}``).

    One seed, non-overlapping windows: no uncertainty is drawn because none was measured.
    """
    evaluations = _byte_metrics(evaluations, 1, "evaluations", "evaluation dict")
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
    ax.set_title("Byte LM, one seed: loss vs evaluation length")
    if ylim is not None:
        ax.set_ylim(top=ylim)
    fig.legend(loc="outside lower center", fontsize=8, ncol=3)
    ax.grid(alpha=0.3)
    return fig


def passkey_figure(evaluations: dict[str, dict] | None = None, *,
                   key: str = "digit_accuracy") -> Figure:
    """One heat map per (scheme, scaling): passkey accuracy over length × depth."""
    if evaluations is None:
        evaluations = _shipped_byte_metrics()[1]
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
        ax.set_xticks(range(len(res["lengths"])), [str(n) for n in res["lengths"]], fontsize=8)
        ax.set_yticks(range(len(res["depths"])), [f"{d:.2f}" for d in res["depths"]], fontsize=8)
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
    fig.suptitle("Byte LM passkey (a guess among 10 digits = 0.1; among 256 bytes = 1/256)")
    return fig


# --------------------------------------------------------------------------- recall grid
_STYLES = [("-", "o"), ("--", "s"), ("-.", "^"), (":", "D"), ("-", "v"), ("--", "P"),
           ("-.", "X"), (":", "*")]


def _recall_rows(rows: list[dict] | None) -> list[dict]:
    if rows is None:
        from lcedu.models.recall_records import score_rows

        rows = score_rows()
    if not rows:
        raise ValueError("rows is empty: give the score rows of lcedu.models.recall_records")
    return rows


def _curves(cells: dict, curves: list[tuple[str, str]]):
    """Yield (index, lengths, means, sds, line style, marker, label) of each (model, scaling)
    in `cells`; a curve with no cell is skipped (its index, style and colour stay unused)."""
    from lcedu.models.recall_records import MODEL_LABELS, SCALING_LABELS

    for i, (model, scaling) in enumerate(curves):
        pts = sorted((n, m, sd) for (mo, sc, n), (m, sd, _) in cells.items()
                     if mo == model and sc == scaling)
        if not pts:
            continue
        xs, ms, sds = zip(*pts)
        ls, marker = _STYLES[i % len(_STYLES)]
        label = MODEL_LABELS.get(model, model)
        if scaling != "none" and not model.startswith("rope_ft"):
            label += " + " + SCALING_LABELS.get(scaling, scaling)
        yield i, xs, ms, sds, ls, marker, label


def _recall_panels(rows: list[dict], curves: list[tuple[str, str]], title: str,
                   chance: tuple[float, float] | None) -> Figure:
    from lcedu.models.recall_eval import summarize

    fig = Figure(figsize=(9, 4.4), layout="constrained")
    axes = fig.subplots(1, 2, sharey=True)
    keys = (("near_accuracy", "fact within 64 tokens of the query"),
            ("far_accuracy", "fact more than 64 tokens back"))
    drawn = 0
    for ax, (key, panel) in zip(axes, keys):
        cells = summarize(rows, key)
        for i, xs, ms, sds, ls, marker, label in _curves(cells, curves):
            ax.errorbar(xs, [100 * m for m in ms], yerr=[100 * s for s in sds], ls=ls,
                        marker=marker, ms=5, capsize=3, label=label if key == "near_accuracy"
                        else None, color=f"C{i}", alpha=0.9)
            drawn += 1
        if chance is not None:
            ax.axhline(100 * chance[0], color="gray", lw=1, ls=":")
            ax.axhline(100 * chance[1], color="gray", lw=1, ls="--")
        ax.set_xscale("log", base=2)
        ax.set_xticks([64, 128, 256, 512], ["64\n(1×)", "128\n(2×)", "256\n(4×)", "512\n(8×)"])
        ax.set_xlim(45, 720)
        ax.set_ylim(-3, 103)
        ax.set_title(panel, fontsize=10)
        ax.set_xlabel("evaluation length (tokens)")
        ax.tick_params(labelsize=9)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("answer accuracy (%)")
    if drawn == 0:
        raise ValueError("none of the requested curves is in the rows")
    if chance is not None:
        axes[1].annotate(f"guess among the values in the text: {100 * chance[1]:.0f}%",
                         (0.02, chance[1] * 100 + 1.5), xycoords=("axes fraction", "data"),
                         fontsize=8, color="gray")
        axes[1].annotate(f"blind guess: {100 * chance[0]:.1f}%", (0.02, chance[0] * 100 - 5),
                         xycoords=("axes fraction", "data"), fontsize=8, color="gray")
    fig.suptitle(title + " (mean ± sd over seeds)", fontsize=11)
    fig.legend(loc="outside lower center", ncol=3, fontsize=8)
    return fig


def _chance() -> tuple[float, float]:
    from lcedu.models.recall import RecallTask

    task = RecallTask()
    return task.chance, task.in_context_chance


def recall_schemes_figure(rows: list[dict] | None = None) -> Figure:
    """Recall accuracy vs length for the five schemes (no scaling), near and far facts."""
    rows = _recall_rows(rows)
    curves = [(m, "none") for m in ("none", "learned", "sinusoidal", "rope", "alibi")]
    return _recall_panels(rows, curves, "Trained at 64 tokens, read longer", _chance())


def recall_rope_figure(rows: list[dict] | None = None) -> Figure:
    """RoPE: zero-shot scalings at factor length/64, and the three fine-tunes at 128."""
    rows = _recall_rows(rows)
    curves = [("rope", s) for s in ("none", "linear", "ntk_aware", "dynamic_ntk", "yarn")]
    curves += [("rope_ft128_linear", "linear"), ("rope_ft128_yarn", "yarn"),
               ("rope_ft128_none", "none")]
    return _recall_panels(rows, curves, "RoPE: zero-shot scaling and fine-tunes", _chance())


def recall_local_loss_figure(rows: list[dict] | None = None) -> Figure:
    """Local loss (filler next-token loss) vs length per scheme, with the chain's entropy."""
    from lcedu.models.recall import RecallTask
    from lcedu.models.recall_eval import summarize

    rows = _recall_rows(rows)
    cells = summarize(rows, "local_loss")
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    curves = [(m, "none") for m in ("none", "learned", "sinusoidal", "rope", "alibi")]
    curves += [("rope", "yarn"), ("rope_ft128_yarn", "yarn")]
    for i, xs, ms, sds, ls, marker, label in _curves(cells, curves):
        ax.errorbar(xs, ms, yerr=sds, ls=ls, marker=marker, ms=5, capsize=3, label=label,
                    color=f"C{i}")
    floor = RecallTask().entropy_rate()
    ax.axhline(floor, color="gray", ls=":", lw=1)
    ax.annotate(f"best possible (entropy rate {floor:.2f})", (0.98, floor - 0.01),
                xycoords=("axes fraction", "data"), ha="right", va="top", fontsize=8,
                color="gray")
    ax.set_ylim(bottom=floor - 0.1)
    ax.set_xscale("log", base=2)
    ax.set_xticks([64, 128, 256, 512], ["64", "128", "256", "512"])
    ax.set_xlabel("evaluation length (tokens)")
    ax.set_ylabel("local loss on filler (nats/token)")
    ax.set_title("Local loss vs length (mean ± sd over seeds)")
    ax.grid(alpha=0.3)
    fig.legend(loc="outside right upper", fontsize=8)
    return fig
