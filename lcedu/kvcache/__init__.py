"""KV caches (full, sliding window, attention sinks, paged) and their memory arithmetic.

Every cache is tested by decoding token by token and comparing with recomputing the whole
prefix under the matching mask.
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "kv_cache_bytes": "memory",
    "attention_matrix_bytes": "memory",
    "format_bytes": "memory",
    "MODEL_PRESETS": "memory",
    "ModelShape": "memory",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
