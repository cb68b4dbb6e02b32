"""Checks for exercise 07: the log-sum-exp merge of two partial attentions, and one ring step.

The references are `lcedu.attention.flash.merge_partials` and `lcedu.attention.ring.ring_step`
(Ring Attention, Liu et al., 2023; the LSE merge of FlashAttention). Failures are diagnosed:
a merge that overflows because it exponentiates without subtracting the max, NaN for rows
no key has reached yet, the lesson's step that attends to the future (erratum 19), a future
block that is computed instead of skipped, a visible block that is skipped, a diagonal block
without its mask.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lcedu.attention.ring import block_attention, ring_step, token_positions
from lcedu.grading.core import Case, Report, compare_tensors, fail, run_check
from lcedu.grading.flash import check_merge_partials
from lcedu.grading.messages import register  # the one merge grader (ex 03, 07)
from lcedu.testing import close_enough

__all__ = ["check_merge_partials", "check_ring_step"]

register({
    'ring.m01': '{what} should return a pair (out, lse), got a {kind}{n}',
    'ring.m02': (
        'every key of this block comes after every query (a block from the future): with '
        'causal=True the block must be skipped and (out, lse) returned unchanged'
    ),
    'ring.m03': (
        'you returned the state unchanged, but some queries may see some of these keys (k_pos '
        '≤ q_pos): skip a block only when no key is at or before any query'
    ),
    'ring.m04': (
        'queries attended to keys in their future: with causal=True, key j may be seen by '
        "query i only if k_pos[j] ≤ q_pos[i] (the lesson's loop has no causal mask at all)"
    ),
})


register({
    "ring.future_touched": "this block lies entirely in the queries' future, so with causal=True "
                           "it must be skipped before any computation, but your function called "
                           "`{name}` on its K or V",
})


register({  # case names and hints, so that a translation can replace them
    'ring.text.01': "compute this block's (out, lse), then merge it into the running (out, lse)",
    'ring.text.02': (
        'mask (−inf) the scores where k_pos[j] > q_pos[i]; skip only blocks with no pair left'
    ),
    'ring.text.03': 'not causal, first block into an empty state',
    'ring.text.04': 'not causal, a block into a running state',
    'ring.text.05': 'float64, 3 heads, 2 batches',
    'ring.text.06': 'large scores (q ×30)',
    'ring.text.07': "subtract each row's max score before exp",
    'ring.text.08': 'causal, a block from the past: no mask needed',
    'ring.text.09': 'causal, the diagonal block: mask the future keys',
    'ring.text.10': (
        'causal, a block from the future: skip it, before any arithmetic on its K and V'
    ),
    'ring.text.11': 'no key of this block is at or before any query: return out and lse unchanged',
    'ring.text.12': 'causal, zigzag: only the second chunk of queries sees the block',
    'ring.text.13': 'causal, striped: the first query sees none of these keys',
    'ring.text.14': 'a row with no visible key gets lse −inf and out 0, not NaN',
})


def _pair(got: object, what: str) -> tuple[object, object]:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        kind = type(got).__name__
        n = f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""
        fail("ring.m01", what=what, kind=kind, n=n)
    return got[0], got[1]


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _partial(q, k, v, mask=None):
    out, lse = block_attention(q, k, v, mask=mask)
    return out.to(q.dtype), lse.to(q.dtype)


def _rand(shape, g, dtype, scale=1.0):
    return (torch.randn(shape, generator=g, dtype=torch.float64) * scale).to(dtype)


def _compare_state(got, want_out, want_lse, what: str, dtype) -> None:
    out, lse = _pair(got, what)
    compare_tensors(out, want_out, what="the returned out", dtype=dtype)
    compare_tensors(lse, want_lse, what="the returned lse", dtype=dtype)


# ----- one ring step ---------------------------------------------------------------------


def _state(g, B, H, L, D, dtype, seen: bool):
    if not seen:
        return torch.zeros(B, H, L, D, dtype=dtype), torch.full(
            (B, H, L), float("-inf"), dtype=dtype
        )
    return _rand((B, H, L, D), g, dtype, 0.5), _rand((B, H, L), g, dtype) + 2.0


class _MustSkip(torch.Tensor):
    """K/V of a block that must be skipped: reading its shape is fine; any computation is
    recorded (in the child) and reported by the parent, whatever the learner's code catches."""

    _ALLOWED = frozenset({"__get__", "size", "dim", "numel", "__len__", "is_floating_point"})
    touched: list[str] = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name not in cls._ALLOWED and not cls.touched:
            cls.touched.append(name)
        with torch._C.DisableTorchFunctionSubclass():
            return func(*args, **(kwargs or {}))


def _guarded_driver(fn, args, kwargs):
    """In the child: call ring_step on guarded K/V; report what touched them."""
    _MustSkip.touched.clear()
    value = fn(*args, **kwargs)
    return value, list(_MustSkip.touched)


