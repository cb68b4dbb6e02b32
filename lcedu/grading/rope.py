"""Checks for exercises 04–05: applying RoPE, Position Interpolation, and YaRN's frequencies
and temperature.

The reference is `lcedu.positions.rope` / `lcedu.positions.scaling` (which match Hugging Face
transformers). Failures are diagnosed against the known mistakes: the wrong pairing or sign in
`rotate_half`, multiplying by the factor, the lesson's YaRN correction range (ERRATUM 10), a
ramp over even numbers or without a clamp (11), the ramp the wrong way round (12) and a
temperature applied for factor ≤ 1 (14).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lcedu.grading.core import (
    Case,
    CheckFailed,
    Report,
    compare_tensors,
    expect_raises_each,
    fail,
    run_check,
)
from lcedu.grading.messages import register, t
from lcedu.positions.rope import apply_rope, rope_cos_sin, rope_inv_freq
from lcedu.positions.scaling import (
    lesson_yarn_correction_range,
    lesson_yarn_inv_freq,
    linear,
    yarn,
    yarn_correction_range,
    yarn_mscale,
)

register({
    'rope.what_x': 'the rotated x',
    'rope.shape': 'expected a tensor of shape {shape}',
    'rope.relative': (
        '⟨R_7 q, R_3 k⟩ = {a} but ⟨R_507 q, R_503 k⟩ = {b}; with RoPE the score must depend '
        'only on the distance (4 in both)'
    ),
    'rope.not_pair': '{what} should return a tuple (inv_freq, attention_factor), got {kind}',
    'rope.inv_not_tensor': 'inv_freq should be a torch.Tensor, got {kind}',
    'rope.att_not_number': 'attention_factor should be a number, got {kind}',
    'rope.pi_scale': 'PI does not change the attention scale: return 1.0, got {got}',
    'rope.case.bad': 'bad input raises ValueError (several bad values per argument)',
    'rope.hint.linear_bad': (
        'check that factor is a number ≥ 1 and that dim is a positive even int (not a bool) '
        'and raise ValueError'
    ),
    'rope.hint.yarn_bad': (
        'check beta_fast > beta_slow, factor ≥ 1, dim a positive even int and '
        'original_max_position ≥ 1 first, and raise ValueError'
    ),
    'rope.yarn_tuple': 'return only the inv_freq tensor (the temperature is exercise 2)',
    'rope.yarn_sketch': (
        "your correction range and ramp look like the lesson's sketch (ERRATUM 10, 11): the "
        'range must depend on β_fast, β_slow, the base and 2π, and the ramp runs over pair '
        'indices'
    ),
    'rope.yarn_pi': (
        'every frequency was divided by the factor: that is PI, not YaRN; keep the fast pairs '
        'below `low` unchanged'
    ),
    'rope.yarn_plain': 'these are the unscaled frequencies; interpolate the slow pairs',
    'rope.att_float': 'return a float, got {kind}',
    'rope.att_erratum': (
        'for s = {s} (≤ 1) the temperature must be 1; you applied 0.1·ln(s) + 1 = {got}, which'
        ' shrinks the logits (ERRATUM 14)'
    ),
    'rope.att_wrong': 'for s = {s} expected {want}, got {got}',
    'rope.yarn_degenerate': (
        'low == high here (a degenerate range): dividing by high − low gives 0/0 = NaN; nudge '
        'high by 0.001 when they are equal'
    ),
    'rope.m01': (
        'you rotated adjacent pairs (x0, x1), (x2, x3), … (the GPT-J / interleaved style); '
        'this exercise wants the half style: dim i is paired with dim i + head_dim/2'
    ),
    'rope.m02': 'the rotation goes the wrong way: rotate_half(x) must be (−x2, x1), not (x2, −x1)',
    'rope.m03': 'the sin term must multiply rotate_half(x), not x itself',
    'rope.m04': 'the sin term is missing: x·cos + rotate_half(x)·sin',
    'rope.m05': 'your function returned x unchanged; rotate it',
    'rope.m06': (
        'you multiplied the frequencies by the factor; PI slows them down: divide by the '
        'factor (positions m/s, so θ/s)'
    ),
    'rope.m07': 'these are the unscaled RoPE frequencies; divide by the factor',
})

__all__ = [
    "check_apply_rope",
    "check_linear",
    "check_yarn_inv_freq",
    "check_yarn_attention_factor",
]


register({  # case names and hints, so that a translation can replace them
    'rope.text.01': (
        'x·cos + rotate_half(x)·sin, where rotate_half(x) = cat(−x2, x1) on the two halves'
    ),
    'rope.text.02': 'θ_i = base^(−2i/dim) for i = 0 … dim/2 − 1, each divided by the factor',
    'rope.text.03': (
        'ramp = clamp((i − low)/(high − low), 0, 1) over pair indices i; inv_freq = θ·(1 − '
        'ramp) + (θ/s)·ramp'
    ),
    'rope.text.04': '0.1·ln(s) + 1 when s > 1; exactly 1 when s ≤ 1 (no extension, no temperature)',
    'rope.text.05': 'small, positions 0..',
    'rope.text.06': 'odd heads and length',
    'rope.text.07': 'head_dim 128, float64',
    'rope.text.08': 'bfloat16 keeps its dtype',
    'rope.text.09': "compute in x's dtype (cos and sin already are)",
    'rope.text.10': 'score depends only on m − n',
    'rope.text.11': 'a short original context: low falls below 0',
    'rope.text.12': 'low == high: keep the ramp finite',
})


def _close(got: torch.Tensor, want: torch.Tensor, rtol: float = 1e-4, atol: float = 1e-5) -> bool:
    g = got.detach().double().cpu()
    return g.shape == want.shape and bool(torch.allclose(g, want.double(), rtol=rtol, atol=atol))


# ----- apply_rope ------------------------------------------------------------------------


def _rope_inputs(shape: tuple[int, int, int, int], seed: int, dtype: torch.dtype, far: bool):
    gen = torch.Generator().manual_seed(seed)
    b, h, length, d = shape
    x = torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype)
    start = 3000 if far else 0
    positions = torch.arange(start, start + length)
    cos, sin = rope_cos_sin(positions, rope_inv_freq(d, 1e4))
    return x, cos.to(dtype), sin.to(dtype)


def _diagnose_rope(got: torch.Tensor, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor):
    half = x.shape[-1] // 2
    x1, x2 = x[..., :half], x[..., half:]
    if _close(got, apply_rope(x, cos, sin, style="interleaved")):
        raise CheckFailed(t("rope.m01"), key="rope.m01")
    if _close(got, x * cos + torch.cat((x2, -x1), dim=-1) * sin):
        raise CheckFailed(t("rope.m02"), key="rope.m02")
    if _close(got, x * cos + x * sin):
        raise CheckFailed(t("rope.m03"), key="rope.m03")
    if _close(got, x * cos):
        raise CheckFailed(t("rope.m04"), key="rope.m04")
    if _close(got, x):
        raise CheckFailed(t("rope.m05"), key="rope.m05")


def _rope_case(name: str, shape, seed: int, dtype: torch.dtype, far: bool, hint: str) -> Case:
    def run(f):
        x, cos, sin = _rope_inputs(shape, seed, dtype, far)
        want = apply_rope(x, cos, sin)
        got = f(x, cos, sin)
        if (
            isinstance(got, torch.Tensor)
            and got.shape == want.shape
            and not _close(got, want, *_tol(dtype))
        ):
            _diagnose_rope(got, x, cos, sin)
        compare_tensors(got, want, what=t("rope.what_x"), dtype=dtype)

    params = {
        "shape": list(shape),
        "dtype": str(dtype).replace("torch.", ""),
        "positions": "3000.." if far else "0..",
    }
    return Case(name, run, params, hint)


def _tol(dtype: torch.dtype) -> tuple[float, float]:
    return (1e-4, 1e-5) if dtype in (torch.float32, torch.float64) else (2e-2, 2e-2)


def check_apply_rope(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade `apply_rope(x, cos, sin) -> Tensor`: half-style RoPE (Hugging Face Llama)."""
    hint = "x·cos + rotate_half(x)·sin, where rotate_half(x) = cat(−x2, x1) on the two halves"
    cases = [
        _rope_case("small, positions 0..", (1, 1, 4, 8), 0, torch.float32, False, hint),
        _rope_case("odd heads and length", (2, 3, 17, 64), 1, torch.float32, True, hint),
        _rope_case("head_dim 128, float64", (1, 2, 9, 128), 2, torch.float64, True, hint),
        _rope_case(
            "bfloat16 keeps its dtype",
            (1, 2, 5, 32),
            3,
            torch.bfloat16,
            True,
            "compute in x's dtype (cos and sin already are)",
        ),
    ]

    def relative(f):
        gen = torch.Generator().manual_seed(4)
        q = torch.randn(1, 1, 1, 64, generator=gen, dtype=torch.float64)
        k = torch.randn(1, 1, 1, 64, generator=gen, dtype=torch.float64)
        inv = rope_inv_freq(64, 1e4).double()

        def rot(t, m):
            c, s = rope_cos_sin(torch.tensor([m]), inv)
            out = f(t, c, s)
            if not isinstance(out, torch.Tensor) or out.shape != t.shape:
                fail("rope.shape", shape=tuple(t.shape))
            return out

        a = float((rot(q, 7) * rot(k, 3)).sum())
        b = float((rot(q, 507) * rot(k, 503)).sum())
        if not math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6):
            fail("rope.relative", a=f"{a:.4f}", b=f"{b:.4f}")

    cases.append(
        Case("score depends only on m − n", relative, {"m, n": [[7, 3], [507, 503]]}, hint)
    )
    return run_check("check_apply_rope", fn, cases)


