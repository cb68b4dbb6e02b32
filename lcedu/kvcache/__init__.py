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
    "KVCacheBase": "full",
    "KVCache": "full",
    "check_new_kv": "full",
    "SlidingWindowCache": "sliding",
    "SinkCache": "sinks",
    "sink_toy_qkv": "sinks",
    "PagedKVCache": "paged",
    "OutOfBlocksError": "paged",
    "TinyAttention": "decode",
    "attend_with_cache": "decode",
    "decode_step": "decode",
    "decode_qkv": "decode",
    "sliding_window_causal_mask": "decode",
    "sink_mask": "decode",
    "mask_for_cache": "decode",
    "cache_history": "decode",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
