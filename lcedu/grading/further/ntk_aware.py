"""Go further 04: NTK-aware scaling from its formula, the base raised to b·s^(d/(d−2)).

bloc97's NTK-aware interpolation (2023; Peng et al., 2023, YaRN §3.1): change the RoPE base so
the slowest pair is interpolated by exactly s and the fastest is left alone. The witness is
`lcedu.positions.scaling.ntk_aware`. Named mistakes: PI instead, the exponent upside down or
missing, both base change and PI, the pair index, the frequencies not inverted.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lcedu.grading.core import Case, Report, expect_raises_each, run_check
from lcedu.grading.further._common import BAD_FACTORS, bad_calls, compare_with_mistakes, shown
from lcedu.grading.messages import register, t
from lcedu.positions.rope import rope_inv_freq
from lcedu.positions.scaling import ntk_aware

__all__ = ["check_ntk_aware_inv_freq", "BAD_DIMS", "BAD_BASES"]

register({
    "ntk.what": "inv_freq",
    "ntk.pi": "{what} is every frequency divided by s: that is Position Interpolation; NTK-aware "
              "changes the BASE to b·s^(d/(d−2)) and keeps the fastest pair as it was",
    "ntk.exponent_flipped": "{what} uses the exponent (d−2)/d; the paper's is d/(d−2), chosen so "
                            "the slowest pair is slowed by exactly s",
    "ntk.no_exponent": "{what} uses the base b·s; the new base is b·s^(d/(d−2)), so the slowest "
                       "pair (exponent (d−2)/d) is slowed by exactly s",
    "ntk.both": "{what} changes the base AND divides by s: NTK-aware only changes the base",
    "ntk.pairs": "{what} uses exponents i/d; RoPE's are 2i/d for i = 0 … d/2 − 1 "
                 "(arange(0, dim, 2) / dim)",
    "ntk.not_inverted": "{what} holds base^(2i/d); the inverse frequencies are 1 / base^(2i/d), "
                        "so index 0 is 1 and the rest fall",
    "ntk.hint": "new_base = base · factor ** (dim / (dim − 2)), then plain RoPE frequencies",
    "ntk.hint.one": "factor 1 changes nothing",
    "ntk.hint.bad": "dim must be an even integer ≥ 4 (the formula divides by dim − 2), base a "
                    "number > 1, factor a finite number ≥ 1; raise ValueError otherwise",
    "ntk.case.bad": "bad dim, base or factor raises ValueError (several bad values each)",
})

BAD_DIMS = [0, -2, 2, 7, 2.5, True, "64"]
BAD_BASES = [1, 0.5, -10000.0, True, "10000", float("nan")]


def _rope(dim: int, base: float) -> torch.Tensor:
    return rope_inv_freq(dim, base)


def _case(dim: int, base: float, s: float) -> Callable:
    def run(f):
        want = ntk_aware(dim, base, s)[0]
        got = f(dim, base, s)
        e = dim / (dim - 2)
        mistakes = [
            ("ntk.pi", lambda: _rope(dim, base) / s),
            ("ntk.exponent_flipped", lambda: _rope(dim, base * s ** (1 / e))),
            ("ntk.no_exponent", lambda: _rope(dim, base * s)),
            ("ntk.both", lambda: want / s),
            ("ntk.pairs", lambda: 1.0 / (base * s**e) ** (torch.arange(dim // 2).float() / dim)),
            ("ntk.not_inverted", lambda: 1.0 / want),
        ]
        compare_with_mistakes(got, want, mistakes, what=t("ntk.what"))

    return run


CASES = [
    ("dim=128, base=10000, factor 4", (128, 10000.0, 4.0), "ntk.hint"),
    ("dim=64, base=10000, factor 8", (64, 10000.0, 8.0), "ntk.hint"),
    ("dim=126 (an odd number of pairs), factor 16", (126, 10000.0, 16.0), "ntk.hint"),
    ("dim=6, base=500000, factor 2.5", (6, 500000.0, 2.5), "ntk.hint"),
    ("dim=128, base=1e6, factor 32", (128, 1e6, 32.0), "ntk.hint"),
    ("factor 1: plain RoPE", (32, 10000.0, 1.0), "ntk.hint.one"),
    ("an int factor and an int base", (16, 10000, 2), "ntk.hint"),
]


def check_ntk_aware_inv_freq(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade ``ntk_aware_inv_freq(dim, base, factor)`` -> float32 (dim // 2,)."""
    cases = [Case(name, _case(*p), dict(zip(("dim", "base", "factor"), p)), t(h))
             for name, p, h in CASES]
    order = ["dim", "base", "factor"]
    calls = bad_calls(dict(zip(order, (64, 10000.0, 4.0))), order,
                      {"dim": BAD_DIMS, "base": BAD_BASES, "factor": BAD_FACTORS})
    cases.append(Case(t("ntk.case.bad"), lambda f: expect_raises_each(f, calls),
                      {"dim": shown(BAD_DIMS), "base": shown(BAD_BASES),
                       "factor": shown(BAD_FACTORS)},
                      t("ntk.hint.bad")))
    return run_check("check_ntk_aware_inv_freq", fn, cases)
