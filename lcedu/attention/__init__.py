"""Attention kernels: the dense reference, sparse masks, sliding window, flash, Triton, ring.

Every kernel here is tested against `attention` (dense, materialised) or PyTorch SDPA.
Layout everywhere: (batch, heads, seq, head_dim).
"""

from lcedu.attention.flash import (
    FlashAttentionFunction,
    flash_attention,
    hbm_bytes_flash,
    hbm_bytes_naive,
    online_softmax,
    visited_tiles,
)
from lcedu.attention.flex import (
    block_sparse_mod,
    causal_mod,
    dilated_window_mod,
    flex_available,
    flex_mask,
    flex_sliding_window_attention,
    flex_status,
    global_mod,
    longformer_mod,
    sliding_window_block_mask,
    sliding_window_mod,
)
from lcedu.attention.masks import (
    bigbird_layout,
    bigbird_mask,
    block_sparse_mask,
    causal_mask,
    density,
    dilated_window_mask,
    global_mask,
    longformer_mask,
    receptive_field,
    sliding_window_mask,
)
from lcedu.attention.partials import block_attention, merge_partials
from lcedu.attention.reference import attention, check_qkv
from lcedu.attention.ring import (
    BlockPlan,
    RingStep,
    RingTrace,
    lesson_ring_attention_forward,
    lesson_ring_step,
    plan_block,
    ring_memory_per_rank,
    ring_schedule,
    ring_step,
    simulate_ring_attention,
)
from lcedu.attention.ring_distributed import ring_attention
from lcedu.attention.ring_layouts import LAYOUTS, gather_sequence, shard_sequence, token_positions
from lcedu.attention.sdpa import backend_available, sdpa
from lcedu.attention.sliding_window import (
    LongformerSelfAttention,
    lesson_sliding_window_attention,
    sliding_window_attention,
)
from lcedu.attention.triton_flash import triton_available, triton_flash_attention

__all__ = [
    "BlockPlan",
    "FlashAttentionFunction",
    "LAYOUTS",
    "LongformerSelfAttention",
    "RingStep",
    "RingTrace",
    "attention",
    "backend_available",
    "bigbird_layout",
    "bigbird_mask",
    "block_attention",
    "block_sparse_mask",
    "block_sparse_mod",
    "causal_mask",
    "causal_mod",
    "check_qkv",
    "density",
    "dilated_window_mask",
    "dilated_window_mod",
    "flash_attention",
    "flex_available",
    "flex_mask",
    "flex_sliding_window_attention",
    "flex_status",
    "gather_sequence",
    "global_mask",
    "global_mod",
    "hbm_bytes_flash",
    "hbm_bytes_naive",
    "lesson_ring_attention_forward",
    "lesson_ring_step",
    "lesson_sliding_window_attention",
    "longformer_mask",
    "longformer_mod",
    "merge_partials",
    "online_softmax",
    "plan_block",
    "receptive_field",
    "ring_attention",
    "ring_memory_per_rank",
    "ring_schedule",
    "ring_step",
    "sdpa",
    "shard_sequence",
    "simulate_ring_attention",
    "sliding_window_attention",
    "sliding_window_block_mask",
    "sliding_window_mask",
    "sliding_window_mod",
    "token_positions",
    "triton_available",
    "triton_flash_attention",
    "visited_tiles",
]
