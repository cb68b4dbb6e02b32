"""The KV cache interface and the plain cache that grows with every token.

At decoding step t a decoder needs the keys and values of every earlier token; a KV cache
keeps them so they are computed once (the standard autoregressive trick of Vaswani et al.,
2017, as in Hugging Face's ``DynamicCache``). Every cache in `lcedu.kvcache` shares one
interface: `update(k, v)`, `keys_values()`, `positions()`, `len(cache)` and `nbytes()`
(bytes used; `bytes_used()` is the same number).
Layout is (batch, heads, seq, head_dim).
"""

from __future__ import annotations

import torch

from lcedu import _checks as chk

__all__ = ["KVCacheBase", "KVCache", "check_new_kv"]


def check_new_kv(
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    like: torch.Tensor | None = None,
    name: str = "update",
) -> None:
    """Raise ValueError unless k and v are new (batch, heads, tokens, head_dim) entries.

    k and v must be floating 4-D tensors of one shape, dtype and device, with at least one
    token. When `like` (a tensor already in the cache) is given, batch, heads, head_dim,
    dtype and device must match it.
    """
    chk.float_tensors(name, "batch, heads, tokens, head_dim", k=k, v=v)
    chk.same_shape("k and v", k, v, fn=name)
    chk.same_dtype_device("k and v", k, v, fn=name)
    if k.shape[2] < 1:
        raise ValueError(f"{name}: there must be at least one new token, got 0")
    if like is not None:
        b, h, _, d = like.shape
        if (k.shape[0], k.shape[1], k.shape[3]) != (b, h, d):
            raise ValueError(
                f"{name}: the cache holds (batch={b}, heads={h}, head_dim={d}) entries, "
                f"got new ones of shape {tuple(k.shape)}"
            )
        chk.same_dtype_device("the new entries and the cache's", k, like, fn=name)


def kv_pair_bytes(k: torch.Tensor | None) -> int:
    """Bytes of a key tensor and the value tensor beside it (same shape and dtype); 0 before
    anything is stored (None)."""
    return 0 if k is None else 2 * k.numel() * k.element_size()


class KVCacheBase:
    """What every KV cache offers (one interface, so `decode_step` works with any of them).

    - ``update(k, v)``: append new tokens' keys and values, each (batch, heads, T, head_dim).
    - ``keys_values()``: the keys and values the next query may attend to, in position
      order, each (batch, heads, len(cache), head_dim).
    - ``positions()``: the absolute position of every held key (a LongTensor, increasing).
    - ``len(cache)``: how many keys each sequence holds now.
    - ``seen_tokens``: how many tokens were ever added (the next token's position).
    - ``nbytes()`` (also ``bytes_used()``): bytes the cache's storage for keys and values
      takes.
    """

    seen_tokens: int = 0

    def update(self, k: torch.Tensor, v: torch.Tensor) -> None:
        raise NotImplementedError

    def keys_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def positions(self) -> torch.Tensor:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    def nbytes(self) -> int:
        raise NotImplementedError

    def bytes_used(self) -> int:
        """Bytes of key/value storage the cache uses now; the same number as `nbytes()`."""
        return self.nbytes()


class KVCache(KVCacheBase):
    """The full cache: keeps every key and value, so memory grows linearly with the sequence.

    >>> c = KVCache()
    >>> c.update(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 4))
    >>> len(c), c.nbytes()
    (3, 192)
    """

    def __init__(self) -> None:
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.seen_tokens = 0

    def update(self, k: torch.Tensor, v: torch.Tensor) -> None:
        check_new_kv(k, v, like=self.k, name="KVCache.update")
        if self.k is None:
            self.k, self.v = k.clone(), v.clone()
        else:
            self.k = torch.cat([self.k, k], dim=2)
            self.v = torch.cat([self.v, v], dim=2)
        self.seen_tokens += k.shape[2]

    def keys_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k is None:
            raise ValueError("KVCache.keys_values: the cache is empty; call update(k, v) first")
        return self.k, self.v

    def positions(self) -> torch.Tensor:
        return torch.arange(self.seen_tokens)

    def __len__(self) -> int:
        return self.seen_tokens

    def nbytes(self) -> int:
        return kv_pair_bytes(self.k)

    def __repr__(self) -> str:
        return f"KVCache(len={len(self)})"
