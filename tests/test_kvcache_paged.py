"""Paged KV cache: gathering blocks equals the contiguous cache; sharing, freeing, running out."""

from __future__ import annotations

import pytest
import torch

from lcedu.kvcache.full import KVCache
from lcedu.kvcache.paged import OutOfBlocksError, PagedKVCache
from lcedu.testing import seed_everything


def _kv(g, b, t, heads=3, d=5):
    return torch.randn(b, heads, t, d, generator=g), torch.randn(b, heads, t, d, generator=g)


@pytest.mark.parametrize("block_size", [1, 3, 4, 16])
def test_gather_equals_contiguous_cache(block_size):
    g = seed_everything(0)
    paged, full = PagedKVCache(block_size, 40), KVCache()
    for t in (1, 5, 2, 7, 1):
        k, v = _kv(g, 2, t)
        paged.update(k, v)
        full.update(k, v)
        pk, pv = paged.keys_values()
        fk, fv = full.keys_values()
        assert torch.equal(pk, fk) and torch.equal(pv, fv)
    assert len(paged) == len(full) == 16
    # Each sequence holds ceil(16 / block_size) blocks; the two sequences share none.
    per_seq = -(-16 // block_size)
    assert paged.num_free_blocks == 40 - 2 * per_seq
    assert set(paged.block_table(0)).isdisjoint(paged.block_table(1))


def test_interleaved_sequences_get_scattered_blocks_and_gather_correctly():
    g = seed_everything(1)
    paged = PagedKVCache(2, 30)
    refs = {0: KVCache(), 1: KVCache(), 2: KVCache()}
    for step in range(7):
        for s in (2, 0, 1) if step % 2 else (0, 1, 2):
            k, v = _kv(g, 1, 1 + (s + step) % 3)
            paged.update(k, v, seq_ids=[s])
            refs[s].update(k, v)
    for s, ref in refs.items():
        pk, pv = paged.keys_values([s])
        assert torch.equal(pk, ref.keys_values()[0]) and torch.equal(pv, ref.keys_values()[1])
    tables = [paged.block_table(s) for s in refs]
    assert any(b - a != 1 for t in tables for a, b in zip(t, t[1:]))  # not contiguous in the pool


def test_fork_shares_prefix_blocks_and_copies_on_write():
    g = seed_everything(2)
    cache = PagedKVCache(4, 12)
    k, v = _kv(g, 1, 6)  # 1 full block + a partial one
    cache.update(k, v, seq_ids=[0])
    child = cache.fork(0)
    assert cache.block_table(child) == cache.block_table(0)
    assert [cache.refcount(b) for b in cache.block_table(0)] == [2, 2]
    used_before = cache.nbytes()
    assert used_before == 2 * cache.block_nbytes()  # shared blocks count once

    ka, va = _kv(g, 1, 3)
    kb, vb = _kv(g, 1, 1)
    cache.update(ka, va, seq_ids=[0])
    cache.update(kb, vb, seq_ids=[child])
    t0, t1 = cache.block_table(0), cache.block_table(child)
    assert t0[0] == t1[0] and cache.refcount(t0[0]) == 2  # the full prefix block stays shared
    assert t0[1] != t1[1]  # the partial block was copied before writing
    k0, v0 = cache.keys_values([0])
    k1, v1 = cache.keys_values([child])
    assert torch.equal(k0, torch.cat([k, ka], dim=2)) and torch.equal(v0, torch.cat([v, va], dim=2))
    assert torch.equal(k1, torch.cat([k, kb], dim=2)) and torch.equal(v1, torch.cat([v, vb], dim=2))

    free_before = cache.num_free_blocks
    cache.free(0)
    assert cache.refcount(t1[0]) == 1  # still used by the child
    assert cache.num_free_blocks == free_before + (len(t0) - 1)
    cache.free(child)
    assert cache.num_free_blocks == 12 and cache.nbytes() == 0


def test_running_out_of_blocks_is_a_clear_error_and_writes_nothing():
    g = seed_everything(3)
    cache = PagedKVCache(2, 3)
    k, v = _kv(g, 1, 5)
    cache.update(k, v)
    before = cache.keys_values()[0].clone()
    k2, v2 = _kv(g, 1, 2)
    with pytest.raises(OutOfBlocksError, match="out of blocks.*free a sequence"):
        cache.update(k2, v2)
    with pytest.raises(ValueError, match="out of blocks"):  # also a ValueError, and
        cache.update(k2, v2)
    with pytest.raises(RuntimeError, match="out of blocks"):  # a RuntimeError
        cache.update(k2, v2)
    assert torch.equal(cache.keys_values()[0], before) and len(cache) == 5
    k3, v3 = _kv(g, 1, 1)
    cache.update(k3, v3)  # one slot was left in the last block
    assert len(cache) == 6
    cache.free(0)
    cache.update(k2, v2, seq_ids=[7])  # freed blocks are reused
    assert cache.sequences == [7]


def test_paged_validation():
    cache = PagedKVCache(2, 4)
    with pytest.raises(ValueError, match="no live sequence"):
        cache.block_table(0)
    with pytest.raises(ValueError, match="empty"):
        cache.keys_values()
    cache.update(torch.zeros(1, 2, 1, 4), torch.zeros(1, 2, 1, 4))
    with pytest.raises(ValueError, match="heads"):
        cache.update(torch.zeros(1, 3, 1, 4), torch.zeros(1, 3, 1, 4))
    with pytest.raises(ValueError, match="different"):
        cache.update(torch.zeros(2, 2, 1, 4), torch.zeros(2, 2, 1, 4), seq_ids=[0, 0])
    cache.update(torch.zeros(1, 2, 2, 4), torch.zeros(1, 2, 2, 4), seq_ids=[1])
    with pytest.raises(ValueError, match="different lengths"):
        cache.keys_values()
    with pytest.raises(ValueError, match="already exists"):
        cache.add_sequence(1)
    with pytest.raises(ValueError):
        cache.refcount(9)
