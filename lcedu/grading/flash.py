"""Checks for exercises 03 and 07: merging two partial attentions by LSE, and the tiled forward.

The reference is `lcedu.attention.flash` (FlashAttention-2, Dao 2023). `check_merge_partials`
is the one grader of `merge_partials` (exercise 07 uses it too). Failures are diagnosed: an
accumulator that is not rescaled when the running max grows, a max that is never subtracted
(exp overflows at lse ~ 1000), a wrong log-sum-exp, partials that saw no keys, a result in
another dtype, and a forward that is not tiled (measured: memory held and tensor sizes).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lcedu.attention.flash import flash_attention, merge_partials
from lcedu.grading.core import Case, Report, compare_tensors, expect_raises_each, fail, run_check
from lcedu.grading.messages import register, t

__all__ = ["check_merge_partials", "check_flash_forward"]

register({
    "flash.not_pair": "{what} should return a pair (out, lse), but your function returned {kind}",
    "flash.part_not_tensor": "{name} should be a torch.Tensor, got {kind}",
    "flash.what_out": "the merged out",
    "flash.what_lse": "the merged lse",
    "flash.lse_max": "the merged lse is max(lse_a, lse_b); it should be log(e^lse_a + e^lse_b), "
                     "which is larger than both (compute it as m + log(e^(lse_a−m) + "
                     "e^(lse_b−m)))",
    "flash.lse_sum": "the merged lse is lse_a + lse_b; log-sum-exps combine as log(e^lse_a + "
                     "e^lse_b)",
    "flash.overflow": "with lse around {shift}, exp(lse) overflows (exp(89) is already inf in "
                      "float32): subtract the larger of the two lse before exponentiating",
    "flash.empty_nan": "NaN where a partial saw no keys (its lse is −inf): −inf − (−inf) is NaN; "
                       "subtract a finite max (use 0 where both are −inf) and give an empty "
                       "partial weight 0",
    "flash.no_rescale": "out is right for the first key block only: when the running max grows, "
                        "multiply the accumulator by exp(m_old − m_new) before adding the new "
                        "block",
    "flash.fwd_overflow": "out contains inf or NaN: exp() of large scores overflows; subtract the "
                          "running max m from the scores before exp() (and rescale by exp(m_old "
                          "− m_new))",
    "flash.lse_no_max": "lse is missing the running max: lse = m + log(l), not log(l)",
    "flash.lse_wrong_form": "lse should be m + log(l), the log of the softmax denominator",
    "flash.not_tiled_peak": "for {lq} queries and {lk} keys your forward held {got} MB at once "
                            "(all scores are {dense} MB, one tile {tile} KB; the limit is {limit} "
                            "MB): work tile by tile, a (block_q, block_k) block of scores at a "
                            "time",
    "flash.not_tiled_numel": "for {lq} queries and {lk} keys your forward built a tensor of {got} "
                             "entries (one tile is block_q × block_k = {tile}; the limit is "
                             "{limit}): work tile by tile, never on all keys of a query block at "
                             "once",
    "flash.hint.merge": "out = w_a·out_a + w_b·out_b with w = e^(lse − lse_merged)",
    "flash.hint.uneven": "the weights are not 1/2 each: they come from the LSEs",
    "flash.hint.big": "e^lse overflows in float32 for lse > 88: subtract the larger lse first",
    "flash.hint.empty": "a partial with lse = −inf must get weight 0, without producing NaN",
    "flash.hint.both_empty": "then out is 0 and lse is −inf",
    "flash.hint.dtype": "keep the inputs' dtype: do the arithmetic in it, or convert back",
    "flash.hint.bad": "compare out_a.shape with out_b.shape (and lse with out) before merging "
                      "and raise ValueError",
    "flash.hint.one_tile": "with one tile this is plain softmax attention",
    "flash.hint.blocks": "each new key block may raise the max: rescale what you accumulated",
    "flash.hint.ragged": "the last block is shorter; slice to min(start + block, L)",
    "flash.hint.fwd_big": "exp(1000) is inf in float32: subtract the max first",
    "flash.hint.more_q": "query blocks and key blocks are independent",
    "flash.hint.tiled": "the rule: memory about one (block_q, block_k) tile of scores, never a "
                        "query block against all keys — the grader measures what your forward "
                        "holds",
    "flash.case.bad": "bad input raises ValueError",
    "flash.case.tiled": "tiled: one block of scores at a time",
})


def _pair(got: object, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        kind = type(got).__name__
        if isinstance(got, (tuple, list)):
            kind += f" of length {len(got)}"
        fail("flash.not_pair", what=what, kind=kind)
    out, lse = got
    for name, x in (("out", out), ("lse", lse)):
        if not isinstance(x, torch.Tensor):
            fail("flash.part_not_tensor", name=name, kind=type(x).__name__)
    return out, lse


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(
        torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5, equal_nan=False)
    )


# ----------------------------------------------------------------------------------------
# merge_partials


def _partial(q, k, v):
    s = (q.double() @ k.double().transpose(-2, -1)) / math.sqrt(q.shape[-1])
    return (torch.softmax(s, -1) @ v.double()).to(q.dtype), torch.logsumexp(s, -1).to(q.dtype)


def _merge_case(seed: int, *, split: int = 6, lq: int = 5, lk: int = 13, heads: int = 3,
                q_scale: float = 1.0, shift: float = 0.0, empty: str = "",
                dtype: torch.dtype = torch.float32):
    def run(fn: Callable) -> None:
        g = torch.Generator().manual_seed(seed)
        q, k, v = (torch.randn(2, heads, n, 8, generator=g, dtype=torch.float64)
                   for n in (lq, lk, lk))
        q = (q * q_scale).to(dtype)
        k, v = k.to(dtype), v.to(dtype)
        oa, la = _partial(q, k[:, :, :split], v[:, :, :split])
        ob, lb = _partial(q, k[:, :, split:], v[:, :, split:])
        la, lb = la + shift, lb + shift
        if empty in ("b", "both"):
            ob, lb = torch.zeros_like(ob), torch.full_like(lb, float("-inf"))
        if empty == "both":
            oa, la = torch.zeros_like(oa), torch.full_like(la, float("-inf"))
        want_out, want_lse = merge_partials(oa, la, ob, lb)
        out, lse = _pair(fn(oa, la, ob, lb), "merge_partials")
        bad = (out.is_floating_point() and not bool(torch.isfinite(out).all())) or (
            lse.is_floating_point() and bool(torch.isnan(lse).any()))
        if bad and shift > 80:
            fail("flash.overflow", shift=f"{shift:g}")
        if bad and empty:
            fail("flash.empty_nan")
        compare_tensors(out, want_out, what=t("flash.what_out"))
        if lse.shape == want_lse.shape and not empty:
            if _close(lse, torch.maximum(la, lb)):
                fail("flash.lse_max")
            if _close(lse, la + lb):
                fail("flash.lse_sum")
        compare_tensors(lse, want_lse, what=t("flash.what_lse"))

    return run


def check_merge_partials(fn: Callable) -> Report:
    """Grade `merge_partials(out_a, lse_a, out_b, lse_b) -> (out, lse)` (exercises 03, 07)."""
    z = torch.zeros
    bad = [
        ("partials with different shapes ((1,1,3,4) and (1,1,5,4))",
         (z(1, 1, 3, 4), z(1, 1, 3), z(1, 1, 5, 4), z(1, 1, 5)), {}),
        ("an lse whose shape does not match out ((1,1,3) for out (1,1,3,4) and (1,1,2))",
         (z(1, 1, 3, 4), z(1, 1, 3), z(1, 1, 3, 4), z(1, 1, 2)), {}),
    ]
    cases = [
        Case("two halves of the keys", _merge_case(0), {"Lq": 5, "Lk": 13, "split": 6},
             t("flash.hint.merge")),
        Case("uneven halves (1 key and 12 keys)", _merge_case(1, split=1, lq=7),
             {"split": 1}, t("flash.hint.uneven")),
        Case("large scores (LSEs around 100)", _merge_case(2, split=5, lq=4, lk=11,
                                                           q_scale=60.0),
             {"q scaled by": 60.0}, t("flash.hint.big")),
        Case("large scores: lse around 1000", _merge_case(3, shift=1000.0),
             {"lse around": 1000.0}, t("flash.hint.big")),
        Case("float64, 1 head, uneven split", _merge_case(4, split=2, lk=9, heads=1,
                                                          dtype=torch.float64),
             {"dtype": "float64", "heads": 1}, t("flash.hint.dtype")),
        Case("one partial saw no keys (lse = −inf)", _merge_case(5, empty="b"), {},
             t("flash.hint.empty")),
        Case("both partials saw no keys", _merge_case(6, empty="both"), {},
             t("flash.hint.both_empty")),
        Case(t("flash.case.bad"), lambda f: expect_raises_each(f, bad),
             {"out_a": (1, 1, 3, 4), "out_b": (1, 1, 5, 4)}, t("flash.hint.bad")),
    ]
    return run_check("check_merge_partials", fn, cases)


# ----------------------------------------------------------------------------------------
# the tiled forward


def _no_rescale_reference(q, k, v, block_k):
    """What a forward gives when the accumulator is not rescaled as the running max grows."""
    scale = 1 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1] + (1,), float("-inf"), dtype=torch.float64)
    l_sum = torch.zeros_like(m)
    acc = torch.zeros(q.shape[:-1] + (v.shape[-1],), dtype=torch.float64)
    for k0 in range(0, k.shape[2], block_k):
        s = q.double() @ k[:, :, k0 : k0 + block_k].double().transpose(-2, -1) * scale
        m_new = torch.maximum(m, s.amax(-1, keepdim=True))
        p = torch.exp(s - m_new)
        l_sum = l_sum * torch.exp(m - m_new) + p.sum(-1, keepdim=True)
        acc = acc + p @ v[:, :, k0 : k0 + block_k].double()  # the missing rescale
        m = m_new
    return (acc / l_sum).float()


def _forward_case(seed, B, H, lq, lk, d, block_q, block_k, q_scale=1.0):
    def run(fn: Callable) -> None:
        g = torch.Generator().manual_seed(seed)
        q, k, v = (torch.randn(B, H, n, d, generator=g) for n in (lq, lk, lk))
        q = q * q_scale
        want_out, want_lse = flash_attention(q.double(), k.double(), v.double(), return_lse=True)
        got = fn(q, k, v, block_q=block_q, block_k=block_k)
        out, lse = _pair(got, "flash_forward")
        if out.shape != want_out.shape:
            compare_tensors(out, want_out.float(), what="out")
        if out.is_floating_point() and not bool(torch.isfinite(out).all()):
            fail("flash.fwd_overflow")
        if not _close(out, want_out) and lk > block_k:
            if _close(out, _no_rescale_reference(q, k, v, block_k)):
                fail("flash.no_rescale")
        compare_tensors(out, want_out.float(), what="out")
        if lse.shape == want_lse.shape and lse.is_floating_point():
            m = (q.double() @ k.double().transpose(-2, -1) / math.sqrt(d)).amax(-1)
            if _close(lse, want_lse - m) and not _close(lse, want_lse):
                fail("flash.lse_no_max")
            if _close(lse, m + torch.exp(want_lse - m)) or _close(lse, torch.exp(want_lse)):
                fail("flash.lse_wrong_form")
        compare_tensors(lse, want_lse.float(), what="lse")

    return run


_T_LQ, _T_LK, _T_D, _T_BQ, _T_BK = 128, 32768, 4, 64, 256
_T_PEAK = 4 * 2**20
_T_NUMEL = 8 * _T_BQ * _T_BK


def _tiled_case(fn: Callable) -> None:
    g = torch.Generator().manual_seed(9)
    q, k, v = (torch.randn(1, 1, n, _T_D, generator=g) for n in (_T_LQ, _T_LK, _T_LK))
    blocks = {"block_q": _T_BQ, "block_k": _T_BK}
    small = (q[:, :, :_T_BQ].clone(), k[:, :, : 2 * _T_BK].clone(), v[:, :, : 2 * _T_BK].clone())
    got = fn.call((q, k, v), blocks, measure=True, warmup=(small, blocks))
    stats = fn.last.stats
    out, lse = _pair(got, "flash_forward")
    want_out, want_lse = flash_attention(q, k, v, return_lse=True)
    compare_tensors(out, want_out, what="out")
    compare_tensors(lse, want_lse, what="lse")
    dense = _T_LQ * _T_LK * 4 / 2**20
    if stats.get("peak_bytes", 0) > _T_PEAK:
        fail("flash.not_tiled_peak", lq=_T_LQ, lk=_T_LK, got=f"{stats['peak_bytes'] / 2**20:.1f}",
             dense=f"{dense:.0f}", tile=_T_BQ * _T_BK * 4 // 1024, limit=_T_PEAK // 2**20)
    if stats.get("torch_max_numel", 0) > max(_T_NUMEL, _T_LQ * _T_D):
        fail("flash.not_tiled_numel", lq=_T_LQ, lk=_T_LK, got=f"{stats['torch_max_numel']:,}",
             tile=f"{_T_BQ * _T_BK:,}", limit=f"{_T_NUMEL:,}")


def check_flash_forward(fn: Callable) -> Report:
    """Grade `flash_forward(q, k, v, *, block_q, block_k) -> (out, lse)` (non-causal)."""
    cases = [
        Case("one tile", _forward_case(0, 1, 2, 8, 8, 8, 16, 16), {"L": 8, "block": 16},
             t("flash.hint.one_tile")),
        Case("several key blocks", _forward_case(1, 1, 2, 16, 40, 8, 16, 8),
             {"Lq": 16, "Lk": 40, "block_k": 8}, t("flash.hint.blocks")),
        Case("ragged lengths (not multiples of the block)",
             _forward_case(2, 2, 3, 21, 27, 8, 8, 5), {"Lq": 21, "Lk": 27, "blocks": (8, 5)},
             t("flash.hint.ragged")),
        Case("large scores (|s| up to ~1e3)", _forward_case(3, 1, 1, 12, 24, 8, 4, 8, 200.0),
             {"q scaled by": 200.0}, t("flash.hint.fwd_big")),
        Case("more queries than keys", _forward_case(4, 1, 2, 30, 7, 4, 8, 3),
             {"Lq": 30, "Lk": 7}, t("flash.hint.more_q")),
        Case("odd head count, block of 1 key", _forward_case(5, 1, 3, 9, 6, 4, 4, 1),
             {"heads": 3, "block_k": 1}, t("flash.hint.blocks")),
        Case(t("flash.case.tiled"), _tiled_case,
             {"Lq": _T_LQ, "Lk": _T_LK, "block_q": _T_BQ, "block_k": _T_BK},
             t("flash.hint.tiled")),
    ]
    return run_check("flash forward (tiled, online softmax)", fn, cases)