def _step_case(
    name,
    seed,
    q_pos,
    k_pos,
    causal,
    *,
    dtype=torch.float32,
    B=1,
    H=2,
    D=8,
    seen=True,
    qscale=1.0,
    guard=False,
    hint="",
) -> Case:
    L, Lk = q_pos.numel(), k_pos.numel()

    def run(f):
        g = _gen(seed)
        q = _rand((B, H, L, D), g, dtype, qscale)
        k = _rand((B, H, Lk, D), g, dtype)
        v = _rand((B, H, Lk, D), g, dtype)
        out0, lse0 = _state(g, B, H, L, D, dtype, seen)
        want = ring_step(q, k, v, out0, lse0, q_pos=q_pos, k_pos=k_pos, causal=causal)
        kg, vg = k.clone(), v.clone()
        if guard:  # a block that must be skipped: computing with it fails the case
            kg, vg = kg.as_subclass(_MustSkip), vg.as_subclass(_MustSkip)
        args = (q, kg, vg, out0, lse0)
        kwargs = {"q_pos": q_pos, "k_pos": k_pos, "causal": causal}
        if guard:
            got, touched = f.run(_guarded_driver, args, kwargs)
            if touched:
                fail("ring.future_touched", name=touched[0])
        else:
            got = f.call(args, kwargs)
        out, lse = _pair(got, "ring_step")
        if causal:
            _diagnose_step(q, k, v, out0, lse0, q_pos, k_pos, out, lse, want, dtype)
        _compare_state(got, want[0], want[1], "ring_step", dtype)

    params = {"q_pos": _span(q_pos), "k_pos": _span(k_pos), "causal": causal, "dtype": dtype}
    if not seen:
        params["state"] = "empty (out 0, lse −inf)"
    return Case(name, run, params, hint)


def _span(pos: torch.Tensor) -> str:
    p = pos.tolist()
    if p == list(range(p[0], p[-1] + 1)):
        return f"{p[0]}..{p[-1]}"
    return ",".join(str(x) for x in p)


def _same(a, b, dtype) -> bool:
    return isinstance(a, torch.Tensor) and close_enough(a, b, dtype)


def _diagnose_step(q, k, v, out0, lse0, q_pos, k_pos, out, lse, want, dtype) -> None:
    if not isinstance(out, torch.Tensor) or not isinstance(lse, torch.Tensor):
        return
    if out.shape != want[0].shape or lse.shape != want[1].shape:
        return
    if _same(out, want[0], dtype) and _same(lse, want[1], dtype):
        return
    allowed = k_pos.view(1, -1) <= q_pos.view(-1, 1)
    if not bool(allowed.any()):
        fail("ring.m02")
    unchanged = _same(out, out0, dtype) and _same(lse, lse0, dtype)
    if unchanged:
        fail("ring.m03")
    seen_all = ring_step(q, k, v, out0, lse0, q_pos=q_pos, k_pos=k_pos, causal=False)
    if _same(out, seen_all[0], dtype):
        fail("ring.m04")


def check_ring_step(fn: Callable[..., tuple[torch.Tensor, torch.Tensor]]) -> Report:
    """Grade `ring_step(q, k_block, v_block, out, lse, q_pos, k_pos, causal) -> (out, lse)`."""
    a = torch.arange
    merge = "compute this block's (out, lse), then merge it into the running (out, lse)"
    mask = "mask (−inf) the scores where k_pos[j] > q_pos[i]; skip only blocks with no pair left"
    zig_q = token_positions(16, 2, 0, "zigzag")  # chunks 0 and 3 of 4
    zig_k = token_positions(16, 2, 1, "zigzag")  # chunks 1 and 2
    str_q, str_k = token_positions(12, 3, 0, "striped"), token_positions(12, 3, 1, "striped")
    skip = "no key of this block is at or before any query: return out and lse unchanged"
    empty = "a row with no visible key gets lse −inf and out 0, not NaN"
    # (what the case checks, query positions, key positions, causal, options); seed = index
    table = [
        ("not causal, first block into an empty state", a(0, 6), a(6, 12), False,
         dict(seen=False, hint=merge)),
        ("not causal, a block into a running state", a(0, 5), a(5, 12), False, dict(hint=merge)),
        ("float64, 3 heads, 2 batches", a(4, 8), a(0, 4), False,
         dict(dtype=torch.float64, B=2, H=3, hint=merge)),
        ("large scores (q ×30)", a(0, 6), a(6, 12), False,
         dict(qscale=30.0, hint="subtract each row's max score before exp")),
        ("causal, a block from the past: no mask needed", a(8, 12), a(0, 8), True,
         dict(hint=merge)),
        ("causal, the diagonal block: mask the future keys", a(4, 10), a(4, 10), True,
         dict(seen=False, hint=mask)),
        ("causal, a block from the future: skip it, before any arithmetic on its K and V",
         a(0, 4), a(4, 8), True, dict(guard=True, hint=skip)),
        ("causal, zigzag: only the second chunk of queries sees the block", zig_q, zig_k, True,
         dict(hint=mask)),
        ("causal, striped: the first query sees none of these keys", str_q, str_k, True,
         dict(seen=False, hint=empty)),
    ]
    cases = [_step_case(name, seed, q, k, causal, **options)
             for seed, (name, q, k, causal, options) in enumerate(table)]
    return run_check("check_ring_step", fn, cases)
