"""Go further 05: Llama 3.1's RoPE scaling, frequency by frequency from its wavelength.

Meta's Llama 3.1 (2024) keeps wavelengths shorter than L/high_freq_factor, divides those longer
than L/low_freq_factor by s, and blends linearly in L/wavelength between. The witness is
`lcedu.positions.scaling.llama3` (itself tested against Hugging Face's "llama3" rope type).
Named mistakes: the thresholds swapped, no blend, the blend reversed, the 2π, PI everywhere.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lcedu.grading.core import Case, Report, expect_raises_each, fail, run_check
from lcedu.grading.further._common import (
    BAD_FACTORS,
    BAD_POSITIVE_INTS,
    bad_calls,
    compare_with_mistakes,
    shown,
)
from lcedu.grading.further.ntk_aware import BAD_BASES
from lcedu.grading.messages import register, t
from lcedu.positions.rope import rope_inv_freq
from lcedu.positions.scaling import llama3

__all__ = ["check_llama3_inv_freq"]

register({
    "l3.what": "inv_freq",
    "l3.swapped": "{what} swaps the two thresholds: wavelengths LONGER than "
                  "L/low_freq_factor are divided by s, SHORTER than L/high_freq_factor are kept",
    "l3.no_blend": "{what} jumps from kept to divided with no blend: between the two wavelength "
                   "thresholds mix (1 − smooth)·θ/s + smooth·θ with smooth = "
                   "(L/λ − low_freq_factor) / (high_freq_factor − low_freq_factor)",
    "l3.blend_reversed": "{what} blends the wrong way round: smooth = 1 must give the kept "
                         "frequency θ, smooth = 0 the interpolated θ/s",
    "l3.two_pi": "{what} uses 1/θ as the wavelength; a pair turning θ radians per token repeats "
                 "every 2π/θ tokens",
    "l3.pi": "{what} divides every frequency by s (Position Interpolation); Llama 3 keeps the "
             "fast ones",
    "l3.unchanged": "{what} is plain RoPE: the slow frequencies must be divided by s",
    "l3.default": "with the default low_freq_factor and high_freq_factor your function gives "
                  "other frequencies than with 1.0 and 4.0 passed explicitly: keep the "
                  "signature's defaults (low_freq_factor=1.0, high_freq_factor=4.0)",
    "l3.hint": "λ = 2π/θ; λ < L/high: θ; λ > L/low: θ/s; between: the blend",
    "l3.hint.defaults": "keep the defaults from the signature",
    "l3.hint.bad": "dim a positive even integer, base > 1, factor ≥ 1, original_max_position a "
                   "positive integer, 0 < low_freq_factor < high_freq_factor; raise ValueError "
                   "otherwise",
    "l3.case.defaults": "defaults: low_freq_factor=1.0, high_freq_factor=4.0",
    "l3.case.bad": "bad arguments raise ValueError (several bad values each)",
})


def _variant(dim, base, s, L, low, high, *, swap=False, blend=True, reverse=False,
             two_pi=True) -> torch.Tensor:
    inv = rope_inv_freq(dim, base)
    lam = (2 * math.pi if two_pi else 1.0) / inv
    lo_wl, hi_wl = L / low, L / high
    if swap:
        lo_wl, hi_wl = hi_wl, lo_wl
    smooth = ((L / lam - low) / (high - low)).clamp(0, 1)
    if reverse:
        smooth = 1 - smooth
    mid = (1 - smooth) * inv / s + smooth * inv if blend else inv / s
    return torch.where(lam < hi_wl, inv, torch.where(lam > lo_wl, inv / s, mid))


def _case(dim, base, s, L, low, high) -> Callable:
    def run(f):
        want = llama3(dim, base, s, L, low_freq_factor=low, high_freq_factor=high)[0]
        got = f(dim, base, s, L, low_freq_factor=low, high_freq_factor=high)
        p = (dim, base, s, L, low, high)
        mistakes = [
            ("l3.swapped", lambda: _variant(*p, swap=True)),
            ("l3.no_blend", lambda: _variant(*p, blend=False)),
            ("l3.blend_reversed", lambda: _variant(*p, reverse=True)),
            ("l3.two_pi", lambda: _variant(*p, two_pi=False)),
            ("l3.pi", lambda: rope_inv_freq(dim, base) / s),
            ("l3.unchanged", lambda: rope_inv_freq(dim, base)),
        ]
        compare_with_mistakes(got, want, mistakes, what=t("l3.what"))

    return run


ORDER = ["dim", "base", "factor", "original_max_position", "low_freq_factor",
         "high_freq_factor"]
CASES = [
    ("Llama 3.1: dim=128, base=500000, s=8, L=8192", (128, 500000.0, 8.0, 8192, 1.0, 4.0)),
    ("dim=64, base=10000, s=4, L=2048", (64, 10000.0, 4.0, 2048, 1.0, 4.0)),
    ("dim=96, s=16, L=4096, low 2, high 8", (96, 10000.0, 16.0, 4096, 2.0, 8.0)),
    ("dim=70 (an odd number of pairs), s=2.5, L=1024", (70, 10000.0, 2.5, 1024, 1.0, 4.0)),
    ("factor 1: plain RoPE", (32, 10000.0, 1.0, 512, 1.0, 4.0)),
]


def check_llama3_inv_freq(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade ``llama3_inv_freq(dim, base, factor, original_max_position, *,
    low_freq_factor=1.0, high_freq_factor=4.0)`` -> float32 (dim // 2,)."""
    cases = [Case(name, _case(*p), dict(zip(ORDER, p)), t("l3.hint")) for name, p in CASES]

    def defaults(f):
        got = f(128, 500000.0, 8.0, 8192)
        want = llama3(128, 500000.0, 8.0, 8192)[0]
        explicit = f(128, 500000.0, 8.0, 8192, low_freq_factor=1.0, high_freq_factor=4.0)
        if isinstance(got, torch.Tensor) and isinstance(explicit, torch.Tensor) and \
                got.shape == explicit.shape and not torch.equal(got, explicit):
            fail("l3.default")
        compare_with_mistakes(got, want, [], what=t("l3.what"))

    cases.append(Case(t("l3.case.defaults"), defaults, hint=t("l3.hint.defaults")))
    bad = {
        "dim": [0, -2, 7, 2.5, True, "64"],
        "base": BAD_BASES,
        "factor": BAD_FACTORS,
        "original_max_position": BAD_POSITIVE_INTS,
        "low_freq_factor": [0, -1.0, 4.0, 5.0, True, "1"],
        "high_freq_factor": [1.0, 0.5, -4.0, True, "4"],
    }
    calls = bad_calls(dict(zip(ORDER, (64, 10000.0, 4.0, 2048, 1.0, 4.0))), ORDER, bad,
                      ["low_freq_factor", "high_freq_factor"])
    cases.append(Case(t("l3.case.bad"), lambda f: expect_raises_each(f, calls),
                      {k: shown(v) for k, v in bad.items()}, t("l3.hint.bad")))
    return run_check("check_llama3_inv_freq", fn, cases)
