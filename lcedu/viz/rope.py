"""Figures for RoPE and its scalings: wavelengths per dimension pair, YaRN's ramp, rotation
angles, the out-of-distribution view and long-term decay.

Draws what `lcedu.positions.rope` and `lcedu.positions.scaling` compute (RoFormer, PI, NTK,
YaRN — Peng et al. 2023 — and Llama 3.1); nothing here re-implements a method.
"""

from __future__ import annotations

import math

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from lcedu.positions import scaling as sc
from lcedu.positions.rope import rope_inv_freq

__all__ = [
    "METHODS",
    "method_frequencies",
    "draw_wavelengths",
    "draw_ramp",
    "draw_frequency_ratio",
    "draw_angles",
    "draw_out_of_distribution",
    "draw_decay",
    "frequency_figure",
    "angles_figure",
    "decay_figure",
    "pi_crowding_figure",
]

METHODS = ("none", "PI", "NTK-aware", "dynamic NTK", "YaRN", "Llama 3")
COLORS = {
    "none": "0.35",
    "PI": "tab:blue",
    "NTK-aware": "tab:orange",
    "dynamic NTK": "tab:brown",
    "YaRN": "tab:green",
    "Llama 3": "tab:purple",
    "lesson YaRN": "tab:red",
}


def method_frequencies(
    method: str,
    *,
    dim: int = 128,
    base: float = 10000.0,
    factor: float = 8.0,
    original_max_position: int = 4096,
    beta_fast: float = 32,
    beta_slow: float = 1,
) -> tuple[torch.Tensor, float]:
    """(inv_freq, attention_factor) of one method; dynamic NTK at the extended length s·L."""
    if method == "none":
        return rope_inv_freq(dim, base), 1.0
    if method == "PI":
        return sc.linear(dim, base, factor)
    if method == "NTK-aware":
        return sc.ntk_aware(dim, base, factor)
    if method == "dynamic NTK":
        seq_len = max(1, int(factor * original_max_position))
        return sc.dynamic_ntk(dim, base, factor, original_max_position, seq_len)
    if method == "YaRN":
        return sc.yarn(
            dim, base, factor, original_max_position, beta_fast=beta_fast, beta_slow=beta_slow
        )
    if method == "Llama 3":
        return sc.llama3(dim, base, factor, original_max_position)
    if method == "lesson YaRN":
        return sc.lesson_yarn_inv_freq(
            dim, original_max_position, int(factor * original_max_position), base
        )
    raise ValueError(f"method must be one of {METHODS + ('lesson YaRN',)}, got {method!r}")


def _all(methods, **kw) -> dict[str, tuple[torch.Tensor, float]]:
    return {m: method_frequencies(m, **kw) for m in methods}