# ----- linear (PI) -----------------------------------------------------------------------


def _as_pair(got: object, what: str) -> tuple[torch.Tensor, float]:
    if not isinstance(got, tuple) or len(got) != 2:
        fail("rope.not_pair", what=what, kind=type(got).__name__)
    inv, att = got
    if not isinstance(inv, torch.Tensor):
        fail("rope.inv_not_tensor", kind=type(inv).__name__)
    if isinstance(att, torch.Tensor) and att.numel() == 1:
        att = att.item()
    if isinstance(att, bool) or not isinstance(att, (int, float)):
        fail("rope.att_not_number", kind=type(att).__name__)
    return inv, float(att)


def _linear_case(dim: int, base: float, factor: float, hint: str) -> Case:
    def run(f):
        inv, att = _as_pair(f(dim, base, factor), "linear")
        want, want_att = linear(dim, base, factor)
        if inv.shape == want.shape and not _close(inv, want):
            plain = rope_inv_freq(dim, base)
            if _close(inv, plain * factor):
                raise CheckFailed(t("rope.m06"), key="rope.m06")
            if _close(inv, plain):
                raise CheckFailed(t("rope.m07"), key="rope.m07")
        compare_tensors(inv, want, what="inv_freq", dtype=torch.float32)
        if att != want_att:
            fail("rope.pi_scale", got=att)

    return Case(
        f"dim={dim}, base={base:g}, factor={factor:g}",
        run,
        {"dim": dim, "base": base, "factor": factor},
        hint,
    )


