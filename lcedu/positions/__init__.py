"""Position schemes: RoPE and its context-extension scalings, and ALiBi.

Scalings are checked against Hugging Face transformers' rope initialisation functions;
ALiBi against the paper's slope formula and SDPA with the bias as ``attn_mask``.
"""

from lcedu.positions.alibi import (
    ALiBiAttention,
    LessonALiBiAttention,
    alibi_attention,
    alibi_bias,
    alibi_bias_bytes,
    alibi_effective_span,
    alibi_flex_attention,
    alibi_score_mod,
    alibi_slopes,
    lesson_buffer_bytes,
)
from lcedu.positions.rope import apply_rope, rope_cos_sin, rope_inv_freq, rotate_half
from lcedu.positions.rotary import RotaryEmbedding
from lcedu.positions.scaling import SCALINGS, rope_frequencies

__all__ = [
    "ALiBiAttention",
    "LessonALiBiAttention",
    "RotaryEmbedding",
    "SCALINGS",
    "alibi_attention",
    "alibi_bias",
    "alibi_bias_bytes",
    "alibi_effective_span",
    "alibi_flex_attention",
    "alibi_score_mod",
    "alibi_slopes",
    "apply_rope",
    "lesson_buffer_bytes",
    "rope_cos_sin",
    "rope_frequencies",
    "rope_inv_freq",
    "rotate_half",
]
