"""The lesson's practical guide (§6): choosing a method, chunking, memory tricks.

The names are re-exported here (``from lcedu.practice import chunk_document``); they live
in ``lcedu.practice.guide``, ``lcedu.practice.chunking`` and
``lcedu.practice.memory_tricks``.
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "Recommendation": "guide",
    "choose_method": "guide",
    "chunk_spans": "chunking",
    "chunk_document": "chunking",
    "chunk_visibility": "chunking",
    "Block": "memory_tricks",
    "BlockStack": "memory_tricks",
    "training_step": "memory_tricks",
    "saved_activation_bytes": "memory_tricks",
    "autocast_context": "memory_tricks",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
