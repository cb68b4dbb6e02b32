"""Checks for exercise 03: merging two partial attentions by LSE, and the tiled forward.

The reference is `lcedu.attention.flash` (FlashAttention-2, Dao 2023). Failures are diagnosed:
an accumulator that is not rescaled when the running max grows, a max that is never
subtracted (exp overflows on large scores), a wrong log-sum-exp, and partials that saw no keys.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from lcedu.attention.flash import flash_attention, merge_partials
from lcedu.grading.core import Case, CheckFailed, Report, compare_tensors, run_check

__all__ = ["check_merge_partials", "check_flash_forward"]


def _pair(got: object, what: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        raise CheckFailed(
            f"{what} should return a pair (out, lse), but your function returned "
            f"{type(got).__name__}"
            + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else "")
        )
    out, lse = got
    for name, t in (("out", out), ("lse", lse)):
        if not isinstance(t, torch.Tensor):
            raise CheckFailed(f"{name} should be a torch.Tensor, got {type(t).__name__}")
    return out, lse


def _close(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and bool(
        torch.allclose(a.double(), b.double(), rtol=1e-4, atol=1e-5, equal_nan=False)
    )


# ----------------------------------------------------------------------------------------
# merge_partials


def _partial(q, k, v):
    s = (q.double() @ k.double().transpose(-2, -1)) / math.sqrt(q.shape[-1])
    return (torch.softmax(s, -1) @ v.double()).float(), torch.logsumexp(s, -1).float()


def _diagnose_merge_lse(lse, la, lb, want) -> None:
    if _close(lse, torch.maximum(la, lb)):
        raise CheckFailed(
            "the merged lse is max(lse_a, lse_b); it should be log(e^lse_a + e^lse_b), which "
            "is larger than both (compute it as m + log(e^(lse_a−m) + e^(lse_b−m)))"
        )
    if _close(lse, la + lb):
        raise CheckFailed(
            "the merged lse is lse_a + lse_b; log-sum-exps combine as log(e^lse_a + e^lse_b)"
        )
    compare_tensors(lse, want, what="the merged lse")


def _merge_case(seed: int, split: int, lq: int, lk: int, scale_lse: float = 1.0):
    def run(fn: Callable) -> None:
        g = torch.Generator().manual_seed(seed)
        q, k, v = (torch.randn(2, 3, n, 8, generator=g) for n in (lq, lk, lk))
        q = q * scale_lse
        oa, la = _partial(q, k[:, :, :split], v[:, :, :split])
        ob, lb = _partial(q, k[:, :, split:], v[:, :, split:])
        want_out, want_lse = merge_partials(oa, la, ob, lb)
        out, lse = _pair(fn(oa.clone(), la.clone(), ob.clone(), lb.clone()), "merge_partials")
        compare_tensors(out, want_out, what="the merged out")
        _diagnose_merge_lse(lse, la, lb, want_lse)

    return run


def _merge_empty(both: bool):
    def run(fn: Callable) -> None:
        g = torch.Generator().manual_seed(7)
        oa = torch.randn(1, 2, 5, 4, generator=g)
        la = torch.randn(1, 2, 5, generator=g)
        ob = torch.zeros(1, 2, 5, 4)
        lb = torch.full((1, 2, 5), float("-inf"))
        if both:
            la = lb.clone()
            oa = torch.zeros_like(ob)
        out, lse = _pair(fn(oa, la.clone(), ob, lb.clone()), "merge_partials")
        if isinstance(out, torch.Tensor) and torch.isnan(out).any():
            raise CheckFailed(
                "NaN where a partial saw no keys (its lse is −inf): −inf − (−inf) is NaN; "
                "subtract a finite max (use 0 where both are −inf) and give an empty partial "
                "weight 0"
            )
        want_out, want_lse = merge_partials(oa, la, ob, lb)
        compare_tensors(out, want_out, what="the merged out")
        compare_tensors(lse, want_lse, what="the merged lse")

    return run


def check_merge_partials(fn: Callable) -> Report:
    """Grade `merge_partials(out_a, lse_a, out_b, lse_b) -> (out, lse)`."""
    cases = [
        Case(
            "two halves of the keys",
            _merge_case(0, 6, 5, 13),
            {"Lq": 5, "Lk": 13, "split": 6},
            "out = w_a·out_a + w_b·out_b with w = e^(lse − lse_merged)",
        ),
        Case(
            "uneven halves (1 key and 12 keys)",
            _merge_case(1, 1, 7, 13),
            {"split": 1},
            "the weights are not 1/2 each: they come from the LSEs",
        ),
        Case(
            "large scores (LSEs around 100)",
            _merge_case(2, 5, 4, 11, scale_lse=60.0),
            {"q scaled by": 60.0},
            "e^lse overflows in float32 for lse > 88: subtract the larger lse first",
        ),
        Case(
            "one partial saw no keys (lse = −inf)",
            _merge_empty(False),
            {},
            "a partial with lse = −inf must get weight 0, without producing NaN",
        ),
        Case("both partials saw no keys", _merge_empty(True), {}, "then out is 0 and lse is −inf"),
    ]
    return run_check("merge_partials", fn, cases)


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
        got = fn(q.clone(), k.clone(), v.clone(), block_q=block_q, block_k=block_k)
        out, lse = _pair(got, "your forward")
        if not isinstance(out, torch.Tensor) or out.shape != want_out.shape:
            compare_tensors(out, want_out.float(), what="out")
        if torch.isnan(out).any() or torch.isinf(out).any():
            raise CheckFailed(
                "out contains inf or NaN: exp() of large scores overflows; subtract the running "
                "max m from the scores before exp() (and rescale by exp(m_old − m_new))"
            )
        if not _close(out, want_out) and lk > block_k:
            if _close(out, _no_rescale_reference(q, k, v, block_k)):
                raise CheckFailed(
                    "out is right for the first key block only: when the running max grows, "
                    "multiply the accumulator by exp(m_old − m_new) before adding the new block"
                )
        compare_tensors(out, want_out.float(), what="out")
        if isinstance(lse, torch.Tensor) and lse.shape == want_lse.shape:
            m = (q.double() @ k.double().transpose(-2, -1) / math.sqrt(d)).amax(-1)
            if _close(lse, want_lse - m) and not _close(lse, want_lse):
                raise CheckFailed("lse is missing the running max: lse = m + log(l), not log(l)")
            if _close(lse, m + torch.exp(want_lse - m)) or _close(lse, torch.exp(want_lse)):
                raise CheckFailed("lse should be m + log(l), the log of the softmax denominator")
        compare_tensors(lse, want_lse.float(), what="lse")

    return run


def check_flash_forward(fn: Callable) -> Report:
    """Grade `flash_forward(q, k, v, *, block_q, block_k) -> (out, lse)` (non-causal)."""
    cases = [
        Case(
            "one tile",
            _forward_case(0, 1, 2, 8, 8, 8, 16, 16),
            {"L": 8, "block": 16},
            "with one tile this is plain softmax attention",
        ),
        Case(
            "several key blocks",
            _forward_case(1, 1, 2, 16, 40, 8, 16, 8),
            {"Lq": 16, "Lk": 40, "block_k": 8},
            "each new key block may raise the max: rescale what you accumulated",
        ),
        Case(
            "ragged lengths (not multiples of the block)",
            _forward_case(2, 2, 3, 21, 27, 8, 8, 5),
            {"Lq": 21, "Lk": 27, "blocks": (8, 5)},
            "the last block is shorter; slice to min(start + block, L)",
        ),
        Case(
            "large scores (|s| up to ~1e3)",
            _forward_case(3, 1, 1, 12, 24, 8, 4, 8, 200.0),
            {"q scaled by": 200.0},
            "exp(1000) is inf in float32: subtract the max first",
        ),
        Case(
            "more queries than keys",
            _forward_case(4, 1, 2, 30, 7, 4, 8, 3),
            {"Lq": 30, "Lk": 7},
            "query blocks and key blocks are independent",
        ),
    ]
    return run_check("flash forward (tiled, online softmax)", fn, cases)
