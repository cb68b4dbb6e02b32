"""Ring attention's sharding layouts: which tokens of one sequence each rank holds.

"contiguous" cuts the sequence into W equal runs (Ring Attention, Liu et al. 2023);
"zigzag" gives rank r chunks r and 2W−1−r of 2W (ring-flash-attention, Zhu 2024), and
"striped" gives rank r every W-th token (Brandon et al. 2023), both balancing causal work.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lcedu import _checks as chk

__all__ = [
    "LAYOUTS",
    "check_world",
    "check_layout",
    "check_divisible",
    "token_positions",
    "shard_sequence",
    "gather_sequence",
]

LAYOUTS = ("contiguous", "zigzag", "striped")


def check_world(world_size: object, rank: object = None) -> int:
    """`world_size` as a positive int (and `rank` in [0, world_size) when given)."""
    world_size = chk.positive_int("world_size", world_size)
    if rank is not None and (not chk.is_int(rank) or not 0 <= rank < world_size):
        raise ValueError(f"rank must be an integer in [0, {world_size - 1}], got {rank!r}")
    return world_size


def check_layout(layout: object) -> str:
    """`layout` if it names one of LAYOUTS."""
    if not isinstance(layout, str) or layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")
    return layout


def check_divisible(seq_len: int, world_size: int, layout: str) -> None:
    """The layout cuts seq_len into W (2W for zigzag) equal parts: refuse any remainder."""
    parts = 2 * world_size if layout == "zigzag" else world_size
    if seq_len % parts:
        what = f"2·world_size = {parts}" if layout == "zigzag" else f"world_size = {parts}"
        raise ValueError(
            f"sequence length {seq_len} is not divisible by {what} (layout {layout!r}); "
            f"pad the sequence to a multiple of {parts}"
        )


def _positions(seq_len: int, world_size: int, rank: int, layout: str) -> torch.Tensor:
    if layout == "contiguous":
        n = seq_len // world_size
        return torch.arange(rank * n, (rank + 1) * n)
    if layout == "zigzag":
        c = seq_len // (2 * world_size)
        first = torch.arange(rank * c, (rank + 1) * c)
        j = 2 * world_size - 1 - rank
        return torch.cat([first, torch.arange(j * c, (j + 1) * c)])
    return torch.arange(rank, seq_len, world_size)


def token_positions(
    seq_len: int, world_size: int, rank: int, layout: str = "contiguous"
) -> torch.Tensor:
    """Global positions (int64, in local order) of the tokens that `rank` holds.

    contiguous: rank r holds tokens [r·n, (r+1)·n) with n = seq_len / W.
    zigzag: the sequence is cut into 2W chunks; rank r holds chunks r and 2W−1−r.
    striped: rank r holds tokens r, r+W, r+2W, ...
    """
    world_size = check_world(world_size, rank)
    check_layout(layout)
    seq_len = chk.positive_int("seq_len", seq_len)
    check_divisible(seq_len, world_size, layout)
    n = seq_len // world_size
    chk.allocation(f"the positions of {n} tokens", 8 * n, fn="token_positions")
    return _positions(seq_len, world_size, rank, layout)


def shard_sequence(
    x: torch.Tensor, world_size: int, rank: int, layout: str = "contiguous", *, dim: int = 2
) -> torch.Tensor:
    """The part of `x` (split along `dim`, default the seq axis of (B, H, L, D)) on `rank`."""
    chk.tensor("x", x)
    if not chk.is_int(dim) or not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim {dim} is out of range for a tensor with {x.dim()} dimensions")
    pos = token_positions(x.shape[dim], world_size, rank, layout)
    if layout == "contiguous":
        return x.narrow(dim, int(pos[0]), pos.numel())
    return x.index_select(dim, pos.to(x.device))


def gather_sequence(
    shards: Sequence[torch.Tensor], layout: str = "contiguous", *, dim: int = 2
) -> torch.Tensor:
    """Undo `shard_sequence`: put every rank's shard (listed in rank order) back in place.

    The world size is ``len(shards)``; every shard must have the same shape.
    """
    if not isinstance(shards, (list, tuple)) or not shards:
        raise ValueError("shards must be a non-empty list of tensors, one per rank")
    check_layout(layout)
    first = shards[0]
    for r, s in enumerate(shards):
        chk.tensor(f"shard {r}", s)
        if s.shape != first.shape:
            raise ValueError(
                f"all shards must have the same shape, got {tuple(first.shape)} on rank 0 "
                f"and {tuple(s.shape)} on rank {r}"
            )
    if not chk.is_int(dim) or not -first.dim() <= dim < first.dim():
        raise ValueError(f"dim {dim} is out of range for a tensor with {first.dim()} dimensions")
    world_size = len(shards)
    seq_len = first.shape[dim] * world_size
    if layout == "contiguous":
        return torch.cat(list(shards), dim=dim)
    order = torch.cat([_positions(seq_len, world_size, r, layout) for r in range(world_size)])
    stacked = torch.cat(list(shards), dim=dim)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(seq_len)
    return stacked.index_select(dim, inverse.to(stacked.device))
