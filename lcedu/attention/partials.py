"""Partial attention results and how they combine: (out, lse) over one block of keys.

Attention over a union of disjoint key blocks is a log-sum-exp weighted sum of the blocks'
normalised outputs (Milakov & Gimelshein 2018's online softmax; FlashAttention-2, Dao 2023;
Ring Attention, Liu et al. 2023). `block_attention` computes one partial, `merge_partials`
folds two into one; both compute in fp32 or wider (`compute_dtype`).
"""

from __future__ import annotations

import math

import torch

from lcedu import _checks as chk
from lcedu.attention.reference import safe_softmax

__all__ = ["compute_dtype", "block_attention", "merge_partials"]


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """fp32 for half types, the dtype itself for fp32/fp64 (never lower than fp32)."""
    return torch.promote_types(dtype, torch.float32)


def block_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of q over one K/V block, and the log-sum-exp of its scaled scores.

    Computed in fp32 or wider. `mask` (Lq, Lk) is boolean, True = may attend. A row that may
    attend to nothing gets out 0 and lse −inf (so `merge_partials` ignores it). Returns
    (out (B, H, Lq, Dv), lse (B, H, Lq)) in the compute dtype.
    """
    cdt = compute_dtype(q.dtype)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    s = torch.matmul(q.to(cdt), k.to(cdt).transpose(-2, -1)) * scale
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    weights, lse = safe_softmax(s)
    return torch.matmul(weights, v.to(cdt)), lse


def merge_partials(
    out_a: torch.Tensor,
    lse_a: torch.Tensor,
    out_b: torch.Tensor,
    lse_b: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Combine two attention results over disjoint key sets into the result over their union.

    Each partial is (out, lse): `out` (B, H, L, D) is softmax attention over its own keys
    (already normalised), `lse` (B, H, L) is the log-sum-exp of that partial's scaled scores.
    The union is lse = log(e^lse_a + e^lse_b) and out = e^(lse_a-lse)·out_a + e^(lse_b-lse)·out_b.
    A row whose lse is -inf saw no keys and contributes nothing (its out is ignored, even if
    NaN); a row where both are -inf gives out 0 and lse -inf. Computed in fp32 or wider,
    returned in the inputs' dtypes (out in out_a's, lse in lse_a's).
    """
    fn = "merge_partials"
    for label, t in (("lse_a", lse_a), ("lse_b", lse_b)):
        chk.tensor(label, t, fn=fn)
        if not t.is_floating_point():
            raise ValueError(f"{fn}: {label} must be a floating tensor, got {t.dtype}")
    chk.float_tensors(fn, "batch, heads, seq, head_dim", out_a=out_a, out_b=out_b)
    chk.same_shape("out_a and out_b", out_a, out_b, fn=fn)
    if lse_a.shape != out_a.shape[:-1] or lse_b.shape != out_a.shape[:-1]:
        raise ValueError(
            f"merge_partials: lse_a and lse_b must have shape (batch, heads, seq) = "
            f"{tuple(out_a.shape[:-1])}, got {tuple(lse_a.shape)} and {tuple(lse_b.shape)}"
        )
    chk.same_dtype_device("out_a and out_b", out_a, out_b, fn=fn)
    chk.same_dtype_device("lse_a and lse_b", lse_a, lse_b, fn=fn)
    if lse_a.device != out_a.device:
        raise ValueError(f"{fn}: all four tensors must be on one device")

    cdt = compute_dtype(torch.promote_types(out_a.dtype, lse_a.dtype))
    oa, ob = out_a.to(cdt), out_b.to(cdt)
    la, lb = lse_a.to(cdt), lse_b.to(cdt)
    m = torch.maximum(la, lb)
    m = torch.where(torch.isneginf(m), torch.zeros_like(m), m)  # both empty: avoid -inf - -inf
    ea, eb = torch.exp(la - m), torch.exp(lb - m)
    s = ea + eb
    lse = m + torch.log(s)  # log(0) = -inf where both partials are empty
    safe = torch.where(s == 0, torch.ones_like(s), s)
    wa, wb = (ea / safe).unsqueeze(-1), (eb / safe).unsqueeze(-1)
    zero = torch.zeros((), dtype=cdt, device=oa.device)
    out = torch.where(wa == 0, zero, wa * oa) + torch.where(wb == 0, zero, wb * ob)
    return out.to(out_a.dtype), lse.to(lse_a.dtype)
