"""Dense attention, written out in full: the witness every other kernel is tested against.

softmax(q·kᵀ·scale + bias, masked) · v, materialising the (q_len × k_len) score matrix
exactly as "Attention Is All You Need" (Vaswani et al., 2017) defines it. Layout is
PyTorch SDPA's (batch, heads, seq, head_dim); boolean masks use True = may attend.
"""

from __future__ import annotations

import math

import torch

from lcedu import _checks as chk

__all__ = ["attention", "check_qkv", "safe_softmax"]


def check_qkv(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, name: str = "attention"
) -> None:
    """Raise ValueError unless q, k, v are (batch, heads, seq, dim) tensors that agree.

    q and k must share head_dim; k and v must share their sequence length; batch and head
    counts must agree; all three must share one floating dtype and one device.
    """
    chk.float_tensors(name, "batch, heads, seq, head_dim", q=q, k=k, v=v)
    if not (q.dtype == k.dtype == v.dtype):
        raise ValueError(
            f"{name}: q, k and v must share one dtype, got {q.dtype}, {k.dtype}, {v.dtype}"
        )
    if not (q.device == k.device == v.device):
        raise ValueError(
            f"{name}: q, k and v must be on one device, got {q.device}, {k.device}, {v.device}"
        )
    if q.shape[0] != k.shape[0] or k.shape[0] != v.shape[0]:
        raise ValueError(
            f"{name}: batch sizes differ: q {q.shape[0]}, k {k.shape[0]}, v {v.shape[0]}"
        )
    if q.shape[1] != k.shape[1] or k.shape[1] != v.shape[1]:
        raise ValueError(
            f"{name}: head counts differ: q {q.shape[1]}, k {k.shape[1]}, v {v.shape[1]}"
        )
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"{name}: q and k must have the same head_dim, got {q.shape[-1]} and {k.shape[-1]}"
        )
    if k.shape[2] != v.shape[2]:
        raise ValueError(
            f"{name}: k and v must have the same sequence length, got {k.shape[2]} and {v.shape[2]}"
        )


def safe_softmax(scores: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax over the last dim, max subtracted, and the log-sum-exp of each row.

    A row whose scores are all −inf (it may attend to nothing) gets weights 0 and lse −inf
    instead of NaN. Returns (weights, lse) with lse shaped like scores without its last dim.
    """
    row_max = scores.amax(dim=-1, keepdim=True)
    empty = torch.isneginf(row_max)
    row_max = torch.where(empty, torch.zeros_like(row_max), row_max)
    p = torch.exp(scores - row_max)
    denom = p.sum(dim=-1, keepdim=True)
    safe = torch.where(denom == 0, torch.ones_like(denom), denom)
    lse = torch.where(empty, torch.full_like(row_max, float("-inf")), row_max + torch.log(safe))
    return p / safe, lse.squeeze(-1)


def _broadcastable(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    if len(shape) > len(target):
        return False
    for s, t in zip(reversed(shape), reversed(target)):
        if s != 1 and s != t:
            return False
    return True


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    causal: bool = False,
    scale: float | None = None,
    return_weights: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Dense softmax attention over (batch, heads, seq, head_dim) tensors.

    Args:
        q: queries, (B, H, Lq, D).
        k: keys, (B, H, Lk, D).
        v: values, (B, H, Lk, Dv).
        mask: boolean, broadcastable to (B, H, Lq, Lk); True = may attend.
        bias: float, broadcastable to (B, H, Lq, Lk); added to the scaled scores
            (-inf = may not attend), as SDPA's float ``attn_mask``.
        causal: query i attends to keys j <= i (top-left aligned, as SDPA's ``is_causal``).
        scale: multiplies q·kᵀ; default 1/sqrt(D).
        return_weights: also return the (B, H, Lq, Lk) attention probabilities.

    A query row with no key it may attend to has no softmax; its output (and weights) are
    defined as zeros here, where SDPA would give NaN.
    """
    check_qkv(q, k, v, name="attention")
    B, H, Lq, D = q.shape
    Lk = k.shape[2]
    target = (B, H, Lq, Lk)
    if Lk == 0:
        raise ValueError(
            "attention: k and v must hold at least one key, got sequence length 0 "
            "(a query with nothing to attend to has no softmax)"
        )
    causal = chk.flag("causal", causal, fn="attention")
    if scale is None:
        scale = 1.0 / math.sqrt(D)
    else:
        scale = chk.positive_real("scale", scale, fn="attention", what="a positive number")

    scores = torch.matmul(q, k.transpose(-2, -1)) * scale
    if bias is not None:
        if not isinstance(bias, torch.Tensor) or not bias.is_floating_point():
            raise ValueError("attention: bias must be a floating tensor (use mask= for booleans)")
        if not _broadcastable(tuple(bias.shape), target):
            raise ValueError(
                f"attention: bias of shape {tuple(bias.shape)} does not broadcast to the "
                f"score matrix {target}"
            )
        scores = scores + bias.to(scores.dtype)
    allowed = None
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise ValueError(
                "attention: mask must be a boolean tensor (True = may attend); "
                "pass float biases as bias="
            )
        if not _broadcastable(tuple(mask.shape), target):
            raise ValueError(
                f"attention: mask of shape {tuple(mask.shape)} does not match the score "
                f"matrix {target} (batch, heads, q_len, k_len)"
            )
        allowed = mask.to(q.device)
    if causal:
        tri = torch.ones(Lq, Lk, dtype=torch.bool, device=q.device).tril()
        allowed = tri if allowed is None else (allowed & tri)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))

    weights, _ = safe_softmax(scores)
    out = torch.matmul(weights, v)
    if return_weights:
        return out, weights
    return out
