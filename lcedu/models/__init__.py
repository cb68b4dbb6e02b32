"""A tiny decoder-only language model with pluggable position schemes, and its training loop.

The capstone's model (`tiny_lm`); its associative-recall task (`recall`), training
(`recall_train`), evaluation (`recall_eval`), shipped grid (`recall_grid`, `recall_records`);
and the byte-level LM on the Python standard library (`data`, `train`, `evaluate`).
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
from lcedu.models.recall import RecallTask, make_batch
from lcedu.models.recall_eval import recall_scores
from lcedu.models.recall_records import load_records, rescore, results_table, score_rows
from lcedu.models.recall_train import RecallTrainConfig, load_recall, train_recall
from lcedu.models.tiny_lm import ATTENTION_KERNELS, RopeOverride, TinyLM, TinyLMConfig, scaled_rope
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
    "RecallTask",
    "RecallTrainConfig",
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
    "load_recall",
    "load_records",
    "make_batch",
    "passkey_accuracy",
    "passkey_example",
    "perplexity",
    "recall_scores",
    "rescore",
    "results_table",
    "rope_override",
    "scaled_rope",
    "score_rows",
    "shipped_checkpoint",
    "shipped_metrics",
    "subset_loss",
    "train",
    "train_recall",
]
