"""One decoding step of a tiny attention layer against any KV cache, and its witness.

Autoregressive decoding computes the new token's query, key and value, appends the key and
value to the cache, and attends over what the cache holds. What a cache keeps *is* the mask:
a full cache gives causal attention, a sliding window gives ``i - W < j <= i``, attention
sinks give ``j < s or j > i - r``. `forward(x, mask)` recomputes the whole prefix under that
mask (the witness the tests compare with), following the decoding loop of GPT-2 style
decoders (Radford et al., 2019) and Hugging Face's cache classes.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from lcedu import _checks as chk
from lcedu.attention.reference import attention
from lcedu.kvcache.full import KVCache, KVCacheBase
from lcedu.kvcache.paged import PagedKVCache
from lcedu.kvcache.sinks import SinkCache
from lcedu.kvcache.sliding import SlidingWindowCache

__all__ = [
    "TinyAttention",
    "attend_with_cache",
    "decode_step",
    "decode",
    "decode_qkv",
    "causal_mask",
    "sliding_window_causal_mask",
    "sink_mask",
    "mask_for_cache",
    "cache_history",
]


class TinyAttention(nn.Module):
    """A single multi-head self-attention layer (no position encoding) for decoding demos.

    Without positions the layer's output depends only on *which* keys a query sees, so a
    cache is correct exactly when it holds the keys its mask allows.
    """

    def __init__(
        self,
        d_model: int,
        num_heads: int,
        *,
        dtype: torch.dtype = torch.float32,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        chk.positive_int("d_model", d_model)
        chk.positive_int("num_heads", num_heads)
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.d_model, self.num_heads = d_model, num_heads
        self.head_dim = d_model // num_heads
        std = 1.0 / math.sqrt(d_model)
        self.wq, self.wk, self.wv, self.wo = (
            nn.Parameter(torch.randn(d_model, d_model, generator=generator, dtype=dtype) * std)
            for _ in range(4)
        )

    def _check_x(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.shape[-1] != self.d_model:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(
                f"x must be a (batch, tokens, d_model={self.d_model}) tensor, got {shape}"
            )

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, T, d_model) -> q, k, v, each (B, heads, T, head_dim)."""
        self._check_x(x)
        b, t, _ = x.shape

        def split(w: torch.Tensor) -> torch.Tensor:
            return (x @ w).view(b, t, self.num_heads, self.head_dim).transpose(1, 2)

        return split(self.wq), split(self.wk), split(self.wv)

    def merge(self, o: torch.Tensor) -> torch.Tensor:
        """(B, heads, T, head_dim) -> (B, T, d_model), through the output projection."""
        b, _, t, _ = o.shape
        return o.transpose(1, 2).reshape(b, t, self.d_model) @ self.wo

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Recompute every position at once; `mask` is (T, T) boolean, True = may attend."""
        q, k, v = self.project(x)
        t = x.shape[1]
        if mask is not None and (mask.dtype != torch.bool or tuple(mask.shape) != (t, t)):
            raise ValueError(f"mask must be a ({t}, {t}) boolean tensor for {t} tokens")
        return self.merge(attention(q, k, v, mask=mask))


def attend_with_cache(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cache: KVCacheBase
) -> torch.Tensor:
    """Append one token's k, v to `cache` and attend its query q over what the cache holds.

    q, k, v: (batch, heads, 1, head_dim). Every key a cache holds is at or before the new
    token, so no mask is needed: the cache's contents are the mask. Any object with the
    cache interface's ``update(k, v)`` and ``keys_values()`` works, not only lcedu's caches.
    """
    if not isinstance(cache, KVCacheBase) and not (
        callable(getattr(cache, "update", None)) and callable(getattr(cache, "keys_values", None))
    ):
        raise ValueError(
            "cache must be one of lcedu's KV caches or an object with update(k, v) and "
            f"keys_values(), got {type(cache).__name__}"
        )
    if not isinstance(q, torch.Tensor) or q.dim() != 4 or q.shape[2] != 1:
        shape = tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__
        raise ValueError(
            f"decode one token at a time: q must be (batch, heads, 1, head_dim), got {shape}"
        )
    cache.update(k, v)
    keys, values = cache.keys_values()
    return attention(q, keys, values)


def decode_step(layer: TinyAttention, x: torch.Tensor, cache: KVCacheBase) -> torch.Tensor:
    """One decoding step: x is the new token's input, (batch, 1, d_model); returns its output.

    The layer projects x, the cache receives the new key and value, and the query attends
    over the cache.
    """
    if not isinstance(layer, TinyAttention):
        raise ValueError(f"layer must be a TinyAttention, got {type(layer).__name__}")
    layer._check_x(x)
    if x.shape[1] != 1:
        raise ValueError(
            f"decode_step takes one new token, x of shape (batch, 1, d_model); got "
            f"{tuple(x.shape)} (use decode() for several)"
        )
    q, k, v = layer.project(x)
    return layer.merge(attend_with_cache(q, k, v, cache))


def decode(layer: TinyAttention, x: torch.Tensor, cache: KVCacheBase) -> torch.Tensor:
    """Feed the tokens of x (batch, T, d_model) one at a time; stack the T outputs."""
    layer._check_x(x)
    return torch.cat([decode_step(layer, x[:, t : t + 1], cache) for t in range(x.shape[1])], dim=1)


def decode_qkv(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cache: KVCacheBase
) -> torch.Tensor:
    """Attend token by token over raw (batch, heads, T, head_dim) q, k, v through `cache`."""
    if not isinstance(q, torch.Tensor) or q.dim() != 4:
        raise ValueError("q must be a (batch, heads, tokens, head_dim) tensor")
    steps = [
        attend_with_cache(q[:, :, t : t + 1], k[:, :, t : t + 1], v[:, :, t : t + 1], cache)
        for t in range(q.shape[2])
    ]
    return torch.cat(steps, dim=2)


# ----- the matching masks (what each cache keeps, written as a mask) -------------------------


def causal_mask(n: int) -> torch.Tensor:
    """(n, n) boolean: query i may attend to keys j <= i (the full cache)."""
    i = torch.arange(chk.positive_int("n", n))
    return i[None, :] <= i[:, None]


def sliding_window_causal_mask(n: int, window: int) -> torch.Tensor:
    """(n, n) boolean: i - window < j <= i, i.e. `window` keys including the query's own."""
    chk.positive_int("window", window)
    i = torch.arange(chk.positive_int("n", n))
    d = i[:, None] - i[None, :]
    return (d >= 0) & (d < window)


