"""Rotary position embedding (RoPE): rotate each pair of query/key dimensions by an angle
proportional to the token's position, so that q·k depends only on the relative distance.

Follows Su et al., "RoFormer" (2021) and Hugging Face transformers' Llama code
(`LlamaRotaryEmbedding`, `rotate_half`, `apply_rotary_pos_emb`): frequencies
θ_i = base^(−2i/d), computed in float32 exactly as Hugging Face does, so the two agree bit
for bit. Context-extension scalings (PI, NTK, YaRN, Llama 3) live in `scaling.py`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["rope_inv_freq", "rope_cos_sin", "apply_rope", "rotate_half", "RotaryEmbedding"]

_STYLES = ("half", "interleaved")


def _check_dim(dim: Any) -> int:
    # numbers.Integral: Python ints and NumPy/other integer scalars alike (not bools)
    if isinstance(dim, bool) or not isinstance(dim, numbers.Integral):
        raise ValueError(f"dim must be a positive even integer, got {dim!r}")
    dim = int(dim)
    if dim <= 0 or dim % 2:
        raise ValueError(f"dim must be a positive even integer (RoPE rotates pairs), got {dim}")
    return dim


def _check_positive(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value}")
    return float(value)


def rope_inv_freq(dim: int, base: float = 10000.0) -> torch.Tensor:
    """The RoPE inverse frequencies θ_i = base^(−2i/dim), i = 0 … dim/2 − 1 (float32).

    Index 0 turns fastest (one radian per token); the last index turns slowest. This is the
    exact float32 expression of Hugging Face's default RoPE initialisation.

    >>> rope_inv_freq(4, base=100.0)
    tensor([1.0000, 0.1000])
    """
    dim = _check_dim(dim)
    base = _check_positive("base", base)
    if base == 1.0:
        raise ValueError("base must differ from 1 (every frequency would be 1), got 1")
    exponent = torch.arange(0, dim, 2, dtype=torch.int64).to(dtype=torch.float) / dim
    return 1.0 / (base**exponent)


def rope_cos_sin(
    positions: torch.Tensor,
    inv_freq: torch.Tensor,
    *,
    attention_scaling: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin of the rotation angles m·θ_i, in Hugging Face's layout.

    `positions` is (L,) or (batch, L), integer or float (PI feeds fractional positions).
    Returns `(cos, sin)`, each of shape positions.shape + (dim,), where the dim/2 angles are
    concatenated twice ([θ_0 … θ_{d/2−1}, θ_0 … θ_{d/2−1}]), exactly what
    `LlamaRotaryEmbedding` returns. Both are multiplied by `attention_scaling` (YaRN's
    temperature: it scales every q·k by attention_scaling²). Computed in float32 as Hugging
    Face does, or in float64 when `inv_freq` is float64 (exact angles for long positions).
    """
    if not isinstance(positions, torch.Tensor):
        raise ValueError(
            f"positions must be a torch.Tensor of shape (L,) or (batch, L), got {type(positions)}"
        )
    if positions.ndim not in (1, 2):
        raise ValueError(
            f"positions must have shape (L,) or (batch, L), got shape {tuple(positions.shape)}"
        )
    if positions.is_complex() or positions.dtype == torch.bool:
        raise ValueError(f"positions must be integer or real numbers, got dtype {positions.dtype}")
    if not isinstance(inv_freq, torch.Tensor) or inv_freq.ndim != 1 or inv_freq.numel() == 0:
        raise ValueError("inv_freq must be a non-empty 1-D tensor (one frequency per pair of dims)")
    work = torch.float64 if inv_freq.dtype == torch.float64 else torch.float32
    if isinstance(attention_scaling, bool) or not isinstance(attention_scaling, numbers.Real):
        raise ValueError(f"attention_scaling must be a number, got {attention_scaling!r}")
    if not math.isfinite(attention_scaling) or attention_scaling <= 0:
        raise ValueError(f"attention_scaling must be positive, got {attention_scaling}")
    inv = inv_freq.to(device=positions.device, dtype=work)
    # Outer product: one angle per (position, frequency). Hugging Face computes it as a
    # matmul with an inner dimension of 1, which is the same single product per entry.
    freqs = positions.to(work)[..., None] * inv
    emb = torch.cat((freqs, freqs), dim=-1)
    cos = emb.cos() * attention_scaling
    sin = emb.sin() * attention_scaling
    return cos, sin


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) → (−x2, x1) on the two halves of the last dim (GPT-NeoX / Llama pairing)."""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def _rotate_interleaved(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, …) → (−x1, x0, −x3, x2, …): adjacent dims form the pairs (GPT-J)."""
    pairs = x.unflatten(-1, (-1, 2))
    return torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)


