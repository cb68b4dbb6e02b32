"""Attention sinks in a pretrained model: how much attention each head parks on the first tokens.

Xiao et al. (2023), "Efficient Streaming Language Models with Attention Sinks" (StreamingLLM),
found that trained LLMs put a large share of attention on the first few tokens whatever they
say. The probe below runs the course's dense reference attention inside every layer and
keeps, per head, the mean probability mass on the first `n_sink` keys.
"""

from __future__ import annotations

from typing import Any

import torch

from lcedu.attention.reference import attention as reference_attention
from lcedu.models.real_model.attention import expand_kv_heads

__all__ = ["sink_mass", "uniform_sink_mass"]

_PROBE = "lcedu_sink_probe"


@torch.no_grad()
def sink_mass(
    model: Any, ids: torch.Tensor, *, n_sink: int = 4, min_query: int = 64
) -> torch.Tensor:
    """(layers, heads) mean attention probability on keys 0 … n_sink−1.

    Averaged over queries at positions ≥ `min_query` (the first queries see few keys, so
    they attend to the first tokens trivially). One forward; the model's attention
    implementation is restored afterwards.
    """
    from transformers import AttentionInterface

    if ids.dim() == 1:
        ids = ids[None]
    n = ids.shape[-1]
    if not isinstance(n_sink, int) or n_sink < 1:
        raise ValueError(f"n_sink must be a positive integer, got {n_sink!r}")
    if not isinstance(min_query, int) or not n_sink <= min_query < n:
        raise ValueError(
            f"min_query must be an integer with n_sink <= min_query < sequence length ({n}), "
            f"got {min_query!r}"
        )
    masses: dict[int, torch.Tensor] = {}

    def probe(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kw):
        h = query.shape[1]
        k, v = expand_kv_heads(key, h), expand_kv_heads(value, h)
        out, w = reference_attention(query, k, v, causal=True, scale=scaling, return_weights=True)
        masses[module.layer_idx] = w[0, :, min_query:, :n_sink].float().sum(-1).mean(-1)
        return out.transpose(1, 2).contiguous(), None

    AttentionInterface.register(_PROBE, probe)
    previous = model.config._attn_implementation
    model.set_attn_implementation(_PROBE)
    try:
        model.model(input_ids=ids, use_cache=False)
    finally:
        model.set_attn_implementation(previous)
    return torch.stack([masses[i] for i in sorted(masses)])


def uniform_sink_mass(n: int, *, n_sink: int = 4, min_query: int = 64) -> float:
    """The same average for a head that spreads attention evenly over its causal keys:
    mean over queries i ≥ min_query of n_sink / (i + 1)."""
    i = torch.arange(min_query, n, dtype=torch.float64)
    return float((n_sink / (i + 1)).mean())
