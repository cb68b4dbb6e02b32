"""The course's attention kernels as a real model's attention function.

Hugging Face transformers looks attention up by name in its `AttentionInterface`
(`config._attn_implementation`); registering `lcedu_tiled` (the course's FlashAttention-2
forward, Dao 2023) and `lcedu_dense` (dense softmax attention) there makes every layer of
the pretrained model call the course's code. Grouped-query heads are repeated first, as
Ainslie et al. (2023) and the model's own eager path do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lcedu.attention.flash import flash_attention
from lcedu.attention.reference import attention as reference_attention

__all__ = [
    "COURSE_ATTENTION",
    "expand_kv_heads",
    "course_flash_forward",
    "course_reference_forward",
    "register_course_attention",
    "use_attention",
]


def expand_kv_heads(x: torch.Tensor, num_query_heads: int) -> torch.Tensor:
    """(B, H_kv, L, D) -> (B, H_q, L, D): each KV head serves H_q / H_kv query heads in turn."""
    h_kv = x.shape[1]
    if num_query_heads % h_kv:
        raise ValueError(
            f"{num_query_heads} query heads cannot share {h_kv} KV heads evenly "
            "(grouped-query attention needs a whole number of query heads per KV head)"
        )
    return x.repeat_interleave(num_query_heads // h_kv, dim=1)


def _causal_mask(lq: int, lk: int, device: torch.device) -> torch.Tensor:
    # Queries are the last lq of lk positions (a cache holds the earlier keys).
    q_pos = torch.arange(lk - lq, lk, device=device)[:, None]
    return q_pos >= torch.arange(lk, device=device)[None, :]


def _interface(kernel: Callable[..., tuple[torch.Tensor, torch.Tensor | None]]) -> Callable:
    """Wrap `kernel(q, k, v, attention_mask, scaling)` — all (B, H_q, L, D), KV heads already
    repeated — in the signature transformers' `AttentionInterface` calls, which passes
    grouped KV heads and wants (B, L, H, D) back with the probabilities (or None)."""

    def forward(
        module: Any,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        attention_mask: torch.Tensor | None,
        scaling: float | None = None,
        dropout: float = 0.0,
        **kwargs: Any,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        h = query.shape[1]
        out, weights = kernel(
            query, expand_kv_heads(key, h), expand_kv_heads(value, h), attention_mask, scaling
        )
        return out.transpose(1, 2).contiguous(), weights

    forward.__name__ = forward.__qualname__ = kernel.__name__
    forward.__doc__ = kernel.__doc__
    return forward


@_interface
def course_reference_forward(q, k, v, attention_mask, scaling):
    """An `AttentionInterface` function running `lcedu.attention.reference.attention`.

    transformers passes no mask to a function it does not know (the sequence is causal and
    unpadded); a mask it does pass (bool, or float with −inf) is honoured. Returns
    (B, L, H, D) as the interface requires, and the probabilities when asked for them with
    `output_attentions`.
    """
    lq, lk = q.shape[2], k.shape[2]
    mask = bias = None
    if attention_mask is None:
        mask = _causal_mask(lq, lk, q.device)
    elif attention_mask.dtype == torch.bool:
        mask = attention_mask[..., :lk]
    else:
        bias = attention_mask[..., :lk]
    return reference_attention(q, k, v, mask=mask, bias=bias, scale=scaling, return_weights=True)


@_interface
def course_flash_forward(q, k, v, attention_mask, scaling):
    """An `AttentionInterface` function running the course's tiled `flash_attention`.

    Supports what the course's kernel supports: an unpadded causal forward (query length =
    key length) and one-token decoding (one query, every cached key).
    """
    if attention_mask is not None:
        raise ValueError(
            "lcedu_tiled takes no padding mask (the course's kernel is causal or full); "
            "run unpadded sequences, or use attn_implementation='lcedu_dense'"
        )
    lq, lk = q.shape[2], k.shape[2]
    if lq == lk:
        causal = True
    elif lq == 1:
        causal = False
    else:
        raise ValueError(
            f"lcedu_tiled handles a full causal forward or one-token decoding, got {lq} "
            f"queries against {lk} keys; use attn_implementation='lcedu_dense'"
        )
    out = flash_attention(q, k, v, causal=causal, scale=scaling, block_q=128, block_k=128)
    return out, None


COURSE_ATTENTION = {
    "lcedu_tiled": course_flash_forward,
    "lcedu_dense": course_reference_forward,
}


def register_course_attention() -> tuple[str, ...]:
    """Register the course's kernels in transformers' `AttentionInterface`; returns the names."""
    from transformers import AttentionInterface

    for name, fn in COURSE_ATTENTION.items():
        AttentionInterface.register(name, fn)
    return tuple(COURSE_ATTENTION)


def use_attention(model: Any, name: str) -> None:
    """Switch a loaded model to attention implementation `name` (e.g. "sdpa", "eager",
    "lcedu_tiled", "lcedu_dense"), registering the course's kernels first."""
    allowed = ("sdpa", "eager", *COURSE_ATTENTION)
    if name not in allowed:
        raise ValueError(f"attention must be one of {', '.join(allowed)}, got {name!r}")
    if name in COURSE_ATTENTION:
        register_course_attention()
    model.set_attn_implementation(name)
