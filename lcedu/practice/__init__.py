"""The lesson's practical guide (§6): choosing a method, chunking, memory tricks.

The names are re-exported here (``from lcedu.practice import chunk_document``); they live
in ``lcedu.practice.guide``, ``lcedu.practice.chunking`` and
``lcedu.practice.memory_tricks``.
"""

from lcedu.practice.chunking import chunk_document, chunk_spans, chunk_visibility
from lcedu.practice.guide import Recommendation, choose_method
from lcedu.practice.memory_tricks import (
    Block,
    BlockStack,
    autocast_context,
    saved_activation_bytes,
    training_step,
)

__all__ = [
    "Block",
    "BlockStack",
    "Recommendation",
    "autocast_context",
    "choose_method",
    "chunk_document",
    "chunk_spans",
    "chunk_visibility",
    "saved_activation_bytes",
    "training_step",
]
