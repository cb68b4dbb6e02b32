"""Go further 02: a dilated sliding window written as a FlexAttention ``mask_mod``.

Longformer's dilated window (Beltagy et al., 2020, §3.1): query i sees keys i + k·dilation for
|k| <= window. The learner's mask_mod is evaluated the way FlexAttention evaluates it
(`create_mask`, vmapped over every (query, key) pair) and compared with the witness
`lcedu.attention.masks.dilated_window_mask`. Named mistakes: the span not dilated, every key in
the span, the window off by one, causal the wrong way or ignored, absolute key indices.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lcedu.attention.masks import dilated_window_mask
from lcedu.grading.core import Case, Report, expect_raises_each, fail, run_check
from lcedu.grading.further._common import (
    BAD_POSITIVE_INTS,
    bad_calls,
    compare_with_mistakes,
    run_mod,
)
from lcedu.grading.messages import register, t

__all__ = ["check_dilated_window_mod"]

register({
    "dil.what": "the mask your mask_mod gives",
    "dil.not_mod": "dilated_window_mod should return a mask_mod, a function (b, h, q_idx, kv_idx) "
                   "-> bool tensor, but it returned {kind}",
    "dil.span": "{what}: keys reach only `window` positions away; the dilated window spans "
                "window·dilation positions on each side (every dilation-th one)",
    "dil.every_key": "{what}: every key within window·dilation is allowed; only every "
                     "dilation-th one is (the offset q − kv must be divisible by dilation)",
    "dil.off_by_one": "{what}: the window is one step off: |k| <= window, both ends included",
    "dil.future": "{what}: with causal=True a query sees earlier keys (kv_idx <= q_idx), "
                  "not later ones",
    "dil.causal_ignored": "{what}: with causal=True the keys after the query must be masked",
    "dil.absolute": "{what}: you tested kv_idx itself for divisibility; it is the OFFSET "
                    "q_idx − kv_idx that must be a multiple of dilation",
    "dil.hint": "d = q_idx − kv_idx; keep (|d| <= window·dilation) & (d % dilation == 0); only "
                "tensor operations (&, |, .abs(), %) inside a mask_mod, no Python `if`",
    "dil.hint.causal": "and d >= 0 when causal",
    "dil.hint.bad": "window and dilation must be positive whole numbers (ints, not bools); "
                    "raise ValueError in dilated_window_mod itself, before returning the mask_mod",
    "dil.case.bad": "bad window or dilation raises ValueError (several bad values each)",
})


def _evaluate(fn, args: tuple, kwargs: dict, n: int):
    """In the child: build the learner's mask_mod and evaluate it as FlexAttention does."""
    from torch.nn.attention.flex_attention import create_mask

    mod = fn(*args, **kwargs)
    if not callable(mod):
        from lcedu.grading.sandbox import safe_type_name

        return ("not_callable", safe_type_name(mod))
    return ("mask", create_mask(mod, 1, 1, n, n, device="cpu")[0, 0])


def _warm_up() -> None:
    """Import and run FlexAttention's mask evaluation once here, so each child (a fork of
    this process) starts warm instead of spending its time budget on imports."""
    from torch.nn.attention.flex_attention import create_mask

    create_mask(lambda b, h, q, kv: q >= kv, 1, 1, 4, 4, device="cpu")


def _variant(n, w, dil, causal, *, span=True, every=False, strict=False, future=False,
             ignore_causal=False, absolute=False) -> torch.Tensor:
    q = torch.arange(n)[:, None]
    kv = torch.arange(n)[None, :]
    d = q - kv
    reach = w * dil if span else w
    keep = (d.abs() < reach) if strict else (d.abs() <= reach)
    if not every:
        keep = keep & ((kv if absolute else d).remainder(dil) == 0)
    if causal and not ignore_causal:
        keep = keep & ((d <= 0) if future else (d >= 0))
    return keep


def _case(n: int, w: int, dil: int, causal: bool) -> Callable:
    def run(f):
        want = dilated_window_mask(n, w, dil, causal=causal)
        kwargs = {"causal": True} if causal else {}
        kind, got = run_mod(f, _evaluate, (w, dil), kwargs, n, kind="mask_mod")
        if kind == "not_callable":
            fail("dil.not_mod", kind=got)
        p = (n, w, dil, causal)
        mistakes = [
            ("dil.span", lambda: _variant(*p, span=False)),
            ("dil.every_key", lambda: _variant(*p, every=True)),
            ("dil.off_by_one", lambda: _variant(*p, strict=True)),
            ("dil.off_by_one", lambda: _variant(n, w + 1, dil, causal)),
            ("dil.future", lambda: _variant(*p, future=True)),
            ("dil.causal_ignored", lambda: _variant(*p, ignore_causal=True)),
            ("dil.absolute", lambda: _variant(*p, absolute=True)),
        ]
        compare_with_mistakes(got, want, mistakes, what=t("dil.what"))

    return run


CASES = [
    (16, 2, 2, False), (23, 3, 3, False), (30, 2, 4, True), (17, 1, 5, True),
    (12, 4, 1, False), (9, 10, 2, False), (1, 1, 1, True),
]


def check_dilated_window_mod(fn: Callable[..., Callable]) -> Report:
    """Grade ``dilated_window_mod(window, dilation, *, causal=False)`` -> a mask_mod."""
    _warm_up()
    cases = []
    for n, w, dil, causal in CASES:
        name = f"n={n}, window={w}, dilation={dil}" + (", causal" if causal else "")
        hint = t("dil.hint") + ("; " + t("dil.hint.causal") if causal else "")
        cases.append(Case(name, _case(n, w, dil, causal),
                          {"n": n, "window": w, "dilation": dil, "causal": causal}, hint))
    order = ["window", "dilation"]
    calls = bad_calls({"window": 2, "dilation": 2}, order,
                      {k: BAD_POSITIVE_INTS for k in order})
    cases.append(Case(t("dil.case.bad"), lambda f: expect_raises_each(f, calls),
                      {"bad values": BAD_POSITIVE_INTS}, t("dil.hint.bad")))
    return run_check("check_dilated_window_mod", fn, cases)
