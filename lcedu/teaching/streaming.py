"""StreamingLLM's positions: numbered inside the cache, not in the original text.

Xiao et al. (2023, arXiv:2309.17453) keep a few "sink" tokens plus a rolling window. For RoPE
models they cache keys *before* rotation and give each cached token its position within the cache
(0 … cache length − 1), so no query–key distance ever exceeds the cache size. Distances among the
recent tokens are unchanged by this; distances to the sinks shrink.
"""

from __future__ import annotations

import torch

from lcedu.kvcache.sinks import SinkCache
from lcedu.positions.rope import apply_rope, rope_cos_sin

__all__ = ["streaming_positions", "rope_scores"]


def streaming_positions(cache: SinkCache) -> torch.Tensor:
    """The positions StreamingLLM uses for the cached tokens: 0 … len(cache) − 1."""
    if not isinstance(cache, SinkCache):
        raise ValueError("streaming_positions needs a SinkCache (sinks + rolling window)")
    return torch.arange(len(cache))


def rope_scores(
    q: torch.Tensor, k: torch.Tensor, q_pos: int, k_pos: torch.Tensor, inv_freq: torch.Tensor
) -> torch.Tensor:
    """Scores of one query (d,) at position `q_pos` against keys (n, d) at `k_pos`, after RoPE."""
    if q.dim() != 1 or k.dim() != 2 or k.shape[1] != q.shape[0] or k.shape[0] != len(k_pos):
        raise ValueError("q must be (d,), k (n, d) and k_pos hold n positions")
    cos_q, sin_q = rope_cos_sin(torch.tensor([q_pos]), inv_freq)
    cos_k, sin_k = rope_cos_sin(k_pos, inv_freq)
    qr = apply_rope(q[None, None, None], cos_q, sin_q)[0, 0, 0]
    kr = apply_rope(k[None, None], cos_k, sin_k)[0, 0]
    return kr @ qr
