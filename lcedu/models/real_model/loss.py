"""Per-token loss of a causal LM, and its mean in position buckets.

Perplexity beyond the native context (Press et al. 2022, "Train Short, Test Long"; Chen et
al. 2023 for PI) is read off the mean negative log-likelihood per position bucket: a model
that extrapolates keeps the later buckets as low as the early ones. The vocabulary is large
(49 152), so the head runs chunk by chunk and full-length logits are never held.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

__all__ = ["token_nll", "bucket_means"]


@torch.no_grad()
def token_nll(model: Any, ids: torch.Tensor, *, chunk: int = 1024) -> torch.Tensor:
    """NLL (nats, float32) of token t+1 given tokens ≤ t, for t = 0 … L−2: shape (L−1,).

    `ids` is (1, L) or (L,). One forward of the decoder body, then the LM head on `chunk`
    positions at a time.
    """
    if ids.dim() == 1:
        ids = ids[None]
    if ids.dim() != 2 or ids.shape[0] != 1 or ids.shape[1] < 2:
        raise ValueError(
            f"ids must be one sequence of at least 2 tokens, got shape {tuple(ids.shape)}"
        )
    if not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"chunk must be a positive integer, got {chunk!r}")
    hidden = model.model(input_ids=ids, use_cache=False).last_hidden_state
    n = ids.shape[1] - 1
    out = torch.empty(n, dtype=torch.float32)
    for s in range(0, n, chunk):
        e = min(n, s + chunk)
        logits = model.lm_head(hidden[0, s:e]).float()
        out[s:e] = F.cross_entropy(logits, ids[0, s + 1 : e + 1], reduction="none")
    return out


def bucket_means(nll: torch.Tensor, bucket: int = 1024) -> list[float]:
    """Mean of `nll` over consecutive buckets of `bucket` predictions (the last may be short).

    Prediction t is the loss of the token at position t+1, so bucket b covers the tokens at
    positions b·bucket+1 … (b+1)·bucket.
    """
    if not isinstance(bucket, int) or bucket < 1:
        raise ValueError(f"bucket must be a positive integer, got {bucket!r}")
    if nll.dim() != 1 or nll.numel() == 0:
        raise ValueError(f"nll must be a non-empty 1-D tensor, got shape {tuple(nll.shape)}")
    return [float(nll[s : s + bucket].mean()) for s in range(0, nll.numel(), bucket)]
