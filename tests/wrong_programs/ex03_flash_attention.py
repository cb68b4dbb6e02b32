"""Wrong `merge_partials` and tiled forwards (exercise 03)."""

import math

import torch

WRONG = []


def wrong(check, key, **opts):
    def deco(fn):
        WRONG.append((check, key, fn, opts))
        return fn

    return deco


MP, FF = "check_merge_partials", "check_flash_forward"


def _shapes(out_a, lse_a, out_b, lse_b):
    if out_a.shape != out_b.shape or lse_a.shape != lse_b.shape or lse_a.shape != out_a.shape[:-1]:
        raise ValueError("the partials do not fit together")


def good_merge(out_a, lse_a, out_b, lse_b):
    _shapes(out_a, lse_a, out_b, lse_b)
    m = torch.maximum(lse_a, lse_b)
    m = torch.where(torch.isneginf(m), torch.zeros_like(m), m)
    wa, wb = torch.exp(lse_a - m), torch.exp(lse_b - m)
    total = wa + wb
    lse = m + torch.log(total)
    total = torch.where(total == 0, torch.ones_like(total), total)
    return (wa / total)[..., None] * out_a + (wb / total)[..., None] * out_b, lse


@wrong(MP, "flash.lse_max")
def merge_lse_is_max(out_a, lse_a, out_b, lse_b):
    out, _ = good_merge(out_a, lse_a, out_b, lse_b)
    return out, torch.maximum(lse_a, lse_b)


@wrong(MP, "flash.lse_sum")
def merge_lse_is_sum(out_a, lse_a, out_b, lse_b):
    out, _ = good_merge(out_a, lse_a, out_b, lse_b)
    return out, lse_a + lse_b


@wrong(MP, "flash.overflow")  # exponentiates without the max: lse ~ 1000 overflows
def merge_without_max(out_a, lse_a, out_b, lse_b):
    _shapes(out_a, lse_a, out_b, lse_b)
    wa, wb = torch.exp(lse_a), torch.exp(lse_b)
    total = wa + wb
    return (wa / total)[..., None] * out_a + (wb / total)[..., None] * out_b, torch.log(total)


@wrong(MP, "flash.empty_nan")  # -inf - (-inf) when no partial saw a key
def merge_nan_when_empty(out_a, lse_a, out_b, lse_b):
    _shapes(out_a, lse_a, out_b, lse_b)
    m = torch.maximum(lse_a, lse_b)
    wa, wb = torch.exp(lse_a - m), torch.exp(lse_b - m)
    total = wa + wb
    return (wa / total)[..., None] * out_a + (wb / total)[..., None] * out_b, m + torch.log(total)


@wrong(MP, "cmp.dtype")
def merge_float64(out_a, lse_a, out_b, lse_b):
    return good_merge(out_a.double(), lse_a.double(), out_b.double(), lse_b.double())


@wrong(MP, "engine.changed_input")
def merge_in_place(out_a, lse_a, out_b, lse_b):
    out, lse = good_merge(out_a, lse_a, out_b, lse_b)
    out_a.copy_(out)
    return out_a, lse


@wrong(MP, "cmp.raise_wrong")  # shapes never checked: broadcasting fails with a RuntimeError
def merge_no_shape_check(out_a, lse_a, out_b, lse_b):
    m = torch.maximum(lse_a, lse_b)
    m = torch.where(torch.isneginf(m), torch.zeros_like(m), m)
    wa, wb = torch.exp(lse_a - m), torch.exp(lse_b - m)
    total = wa + wb
    lse = m + torch.log(total)
    total = torch.where(total == 0, torch.ones_like(total), total)
    return (wa / total)[..., None] * out_a + (wb / total)[..., None] * out_b, lse


def good_forward(q, k, v, *, block_q=16, block_k=16, rescale=True, subtract=True, lse_m=True):
    scale = 1.0 / math.sqrt(q.shape[-1])
    outs, lses = [], []
    for q0 in range(0, q.shape[2], block_q):
        qi = q[:, :, q0 : q0 + block_q] * scale
        m = torch.full(qi.shape[:-1] + (1,), float("-inf"), dtype=q.dtype)
        if not subtract:
            m = torch.zeros_like(m)
        l_sum = torch.zeros_like(m)
        acc = torch.zeros(qi.shape[:-1] + (v.shape[-1],), dtype=q.dtype)
        for k0 in range(0, k.shape[2], block_k):
            s = qi @ k[:, :, k0 : k0 + block_k].transpose(-2, -1)
            m_new = torch.maximum(m, s.amax(-1, keepdim=True)) if subtract else m
            alpha = torch.exp(m - m_new)
            p = torch.exp(s - m_new)
            l_sum = l_sum * alpha + p.sum(-1, keepdim=True)
            acc = (acc * alpha if rescale else acc) + p @ v[:, :, k0 : k0 + block_k]
            m = m_new
        outs.append(acc / l_sum)
        lses.append(((m if lse_m else 0) + torch.log(l_sum)).squeeze(-1))
    return torch.cat(outs, dim=2), torch.cat(lses, dim=2)


@wrong(FF, "flash.no_rescale")
def forward_without_rescale(q, k, v, *, block_q=16, block_k=16):
    return good_forward(q, k, v, block_q=block_q, block_k=block_k, rescale=False)


@wrong(FF, "flash.fwd_overflow")  # never subtracts the max: exp(1000) is inf
def forward_without_max(q, k, v, *, block_q=16, block_k=16):
    return good_forward(q, k, v, block_q=block_q, block_k=block_k, subtract=False)


@wrong(FF, "flash.lse_no_max")
def forward_lse_without_m(q, k, v, *, block_q=16, block_k=16):
    return good_forward(q, k, v, block_q=block_q, block_k=block_k, lse_m=False)


@wrong(FF, "cmp.dtype")
def forward_float64(q, k, v, *, block_q=16, block_k=16):
    return good_forward(q.double(), k.double(), v.double(), block_q=block_q, block_k=block_k)


@wrong(FF, "engine.changed_input")
def forward_scales_q_in_place(q, k, v, *, block_q=16, block_k=16):
    q.mul_(1.0)
    q[..., 0] += 0.0
    q.mul_(2.0)
    return good_forward(q / 2.0, k, v, block_q=block_q, block_k=block_k)


@wrong(FF, "flash.not_tiled_peak", structure=True)  # plain dense attention
def forward_dense(q, k, v, *, block_q=16, block_k=16):
    s = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(s, -1) @ v, torch.logsumexp(s, -1)


@wrong(FF, "flash.not_tiled_peak", structure=True)  # a query block against all keys
def forward_query_blocks_only(q, k, v, *, block_q=16, block_k=16):
    outs, lses = [], []
    for q0 in range(0, q.shape[2], block_q):
        s = q[:, :, q0 : q0 + block_q] @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        outs.append(torch.softmax(s, -1) @ v)
        lses.append(torch.logsumexp(s, -1))
    return torch.cat(outs, 2), torch.cat(lses, 2)


@wrong(FF, "flash.not_pair")
def forward_out_only(q, k, v, *, block_q=16, block_k=16):
    return good_forward(q, k, v, block_q=block_q, block_k=block_k)[0]
