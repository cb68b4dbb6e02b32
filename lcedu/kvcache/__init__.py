"""KV caches (full, sliding window, attention sinks, paged) and their memory arithmetic.

Every cache is tested by decoding token by token and comparing with recomputing the whole
prefix under the matching mask.
"""

from lcedu.kvcache.decode import (
    TinyAttention,
    attend_with_cache,
    cache_history,
    decode_qkv,
    decode_step,
    mask_for_cache,
    sink_mask,
    sliding_window_causal_mask,
)
from lcedu.kvcache.full import KVCache, KVCacheBase, check_new_kv
from lcedu.kvcache.memory import (
    MODEL_PRESETS,
    ModelShape,
    attention_matrix_bytes,
    format_bytes,
    kv_cache_bytes,
)
from lcedu.kvcache.paged import OutOfBlocksError, PagedKVCache
from lcedu.kvcache.sinks import SinkCache, sink_toy_qkv
from lcedu.kvcache.sliding import SlidingWindowCache

__all__ = [
    "KVCache",
    "KVCacheBase",
    "MODEL_PRESETS",
    "ModelShape",
    "OutOfBlocksError",
    "PagedKVCache",
    "SinkCache",
    "SlidingWindowCache",
    "TinyAttention",
    "attend_with_cache",
    "attention_matrix_bytes",
    "cache_history",
    "check_new_kv",
    "decode_qkv",
    "decode_step",
    "format_bytes",
    "kv_cache_bytes",
    "mask_for_cache",
    "sink_mask",
    "sink_toy_qkv",
    "sliding_window_causal_mask",
]
