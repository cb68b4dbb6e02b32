"""Rotary position embedding (RoPE): rotate each pair of query/key dimensions by an angle
proportional to the token's position, so that q·k depends only on the relative distance.

Follows Su et al., "RoFormer" (2021) and Hugging Face transformers' Llama code
(`LlamaRotaryEmbedding`, `rotate_half`, `apply_rotary_pos_emb`): frequencies
θ_i = base^(−2i/d), computed in float32 exactly as Hugging Face does, so the two agree bit
for bit. Context-extension scalings (PI, NTK, YaRN, Llama 3) live in `scaling.py`.
"""

from __future__ import annotations

import torch

from lcedu import _checks as chk

__all__ = ["rope_inv_freq", "rope_cos_sin", "apply_rope", "rotate_half", "STYLES"]

STYLES = ("half", "interleaved")


def rope_inv_freq(dim: int, base: float = 10000.0) -> torch.Tensor:
    """The RoPE inverse frequencies θ_i = base^(−2i/dim), i = 0 … dim/2 − 1 (float32).

    Index 0 turns fastest (one radian per token); the last index turns slowest. This is the
    exact float32 expression of Hugging Face's default RoPE initialisation.

    >>> rope_inv_freq(4, base=100.0)
    tensor([1.0000, 0.1000])
    """
    dim = chk.positive_int("dim", dim, multiple_of=2, what="a positive even integer")
    base = chk.positive_real("base", base)
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
    attention_scaling = chk.positive_real("attention_scaling", attention_scaling)
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
    chk.one_of("style", style, STYLES)
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
