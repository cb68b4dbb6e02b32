"""Checks for exercise 06: ALiBi's slopes (including non-power-of-two heads) and its bias.

The reference is `lcedu.positions.alibi` (Press et al., "Train Short, Test Long"). Failures
are diagnosed: one slope for every head (the lesson's concept box), a wrong exponent, extra
heads that continue the sequence instead of interleaving, a bias of the wrong sign, a causal
bias without −inf above the diagonal, a bias that stops at a precomputed maximum length.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lcedu.grading.core import Case, Report, compare_tensors, expect_raises_each, fail, run_check
from lcedu.grading.messages import register
from lcedu.positions.alibi import alibi_bias, alibi_slopes

__all__ = ["check_alibi_slopes", "check_alibi_bias"]


register({
    'alibi.m01': (
        'return a torch.Tensor of shape ({num_heads},), not a {f1} (wrap it with '
        'torch.tensor(...))'
    ),
    'alibi.m02': 'the slopes should be a torch.Tensor, but your function returned {f0}',
    'alibi.m03': 'the slopes should be floating point numbers, got dtype {f0}',
    'alibi.m04': (
        'the slopes have shape {f0}; return a flat tensor of shape ({num_heads},), one slope '
        'per head'
    ),
    'alibi.m05': 'every slope must be a positive number (2 to a negative power)',
    'alibi.m06': (
        'every head got the same slope; the exponent must depend on the head index h (m_h = '
        '2^(−8h/H), h = 1..H)'
    ),
    'alibi.m07': (
        'the first {n} slopes (the largest power of two ≤ {num_heads}) are right, but the '
        'remaining {f2} are not'
    ),
    'alibi.m08': (
        '2^(−8h/H) with H = {num_heads} is the formula for a power of two only; for other head'
        ' counts use the slopes of the largest power of two below H, then interleave'
    ),
    'alibi.m09': (
        "the first head's slope should be 2^(−8/{n}) = {f1:.4g}, got {f2:.4g}; check the "
        'exponent'
    ),
    'alibi.m10': (
        'consecutive slopes should shrink by a constant factor (a geometric sequence); check '
        'the exponent'
    ),
    'alibi.m11': (
        'the first {n} slopes are right, but the remaining {f1} head(s) continue the sequence '
        'below 2^−8; the paper gives them every other slope of the {f2}-head sequence instead,'
        ' which falls between the first ones'
    ),
    'alibi.m12': 'the bias should be a torch.Tensor, but your function returned {f0}',
    'alibi.m13': 'the bias has shape {f0}, expected (num_heads, q_len, k_len) = {f1}',
    'alibi.m14': 'the bias should be a floating tensor, got dtype {f0}',
    'alibi.m15': 'this bias should have no −inf entries (no key is masked here)',
    'alibi.m16': (
        'with causal=True, keys after the query (j > i) must be −inf, so that the bias alone '
        'can serve as the mask'
    ),
    'alibi.m17': (
        'the bias has the wrong sign: it is a penalty, −m·(distance), so it must be negative '
        'for keys at a distance from the query'
    ),
})


register({  # case names and hints, so that a translation can replace them
    'alibi.text.01': 'for a power of two H, m_h = 2^(−8h/H), h = 1..H',
    'alibi.text.02': (
        'with n the largest power of two ≤ H: the n slopes for n heads, then every other slope'
        ' of the 2n-head sequence'
    ),
    'alibi.text.03': (
        'entry (h, i, j) is −m_h·(i − j): zero on the diagonal, negative for past keys'
    ),
    'alibi.text.04': 'bad input raises ValueError',
    'alibi.text.05': (
        'check that num_heads is a whole number (an int, not a bool) ≥ 1 before computing'
    ),
    'alibi.text.06': 'causal, 4 heads, 6 tokens',
    'alibi.text.07': 'causal, 3 heads (not a power of two), 7 tokens',
    'alibi.text.08': 'one token',
    'alibi.text.09': 'decoding: 2 queries, 9 keys (queries are the last positions)',
    'alibi.text.10': 'query i sits at position i + (k_len − q_len); compare it with key j',
    'alibi.text.11': 'symmetric, not causal, 4 heads, 5 tokens',
    'alibi.text.12': 'the symmetric bias is −m_h·|i − j|, with no −inf anywhere',
    'alibi.text.13': 'signed, not causal: 3 heads, 4 queries, 6 keys',
    'alibi.text.14': 'without causal and without symmetric: −m_h·(i − j) everywhere, no −inf',
    'alibi.text.15': 'longer than a precomputed buffer: 1 query, 9000 keys',
    'alibi.text.16': 'build the bias for the lengths you are given; no maximum length',
    'alibi.text.17': (
        'check num_heads, q_len and k_len are whole numbers ≥ 1 (not bools), and k_len ≥ q_len'
        ' when causal'
    ),
})


def _as_slopes(got: object, num_heads: int) -> torch.Tensor:
    if isinstance(got, (list, tuple)):
        fail("alibi.m01", num_heads=num_heads, f1=type(got).__name__)
    if not isinstance(got, torch.Tensor):
        fail("alibi.m02", f0=type(got).__name__)
    if not got.is_floating_point():
        fail("alibi.m03", f0=got.dtype)
    if got.numel() == num_heads and got.shape != (num_heads,):
        fail("alibi.m04", f0=tuple(got.shape), num_heads=num_heads)
    return got


def _diagnose_slopes(got: torch.Tensor, want: torch.Tensor, num_heads: int) -> None:
    """Explain the most likely mistake when got != want (same shape)."""
    g = got.detach().double().cpu()
    w = want.double()
    if torch.isnan(g).any() or (g <= 0).any():
        fail("alibi.m05")
    n = 2 ** int(math.floor(math.log2(num_heads)))
    close = torch.isclose(g, w, rtol=1e-4, atol=1e-7)
    if num_heads > 1 and torch.allclose(g, g[0].expand_as(g)):
        fail("alibi.m06")
    if bool(close[:n].all()) and not bool(close[n:].all()):
        continuing = [2.0 ** (-8.0 * h / n) for h in range(n + 1, num_heads + 1)]
        if torch.allclose(g[n:], torch.tensor(continuing, dtype=torch.float64), rtol=1e-4):
            fail("alibi.m11", n=n, f1=num_heads - n, f2=2 * n)
        fail("alibi.m07", n=n, num_heads=num_heads, f2=num_heads - n)
    direct = torch.tensor(
        [2.0 ** (-8.0 * h / num_heads) for h in range(1, num_heads + 1)], dtype=torch.float64
    )
    if n != num_heads and torch.allclose(g, direct, rtol=1e-4):
        fail("alibi.m08", num_heads=num_heads)
    if not math.isclose(g[0].item(), w[0].item(), rel_tol=1e-4):
        fail("alibi.m09", n=n, f1=w[0].item(), f2=g[0].item())
    ratios = g[1:n] / g[: n - 1] if n > 1 else g[:0]
    if n > 1 and not torch.allclose(ratios, w[1:n] / w[: n - 1], rtol=1e-4):
        fail("alibi.m10")


def _slopes_case(num_heads: int, hint: str) -> Case:
    def run(f, num_heads=num_heads):
        got = _as_slopes(f(num_heads), num_heads)
        want = alibi_slopes(num_heads, dtype=torch.float64)
        if tuple(got.shape) == (num_heads,) and not torch.allclose(
            got.detach().double().cpu(), want, rtol=1e-4, atol=1e-7
        ):
            _diagnose_slopes(got, want, num_heads)
        compare_tensors(
            got,
            want.to(torch.float32),
            what=f"the slopes for {num_heads} heads",
            dtype=torch.float32,
        )

    kind = "power of two" if num_heads & (num_heads - 1) == 0 else "not a power of two"
    return Case(f"num_heads={num_heads} ({kind})", run, {"num_heads": num_heads}, hint)


def check_alibi_slopes(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade `alibi_slopes(num_heads) -> Tensor (num_heads,)`."""
    pow2 = "for a power of two H, m_h = 2^(−8h/H), h = 1..H"
    other = (
        "with n the largest power of two ≤ H: the n slopes for n heads, then every "
        "other slope of the 2n-head sequence"
    )
    cases = [
        _slopes_case(8, pow2),
        _slopes_case(1, pow2),
        _slopes_case(16, pow2),
        _slopes_case(12, other),
        _slopes_case(6, other),
        _slopes_case(20, other),
        _slopes_case(3, other),
    ]

    bad = [(f"num_heads={b!r}", (b,), {}) for b in (0, -4, 2.5, True, "8", None)]
    cases.append(
        Case(
            "bad input raises ValueError",
            lambda f: expect_raises_each(f, bad),
            {"num_heads": [0, -4, 2.5, True, "8", None]},
            "check that num_heads is a whole number (an int, not a bool) ≥ 1 before computing",
        )
    )
    return run_check("check_alibi_slopes", fn, cases)


