"""Wrong `ring_step` (exercise 07), the lesson's loop first; `merge_partials` shares 03's grader."""

import math

import torch

from lcedu.attention.ring import lesson_ring_step

WRONG = []


def wrong(check, key, **opts):
    def deco(fn):
        WRONG.append((check, key, fn, opts))
        return fn

    return deco


RS, MP = "check_ring_step", "check_merge_partials"


def merge(out_a, lse_a, out_b, lse_b):
    m = torch.maximum(lse_a, lse_b)
    m = torch.where(torch.isneginf(m), torch.zeros_like(m), m)
    wa, wb = torch.exp(lse_a - m), torch.exp(lse_b - m)
    total = wa + wb
    lse = m + torch.log(total)
    total = torch.where(total == 0, torch.ones_like(total), total)
    return (wa / total)[..., None] * out_a + (wb / total)[..., None] * out_b, lse


def step(q, k, v, out, lse, q_pos, k_pos, causal=False, *, skip=True, mask=True, scale=None,
         subtract=True):
    allowed = k_pos[None, :] <= q_pos[:, None]
    if causal and skip and not bool(allowed.any()):
        return out, lse
    s = q @ k.transpose(-2, -1) * (scale or 1 / math.sqrt(q.shape[-1]))
    if causal and mask:
        s = s.masked_fill(~allowed, float("-inf"))
    blse = torch.logsumexp(s, -1)
    if subtract:
        safe = torch.where(torch.isneginf(blse), torch.zeros_like(blse), blse)
        bout = torch.exp(s - safe[..., None]) @ v
    else:
        bout = (torch.exp(s) @ v) / torch.exp(s).sum(-1, keepdim=True)
    return merge(out, lse, bout.to(out.dtype), blse.to(lse.dtype))


@wrong(RS, "ring.m04")  # the lesson's loop: no causal handling (erratum 19)
def ring_lesson_step(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    return lesson_ring_step(q, k_block, v_block, out, lse, q_pos=q_pos, k_pos=k_pos,
                            causal=causal)


@wrong(RS, "ring.future_touched")  # computes a future block (masked) instead of skipping it
def ring_never_skips(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    return step(q, k_block, v_block, out, lse, q_pos, k_pos, causal, skip=False)


@wrong(RS, "ring.future_touched")  # a try/except cannot swallow the grader's signal
def ring_swallows_errors(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    try:
        return step(q, k_block, v_block, out, lse, q_pos, k_pos, causal, skip=False)
    except Exception:
        return out, lse


@wrong(RS, "ring.m03")
def ring_skips_every_causal_block(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    if causal and not bool((k_pos[None, :] < q_pos[:, None]).all()):
        return out, lse
    return step(q, k_block, v_block, out, lse, q_pos, k_pos, causal)


@wrong(RS, "ring.m04")  # the diagonal block without its mask
def ring_no_mask(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    return step(q, k_block, v_block, out, lse, q_pos, k_pos, causal, mask=False)


@wrong(RS, "cmp.values")  # no 1/sqrt(d)
def ring_unscaled(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    return step(q, k_block, v_block, out, lse, q_pos, k_pos, causal, scale=1.0)


@wrong(RS, "engine.changed_input")
def ring_updates_out_in_place(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    new_out, new_lse = step(q, k_block, v_block, out, lse, q_pos, k_pos, causal)
    out.copy_(new_out)
    return out, new_lse


@wrong(RS, "cmp.dtype")
def ring_float64(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    return step(q.double(), k_block.double(), v_block.double(), out.double(), lse.double(),
                q_pos, k_pos, causal)


@wrong(RS, "ring.m01")
def ring_returns_out_only(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    return step(q, k_block, v_block, out, lse, q_pos, k_pos, causal)[0]


@wrong(RS, "cmp.nan")  # exp of large scores without the max
def ring_without_max(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
    return step(q, k_block, v_block, out, lse, q_pos, k_pos, causal, subtract=False)


@wrong(MP, "flash.overflow")  # exercise 07's merge is graded by the same grader as 03's
def merge_without_max(out_a, lse_a, out_b, lse_b):
    if out_a.shape != out_b.shape or lse_a.shape != out_a.shape[:-1] or lse_b.shape != lse_a.shape:
        raise ValueError("shapes")
    wa, wb = torch.exp(lse_a), torch.exp(lse_b)
    total = wa + wb
    return (wa / total)[..., None] * out_a + (wb / total)[..., None] * out_b, torch.log(total)
