"""Processing a long document in overlapping chunks, and what the chunks cannot see.

The lesson's ``process_long_document`` (§6.2) slides a window of `chunk_size` tokens with
stride ``chunk_size - overlap``. Done right, every token lands in some chunk and neighbours
share `overlap` tokens; but a token never sees anything before the start of its first
chunk, so facts further back are invisible (erratum 21). `chunk_visibility` draws that.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import torch

from lcedu import _checks as chk

__all__ = ["chunk_spans", "chunk_document", "chunk_visibility"]

T = TypeVar("T")


def _check(chunk_size: object, overlap: object) -> tuple[int, int]:
    chk.positive_int("chunk_size", chunk_size)
    chk.nonneg_int("overlap", overlap)
    if overlap >= chunk_size:
        raise ValueError(
            f"overlap ({overlap}) must be smaller than chunk_size ({chunk_size}), "
            "otherwise the window never moves forward"
        )
    return chunk_size, overlap


def chunk_spans(n: int, chunk_size: int, overlap: int) -> list[tuple[int, int]]:
    """[start, stop) of each chunk over n tokens.

    Chunks start at 0, s, 2s, ... with stride s = chunk_size - overlap, and the last chunk is
    the first that reaches the end (it may be shorter). So every token is covered, each
    chunk shares exactly `overlap` tokens with the previous one, and no chunk lies entirely
    inside the previous one (the lesson's ``range(0, n, s)`` loop adds such tail chunks).

    >>> chunk_spans(10, 4, 1)
    [(0, 4), (3, 7), (6, 10)]
    """
    chunk_size, overlap = _check(chunk_size, overlap)
    chk.nonneg_int("n", n)
    stride = chunk_size - overlap
    spans, start = [], 0
    while start < n:
        stop = min(n, start + chunk_size)
        spans.append((start, stop))
        if stop == n:
            break
        start += stride
    return spans


def chunk_document(tokens: Sequence[T], chunk_size: int, overlap: int) -> list[Sequence[T]]:
    """Split a token sequence (list, tensor, string) into overlapping chunks (see chunk_spans).

    >>> chunk_document(list(range(7)), 4, 2)
    [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6]]
    """
    if not hasattr(tokens, "__len__") or not hasattr(tokens, "__getitem__"):
        raise ValueError(
            f"tokens must be a sequence (list, tensor, str), got {type(tokens).__name__}"
        )
    return [tokens[a:b] for a, b in chunk_spans(len(tokens), chunk_size, overlap)]


def chunk_visibility(n: int, chunk_size: int, overlap: int) -> torch.Tensor:
    """(n, n) boolean: can token i see token j in *some* chunk (with causal attention)?

    Every chunk containing i covers [its start, i]; the widest is i's first chunk, so i
    sees j exactly when first_start(i) <= j <= i. Compare with ``tril`` (one long context).
    """
    spans = chunk_spans(n, chunk_size, overlap)
    first = torch.empty(n, dtype=torch.long)
    for a, b in reversed(spans):
        first[a:b] = a
    j = torch.arange(n)
    return (j[None, :] <= j[:, None]) & (j[None, :] >= first[:, None])
