"""A tiny decoder-only language model with pluggable position schemes, and its training loop.

The capstone's model (`tiny_lm`), its corpus (the Python standard library's own source,
`data`), training (`train`) and long-context evaluation (`evaluate`).
"""

from lcedu.models.data import Corpus, load_corpus
from lcedu.models.evaluate import (
    ROPE_SCALINGS,
    evaluate_model,
    length_table,
    passkey_accuracy,
    passkey_example,
    perplexity,
    rope_override,
    shipped_metrics,
)
from lcedu.models.positional import SCHEMES
from lcedu.models.tiny_lm import ATTENTION_KERNELS, RopeOverride, TinyLM, TinyLMConfig
from lcedu.models.train import (
    TrainConfig,
    TrainResult,
    load_checkpoint,
    shipped_checkpoint,
    subset_loss,
    train,
)

__all__ = [
    "ATTENTION_KERNELS",
    "Corpus",
    "ROPE_SCALINGS",
    "RopeOverride",
    "SCHEMES",
    "TinyLM",
    "TinyLMConfig",
    "TrainConfig",
    "TrainResult",
    "evaluate_model",
    "length_table",
    "load_checkpoint",
    "load_corpus",
    "passkey_accuracy",
    "passkey_example",
    "perplexity",
    "rope_override",
    "shipped_checkpoint",
    "shipped_metrics",
    "subset_loss",
    "train",
]