# ----- bias ------------------------------------------------------------------------------


def _bias_case(
    name: str,
    num_heads: int,
    q_len: int,
    k_len: int | None,
    causal: bool,
    symmetric: bool,
    hint: str,
) -> Case:
    kl = q_len if k_len is None else k_len

    def run(f):
        got = f(num_heads, q_len, k_len, causal=causal, symmetric=symmetric)
        want = alibi_bias(
            num_heads, q_len, k_len, causal=causal, symmetric=symmetric, dtype=torch.float32
        )
        if not isinstance(got, torch.Tensor):
            fail("alibi.m12", f0=type(got).__name__)
        if tuple(got.shape) != tuple(want.shape):
            fail("alibi.m13", f0=tuple(got.shape), f1=tuple(want.shape))
        if not got.is_floating_point():
            fail("alibi.m14", f0=got.dtype)
        g = got.detach().double().cpu()
        w = want.double()
        if causal:
            future = torch.isinf(w)
            if future.any() and not bool(torch.isneginf(g[future]).all()):
                fail("alibi.m16")
        past = torch.isfinite(w) & (w != 0)
        if past.any():
            gp = g[past]
            if bool((gp > 0).all()):
                fail("alibi.m17")
        if torch.isneginf(g).any() and not torch.isneginf(w).any():
            fail("alibi.m15")
        compare_tensors(got, want, what="the bias", dtype=torch.float32)

    params = dict(num_heads=num_heads, q_len=q_len, k_len=kl, causal=causal, symmetric=symmetric)
    return Case(name, run, params, hint)


