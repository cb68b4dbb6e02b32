"""KV-cache and score-matrix arithmetic against independent element counts."""

from __future__ import annotations

import pytest
import torch

from lcedu.kvcache.memory import (
    MODEL_PRESETS,
    attention_matrix_bytes,
    format_bytes,
    kv_cache_bytes,
)


@pytest.mark.parametrize(
    "L,H,D,n,b,dtype", [(2, 3, 8, 5, 2, torch.float32), (1, 1, 4, 7, 1, torch.bfloat16)]
)
def test_kv_cache_bytes_equals_real_tensors(L, H, D, n, b, dtype):
    caches = [
        (torch.zeros(b, H, n, D, dtype=dtype), torch.zeros(b, H, n, D, dtype=dtype))
        for _ in range(L)
    ]
    real = sum(k.nbytes + v.nbytes for k, v in caches)
    itemsize = torch.empty((), dtype=dtype).element_size()
    assert kv_cache_bytes(L, H, D, n, batch_size=b, bytes_per_element=itemsize) == real


def test_attention_matrix_bytes_equals_a_real_score_matrix():
    q = torch.zeros(2, 3, 11, 4)
    scores = q @ q.transpose(-2, -1)
    assert attention_matrix_bytes(11, 3, batch_size=2, bytes_per_element=4) == scores.nbytes


def test_gqa_preset_is_four_times_smaller():
    mha = MODEL_PRESETS["Llama 2 7B (MHA)"].kv_cache_bytes(8192)
    gqa = MODEL_PRESETS["Llama 3 8B (GQA, 8 KV heads)"].kv_cache_bytes(8192)
    assert mha == 4 * gqa == 4 * 2**30


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "8"])
def test_bad_sizes_raise_value_error(bad):
    with pytest.raises(ValueError, match="num_layers"):
        kv_cache_bytes(bad, 8, 128, 4096)
    with pytest.raises(ValueError, match="seq_len"):
        attention_matrix_bytes(bad)


def test_format_bytes():
    assert format_bytes(512) == "512 B"
    assert format_bytes(1536) == "1.5 KiB"
    assert format_bytes(2**30) == "1.0 GiB"
    with pytest.raises(ValueError):
        format_bytes(-1)
