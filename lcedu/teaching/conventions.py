"""Causal masks when queries and keys differ in length: top-left vs bottom-right alignment.

SDPA's ``is_causal=True`` aligns the mask to the top-left corner (query i sees keys j ≤ i),
which is right only when queries and keys start at the same position. Decoding with a KV cache
needs bottom-right alignment: the queries are the *last* Lq positions, so query i sits at
position i + (Lk − Lq) (FlashAttention ≥ 2.1 and ``torch.nn.attention.bias.causal_lower_right``).
"""

from __future__ import annotations

from typing import Literal

import torch

from lcedu import _checks as chk

__all__ = ["causal_mask"]

Alignment = Literal["top_left", "bottom_right"]


def causal_mask(
    q_len: int,
    k_len: int,
    *,
    alignment: Alignment = "bottom_right",
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """A (q_len, k_len) boolean mask, True = may attend, with the given causal alignment.

    ``top_left``: query i sees keys j ≤ i. ``bottom_right``: query i sees keys
    j ≤ i + (k_len − q_len). The two agree when q_len == k_len.

    >>> causal_mask(2, 3, alignment="top_left").int().tolist()
    [[1, 0, 0], [1, 1, 0]]
    >>> causal_mask(2, 3, alignment="bottom_right").int().tolist()
    [[1, 1, 0], [1, 1, 1]]
    """
    for name, n in (("q_len", q_len), ("k_len", k_len)):
        chk.positive_int(name, n, what="a positive whole number")
    if alignment not in ("top_left", "bottom_right"):
        raise ValueError(f"alignment must be 'top_left' or 'bottom_right', got {alignment!r}")
    offset = 0 if alignment == "top_left" else k_len - q_len
    i = torch.arange(q_len, device=device)[:, None]
    j = torch.arange(k_len, device=device)[None, :]
    return j <= i + offset
