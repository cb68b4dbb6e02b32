"""Figures for RoPE and its scalings: wavelengths per dimension pair, YaRN's ramp, rotation
angles, the out-of-distribution view and long-term decay.

Draws what `lcedu.positions.rope` and `lcedu.positions.scaling` compute (RoFormer, PI, NTK,
YaRN — Peng et al. 2023 — and Llama 3.1); nothing here re-implements a method.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lcedu.positions import scaling as sc
from lcedu.positions.rope import rope_inv_freq
from lcedu.positions.scaling import SCALINGS

__all__ = [
    "METHODS",
    "RopeSetting",
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
    "rope_explorer_figure",
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
# one dash pattern per method, in every panel and in the legend, so overlapping lines show
DASHES = {
    "none": "-",
    "PI": "--",
    "NTK-aware": "-.",
    "dynamic NTK": ":",
    "YaRN": (0, (6, 1.5, 1.5, 1.5)),
    "Llama 3": (0, (3, 1)),
    "lesson YaRN": "--",
}
# The course's method names -> the keys of `lcedu.positions.scaling.SCALINGS`.
SCALING_KEYS = {
    "PI": "linear",
    "NTK-aware": "ntk_aware",
    "dynamic NTK": "dynamic_ntk",
    "YaRN": "yarn",
    "Llama 3": "llama3",
}


@dataclass(frozen=True)
class RopeSetting:
    """One RoPE configuration the figures draw: head dim, base, factor s, L_orig, YaRN's βs."""

    dim: int = 128
    base: float = 10000.0
    factor: float = 8.0
    original_max_position: int = 4096
    beta_fast: float = 32.0
    beta_slow: float = 1.0

    @property
    def extended(self) -> int:
        return max(1, int(self.factor * self.original_max_position))


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
    if method == "lesson YaRN":
        return sc.lesson_yarn_inv_freq(
            dim, original_max_position, int(factor * original_max_position), base
        )
    if method not in SCALING_KEYS:
        raise ValueError(f"method must be one of {METHODS + ('lesson YaRN',)}, got {method!r}")
    fn = SCALINGS[SCALING_KEYS[method]]
    if method in ("PI", "NTK-aware"):
        return fn(dim, base, factor)
    if method == "dynamic NTK":
        seq_len = max(1, int(factor * original_max_position))
        return fn(dim, base, factor, original_max_position, seq_len)
    if method == "YaRN":
        return fn(dim, base, factor, original_max_position, beta_fast=beta_fast,
                  beta_slow=beta_slow)
    return fn(dim, base, factor, original_max_position)


def _freqs(method: str, p: RopeSetting) -> tuple[torch.Tensor, float]:
    return method_frequencies(
        method,
        dim=p.dim,
        base=p.base,
        factor=p.factor,
        original_max_position=p.original_max_position,
        beta_fast=p.beta_fast,
        beta_slow=p.beta_slow,
    )


def _all(methods: Sequence[str], p: RopeSetting) -> dict[str, tuple[torch.Tensor, float]]:
    return {m: _freqs(m, p) for m in methods}


def _method_legend(fig: Figure, methods: Sequence[str]) -> None:
    """One legend for the methods' colours, below every panel (outside the data)."""
    handles = [Line2D([], [], color=COLORS[m], ls=DASHES[m], lw=2, label=m) for m in methods]
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=9,
               frameon=False)


