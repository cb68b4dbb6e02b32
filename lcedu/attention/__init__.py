"""Attention kernels: the dense reference, sparse masks, sliding window, flash, Triton, ring.

Every kernel here is tested against `attention` (dense, materialised) or PyTorch SDPA.
Layout everywhere: (batch, heads, seq, head_dim).
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "attention": "reference",
    "check_qkv": "reference",
    "causal_mask": "masks",
    "sliding_window_mask": "masks",
    "dilated_window_mask": "masks",
    "global_mask": "masks",
    "longformer_mask": "masks",
    "bigbird_mask": "masks",
    "block_sparse_mask": "masks",
    "density": "masks",
    "receptive_field": "masks",
    "bigbird_layout": "masks",
    "flex_available": "flex",
    "flex_status": "flex",
    "causal_mod": "flex",
    "sliding_window_mod": "flex",
    "dilated_window_mod": "flex",
    "global_mod": "flex",
    "longformer_mod": "flex",
    "block_sparse_mod": "flex",
    "flex_mask": "flex",
    "sliding_window_block_mask": "flex",
    "flex_sliding_window_attention": "flex",
    "sliding_window_attention": "sliding_window",
    "LongformerSelfAttention": "sliding_window",
    "lesson_sliding_window_attention": "sliding_window",
    "merge_partials": "flash",
    "flash_attention": "flash",
    "visited_tiles": "flash",
    "hbm_bytes_naive": "flash",
    "hbm_bytes_flash": "flash",
    "online_softmax": "flash",
    "FlashAttentionFunction": "flash",
    "sdpa": "sdpa",
    "backend_available": "sdpa",
    "triton_available": "triton_flash",
    "triton_flash_attention": "triton_flash",
    "shard_sequence": "ring",
    "gather_sequence": "ring",
    "simulate_ring_attention": "ring",
    "ring_attention": "ring",
    "token_positions": "ring",
    "block_attention": "ring",
    "plan_block": "ring",
    "BlockPlan": "ring",
    "ring_step": "ring",
    "RingStep": "ring",
    "RingTrace": "ring",
    "ring_schedule": "ring",
    "ring_memory_per_rank": "ring",
    "lesson_ring_attention_forward": "ring",
    "lesson_ring_step": "ring",
    "LAYOUTS": "ring",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
