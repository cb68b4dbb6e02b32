"""Figures for notebook 10 (a real model): loss per position bucket beyond the native context,
attention-sink mass per layer and head, streaming loss with and without sinks, pass-key rate.

They draw the JSON records that `lcedu real-model ...` writes (Chen et al. 2023 and Peng et
al. 2023 for the scalings; Xiao et al. 2023, StreamingLLM, for sinks; Mohtashami & Jaggi
2023 for the pass key). Called with no argument they load the shipped records.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "SCALING_STYLE",
    "bucket_table",
    "bucket_differences",
    "perplexity_figure",
    "sink_mass_figure",
    "streaming_figure",
    "passkey_figure",
    "streaming_summary",
    "streaming_difference",
    "passkey_rates",
]

SCALING_STYLE = {
    "none": ("no scaling", "-", "o"),
    "pi": ("PI", "--", "s"),
    "ntk": ("NTK-aware", "-.", "v"),
    "dynamic": ("dynamic NTK", ":", "^"),
    "yarn": ("YaRN", "-", "D"),
}


def _record(record: dict[str, Any] | None, name: str) -> dict[str, Any]:
    if record is not None:
        return record
    from lcedu.models.real_model.records import load_record

    return load_record(name)


def bucket_table(record: dict[str, Any] | None = None) -> dict[str, dict[str, list[float]]]:
    """{scaling: {"mean", "std", "min", "max", "n"}} per bucket, over the texts recorded.

    Only texts with every scaling recorded enter, so methods are compared on the same texts.
    """
    rec = _record(record, "perplexity")
    runs = rec["runs"]
    scalings = list(dict.fromkeys(r["scaling"] for r in runs))
    files = [f for f in dict.fromkeys(r["file"] for r in runs)
             if all(any(r["file"] == f and r["scaling"] == s for r in runs) for s in scalings)]
    if not files:
        raise ValueError("the perplexity record holds no text with every scaling")
    out = {}
    for s in scalings:
        rows = np.array([next(r["buckets"] for r in runs if r["file"] == f and r["scaling"] == s)
                         for f in files])
        out[s] = {
            "mean": rows.mean(0).tolist(),
            "std": (rows.std(0, ddof=1) if len(files) > 1 else np.zeros(rows.shape[1])).tolist(),
            "min": rows.min(0).tolist(),
            "max": rows.max(0).tolist(),
            "n": len(files),
        }
    return out


def bucket_differences(
    record: dict[str, Any] | None = None, base: str = "none"
) -> dict[str, dict[str, list[float]]]:
    """{scaling: {"mean", "min", "max", "n"}} of the paired difference scaling − `base` per
    bucket, text by text: the texts differ far more from each other than the methods do, so
    methods are compared within a text (a difference is consistent when min and max agree in sign).
    """
    rec = _record(record, "perplexity")
    runs = {(r["file"], r["scaling"]): np.array(r["buckets"]) for r in rec["runs"]}
    scalings = list(dict.fromkeys(s for _, s in runs))
    if base not in scalings:
        raise ValueError(f"base must be one of the recorded scalings {scalings}, got {base!r}")
    files = [f for f in dict.fromkeys(f for f, _ in runs)
             if all((f, s) in runs for s in scalings)]
    out = {}
    for s in scalings:
        if s == base:
            continue
        d = np.array([runs[(f, s)] - runs[(f, base)] for f in files])
        out[s] = {"mean": d.mean(0).tolist(), "min": d.min(0).tolist(),
                  "max": d.max(0).tolist(), "n": len(files)}
    return out


def perplexity_figure(record: dict[str, Any] | None = None) -> Figure:
    """Mean NLL per 1K-token bucket, one line per scaling; bars span the texts' min–max."""
    rec = _record(record, "perplexity")
    table = bucket_table(rec)
    bucket = rec["bucket"]
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    width = len(table)
    for i, (s, t) in enumerate(table.items()):
        label, ls, marker = SCALING_STYLE.get(s, (s, "-", "o"))
        mean = np.array(t["mean"])
        # bucket b covers tokens b·bucket+1 … (b+1)·bucket; plot at its centre (K tokens),
        # methods nudged apart so the error bars do not hide each other
        x = (np.arange(len(mean)) + 0.5) * bucket / 1024 + (i - (width - 1) / 2) * 0.07
        err = np.array([mean - np.array(t["min"]), np.array(t["max"]) - mean])
        text = f"{label} ({t['n']} text{'s' if t['n'] > 1 else ''})"
        if np.any(err > 0):
            ax.errorbar(x, mean, yerr=err, ls=ls, marker=marker, ms=4, capsize=2, label=text)
        else:  # one text: no spread to show (zero-length bars would only stack their caps)
            ax.plot(x, mean, ls=ls, marker=marker, ms=4, label=text + ", no spread")
    native = rec["native_context"] / 1024
    ax.axvline(native, color="0.4", lw=1)
    ax.text(native, 1.0, " native context", transform=ax.get_xaxis_transform(), fontsize=9,
            va="bottom", ha="left", color="0.3")
    ax.set_xlabel("position in the text (K tokens; 1K = 1024)")
    ax.set_ylabel("mean NLL in the bucket (nats/token)")
    ax.set_title(f"SmolLM2-135M beyond its context, factor {rec['factor']:g}", pad=14)
    ax.grid(alpha=0.3)
    fig.legend(loc="outside lower center", ncol=min(4, width), fontsize=9)
    return fig