def draw_wavelengths(ax: Axes, methods: Sequence[str], p: RopeSetting) -> None:
    """Wavelength 2π/θ_i per pair (log scale), the original length and (for YaRN) its ramp."""
    pairs = torch.arange(p.dim // 2)
    for m, (inv, _) in _all(methods, p).items():
        ax.plot(pairs, (2 * math.pi / inv.double()).numpy(), color=COLORS[m], ls=DASHES[m],
                lw=1.5)
    ax.axhline(p.original_max_position, color="k", ls="--", lw=1)
    ax.text(0, p.original_max_position * 1.3, f"original context {p.original_max_position:,}",
            fontsize=9)
    ax.set_yscale("log")
    if "YaRN" in methods:
        low, high = sc.yarn_correction_range(
            p.dim, p.base, p.original_max_position, beta_fast=p.beta_fast, beta_slow=p.beta_slow
        )
        ax.axvspan(low, min(high, p.dim // 2 - 1), color=COLORS["YaRN"], alpha=0.12)
        ax.text(min(high, p.dim // 2 - 1), ax.get_ylim()[0] * 1.5, f"YaRN ramp {low}..{high} ",
                fontsize=9, color="darkgreen", va="bottom", ha="right")
    ax.set_xlabel("dimension pair i (0 = fastest)")
    ax.set_ylabel("wavelength (tokens)")
    ax.set_title("wavelength per pair", fontsize=10)


def draw_ramp(ax: Axes, p: RopeSetting, *, lesson: bool = True) -> None:
    """YaRN's ramp (0 = extrapolate, 1 = interpolate) per pair, and the lesson's step."""
    low, high = sc.yarn_correction_range(
        p.dim, p.base, p.original_max_position, beta_fast=p.beta_fast, beta_slow=p.beta_slow
    )
    ax.plot(sc.yarn_ramp(low, high, p.dim // 2).numpy(), color=COLORS["YaRN"],
            label=f"YaRN: low={low}, high={high}")
    if lesson and p.factor > 1:
        inv_l, _ = _freqs("lesson YaRN", p)
        plain = rope_inv_freq(p.dim, p.base).double()
        ramp_l = (plain - inv_l.double()) / (plain - plain / p.factor)
        lo_l, hi_l = sc.lesson_yarn_correction_range(p.dim, p.original_max_position, p.extended)
        ax.step(range(p.dim // 2), ramp_l.numpy(), where="post", color=COLORS["lesson YaRN"],
                ls="--", label=f"lesson's sketch: low={lo_l}, high={hi_l}")
    ax.set_ylim(-0.05, 1.05)
    ax.set_xlabel("dimension pair i")
    ax.set_ylabel("ramp (0 keep, 1 divide by s)")
    ax.set_title("YaRN's ramp", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0, -0.2), frameon=False)


def draw_frequency_ratio(ax: Axes, methods: Sequence[str], p: RopeSetting) -> None:
    """θ'_i / θ_i per pair: 1 = untouched (extrapolated), 1/s = fully interpolated."""
    plain = rope_inv_freq(p.dim, p.base).double()
    for m, (inv, _) in _all(methods, p).items():
        ax.plot((inv.double() / plain).numpy(), color=COLORS[m], lw=1.5, ls=DASHES[m])
    ax.axhline(1 / p.factor, color="k", ls=":", lw=1)
    ax.set_yscale("log")
    ax.set_xlabel("dimension pair i")
    ax.set_ylabel("scaled / original frequency")
    ax.set_title("how much each pair is slowed", fontsize=10)


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


def draw_out_of_distribution(ax: Axes, methods: Sequence[str], p: RopeSetting) -> None:
    """Largest angle per pair at the extended length s·L over what training saw at L.

    A pair whose wavelength is shorter than L made full turns in training: every angle was
    seen (ratio capped at 1). Above 1 the pair reaches angles it never saw.
    """
    plain = rope_inv_freq(p.dim, p.base).double()
    seen = torch.clamp(p.original_max_position * plain, max=2 * math.pi)
    for m, (inv, _) in _all(methods, p).items():
        reached = torch.clamp(p.factor * p.original_max_position * inv.double(), max=2 * math.pi)
        ax.plot((reached / seen).numpy(), color=COLORS[m], lw=1.5, ls=DASHES[m])
    ax.axhline(1, color="k", ls="--", lw=1)
    ax.set_xlabel("dimension pair i")
    ax.set_ylabel("max angle at s·L / max seen at L")
    ax.set_title(f"out of distribution at {p.extended:,} tokens\n(> 1 = angles never seen)",
                 fontsize=10)


def draw_decay(ax: Axes, methods: Sequence[str], p: RopeSetting, *, points: int = 600) -> None:
    """RoFormer's long-term decay: mean_i cos(r·θ_i) · attention_factor² for q = k = 1."""
    r = torch.logspace(0, math.log10(p.extended), points, dtype=torch.float64)
    for m, (inv, att) in _all(methods, p).items():
        score = torch.cos(r[:, None] * inv.double()[None, :]).mean(-1) * att**2
        ax.plot(r.numpy(), score.numpy(), color=COLORS[m], lw=1, ls=DASHES[m])
    ax.axvline(p.original_max_position, color="k", ls="--", lw=1)
    ax.set_xscale("log")
    ax.set_xlabel("relative distance m − n (tokens)")
    ax.set_ylabel("score for q = k = 1 (normalised)")
    ax.set_title("long-term decay", fontsize=10)


def frequency_figure(
    methods: Sequence[str] = METHODS,
    *,
    dim: int = 128,
    base: float = 10000.0,
    factor: float = 8.0,
    original_max_position: int = 4096,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
) -> Figure:
    """Wavelengths, the per-pair frequency ratio and (when YaRN is drawn) YaRN's ramp."""
    p = RopeSetting(dim, base, factor, original_max_position, beta_fast, beta_slow)
    ramp = "YaRN" in methods
    fig = Figure(figsize=(12, 4.6) if ramp else (8.5, 4.4), layout="constrained")
    axes = fig.subplots(1, 3 if ramp else 2)
    draw_wavelengths(axes[0], methods, p)
    draw_frequency_ratio(axes[1], methods, p)
    if ramp:
        draw_ramp(axes[2], p)
    _method_legend(fig, methods)
    return fig


def angles_figure(
    methods: Sequence[str] = ("none", "PI", "YaRN"),
    *,
    length: int = 256,
    dim: int = 128,
    base: float = 10000.0,
    factor: float = 8.0,
    original_max_position: int = 4096,
) -> Figure:
    """cos(m·θ_i) heatmaps, one per method, for the first `length` positions."""
    p = RopeSetting(dim, base, factor, original_max_position)
    fig = Figure(figsize=(3.8 * len(methods) + 1, 3.8), layout="constrained")
    axes = fig.subplots(1, len(methods), squeeze=False)[0]
    for ax, m in zip(axes, methods):
        inv, _ = _freqs(m, p)
        im = draw_angles(ax, inv, length, f"{m}: cos(m·θ_i)")
    fig.colorbar(im, ax=list(axes), shrink=0.8)
    return fig


def decay_figure(
    methods: Sequence[str] = METHODS,
    *,
    points: int = 600,
    dim: int = 128,
    base: float = 10000.0,
    factor: float = 8.0,
    original_max_position: int = 4096,
) -> Figure:
    """The out-of-distribution view and long-term decay side by side."""
    p = RopeSetting(dim, base, factor, original_max_position)
    fig = Figure(figsize=(10, 4.4), layout="constrained")
    a, b = fig.subplots(1, 2)
    draw_out_of_distribution(a, methods, p)
    draw_decay(b, methods, p, points=points)
    _method_legend(fig, methods)
    return fig


def rope_explorer_figure(
    method: str = "YaRN",
    factor: float = 8.0,
    base: float = 10000.0,
    dim: int = 128,
    original_max_position: int = 4096,
    beta_fast: float = 32.0,
    beta_slow: float = 1.0,
) -> Figure:
    """`method` against plain RoPE: wavelengths, frequency ratio, rotation angles, the
    out-of-distribution view, long-term decay, and YaRN's ramp when the method is YaRN."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    p = RopeSetting(dim, base, factor, original_max_position, beta_fast, beta_slow)
    methods = ("none",) if method == "none" else ("none", method)
    fig = Figure(figsize=(12.5, 7.8), layout="constrained")
    (a, e, f), (c, d, b) = fig.subplots(2, 3)
    draw_wavelengths(a, methods, p)
    draw_frequency_ratio(e, methods, p)
    inv, _ = _freqs(method, p)
    im = draw_angles(f, inv, 256, f"{method}: cos(m·θ_i), first 256 positions")
    fig.colorbar(im, ax=f, shrink=0.8)
    draw_out_of_distribution(c, methods, p)
    draw_decay(d, methods, p)
    if method == "YaRN":
        draw_ramp(b, p)
    else:
        b.remove()  # the ramp is YaRN's alone
    _method_legend(fig, methods)
    fig.suptitle(f"{method}, s = {factor:.3g}: {original_max_position:,} → {p.extended:,} tokens",
                 fontsize=11)
    return fig


def pi_crowding_figure(*, dim: int = 128, base: float = 10000.0, factor: float = 8.0) -> Figure:
    """What PI costs: neighbouring tokens' angles on the fastest pair move s times closer."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    a, b = fig.subplots(1, 2)
    plain = rope_inv_freq(dim, base).double()
    pi, _ = SCALINGS["linear"](dim, base, factor)
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
    a.legend(fontsize=8, loc="center")
    b.plot(plain.numpy(), color=COLORS["none"], label="none: θ_i rad per token")
    b.plot(pi.double().numpy(), color=COLORS["PI"], label=f"PI: θ_i / {factor:g}")
    b.set_yscale("log")
    b.set_xlabel("dimension pair i")
    b.set_ylabel("angle between neighbours (rad)")
    b.set_title("PI slows every pair, even the fast ones", fontsize=10)
    b.legend(fontsize=8)
    return fig
