"""RoPE as a module: the frequencies of a scaling (`scaling.rope_frequencies`) turned into
the cos/sin that rotate queries and keys (`rope.apply_rope`).

Mirrors Hugging Face transformers' `LlamaRotaryEmbedding` with its `rope_parameters`; it is
built on `rope.py` (the rotation) and `scaling.py` (the registry of frequency functions), and
neither of those imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from lcedu import _checks as chk
from lcedu.positions.rope import STYLES, apply_rope, rope_cos_sin
from lcedu.positions.scaling import normalize_scaling, rope_frequencies

__all__ = ["RotaryEmbedding"]


class RotaryEmbedding(nn.Module):
    """RoPE as a module: holds `inv_freq` (and `attention_factor`), returns cos/sin.

    `scaling` is None (plain RoPE) or a dict naming a method of `lcedu.positions.scaling`
    and its keyword arguments, e.g. ``{"type": "yarn", "factor": 8,
    "original_max_position": 4096}`` or ``{"type": "linear", "factor": 4}``. Types:
    "linear" (PI), "ntk_aware", "dynamic_ntk", "yarn", "llama3". For "dynamic_ntk" the
    frequencies are recomputed for each call from the largest position seen (seq_len =
    max position + 1), as Hugging Face's dynamic RoPE does; all others are fixed. One
    difference: Hugging Face's module also caches, keeping grown frequencies for later,
    shorter calls until the length drops back inside the original; here a call depends
    only on its own positions.

    A Hugging Face ``rope_parameters`` dict is accepted as well: "rope_type" for "type",
    its type names "default" (plain RoPE) and "dynamic", "original_max_position_embeddings"
    for "original_max_position", and a "rope_theta" equal to `base`.

    >>> rope = RotaryEmbedding(8, scaling={"type": "linear", "factor": 2})
    >>> q = torch.zeros(1, 2, 5, 8)
    >>> cos, sin = rope(q)
    >>> tuple(cos.shape), tuple(rope.rotate(q).shape)
    ((5, 8), (1, 2, 5, 8))
    """

    def __init__(
        self,
        dim: int,
        base: float = 10000.0,
        scaling: Mapping[str, Any] | None = None,
        *,
        style: str = "half",
    ) -> None:
        super().__init__()
        self.dim = chk.positive_int("dim", dim, multiple_of=2, what="a positive even integer")
        self.base = chk.positive_real("base", base)
        self.style = chk.one_of("style", style, STYLES)
        self.scaling = normalize_scaling(scaling, self.base)
        inv_freq, factor = self._scaled(seq_len=None)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.attention_factor = float(factor)

    def _scaled(self, seq_len: int | None) -> tuple[torch.Tensor, float]:
        return rope_frequencies(self.dim, self.base, self.scaling, seq_len=seq_len)

    def forward(
        self, x: torch.Tensor, positions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(cos, sin) for `positions` (default: 0 … L−1 with L = x.shape[-2]), in x's dtype."""
        if not isinstance(x, torch.Tensor) or x.ndim < 2:
            raise ValueError("x must be a tensor whose second-to-last dim is the sequence length")
        if positions is None:
            positions = torch.arange(x.shape[-2], device=x.device)
        if not isinstance(positions, torch.Tensor):
            raise ValueError("positions must be a torch.Tensor of shape (L,) or (batch, L)")
        inv_freq = self.inv_freq
        if self.scaling is not None and self.scaling["type"] == "dynamic_ntk":
            seq_len = int(positions.max().item()) + 1 if positions.numel() else 1
            inv_freq, _ = self._scaled(seq_len=seq_len)
        cos, sin = rope_cos_sin(
            positions.to(x.device), inv_freq.to(x.device), attention_scaling=self.attention_factor
        )
        return cos.to(x.dtype), sin.to(x.dtype)

    def rotate(self, x: torch.Tensor, positions: torch.Tensor | None = None) -> torch.Tensor:
        """Apply this rotary embedding to x (batch, heads, L, dim) at `positions`."""
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[-1] != self.dim:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
            raise ValueError(f"x must have shape (batch, heads, L, {self.dim}), got {shape}")
        cos, sin = self(x, positions)
        return apply_rope(x, cos, sin, style=self.style)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, base={self.base:g}, scaling={self.scaling}, style={self.style!r}"
