"""A tiny decoder-only language model with pluggable position schemes, and its training loop.

The capstone's model (`tiny_lm`), its corpus (the Python standard library's own source,
`data`), training (`train`) and long-context evaluation (`evaluate`).
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "TinyLM": "tiny_lm",
    "TinyLMConfig": "tiny_lm",
    "RopeOverride": "tiny_lm",
    "ATTENTION_KERNELS": "tiny_lm",
    "SCHEMES": "positional",
    "load_corpus": "data",
    "Corpus": "data",
    "TrainConfig": "train",
    "TrainResult": "train",
    "train": "train",
    "load_checkpoint": "train",
    "shipped_checkpoint": "train",
    "subset_loss": "train",
    "ROPE_SCALINGS": "evaluate",
    "perplexity": "evaluate",
    "passkey_example": "evaluate",
    "passkey_accuracy": "evaluate",
    "evaluate_model": "evaluate",
    "rope_override": "evaluate",
    "shipped_metrics": "evaluate",
    "length_table": "evaluate",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
