"""KV caches: decoding token by token equals full recomputation under the matching mask.

The masks here are written out independently of lcedu.kvcache.decode's helpers.
"""

from __future__ import annotations

import pytest
import torch

from lcedu.attention.reference import attention
from lcedu.kvcache.decode import (
    TinyAttention,
    cache_history,
    causal_mask,
    decode,
    decode_qkv,
    decode_step,
    mask_for_cache,
    sink_mask,
    sliding_window_causal_mask,
)
from lcedu.kvcache.full import KVCache
from lcedu.kvcache.paged import PagedKVCache
from lcedu.kvcache.sinks import SinkCache, sink_toy_qkv
from lcedu.kvcache.sliding import SlidingWindowCache
from lcedu.testing import assert_close, seed_everything


def _mask(n: int, allowed) -> torch.Tensor:
    return torch.tensor([[allowed(i, j) for j in range(n)] for i in range(n)])


def _setup(seed: int, *, batch=2, tokens=13, d_model=15, heads=3, dtype=torch.float64):
    g = seed_everything(seed)
    layer = TinyAttention(d_model, heads, dtype=dtype, generator=g)
    x = torch.randn(batch, tokens, d_model, generator=g, dtype=dtype)
    return layer, x


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize(
    "make, allowed",
    [
        (KVCache, lambda i, j: j <= i),
        (lambda: SlidingWindowCache(4), lambda i, j: i - 4 < j <= i),
        (lambda: SlidingWindowCache(1), lambda i, j: j == i),
        (lambda: SlidingWindowCache(50), lambda i, j: j <= i),
        (lambda: SinkCache(2, 3), lambda i, j: j <= i and (j < 2 or j > i - 3)),
        (lambda: SinkCache(0, 5), lambda i, j: i - 5 < j <= i),
        (lambda: SinkCache(1, 1), lambda i, j: j <= i and (j < 1 or j == i)),
        (lambda: PagedKVCache(3, 32), lambda i, j: j <= i),
        (lambda: PagedKVCache(1, 32), lambda i, j: j <= i),
    ],
)
def test_decoding_equals_recomputation_with_matching_mask(make, allowed, dtype):
    layer, x = _setup(1, dtype=dtype)
    n = x.shape[1]
    cache = make()
    got = decode(layer, x, cache)
    expected = layer(x, _mask(n, allowed))
    assert_close(got, expected, dtype=dtype)
    # Without the mask (plain causal), a lossy cache must differ once it has evicted a key.
    if (
        isinstance(cache, (SlidingWindowCache, SinkCache))
        and len(cache) < n
        and dtype == torch.float64
    ):
        full = layer(x, _mask(n, lambda i, j: j <= i))
        assert not torch.allclose(got, full)


def test_sliding_window_convention_is_w_keys_including_current():
    w = 4
    cache = SlidingWindowCache(w)
    z = torch.zeros(1, 1, 1, 2)
    for i in range(10):
        cache.update(z + i, z + i)
        held = cache.positions().tolist()
        assert held == list(range(max(0, i - w + 1), i + 1))  # W keys, not W+1
        k, v = cache.keys_values()
        assert k[0, 0, :, 0].tolist() == [float(p) for p in held]
    assert len(cache) == w


def test_sliding_window_slot_is_position_mod_window():
    cache = SlidingWindowCache(3)
    z = torch.zeros(1, 1, 1, 1)
    for i in range(7):
        cache.update(z + i, z + i)
    assert cache.slot_positions() == [6, 4, 5]
    assert cache.k_buf[0, 0, :, 0].tolist() == [6.0, 4.0, 5.0]


@pytest.mark.parametrize(
    "make",
    [KVCache, lambda: SlidingWindowCache(5), lambda: SinkCache(2, 4), lambda: PagedKVCache(4, 16)],
)
def test_chunked_updates_equal_token_by_token(make):
    g = seed_everything(3)
    k = torch.randn(2, 3, 19, 4, generator=g)
    v = torch.randn(2, 3, 19, 4, generator=g)
    a, b = make(), make()
    for t in range(19):
        a.update(k[:, :, t : t + 1], v[:, :, t : t + 1])
    for lo, hi in [(0, 1), (1, 8), (8, 9), (9, 19)]:  # chunks longer than the window too
        b.update(k[:, :, lo:hi], v[:, :, lo:hi])
    ka, va = a.keys_values()
    kb, vb = b.keys_values()
    assert torch.equal(ka, kb) and torch.equal(va, vb)
    assert torch.equal(a.positions(), b.positions())
    pos = a.positions()
    assert torch.equal(ka, k[:, :, pos]) and torch.equal(va, v[:, :, pos])


def test_sink_cache_holds_first_and_recent():
    cache = SinkCache(3, 2)
    z = torch.zeros(1, 2, 1, 4)
    for i in range(9):
        cache.update(z, z)
        expected = [p for p in range(i + 1) if p < 3 or p > i - 2]
        assert cache.positions().tolist() == expected
        assert len(cache) == len(expected)


