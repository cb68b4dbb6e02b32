"""What the loaded model is: its shape, parameter count, and KV-cache size two ways.

The course's calculator (`lcedu.kvcache.memory.kv_cache_bytes`, 2·layers·kv_heads·head_dim·
tokens·bytes) is checked against the key/value tensors transformers' own cache really holds
after a forward, so §4's memory arithmetic is seen on a real grouped-query model.
"""

from __future__ import annotations

from typing import Any

import torch

from lcedu.kvcache.memory import kv_cache_bytes

__all__ = ["model_facts", "allocated_cache_bytes", "predicted_cache_bytes"]


def model_facts(model: Any) -> dict[str, Any]:
    """The numbers a model card would quote, read off the loaded config and weights."""
    cfg = model.config
    head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
    return {
        "architecture": type(model).__name__,
        "layers": cfg.num_hidden_layers,
        "hidden": cfg.hidden_size,
        "query_heads": cfg.num_attention_heads,
        "kv_heads": cfg.num_key_value_heads,
        "head_dim": head_dim,
        "vocab": cfg.vocab_size,
        "rope_theta": float(cfg.rope_parameters["rope_theta"]),
        "native_context": cfg.max_position_embeddings,
        "tied_embeddings": bool(getattr(cfg, "tie_word_embeddings", False)),
        "parameters": sum(p.numel() for p in model.parameters()),
        "dtype": str(next(model.parameters()).dtype).replace("torch.", ""),
    }


def predicted_cache_bytes(model: Any, tokens: int) -> int:
    """The course's calculator for this model at `tokens` tokens, batch 1, its own dtype."""
    f = model_facts(model)
    elem = torch.empty((), dtype=next(model.parameters()).dtype).element_size()
    return kv_cache_bytes(f["layers"], f["kv_heads"], f["head_dim"], tokens, bytes_per_element=elem)


@torch.no_grad()
def allocated_cache_bytes(model: Any, ids: torch.Tensor) -> int:
    """Bytes of the key and value tensors in transformers' cache after one forward of `ids`."""
    out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
    cache = out["cache"] if "cache" in out else out["past_key_values"]
    total = 0
    for layer in cache.layers:
        for t in (layer.keys, layer.values):
            total += t.numel() * t.element_size()
    return total