def check_linear(fn: Callable[..., tuple[torch.Tensor, float]]) -> Report:
    """Grade `linear(dim, base, factor) -> (inv_freq, attention_factor)` (PI)."""
    hint = "θ_i = base^(−2i/dim) for i = 0 … dim/2 − 1, each divided by the factor"
    cases = [
        _linear_case(8, 10000.0, 2.0, hint),
        _linear_case(128, 10000.0, 4.0, hint),
        _linear_case(64, 500000.0, 2.5, hint),
        _linear_case(96, 1e6, 1.0, hint),
    ]

    bad = [(f"factor={b!r}", (64, 1e4, b), {}) for b in (0.5, 0.0, -2.0, "2")]
    bad += [(f"dim={b!r}", (b, 1e4, 2.0), {}) for b in (63, 0, -8, 64.5, True, "64")]
    cases.append(
        Case(
            t("rope.case.bad"),
            lambda f: expect_raises_each(f, bad),
            {"factor": [0.5, 0.0, -2.0, "2"], "dim": [63, 0, -8, 64.5, True, "64"]},
            t("rope.hint.linear_bad"),
        )
    )
    return run_check("check_linear", fn, cases)


# ----- YaRN ------------------------------------------------------------------------------


def _yarn_variant(
    dim,
    base,
    factor,
    orig,
    beta_fast,
    beta_slow,
    *,
    range_="right",
    indices="pairs",
    clamp=True,
    inverted=False,
) -> torch.Tensor:
    """A YaRN inv_freq with one known mistake switched on (float64)."""
    if range_ == "lesson":
        low, high = lesson_yarn_correction_range(dim, orig, int(orig * factor))
    elif range_ == "unclamped":
        low = math.floor(dim * math.log(orig / (beta_fast * 2 * math.pi)) / (2 * math.log(base)))
        high = math.ceil(dim * math.log(orig / (beta_slow * 2 * math.pi)) / (2 * math.log(base)))
    else:
        low, high = yarn_correction_range(dim, base, orig, beta_fast=beta_fast, beta_slow=beta_slow)
    if low == high:
        high += 0.001
    i = torch.arange(0, dim, 2) if indices == "even" else torch.arange(dim // 2)
    ramp = (i.double() - low) / (high - low)
    if clamp:
        ramp = ramp.clamp(0, 1)
    if inverted:
        ramp = 1 - ramp
    plain = rope_inv_freq(dim, base).double()
    return plain * (1 - ramp) + plain / factor * ramp


register({
    'rope.yarn_lesson_range': (
        "your correction range looks like the lesson's sketch (ERRATUM 10): it must depend on "
        'β_fast, β_slow, the base and 2π: dim(r) = d·ln(L_orig/(2π·r)) / (2·ln base), low = '
        'floor(dim(β_fast)), high = ceil(dim(β_slow))'
    ),
    'rope.yarn_even': (
        "your ramp runs over the even numbers 0, 2, 4, … (the lesson's `dims`); it must run "
        'over the pair indices 0, 1, 2, … , dim/2 − 1 (ERRATUM 11)'
    ),
    'rope.yarn_unclamped_ramp': (
        'your ramp is not clamped: below `low` it goes negative and above `high` past 1, so '
        'frequencies are pushed beyond both ends; clamp it to [0, 1] (ERRATUM 11)'
    ),
    'rope.yarn_inverted': (
        'your ramp is the wrong way round: low pair indices are the HIGH frequencies and must '
        'be kept (extrapolated); the high indices are slow and get divided by the factor '
        '(ERRATUM 12)'
    ),
    'rope.yarn_unclamped_range': (
        'low/high must be clamped to [0, dim − 1] before the ramp (max(low, 0), min(high, dim '
        '− 1))'
    ),
})

MISTAKES = [
    ({'range_': 'lesson'}, 'rope.yarn_lesson_range'),
    ({'indices': 'even'}, 'rope.yarn_even'),
    ({'clamp': False}, 'rope.yarn_unclamped_ramp'),
    ({'inverted': True}, 'rope.yarn_inverted'),
    ({'range_': 'unclamped'}, 'rope.yarn_unclamped_range'),
]


def _yarn_case(dim, base, factor, orig, beta_fast, beta_slow, hint) -> Case:
    def run(f):
        got = f(dim, base, factor, orig, beta_fast=beta_fast, beta_slow=beta_slow)
        if isinstance(got, tuple):
            fail("rope.yarn_tuple")
        want, _ = yarn(dim, base, factor, orig, beta_fast=beta_fast, beta_slow=beta_slow)
        low, high = yarn_correction_range(dim, base, orig, beta_fast=beta_fast,
                                          beta_slow=beta_slow)
        if (low == high and isinstance(got, torch.Tensor) and got.is_floating_point()
                and not bool(torch.isfinite(got).all())):
            fail("rope.yarn_degenerate")
        if isinstance(got, torch.Tensor) and got.shape == want.shape and not _close(got, want):
            sketch, _ = lesson_yarn_inv_freq(dim, orig, int(orig * factor), base)
            if _close(got, sketch):
                fail("rope.yarn_sketch")
            for kwargs, message in MISTAKES:
                variant = _yarn_variant(dim, base, factor, orig, beta_fast, beta_slow, **kwargs)
                if not _close(variant, want) and _close(got, variant):
                    fail(message)
            plain = rope_inv_freq(dim, base)
            if _close(got, plain / factor):
                fail("rope.yarn_pi")
            if _close(got, plain):
                fail("rope.yarn_plain")
        compare_tensors(got, want, what="inv_freq", dtype=torch.float32)

    params = dict(dim=dim, base=base, factor=factor, original_max_position=orig,
                  beta_fast=beta_fast, beta_slow=beta_slow)
    name = f"dim={dim}, base={base:g}, s={factor:g}, L={orig}, β={beta_fast:g}/{beta_slow:g}"
    return Case(name, run, params, hint)


def check_yarn_inv_freq(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade `yarn_inv_freq(dim, base, factor, original_max_position, beta_fast=32,
    beta_slow=1) -> Tensor (dim/2,)`."""
    hint = (
        "ramp = clamp((i − low)/(high − low), 0, 1) over pair indices i; "
        "inv_freq = θ·(1 − ramp) + (θ/s)·ramp"
    )
    cases = [
        _yarn_case(128, 10000.0, 8.0, 4096, 32, 1, hint),
        _yarn_case(64, 10000.0, 4.0, 2048, 32, 1, hint),
        _yarn_case(128, 500000.0, 2.5, 8192, 16, 2, hint),
        _yarn_case(32, 10000.0, 16.0, 64, 32, 1, "a short original context: low falls below 0"),
        _yarn_case(16, 10000.0, 4.0, 64, 33, 32, "low == high: keep the ramp finite"),
        _yarn_case(8, 10000.0, 4.0, 32, 33, 32, "low == high: keep the ramp finite"),
    ]

    bad = [
        ("beta_fast=1 < beta_slow=32", (64, 1e4, 4.0, 2048), {"beta_fast": 1, "beta_slow": 32}),
        ("beta_fast == beta_slow == 8", (64, 1e4, 4.0, 2048), {"beta_fast": 8, "beta_slow": 8}),
    ]
    bad += [(f"factor={b!r}", (64, 1e4, b, 2048), {}) for b in (0.5, 0.0, -4.0)]
    bad += [(f"dim={b!r}", (b, 1e4, 4.0, 2048), {}) for b in (63, 0, -8)]
    bad += [(f"original_max_position={b!r}", (64, 1e4, 4.0, b), {}) for b in (0, -2048)]
    cases.append(
        Case(
            t("rope.case.bad"),
            lambda f: expect_raises_each(f, bad),
            {"beta_fast/beta_slow": [[1, 32], [8, 8]], "factor": [0.5, 0.0, -4.0],
             "dim": [63, 0, -8], "original_max_position": [0, -2048]},
            t("rope.hint.yarn_bad"),
        )
    )
    return run_check("check_yarn_inv_freq", fn, cases)


def check_yarn_attention_factor(fn: Callable[[float], float]) -> Report:
    """Grade `yarn_attention_factor(factor) -> float`: 0.1·ln(s) + 1 for s > 1, else 1."""
    hint = "0.1·ln(s) + 1 when s > 1; exactly 1 when s ≤ 1 (no extension, no temperature)"
    cases = []
    for s in (8.0, 2.0, 32.0, 1.0, 0.5, 0.25):

        def run(f, s=s):
            got = f(s)
            if isinstance(got, torch.Tensor) and got.numel() == 1:
                got = got.item()
            if isinstance(got, bool) or not isinstance(got, (int, float)):
                fail("rope.att_float", kind=type(got).__name__)
            want = yarn_mscale(s)
            if s < 1 and math.isclose(got, 0.1 * math.log(s) + 1, rel_tol=1e-6):
                fail("rope.att_erratum", s=s, got=f"{got:.4f}")
            if not math.isclose(got, want, rel_tol=1e-6):
                fail("rope.att_wrong", s=s, want=f"{want:.6f}", got=f"{got:.6f}")

        cases.append(Case(f"s={s:g}", run, {"factor": s}, hint))
    return run_check("check_yarn_attention_factor", fn, cases)
