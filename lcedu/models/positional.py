"""Absolute position embeddings added to the token embeddings: learned and sinusoidal.

Sinusoidal follows "Attention Is All You Need" (Vaswani et al., 2017, §3.5): PE(p, 2i) =
sin(p / 10000^(2i/d)), PE(p, 2i+1) = cos(...), defined for any position. Learned embeddings
(GPT-2 style) are a trained table with one row per position and cannot go past its size.
RoPE and ALiBi act inside attention instead; see ``lcedu.positions``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["SCHEMES", "check_scheme", "sinusoidal_table", "LearnedPositions", "SinusoidalPositions"]

#: Every position scheme the tiny model knows, in the order the course draws them.
SCHEMES = ("none", "learned", "sinusoidal", "rope", "alibi")


def check_scheme(pos: str) -> str:
    """Return ``pos`` if it names a known scheme, else raise a ValueError listing them."""
    if pos not in SCHEMES:
        raise ValueError(
            f"unknown position scheme {pos!r}; choose one of {', '.join(SCHEMES)} "
            "(none = NoPE, no position information at all)"
        )
    return pos


def sinusoidal_table(
    length: int, dim: int, *, base: float = 10000.0, device=None, dtype=torch.float32
) -> torch.Tensor:
    """The (length, dim) sinusoidal table: even columns sin, odd columns cos."""
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"length must be a positive integer, got {length!r}")
    if not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even integer, got {dim!r}")
    pos = torch.arange(length, device=device, dtype=torch.float64)[:, None]
    inv = torch.exp(
        -math.log(base) * torch.arange(0, dim, 2, device=device, dtype=torch.float64) / dim
    )
    table = torch.zeros(length, dim, device=device, dtype=torch.float64)
    table[:, 0::2] = torch.sin(pos * inv)
    table[:, 1::2] = torch.cos(pos * inv)
    return table.to(dtype)


class LearnedPositions(nn.Module):
    """A trained table of ``max_len`` position vectors; longer inputs raise ValueError."""

    def __init__(self, max_len: int, dim: int) -> None:
        super().__init__()
        if not isinstance(max_len, int) or max_len < 1:
            raise ValueError(f"max_len must be a positive integer, got {max_len!r}")
        self.max_len = max_len
        self.table = nn.Embedding(max_len, dim)
        nn.init.normal_(self.table.weight, std=0.02)

    def forward(self, length: int) -> torch.Tensor:
        if length > self.max_len:
            raise ValueError(
                f"sequence length {length} is larger than the learned position table "
                f"({self.max_len} positions): a learned embedding has no row for position "
                f"{self.max_len} or later. Use a scheme that extrapolates (rope, alibi, "
                "sinusoidal, none) or a length <= the table."
            )
        return self.table.weight[:length]


class SinusoidalPositions(nn.Module):
    """Fixed sinusoidal positions, computed for whatever length arrives (no table, no limit)."""

    def __init__(self, dim: int, base: float = 10000.0) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"sinusoidal positions need an even model dim, got {dim}")
        self.dim = dim
        self.base = base

    def forward(self, length: int, device=None, dtype=torch.float32) -> torch.Tensor:
        return sinusoidal_table(length, self.dim, base=self.base, device=device, dtype=dtype)
