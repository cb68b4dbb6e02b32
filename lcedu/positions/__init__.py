"""Position schemes: RoPE and its context-extension scalings, and ALiBi.

Scalings are checked against Hugging Face transformers' rope initialisation functions;
ALiBi against the paper's slope formula and SDPA with the bias as ``attn_mask``.
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "rope_inv_freq": "rope",
    "rope_cos_sin": "rope",
    "apply_rope": "rope",
    "RotaryEmbedding": "rope",
    "rotate_half": "rope",
    "alibi_slopes": "alibi",
    "alibi_bias": "alibi",
    "alibi_attention": "alibi",
    "alibi_score_mod": "alibi",
    "alibi_flex_attention": "alibi",
    "alibi_effective_span": "alibi",
    "alibi_bias_bytes": "alibi",
    "ALiBiAttention": "alibi",
    "LessonALiBiAttention": "alibi",
    "lesson_buffer_bytes": "alibi",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