def check_alibi_bias(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade `alibi_bias(num_heads, q_len, k_len=None, *, causal=True, symmetric=False)`."""
    sign = "entry (h, i, j) is −m_h·(i − j): zero on the diagonal, negative for past keys"
    cases = [
        _bias_case("causal, 4 heads, 6 tokens", 4, 6, None, True, False, sign),
        _bias_case("causal, 3 heads (not a power of two), 7 tokens", 3, 7, None, True, False, sign),
        _bias_case("one token", 1, 1, None, True, False, sign),
        _bias_case(
            "decoding: 2 queries, 9 keys (queries are the last positions)",
            2,
            2,
            9,
            True,
            False,
            "query i sits at position i + (k_len − q_len); compare it with key j",
        ),
        _bias_case(
            "symmetric, not causal, 4 heads, 5 tokens",
            4,
            5,
            None,
            False,
            True,
            "the symmetric bias is −m_h·|i − j|, with no −inf anywhere",
        ),
        _bias_case(
            "signed, not causal: 3 heads, 4 queries, 6 keys",
            3,
            4,
            6,
            False,
            False,
            "without causal and without symmetric: −m_h·(i − j) everywhere, no −inf",
        ),
        _bias_case(
            "longer than a precomputed buffer: 1 query, 9000 keys",
            4,
            1,
            9000,
            True,
            False,
            "build the bias for the lengths you are given; no maximum length",
        ),
    ]

    bad = [(f"num_heads={b!r}", (b, 4), {}) for b in (0, -2, 2.5, True)]
    bad += [(f"q_len={b!r}", (2, b), {}) for b in (0, -3, 4.5, False)]
    bad += [(f"k_len={b!r}", (2, 4, b), {"causal": False}) for b in (0, -1, 6.5)]
    bad += [("causal with fewer keys (3) than queries (5)", (2, 5, 3), {"causal": True})]
    cases.append(
        Case(
            "bad input raises ValueError",
            lambda f: expect_raises_each(f, bad),
            {"num_heads": [0, -2, 2.5, True], "q_len": [0, -3, 4.5, False],
             "k_len": [0, -1, 6.5], "causal": "k_len 3 < q_len 5"},
            "check num_heads, q_len and k_len are whole numbers ≥ 1 (not bools), and k_len ≥ "
            "q_len when causal",
        )
    )
    return run_check("check_alibi_bias", fn, cases)