def sink_mask(n: int, start_size: int, recent_size: int) -> torch.Tensor:
    """(n, n) boolean: j <= i and (j < start_size or j > i - recent_size) (StreamingLLM)."""
    chk.nonneg_int("start_size", start_size)
    i = torch.arange(chk.positive_int("n", n))
    return causal_mask(n) & ((i[None, :] < start_size) | sliding_window_causal_mask(n, recent_size))


def mask_for_cache(cache: KVCacheBase, n: int) -> torch.Tensor:
    """The (n, n) mask under which full recomputation equals decoding with `cache`."""
    if isinstance(cache, SinkCache):
        return sink_mask(n, cache.start_size, cache.recent_size)
    if isinstance(cache, SlidingWindowCache):
        return sliding_window_causal_mask(n, cache.window)
    if isinstance(cache, (KVCache, PagedKVCache)):
        return causal_mask(n)
    raise ValueError(f"no mask is known for a {type(cache).__name__}")


def cache_history(
    cache: KVCacheBase, steps: int, *, heads: int = 1, head_dim: int = 2
) -> torch.Tensor:
    """Feed `steps` tokens one at a time; row t says which positions the cache holds after t.

    Returns a (steps, steps) boolean tensor (row = step, column = position). The cache
    should be empty; it is filled with zeros (only positions matter here).
    """
    chk.positive_int("steps", steps)
    if len(cache):
        raise ValueError("cache_history needs an empty cache")
    held = torch.zeros(steps, steps, dtype=torch.bool)
    z = torch.zeros(1, heads, 1, head_dim)
    for t in range(steps):
        cache.update(z, z)
        held[t, cache.positions()] = True
    return held
