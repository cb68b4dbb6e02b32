"""Attention sinks: keep the first few tokens and a recent window (StreamingLLM).

Xiao et al. (2023), "Efficient Streaming Language Models with Attention Sinks", observed
that trained LLMs park a large share of attention on the first tokens; a sliding-window
cache that evicts them breaks the model, while keeping `start_size` "sink" tokens plus the
last `recent_size` tokens streams indefinitely. The matching mask: query i attends to keys
j <= i with j < start_size or j > i - recent_size (the current token counts as recent).
"""

from __future__ import annotations

import math

import torch

from lcedu import _checks as chk
from lcedu.kvcache.full import KVCacheBase, check_new_kv, kv_pair_bytes
from lcedu.kvcache.sliding import SlidingWindowCache

__all__ = ["SinkCache", "sink_toy_qkv"]


class SinkCache(KVCacheBase):
    """The first `start_size` tokens forever, plus a rolling window of `recent_size` tokens.

    ``SinkCache(0, W)`` is exactly ``SlidingWindowCache(W)``. Positions here are the
    original ones; StreamingLLM additionally re-numbers positions inside the cache for RoPE
    models, which the tiny position-free model of `decode_step` does not need.

    >>> c = SinkCache(start_size=2, recent_size=3)
    >>> for _ in range(8):
    ...     c.update(torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2))
    >>> c.positions().tolist()
    [0, 1, 5, 6, 7]
    """

    def __init__(self, start_size: int, recent_size: int) -> None:
        chk.nonneg_int("start_size", start_size)
        chk.positive_int(
            "recent_size", recent_size, what="a positive integer (the current token is recent)"
        )
        self.start_size = start_size
        self.recent_size = recent_size
        self.sink_k: torch.Tensor | None = None
        self.sink_v: torch.Tensor | None = None
        self.recent = SlidingWindowCache(recent_size)
        self.seen_tokens = 0

    def update(self, k: torch.Tensor, v: torch.Tensor) -> None:
        like = self.sink_k if self.sink_k is not None else self.recent.k_buf
        check_new_kv(k, v, like=like, name="SinkCache.update")
        t = k.shape[2]
        n_sink = max(0, min(t, self.start_size - self.seen_tokens))
        if n_sink:
            ks, vs = k[:, :, :n_sink], v[:, :, :n_sink]
            if self.sink_k is None:
                self.sink_k, self.sink_v = ks.clone(), vs.clone()
            else:
                self.sink_k = torch.cat([self.sink_k, ks], dim=2)
                self.sink_v = torch.cat([self.sink_v, vs], dim=2)
        if n_sink < t:
            self.recent.update(k[:, :, n_sink:], v[:, :, n_sink:])
        self.seen_tokens += t

    def positions(self) -> torch.Tensor:
        n_sink = min(self.seen_tokens, self.start_size)
        return torch.cat([torch.arange(n_sink), self.recent.positions() + self.start_size])

    def __len__(self) -> int:
        return min(self.seen_tokens, self.start_size) + len(self.recent)

    def keys_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.seen_tokens == 0:
            raise ValueError("SinkCache.keys_values: the cache is empty; call update(k, v) first")
        parts_k, parts_v = [], []
        if self.sink_k is not None:
            parts_k.append(self.sink_k)
            parts_v.append(self.sink_v)
        if len(self.recent):
            rk, rv = self.recent.keys_values()
            parts_k.append(rk)
            parts_v.append(rv)
        return torch.cat(parts_k, dim=2), torch.cat(parts_v, dim=2)

    def nbytes(self) -> int:
        return kv_pair_bytes(self.sink_k) + self.recent.nbytes()

    def __repr__(self) -> str:
        return (
            f"SinkCache(start_size={self.start_size}, recent_size={self.recent_size}, "
            f"len={len(self)})"
        )


def sink_toy_qkv(
    steps: int,
    *,
    heads: int = 1,
    head_dim: int = 16,
    sink_logit: float = 6.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries, keys and values of a toy head that has learned an attention sink at token 0.

    Every query shares a direction u; key 0 points along u so that it scores about
    `sink_logit` above the others, and value 0 is zero (a sink stores nothing; it absorbs
    attention the head does not need). This imitates what StreamingLLM measured in trained
    models; it is a constructed illustration, not a trained model. Returns (1, heads, steps,
    head_dim) tensors.
    """
    chk.positive_int("steps", steps, minimum=2)
    chk.real("sink_logit", sink_logit)
    shape = (1, heads, steps, head_dim)
    q = torch.randn(shape, generator=generator)
    k = torch.randn(shape, generator=generator)
    v = torch.randn(shape, generator=generator)
    u = torch.zeros(head_dim)
    u[0] = 1.0
    q[..., 0] = 1.0  # every query sees the sink direction with weight 1
    k[..., 0] = 0.0
    k[:, :, 0] = u * sink_logit * math.sqrt(head_dim)  # score q·k/sqrt(d) = sink_logit
    v[:, :, 0] = 0.0
    return q, k, v