def apply_rope(
    x: torch.Tensor,
    cos: torch.Tensor,
    sin: torch.Tensor,
    *,
    style: str = "half",
) -> torch.Tensor:
    """Rotate `x` (batch, heads, L, head_dim) by the angles whose cos/sin are given.

    `cos`/`sin` come from `rope_cos_sin`: shape (L, w) or (batch, L, w) — or already
    broadcastable (batch, 1, L, w) — where w is head_dim (Hugging Face layout, the angles
    concatenated twice) or head_dim/2 (one angle per pair).

    style="half" pairs dim i with dim i + head_dim/2 (GPT-NeoX, Hugging Face Llama's
    `rotate_half`); style="interleaved" pairs dims 2i and 2i+1 (GPT-J, the original Meta
    Llama code). The result has x's dtype.
    """
    if style not in _STYLES:
        raise ValueError(f"style must be 'half' or 'interleaved', got {style!r}")
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x)
        raise ValueError(f"x must be a tensor of shape (batch, heads, L, head_dim), got {shape}")
    if not x.is_floating_point():
        raise ValueError(f"x must be a floating-point tensor, got dtype {x.dtype}")
    d = x.shape[-1]
    if d % 2:
        raise ValueError(f"head_dim must be even to rotate pairs of dims, got {d}")
    for name, t in (("cos", cos), ("sin", sin)):
        if not isinstance(t, torch.Tensor) or t.ndim not in (2, 3, 4):
            raise ValueError(
                f"{name} must be a tensor of shape (L, w), (batch, L, w) or (batch, 1, L, w)"
            )
    if cos.shape != sin.shape:
        raise ValueError(
            f"cos and sin must have the same shape, got {tuple(cos.shape)} and {tuple(sin.shape)}"
        )
    width, length = cos.shape[-1], cos.shape[-2]
    if width not in (d, d // 2):
        raise ValueError(
            f"cos/sin last dim must be head_dim ({d}) or head_dim/2 ({d // 2}), got {width}"
        )
    if length != x.shape[-2]:
        raise ValueError(
            f"cos/sin cover {length} positions but x has sequence length {x.shape[-2]}"
        )
    if cos.ndim == 3:  # (batch, L, w) → (batch, 1, L, w), broadcast over heads
        cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
    if cos.ndim == 4 and cos.shape[1] not in (1, x.shape[1]):
        raise ValueError(f"cos/sin dim 1 must be 1 or the number of heads, got {cos.shape[1]}")
    if cos.ndim >= 3 and cos.shape[0] not in (1, x.shape[0]):
        raise ValueError(f"cos/sin batch size {cos.shape[0]} does not match x's {x.shape[0]}")
    cos = cos.to(device=x.device, dtype=x.dtype)
    sin = sin.to(device=x.device, dtype=x.dtype)
    if style == "half":
        if width == d // 2:
            cos, sin = torch.cat((cos, cos), dim=-1), torch.cat((sin, sin), dim=-1)
        return x * cos + rotate_half(x) * sin
    # interleaved: angle i belongs to dims 2i and 2i+1
    if width == d:
        cos, sin = cos[..., : d // 2], sin[..., : d // 2]
    cos = cos.repeat_interleave(2, dim=-1)
    sin = sin.repeat_interleave(2, dim=-1)
    return x * cos + _rotate_interleaved(x) * sin


# Hugging Face `rope_parameters` names → ours (RotaryEmbedding accepts either)
_HF_TYPES = {"dynamic": "dynamic_ntk"}
_HF_KEYS = {"original_max_position_embeddings": "original_max_position"}


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
        self.dim = _check_dim(dim)
        self.base = _check_positive("base", base)
        if style not in _STYLES:
            raise ValueError(f"style must be 'half' or 'interleaved', got {style!r}")
        self.style = style
        self.scaling = self._check_scaling(scaling, self.base)
        if self.scaling is None:
            inv_freq, factor = rope_inv_freq(self.dim, self.base), 1.0
        else:
            inv_freq, factor = self._scaled(seq_len=None)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.attention_factor = float(factor)

    @staticmethod
    def _check_scaling(scaling: Mapping[str, Any] | None, base: float) -> dict[str, Any] | None:
        from lcedu.positions import scaling as methods  # local: scaling imports this module

        if scaling is None:
            return None
        if not isinstance(scaling, Mapping) or not ({"type", "rope_type"} & set(scaling)):
            raise ValueError(
                "scaling must be None or a dict with a 'type' key, e.g. "
                "{'type': 'linear', 'factor': 4}"
            )
        kwargs = dict(scaling)
        kind = kwargs.pop("type", None)
        hf_kind = kwargs.pop("rope_type", None)
        if kind is not None and hf_kind is not None and kind != hf_kind:
            raise ValueError(f"'type' ({kind!r}) and 'rope_type' ({hf_kind!r}) disagree")
        kind = kind if kind is not None else hf_kind
        if not isinstance(kind, str):
            raise ValueError(f"the scaling type must be a string such as 'yarn', got {kind!r}")
        kind = _HF_TYPES.get(kind, kind)
        if kind == "default":
            return None
        if kind not in methods.SCALINGS:
            raise ValueError(
                f"unknown scaling type {kind!r}; choose one of {sorted(methods.SCALINGS)}"
            )
        for hf_key, key in _HF_KEYS.items():
            if hf_key in kwargs:
                if key in kwargs:
                    raise ValueError(f"give {key!r} or {hf_key!r}, not both")
                kwargs[key] = kwargs.pop(hf_key)
        if "rope_theta" in kwargs:
            theta = kwargs.pop("rope_theta")
            if theta is not None and theta != base:
                raise ValueError(
                    f"rope_theta in the scaling dict ({theta}) differs from base ({base}); "
                    "give the base to RotaryEmbedding itself"
                )
        for reserved in ("dim", "base"):
            if reserved in kwargs:
                raise ValueError(
                    f"give {reserved!r} to RotaryEmbedding itself, not inside the scaling dict"
                )
        if kind == "dynamic_ntk" and "seq_len" in kwargs:
            raise ValueError("dynamic_ntk takes seq_len from the positions at each call; drop it")
        return {"type": kind, **kwargs}

    def _scaled(self, seq_len: int | None) -> tuple[torch.Tensor, float]:
        from lcedu.positions import scaling as methods

        kwargs = {k: v for k, v in self.scaling.items() if k != "type"}
        fn = methods.SCALINGS[self.scaling["type"]]
        if self.scaling["type"] == "dynamic_ntk":
            kwargs["seq_len"] = seq_len or kwargs.get("original_max_position", 1)
        try:
            return fn(self.dim, self.base, **kwargs)
        except TypeError as err:
            raise ValueError(f"bad arguments for scaling {self.scaling['type']!r}: {err}") from None

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