def sink_mass_figure(mass: Any = None, *, uniform: float | None = None,
                     n_sink: int = 4) -> Figure:
    """Heat map of the attention mass each (layer, head) puts on the first `n_sink` tokens.

    `mass` is (layers, heads); by default the one recorded with the streaming run.
    """
    if mass is None:
        entry = _record(None, "streaming")["sink_mass"][0]
        mass, uniform = entry["mass"], entry["uniform"]
    m = np.asarray(getattr(mass, "numpy", lambda: mass)(), dtype=float)
    if m.ndim != 2:
        raise ValueError(f"mass must be (layers, heads), got shape {m.shape}")
    fig = Figure(figsize=(7.5, 3.4), layout="constrained")
    ax, bx = fig.subplots(1, 2, width_ratios=[2.2, 1])
    im = ax.imshow(m.T, aspect="auto", origin="lower", vmin=0, vmax=1, cmap="viridis")
    ax.set_xlabel("layer (0 = first)")
    ax.set_ylabel("query head")
    ax.set_title(f"mass on the first {n_sink} tokens")
    fig.colorbar(im, ax=ax, label="attention probability")
    bx.plot(m.mean(1), np.arange(m.shape[0]), marker="o", ms=3, label="mean over heads")
    if uniform is not None:
        bx.axvline(uniform, color="0.3", ls="--", label="uniform attention")
    bx.set_xlim(0, 1)
    bx.set_xlabel("mean mass")
    bx.set_ylabel("layer (0 = first)")
    bx.set_title("per layer")
    bx.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), fontsize=8, ncol=1)
    return fig


def _rolling(x: np.ndarray, w: int) -> np.ndarray:
    w = max(1, min(w, len(x)))
    c = np.cumsum(np.insert(x, 0, 0.0))
    return (c[w:] - c[:-w]) / w


def streaming_summary(record: dict[str, Any] | None = None) -> dict[str, dict[str, float]]:
    """{text: {kind: mean NLL of the tokens after the cache is full}} from a streaming record
    (kinds: "dense" = one ordinary forward, "window", "sinks")."""
    rec = _record(record, "streaming")
    start = int(rec.get("window") or 0)
    out: dict[str, dict[str, float]] = {}
    for run in rec["runs"]:
        nll = np.asarray(run["nll"], dtype=float)
        if len(nll) <= start:
            raise ValueError(
                f"the {run['kind']} run of {run['file']} has {len(nll)} tokens, not more than "
                f"the cache ({start})"
            )
        out.setdefault(run["file"], {})[run["kind"]] = float(nll[start:].mean())
    return out


def streaming_difference(record: dict[str, Any] | None = None, a: str = "window",
                         b: str = "sinks", *, block: int = 64, resamples: int = 2000,
                         seed: int = 0) -> dict[str, dict[str, float]]:
    """Per text: mean NLL of `a` minus `b` after the cache is full, with a 95% interval from
    a block bootstrap (blocks of `block` consecutive tokens, so nearby tokens' correlation
    is kept): {text: {"difference", "low", "high", "blocks"}}."""
    rec = _record(record, "streaming")
    start = int(rec.get("window") or 0)
    rng = np.random.default_rng(seed)
    out = {}
    for name in dict.fromkeys(run["file"] for run in rec["runs"]):
        runs = {run["kind"]: np.asarray(run["nll"], dtype=float)
                for run in rec["runs"] if run["file"] == name}
        if a not in runs or b not in runs:
            continue
        d = (runs[a] - runs[b])[start:]
        n = len(d) // block
        if n < 2:
            raise ValueError(f"{name}: fewer than 2 blocks of {block} tokens after the cache")
        means = d[: n * block].reshape(n, block).mean(1)
        boot = means[rng.integers(0, n, size=(resamples, n))].mean(1)
        out[name] = {"difference": float(d.mean()), "low": float(np.quantile(boot, 0.025)),
                     "high": float(np.quantile(boot, 0.975)), "blocks": n}
    if not out:
        raise ValueError(f"the record holds no text with both {a!r} and {b!r} runs")
    return out