def draw_wavelengths(ax: Axes, methods=METHODS, **kw) -> None:
    """Wavelength 2π/θ_i per pair (log scale), the original length and YaRN's range."""
    dim, orig = kw.get("dim", 128), kw.get("original_max_position", 4096)
    pairs = torch.arange(dim // 2)
    for m, (inv, _) in _all(methods, **kw).items():
        ax.plot(pairs, (2 * math.pi / inv.double()).numpy(), label=m, color=COLORS[m], lw=1.5)
    ax.axhline(orig, color="k", ls="--", lw=1)
    ax.text(0, orig * 1.3, f"original context {orig:,}", fontsize=8)
    low, high = sc.yarn_correction_range(
        dim,
        kw.get("base", 10000.0),
        orig,
        beta_fast=kw.get("beta_fast", 32),
        beta_slow=kw.get("beta_slow", 1),
    )
    ax.axvspan(
        low,
        min(high, dim // 2 - 1),
        color="tab:green",
        alpha=0.12,
        label=f"YaRN ramp {low}..{high}",
    )
    ax.set_yscale("log")
    ax.set_xlabel("dimension pair i (0 = fastest)")
    ax.set_ylabel("wavelength (tokens)")
    ax.set_title("wavelength per pair", fontsize=10)
    ax.legend(fontsize=7)


def draw_ramp(ax: Axes, *, lesson: bool = True, **kw) -> None:
    """YaRN's ramp (0 = extrapolate, 1 = interpolate) per pair, and the lesson's step."""
    dim, base = kw.get("dim", 128), kw.get("base", 10000.0)
    orig, factor = kw.get("original_max_position", 4096), kw.get("factor", 8.0)
    low, high = sc.yarn_correction_range(
        dim, base, orig, beta_fast=kw.get("beta_fast", 32), beta_slow=kw.get("beta_slow", 1)
    )
    ax.plot(
        sc.yarn_ramp(low, high, dim // 2).numpy(),
        color=COLORS["YaRN"],
        label=f"YaRN: low={low}, high={high}",
    )
    if lesson:
        inv_l, _ = method_frequencies("lesson YaRN", **kw)
        plain = rope_inv_freq(dim, base).double()
        if factor > 1:
            ramp_l = (plain - inv_l.double()) / (plain - plain / factor)
            lo_l, hi_l = sc.lesson_yarn_correction_range(dim, orig, int(orig * factor))
            ax.step(
                range(dim // 2),
                ramp_l.numpy(),
                where="post",
                color=COLORS["lesson YaRN"],
                ls="--",
                label=f"lesson's sketch: low={lo_l}, high={hi_l}",
            )
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("dimension pair i")
    ax.set_ylabel("ramp (0 keep, 1 divide by s)")
    ax.set_title("YaRN's ramp", fontsize=10)
    ax.legend(fontsize=7)


def draw_frequency_ratio(ax: Axes, methods=METHODS, **kw) -> None:
    """θ'_i / θ_i per pair: 1 = untouched (extrapolated), 1/s = fully interpolated."""
    dim, base = kw.get("dim", 128), kw.get("base", 10000.0)
    plain = rope_inv_freq(dim, base).double()
    for m, (inv, _) in _all(methods, **kw).items():
        ax.plot((inv.double() / plain).numpy(), label=m, color=COLORS[m], lw=1.5)
    ax.axhline(1 / kw.get("factor", 8.0), color="k", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("dimension pair i")
    ax.set_ylabel("scaled / original frequency")
    ax.set_title("how much each pair is slowed", fontsize=10)
    ax.legend(fontsize=7)


def draw_angles(ax: Axes, inv_freq: torch.Tensor, length: int, title: str = ""):
    """cos(m·θ_i) over positions m (rows) and pairs i (columns)."""
    pos = torch.arange(length, dtype=torch.float64)
    angles = pos[:, None] * inv_freq.double()[None, :]
    im = ax.imshow(
        angles.cos().numpy(), aspect="auto", cmap="RdBu", vmin=-1, vmax=1, interpolation="nearest"
    )
    ax.set_xlabel("dimension pair i")
    ax.set_ylabel("position m")
    ax.set_title(title or "cos(m·θ_i)", fontsize=10)
    return im


def draw_out_of_distribution(ax: Axes, methods=METHODS, **kw) -> None:
    """Largest angle per pair at the extended length s·L over what training saw at L.

    A pair whose wavelength is shorter than L made full turns in training: every angle was
    seen (ratio capped at 1). Above 1 the pair reaches angles it never saw.
    """
    dim, base = kw.get("dim", 128), kw.get("base", 10000.0)
    orig, factor = kw.get("original_max_position", 4096), kw.get("factor", 8.0)
    plain = rope_inv_freq(dim, base).double()
    seen = torch.clamp(orig * plain, max=2 * math.pi)
    for m, (inv, _) in _all(methods, **kw).items():
        reached = torch.clamp(factor * orig * inv.double(), max=2 * math.pi)
        ax.plot((reached / seen).numpy(), label=m, color=COLORS[m], lw=1.5)
    ax.axhline(1, color="k", ls="--", lw=1)
    ax.set_xlabel("dimension pair i")
    ax.set_ylabel("max angle at s·L / max seen at L")
    ax.set_title(f"out of distribution at {int(factor * orig):,} tokens (>1 = unseen)", fontsize=10)
    ax.legend(fontsize=7)


def draw_decay(ax: Axes, methods=METHODS, *, points: int = 600, **kw) -> None:
    """RoFormer's long-term decay: mean_i cos(r·θ_i) · attention_factor² for q = k = 1."""
    orig, factor = kw.get("original_max_position", 4096), kw.get("factor", 8.0)
    r = torch.logspace(0, math.log10(factor * orig), points, dtype=torch.float64)
    for m, (inv, att) in _all(methods, **kw).items():
        score = torch.cos(r[:, None] * inv.double()[None, :]).mean(-1) * att**2
        ax.plot(r.numpy(), score.numpy(), label=m, color=COLORS[m], lw=1)
    ax.axvline(orig, color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("relative distance m − n (tokens)")
    ax.set_ylabel("score for q = k = 1 (normalised)")
    ax.set_title("long-term decay", fontsize=10)
    ax.legend(fontsize=7)


def frequency_figure(methods=METHODS, **kw) -> Figure:
    """Wavelengths, YaRN's ramp, and the per-pair frequency ratio side by side."""
    fig = Figure(figsize=(14, 4), layout="constrained")
    a, b, c = fig.subplots(1, 3)
    draw_wavelengths(a, methods, **kw)
    draw_ramp(b, **kw)
    draw_frequency_ratio(c, methods, **kw)
    return fig


def angles_figure(methods=("none", "PI", "YaRN"), *, length: int = 256, **kw) -> Figure:
    """cos(m·θ_i) heatmaps, one per method, for the first `length` positions."""
    fig = Figure(figsize=(4.2 * len(methods), 3.6), layout="constrained")
    axes = fig.subplots(1, len(methods), squeeze=False)[0]
    for ax, m in zip(axes, methods):
        inv, _ = method_frequencies(m, **kw)
        im = draw_angles(ax, inv, length, f"{m}: cos(m·θ_i)")
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    return fig


def decay_figure(methods=METHODS, *, points: int = 600, **kw) -> Figure:
    """The out-of-distribution view and long-term decay side by side."""
    fig = Figure(figsize=(12, 4), layout="constrained")
    a, b = fig.subplots(1, 2)
    draw_out_of_distribution(a, methods, **kw)
    draw_decay(b, methods, points=points, **kw)
    return fig


def pi_crowding_figure(*, dim: int = 128, base: float = 10000.0, factor: float = 8.0) -> Figure:
    """What PI costs: neighbouring tokens' angles on the fastest pair move s times closer."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    a, b = fig.subplots(1, 2)
    plain = rope_inv_freq(dim, base).double()
    pi, _ = sc.linear(dim, base, factor)
    t = torch.linspace(0, 2 * math.pi, 200)
    a.plot(t.cos().numpy(), t.sin().numpy(), color="0.8")
    pos = torch.arange(8, dtype=torch.float64)
    for name, inv, marker in (("none", plain, "o"), ("PI", pi.double(), "x")):
        ang = pos * inv[0]
        a.scatter(
            ang.cos().numpy(),
            ang.sin().numpy(),
            color=COLORS[name],
            marker=marker,
            label=f"{name}: positions 0..7",
        )
    a.set_aspect("equal")
    a.set_title("fastest pair: tokens 0..7 on the circle", fontsize=10)
    a.legend(fontsize=7, loc="lower left")
    b.plot(plain.numpy(), color=COLORS["none"], label="none: θ_i rad per token")
    b.plot(pi.double().numpy(), color=COLORS["PI"], label=f"PI: θ_i / {factor:g}")
    b.set_yscale("log")
    b.set_xlabel("dimension pair i")
    b.set_ylabel("angle between neighbours (rad)")
    b.set_title("PI slows every pair, even the fast ones", fontsize=10)
    b.legend(fontsize=7)
    return fig
