"""The course's RoPE scalings patched into a pretrained model, next to transformers' own.

Position Interpolation (Chen et al. 2023), NTK-aware (bloc97 2023), dynamic NTK (emozilla
2023) and YaRN (Peng et al. 2023) from `lcedu.positions.scaling` replace the model's rotary
module; `transformers_rotary` builds the same scaling with transformers' own
`ROPE_INIT_FUNCTIONS` (the witness) from the same `rope_parameters`.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from lcedu.positions import scaling as course_scaling
from lcedu.positions.rope import rope_inv_freq

__all__ = [
    "SCALING_NAMES",
    "rope_shape",
    "rope_parameters",
    "course_inv_freq",
    "CourseRotaryEmbedding",
    "transformers_rotary",
    "set_rope",
]

# Course name -> what it is called in transformers' rope_parameters ("ntk" has no rope_type
# there: it is the default RoPE with the NTK-aware base).
SCALING_NAMES = ("none", "pi", "ntk", "dynamic", "yarn")
_HF_TYPE = {"none": "default", "pi": "linear", "ntk": "default", "dynamic": "dynamic",
            "yarn": "yarn"}


def rope_shape(config: Any) -> tuple[int, float, int]:
    """(rotary dim, base θ, native context) of a transformers config."""
    dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    base = float(config.rope_parameters["rope_theta"])
    return int(dim), base, int(config.max_position_embeddings)


def _check_scaling(name: str, factor: float) -> float:
    if name not in SCALING_NAMES:
        raise ValueError(f"scaling must be one of {', '.join(SCALING_NAMES)}, got {name!r}")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 1:
        raise ValueError(f"factor must be a number >= 1 (how far to stretch), got {factor!r}")
    return float(factor)


def rope_parameters(config: Any, name: str, factor: float = 1.0) -> dict[str, Any]:
    """The transformers `rope_parameters` for scaling `name` at `factor` on this config.

    "ntk" is transformers' default RoPE with θ raised to θ·s^(d/(d−2)) (written out here,
    independently of `lcedu.positions.scaling.ntk_aware_base`).
    """
    factor = _check_scaling(name, factor)
    dim, base, native = rope_shape(config)
    params: dict[str, Any] = {"rope_type": _HF_TYPE[name], "rope_theta": base}
    if name == "ntk":
        params["rope_theta"] = base * factor ** (dim / (dim - 2))
    elif name in ("pi", "dynamic", "yarn"):
        params["factor"] = factor
    if name == "yarn":
        params["original_max_position_embeddings"] = native
    return params


def course_inv_freq(
    config: Any, name: str, factor: float = 1.0, *, seq_len: int | None = None
) -> tuple[torch.Tensor, float]:
    """(inv_freq, attention factor) that the course's `lcedu.positions.scaling` gives."""
    factor = _check_scaling(name, factor)
    dim, base, native = rope_shape(config)
    if name == "none":
        return rope_inv_freq(dim, base), 1.0
    if name == "pi":
        return course_scaling.linear(dim, base, factor)
    if name == "ntk":
        return course_scaling.ntk_aware(dim, base, factor)
    if name == "dynamic":
        return course_scaling.dynamic_ntk(dim, base, factor, native, seq_len or native)
    return course_scaling.yarn(dim, base, factor, native)


class CourseRotaryEmbedding(nn.Module):
    """Drop-in for a Llama rotary module: (x, position_ids) -> (cos, sin), from the course.

    Dynamic NTK recomputes the frequencies for the longest position in each call, as
    transformers' dynamic RoPE does on a single forward.
    """

    def __init__(self, config: Any, name: str = "none", factor: float = 1.0) -> None:
        super().__init__()
        self.config, self.name, self.factor = config, name, _check_scaling(name, factor)
        inv_freq, self.attention_scaling = course_inv_freq(config, name, factor)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    @torch.no_grad()
    def forward(self, x: torch.Tensor, position_ids: torch.Tensor):
        inv_freq = self.inv_freq
        if self.name == "dynamic":
            seq_len = int(position_ids.max()) + 1
            inv_freq, self.attention_scaling = course_inv_freq(
                self.config, self.name, self.factor, seq_len=seq_len
            )
            self.inv_freq = inv_freq  # what was used last, as transformers' module keeps it
        freqs = position_ids[..., None].float() * inv_freq.to(x.device, torch.float)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos = emb.cos() * self.attention_scaling
        sin = emb.sin() * self.attention_scaling
        return cos.to(x.dtype), sin.to(x.dtype)

    def extra_repr(self) -> str:
        return f"name={self.name!r}, factor={self.factor}"


def transformers_rotary(config: Any, name: str = "none", factor: float = 1.0) -> nn.Module:
    """transformers' own rotary module for the same scaling (the witness)."""
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding

    cfg = copy.deepcopy(config)
    cfg.rope_parameters = rope_parameters(config, name, factor)
    return LlamaRotaryEmbedding(cfg)


def set_rope(model: Any, name: str = "none", factor: float = 1.0, *,
             source: str = "course") -> nn.Module:
    """Replace the model's rotary module with scaling `name` from "course" or "transformers".

    Returns the new module. `set_rope(model)` restores plain RoPE.
    """
    if source not in ("course", "transformers"):
        raise ValueError(f"source must be 'course' or 'transformers', got {source!r}")
    config = model.config
    if source == "course":
        rotary = CourseRotaryEmbedding(config, name, factor)
    else:
        rotary = transformers_rotary(config, name, factor)
    model.model.rotary_emb = rotary
    return rotary