def streaming_figure(record: dict[str, Any] | None = None, *, smooth: int = 64,
                     window: int | None = None) -> Figure:
    """Per-token NLL (rolling mean over `smooth` tokens) of dense attention, a sliding window
    and window + sinks, streamed with the course's caches: one panel per recorded text."""
    rec = _record(record, "streaming")
    window = window or rec.get("window")
    styles = {"dense": ("full attention (one forward)", "-", "0.35"),
              "full": ("full cache", "-", "0.35"),
              "window": ("sliding window", "--", "C3"),
              "sinks": (f"window + {rec.get('sinks', 4)} sinks", "-", "C0")}
    files = list(dict.fromkeys(run["file"] for run in rec["runs"]))
    fig = Figure(figsize=(4.2 * len(files) + 1.2, 4.0), layout="constrained")
    axes = fig.subplots(1, len(files), sharey=True, squeeze=False)[0]
    for ax, name in zip(axes, files):
        for run in rec["runs"]:
            if run["file"] != name:
                continue
            nll = np.asarray(run["nll"], dtype=float)
            y = _rolling(nll, smooth)
            x = np.arange(len(y)) + smooth
            label, ls, color = styles.get(run["kind"], (run["kind"], "-", None))
            ax.plot(x, y, ls=ls, color=color, lw=1.4, label=label if ax is axes[0] else None)
        if window:
            ax.axvline(window, color="0.5", lw=1, ls=":")
            ax.text(window, 1.0, " cache full", transform=ax.get_xaxis_transform(), fontsize=9,
                    va="bottom", color="0.3")
        ax.set_xlabel("token position in the stream")
        ax.set_title(name, pad=14, fontsize=10)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(f"NLL, mean of the last {smooth} tokens (nats)")
    fig.suptitle(f"Streaming with a {window}-token cache", fontsize=11)
    fig.legend(loc="outside lower center", ncol=3, fontsize=9)
    return fig


def _wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 1.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def passkey_rates(record: dict[str, Any] | None = None) -> dict[int, dict[str, Any]]:
    """{nominal length: {"passed", "trials", "rate", "low", "high"}} with 95% Wilson intervals;
    a trial's length (the prompt's tokens) is rounded to the nearest 1K."""
    rec = _record(record, "passkey")
    if not rec["trials"]:
        raise ValueError("the pass-key record holds no trials")
    groups: dict[int, list[bool]] = {}
    for t in rec["trials"]:
        nominal = int(round(t["length"] / 1024)) * 1024
        groups.setdefault(nominal, []).append(bool(t["passed"]))
    out = {}
    for n in sorted(groups):
        k, m = sum(groups[n]), len(groups[n])
        lo, hi = _wilson(k, m)
        out[n] = {"passed": k, "trials": m, "rate": k / m, "low": lo, "high": hi}
    return out


def passkey_figure(record: dict[str, Any] | None = None) -> Figure:
    """Pass-key success rate per context length, with 95% Wilson intervals and trial counts."""
    rates = passkey_rates(record)
    fig = Figure(figsize=(6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    xs = np.arange(len(rates))
    for x, r in zip(xs, rates.values()):
        ax.bar(x, r["rate"], color="C0", width=0.6)
        ax.errorbar(x, r["rate"], yerr=[[r["rate"] - r["low"]], [r["high"] - r["rate"]]],
                    color="k", capsize=4)
    ax.set_xticks(xs, [f"{n // 1024}K\n{r['passed']}/{r['trials']} passed"
                       for n, r in rates.items()])
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("context length (tokens)")
    ax.set_ylabel("fraction of trials passed")
    ax.set_title("Pass-key retrieval, SmolLM2-135M (95% intervals)")
    ax.grid(alpha=0.3, axis="y")
    return fig
