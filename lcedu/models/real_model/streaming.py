"""Stream a long text through a pretrained model with the course's KV caches (StreamingLLM).

One token at a time: every layer appends the new key (before RoPE) and value to a course
cache (`SlidingWindowCache` or `SinkCache`), then rotates the held keys by their slot
positions 0 … len−1 inside the cache and the query by len−1, as StreamingLLM (Xiao et al.
2023, §3.2) does, so no relative distance ever exceeds the cache size. The per-token loss
shows a window without sinks collapsing once the first tokens are evicted (ERRATUM 22).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from lcedu.attention.reference import attention as reference_attention
from lcedu.kvcache.full import KVCache, KVCacheBase
from lcedu.kvcache.sinks import SinkCache
from lcedu.kvcache.sliding import SlidingWindowCache
from lcedu.models.real_model.attention import expand_kv_heads
from lcedu.positions.rope import apply_rope

__all__ = ["CACHE_KINDS", "make_cache", "stream_nll"]

CACHE_KINDS = ("full", "window", "sinks")


def make_cache(kind: str, window: int, n_sink: int = 4) -> KVCacheBase:
    """A course cache: "full" (keeps everything), "window" (the last `window` tokens) or
    "sinks" (the first `n_sink` tokens plus the last `window − n_sink`, same size)."""
    if kind not in CACHE_KINDS:
        raise ValueError(f"cache kind must be one of {', '.join(CACHE_KINDS)}, got {kind!r}")
    if kind == "full":
        return KVCache()
    if kind == "window":
        return SlidingWindowCache(window)
    if not isinstance(window, int) or window <= n_sink:
        raise ValueError(f"window ({window!r}) must be larger than n_sink ({n_sink})")
    return SinkCache(n_sink, window - n_sink)


@torch.no_grad()
def stream_nll(
    model: Any,
    ids: torch.Tensor,
    kind: str,
    *,
    window: int = 256,
    n_sink: int = 4,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """NLL (nats, float32) of token t+1 after streaming tokens 0 … t, shape (L−1,).

    Every layer holds its own course cache of `kind`; positions are re-numbered inside the
    cache. `progress(t)` is called after each token (for a progress bar).
    """
    if ids.dim() == 2:
        ids = ids[0]
    if ids.dim() != 1 or ids.numel() < 2:
        raise ValueError(
            f"ids must be one sequence of at least 2 tokens, got shape {tuple(ids.shape)}"
        )
    body = model.model
    layers = body.layers
    caches = [make_cache(kind, window, n_sink) for _ in layers]
    rotary = body.rotary_emb
    cfg = model.config
    h_q, h_kv = cfg.num_attention_heads, cfg.num_key_value_heads
    n = ids.numel() - 1
    out = torch.empty(n, dtype=torch.float32)
    for t in range(n):
        x = body.embed_tokens(ids[t : t + 1])[None]  # (1, 1, hidden)
        for layer, cache in zip(layers, caches):
            attn = layer.self_attn
            hs = layer.input_layernorm(x)
            d = attn.head_dim
            q = attn.q_proj(hs).view(1, 1, h_q, d).transpose(1, 2)
            k = attn.k_proj(hs).view(1, 1, h_kv, d).transpose(1, 2)
            v = attn.v_proj(hs).view(1, 1, h_kv, d).transpose(1, 2)
            cache.update(k, v)
            keys, values = cache.keys_values()
            m = keys.shape[2]
            cos, sin = rotary(x, torch.arange(m)[None])
            keys = apply_rope(keys, cos, sin)
            q = apply_rope(q, cos[:, m - 1 :], sin[:, m - 1 :])
            o = reference_attention(
                q, expand_kv_heads(keys, h_q), expand_kv_heads(values, h_q), scale=attn.scaling
            )
            x = x + attn.o_proj(o.transpose(1, 2).reshape(1, 1, h_q * d))
            x = x + layer.mlp(layer.post_attention_layernorm(x))
        logits = model.lm_head(body.norm(x))[0, -1].float()
        out[t] = F.cross_entropy(logits[None], ids[t + 1 : t + 2])
        if progress is not None:
            progress(t)
    return out
