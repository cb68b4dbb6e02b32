"""A tiny decoder-only language model with pluggable position schemes, and its training loop.

The capstone's model (`tiny_lm`); its associative-recall task (`recall`), training
(`recall_train`), evaluation (`recall_eval`), shipped grid (`recall_grid`, `recall_records`);
and the byte-level LM on the Python standard library (`data`, `train`, `evaluate`).
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "TinyLM": "tiny_lm",
    "TinyLMConfig": "tiny_lm",
    "RopeOverride": "tiny_lm",
    "ATTENTION_KERNELS": "tiny_lm",
    "scaled_rope": "tiny_lm",
    "RecallTask": "recall",
    "make_batch": "recall",
    "RecallTrainConfig": "recall_train",
    "train_recall": "recall_train",
    "load_recall": "recall_train",
    "recall_scores": "recall_eval",
    "load_records": "recall_records",
    "score_rows": "recall_records",
    "results_table": "recall_records",
    "rescore": "recall_records",
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
