"""How many bytes a KV cache and a materialised attention matrix take.

A decoder keeps, for every layer, one key and one value vector per KV head per token:
2 · layers · kv_heads · head_dim · tokens · batch · bytes. Grouped-query attention
(Ainslie et al., 2023) shrinks kv_heads below the query heads; the score matrix of naive
attention is heads · n² per layer, the quadratic wall of §1.
"""

from __future__ import annotations

from dataclasses import dataclass

from lcedu import _checks as chk
from lcedu._checks import format_bytes

__all__ = [
    "ModelShape",
    "MODEL_PRESETS",
    "kv_cache_bytes",
    "attention_matrix_bytes",
    "format_bytes",
]


def kv_cache_bytes(
    num_layers: int,
    num_kv_heads: int,
    head_dim: int,
    seq_len: int,
    *,
    batch_size: int = 1,
    bytes_per_element: int = 2,
) -> int:
    """Bytes of a KV cache: keys and values, every layer, every KV head, every token.

    >>> kv_cache_bytes(32, 32, 128, 4096)  # a 7B model with MHA, fp16, one sequence
    2147483648
    """
    fn = "kv_cache_bytes"
    values = {
        "num_layers": num_layers,
        "num_kv_heads": num_kv_heads,
        "head_dim": head_dim,
        "seq_len": seq_len,
        "batch_size": batch_size,
        "bytes_per_element": bytes_per_element,
    }
    for name, value in values.items():
        chk.positive_int(name, value, fn=fn)
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


def attention_matrix_bytes(
    seq_len: int,
    num_heads: int = 1,
    *,
    batch_size: int = 1,
    bytes_per_element: int = 2,
) -> int:
    """Bytes of one layer's materialised score matrix: batch · heads · seq_len².

    >>> attention_matrix_bytes(4096, 32)
    1073741824
    """
    fn = "attention_matrix_bytes"
    for name, value in {
        "seq_len": seq_len,
        "num_heads": num_heads,
        "batch_size": batch_size,
        "bytes_per_element": bytes_per_element,
    }.items():
        chk.positive_int(name, value, fn=fn)
    return batch_size * num_heads * seq_len * seq_len * bytes_per_element


@dataclass(frozen=True)
class ModelShape:
    """The attention shape of a decoder, as published in its configuration."""

    name: str
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int

    def __post_init__(self) -> None:
        fn = "ModelShape"
        for name in ("num_layers", "num_heads", "num_kv_heads", "head_dim"):
            chk.positive_int(name, getattr(self, name), fn=fn)
        if self.num_kv_heads > self.num_heads:
            raise ValueError(
                f"{fn}: num_kv_heads ({self.num_kv_heads}) cannot exceed num_heads "
                f"({self.num_heads}): each KV head serves one or more query heads"
            )
        if self.num_heads % self.num_kv_heads:
            raise ValueError(
                f"{fn}: num_heads ({self.num_heads}) must be a multiple of num_kv_heads "
                f"({self.num_kv_heads}) so every KV head serves the same number of query heads"
            )

    def kv_cache_bytes(
        self, seq_len: int, *, batch_size: int = 1, bytes_per_element: int = 2
    ) -> int:
        return kv_cache_bytes(
            self.num_layers,
            self.num_kv_heads,
            self.head_dim,
            seq_len,
            batch_size=batch_size,
            bytes_per_element=bytes_per_element,
        )


# Shapes from the models' published configuration files (config.json).
MODEL_PRESETS: dict[str, ModelShape] = {
    s.name: s
    for s in (
        ModelShape("Llama 2 7B (MHA)", 32, 32, 32, 128),
        ModelShape("Llama 3 8B (GQA, 8 KV heads)", 32, 32, 8, 128),
        ModelShape("Mistral 7B (GQA, 8 KV heads)", 32, 32, 8, 128),
        ModelShape("Llama 2 70B (GQA, 8 KV heads)", 80, 64, 8, 128),
    )
}