def test_cache_memory_grows_as_documented():
    z = torch.zeros(1, 2, 1, 8)  # 2 heads * 8 dims * 4 bytes * (k and v) = 128 bytes/token
    full, sliding, sinks, paged = (
        KVCache(),
        SlidingWindowCache(6),
        SinkCache(2, 4),
        PagedKVCache(4, 8),
    )
    for i in range(1, 21):
        for c in (full, sliding, sinks, paged):
            c.update(z, z)
        assert full.nbytes() == 128 * i
        assert sliding.nbytes() == 128 * 6  # the rolling buffer is allocated whole
        # sinks grow to 2 tokens; the recent buffer appears (whole) with token 3
        assert sinks.nbytes() == 128 * (min(i, 2) + (4 if i > 2 else 0))
        assert paged.nbytes() == 128 * 4 * (-(-i // 4))  # whole blocks


def test_history_and_masks_agree_with_formulas():
    n = 9
    assert torch.equal(causal_mask(n), _mask(n, lambda i, j: j <= i))
    assert torch.equal(sliding_window_causal_mask(n, 3), _mask(n, lambda i, j: i - 3 < j <= i))
    assert torch.equal(sink_mask(n, 2, 3), _mask(n, lambda i, j: j <= i and (j < 2 or j > i - 3)))
    for make in (KVCache, lambda: SlidingWindowCache(3), lambda: SinkCache(2, 3)):
        assert torch.equal(cache_history(make(), n), mask_for_cache(make(), n))


def test_sink_toy_shows_the_sink_effect():
    g = seed_everything(0)
    q, k, v = sink_toy_qkv(40, generator=g)
    _, w = attention(q, k, v, causal=True, return_weights=True)
    assert float(w[0, 0, 5:, 0].min()) > 0.5  # most attention parks on token 0
    window = 8
    outs = {
        "sliding": decode_qkv(q, k, v, SlidingWindowCache(window)),
        "sinks": decode_qkv(q, k, v, SinkCache(1, window - 1)),
    }
    # decode_qkv is witnessed by attention under the matching mask, too.
    n = 40
    assert_close(
        outs["sinks"],
        attention(q, k, v, mask=_mask(n, lambda i, j: j <= i and (j < 1 or j > i - window + 1))),
    )
    norms = {name: o[0, 0].norm(dim=-1) for name, o in outs.items()}
    # Before eviction both agree; once token 0 leaves the window the sliding cache's outputs
    # jump (the attention that went to the sink is spread over real tokens).
    assert torch.equal(norms["sliding"][:window], norms["sinks"][:window])
    after = slice(window + 2, 40)
    assert norms["sliding"][after].sum() > 2 * norms["sinks"][after].sum()


@pytest.mark.parametrize(
    "call",
    [
        lambda: SlidingWindowCache(0),
        lambda: SlidingWindowCache(2.5),
        lambda: SinkCache(-1, 4),
        lambda: SinkCache(2, 0),
        lambda: PagedKVCache(0, 4),
        lambda: PagedKVCache(4, True),
        lambda: KVCache().update(torch.zeros(1, 2, 3), torch.zeros(1, 2, 3)),
        lambda: KVCache().update(torch.zeros(1, 2, 3, 4), torch.zeros(1, 2, 3, 5)),
        lambda: KVCache().update(torch.zeros(1, 2, 0, 4), torch.zeros(1, 2, 0, 4)),
        lambda: KVCache().update(
            torch.zeros(1, 1, 1, 4, dtype=torch.long), torch.zeros(1, 1, 1, 4)
        ),
        lambda: KVCache().keys_values(),
        lambda: SlidingWindowCache(3).keys_values(),
        lambda: sliding_window_causal_mask(4, 0),
        lambda: TinyAttention(10, 3),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_mismatched_update_and_decode_errors():
    c = KVCache()
    c.update(torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4))
    with pytest.raises(ValueError, match="head_dim"):
        c.update(torch.zeros(1, 2, 1, 5), torch.zeros(1, 2, 1, 5))
    with pytest.raises(ValueError, match="float"):
        c.update(
            torch.zeros(1, 2, 1, 4, dtype=torch.float64),
            torch.zeros(1, 2, 1, 4, dtype=torch.float64),
        )
    layer, x = _setup(0)
    with pytest.raises(ValueError, match="one new token"):
        decode_step(layer, x[:, :2], KVCache())
    with pytest.raises(ValueError, match="KV caches"):
        decode_step(layer, x[:, :1], object())


def test_bytes_used_is_nbytes_for_every_cache():
    z = torch.zeros(1, 2, 1, 8)
    for c in (KVCache(), SlidingWindowCache(3), SinkCache(1, 2), PagedKVCache(2, 4)):
        assert c.bytes_used() == c.nbytes() == 0
        for _ in range(5):
            c.update(z, z)
        assert c.bytes_used() == c.nbytes() > 0


def test_decode_step_takes_any_object_with_the_cache_interface():
    class ListCache:  # duck-typed: not a KVCacheBase
        def __init__(self):
            self.k, self.v = [], []

        def update(self, k, v):
            self.k.append(k)
            self.v.append(v)

        def keys_values(self):
            return torch.cat(self.k, dim=2), torch.cat(self.v, dim=2)

    layer, x = _setup(4, tokens=6)
    cache = ListCache()
    got = torch.cat([decode_step(layer, x[:, t : t + 1], cache) for t in range(6)], dim=1)
    assert_close(got, decode(layer, x, KVCache()))
    with pytest.raises(ValueError, match="update\\(k, v\\) and keys_values"):
        decode_step(layer, x[:, :1], object())
