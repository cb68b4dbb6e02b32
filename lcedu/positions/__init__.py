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
    "alibi_slopes": "alibi",
    "alibi_bias": "alibi",
    "alibi_attention": "alibi",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
