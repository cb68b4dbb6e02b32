"""Checks for the KV-cache exercise: the body of `SlidingWindowCache.update`.

The learner writes ``sliding_window_update(cache, k, v)`` (``cache`` plays ``self``) or a
subclass of `lcedu.kvcache.sliding.SlidingWindowCache` overriding ``update``. The library's
`SlidingWindowCache` and the mask ``i - W < j <= i`` are the truth (W keys, the current
token included); an off-by-one window and a buffer that forgets positions are caught.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lcedu.grading.core import Case, CheckFailed, Report, compare_tensors, fail, run_check
from lcedu.grading.messages import register
from lcedu.kvcache.decode import TinyAttention, decode, sliding_window_causal_mask
from lcedu.kvcache.sliding import SlidingWindowCache

register({
    'kvcache.m01': (
        'after {n} tokens cache.seen_tokens is {f1!r}; it must count every token written so '
        "far (the next token's position)"
    ),
    'kvcache.m02': 'cache.k_buf / cache.v_buf are still None after an update; allocate them',
    'kvcache.m03': 'cache.k_buf must be a (batch, heads, slots, head_dim) tensor',
    'kvcache.m04': 'cache.k_buf and cache.v_buf must have the same shape',
    'kvcache.m05': (
        'after {n} tokens with window={w} your cache holds {f2} keys; a window of {w} holds '
        'exactly {f3} (the current token included), and your buffers have {slots} slots (off '
        'by one?)'
    ),
    'kvcache.m06': 'the keys became {f0}; keep the dtype of k ({f1})',
    'kvcache.m07': (
        'after {n} tokens the cache should hold positions {lo}..{f2} in their slots (position '
        'p in slot p % {w}), but {f4}; the buffer lost track of positions'
    ),
    'kvcache.m08': (
        "the cache's keys_values() failed on your buffers ({f0}); allocate them with "
        'cache.allocate(k)'
    ),
    'kvcache.m09': (
        "your update changed the k or v it was given in place; copy them into the cache's "
        'buffers instead'
    ),
    'kvcache.m10': 'update should change the cache in place and return None',
})


register({
    "kvcache.bad_raised": "{label} should raise ValueError, but your update raised {raised}; "
                          "call cache.check_new(k, v) first",
    "kvcache.bad_accepted": "{label} should raise ValueError, but your update accepted it; "
                            "call cache.check_new(k, v) first",
})

__all__ = ["check_sliding_window_update"]

_HINT_SLOT = (
    "token number p of the whole stream (cache.seen_tokens before this call, plus its index "
    "in k) goes to slot p % cache.window; increase cache.seen_tokens for every token"
)
_HINT_SIZE = "allocate exactly cache.window slots (cache.allocate(k) does that)"


register({  # case names and hints, so that a translation can replace them
    'kvcache.text.01': (
        'token number p of the whole stream (cache.seen_tokens before this call, plus its '
        'index in k) goes to slot p % cache.window; increase cache.seen_tokens for every token'
    ),
    'kvcache.text.02': 'allocate exactly cache.window slots (cache.allocate(k) does that)',
    'kvcache.text.03': 'decoding with your cache (window=4)',
    'kvcache.text.04': 'one token at a time, window=4, 11 tokens',
    'kvcache.text.05': 'before the window is full, window=8, 5 tokens',
    'kvcache.text.06': 'exactly W keys after the window fills, window=3',
    'kvcache.text.07': 'chunks of several tokens across the wrap, window=5',
    'kvcache.text.08': 'a chunk longer than the window, window=3',
    'kvcache.text.09': (
        'only the last `window` tokens of a long chunk survive; earlier ones are overwritten'
    ),
    'kvcache.text.10': 'window=1 keeps only the current token',
    'kvcache.text.11': 'batch 2, 3 heads, float64',
    'kvcache.text.12': 'bfloat16 stays bfloat16',
    'kvcache.text.13': 'allocate the buffers like k (cache.allocate)',
    'kvcache.text.14': 'decoding equals sliding-window attention (i-4 < j <= i)',
    'kvcache.text.15': 'bad k or v raises ValueError',
    'kvcache.text.16': 'call cache.check_new(k, v) before writing anything',
})


def _cache_class(fn: Any) -> type[SlidingWindowCache]:
    if isinstance(fn, type) and issubclass(fn, SlidingWindowCache):
        return fn

    class LearnerCache(SlidingWindowCache):
        def update(self, k: torch.Tensor, v: torch.Tensor) -> None:
            return fn(self, k, v)

    return LearnerCache


def _stream(seed: int, batch: int, heads: int, n: int, dim: int, dtype: torch.dtype):
    g = torch.Generator().manual_seed(seed)
    k = torch.randn(batch, heads, n, dim, generator=g).to(dtype)
    v = torch.randn(batch, heads, n, dim, generator=g).to(dtype)
    return k, v


def _check_state(cache: SlidingWindowCache, k: torch.Tensor, v: torch.Tensor, n: int) -> None:
    """After n tokens of the stream (k, v), the cache must hold exactly the last W."""
    w = cache.window
    if cache.seen_tokens != n:
        fail("kvcache.m01", n=n, f1=cache.seen_tokens)
    if cache.k_buf is None or cache.v_buf is None:
        fail("kvcache.m02")
    if not isinstance(cache.k_buf, torch.Tensor) or cache.k_buf.dim() != 4:
        fail("kvcache.m03")
    slots = cache.k_buf.shape[2]
    if tuple(cache.v_buf.shape) != tuple(cache.k_buf.shape):
        fail("kvcache.m04")
    if min(n, slots) != min(n, w):
        fail("kvcache.m05", n=n, w=w, f2=min(n, slots), f3=min(n, w), slots=slots)
    lo = max(0, n - w)
    got_k, got_v = cache.keys_values()
    if isinstance(got_k, torch.Tensor) and got_k.dtype != k.dtype:
        fail("kvcache.m06", f0=got_k.dtype, f1=k.dtype)
    try:
        compare_tensors(got_k, k[:, :, lo:n], what=f"keys after {n} tokens", exact=True)
        compare_tensors(got_v, v[:, :, lo:n], what=f"values after {n} tokens", exact=True)
    except CheckFailed as e:
        fail("kvcache.m07", n=n, lo=lo, f2=n - 1, w=w, f4=e.message)


def _feed_driver(fn, window, k, v, chunks):
    """In the child: feed the chunks one update at a time; snapshot the state after each."""
    cache = _cache_class(fn)(window)
    snaps, done = [], 0
    for c in chunks:
        returned = cache.update(k[:, :, done : done + c], v[:, :, done : done + c])
        done += c
        try:
            kv = cache.keys_values() if isinstance(cache.k_buf, torch.Tensor) else None
            kv_error = ""
        except Exception as e:  # noqa: BLE001 - the state is wrong; the parent says how
            kv, kv_error = None, f"{type(e).__name__}: {e}"
        snaps.append({"seen_tokens": cache.seen_tokens, "k_buf": cache.k_buf,
                      "v_buf": cache.v_buf, "returned_none": returned is None, "kv": kv,
                      "kv_error": kv_error})
    return snaps, k, v


class _State:
    """A snapshot that `_check_state` reads like a cache."""

    def __init__(self, window: int, d: dict):
        self.window = window
        self.__dict__.update(d)

    def keys_values(self):
        if self.kv is None:
            fail("kvcache.m08", f0=self.kv_error)
        return self.kv


def _feed_case(
    window: int, chunks: list[int], *, batch=1, heads=1, dim=4, dtype=torch.float32, seed=0
) -> Callable[[Any], None]:
    def run(fn: Any) -> None:
        n = sum(chunks)
        k, v = _stream(seed, batch, heads, n, dim, dtype)
        snaps, k_after, v_after = fn.run(_feed_driver, window, k, v, chunks)
        if not (torch.equal(k_after, k) and torch.equal(v_after, v)):
            fail("kvcache.m09")
        done = 0
        for c, snap in zip(chunks, snaps):
            done += c
            if not snap["returned_none"]:
                fail("kvcache.m10")
            _check_state(_State(window, snap), k, v, done)

    return run


def _decode_driver(fn):
    g = torch.Generator().manual_seed(7)
    layer = TinyAttention(15, 3, dtype=torch.float64, generator=g)
    x = torch.randn(2, 12, 15, generator=g, dtype=torch.float64)
    return decode(layer, x, _cache_class(fn)(4)), layer(x, sliding_window_causal_mask(12, 4))


def _decode_case(fn: Any) -> None:
    got, expected = fn.run(_decode_driver)
    compare_tensors(got, expected, what="decoding with your cache (window=4)")


def _bad_driver(fn):
    """In the child: an update given bad k/v must raise ValueError (the stub's error passes)."""
    found = []
    for label, k, v in (
        ("k and v of different shapes", torch.zeros(1, 1, 2, 4), torch.zeros(1, 1, 3, 4)),
        ("a 3-d k (no heads axis)", torch.zeros(1, 2, 4), torch.zeros(1, 2, 4)),
        ("a list instead of a tensor", [[0.0]], [[0.0]]),
    ):
        cache = _cache_class(fn)(3)
        try:
            cache.update(k, v)
        except ValueError:
            found.append((label, "ValueError"))
        except NotImplementedError:
            raise
        except BaseException as e:  # noqa: BLE001
            found.append((label, type(e).__name__))
        else:
            found.append((label, ""))
    return found


def _bad_case(fn: Any) -> None:
    for label, raised in fn.run(_bad_driver):
        if raised != "ValueError":
            if raised:
                fail("kvcache.bad_raised", label=label, raised=raised)
            fail("kvcache.bad_accepted", label=label)


def check_sliding_window_update(fn: Any) -> Report:
    """Grade a sliding-window `update`: W keys incl. the current token, slot = position % W."""
    feeds = [  # (name, window, chunk lengths, the chunks as the report shows them, hint)
        ("one token at a time, window=4, 11 tokens", 4, [1] * 11, "1 x 11", _HINT_SLOT),
        ("before the window is full, window=8, 5 tokens", 8, [1] * 5, "1 x 5", _HINT_SIZE),
        ("exactly W keys after the window fills, window=3", 3, [1] * 4, "1 x 4", _HINT_SIZE),
        ("chunks of several tokens across the wrap, window=5", 5, [3, 4, 2, 6], [3, 4, 2, 6],
         _HINT_SLOT),
        ("a chunk longer than the window, window=3", 3, [8, 1], [8, 1],
         "only the last `window` tokens of a long chunk survive; earlier ones are overwritten"),
        ("window=1 keeps only the current token", 1, [1, 1, 2], [1, 1, 2], _HINT_SLOT),
    ]
    cases = [
        Case(name, _feed_case(window, chunks), {"window": window, "chunks": shown}, hint)
        for name, window, chunks, shown, hint in feeds
    ]
    cases += [
        Case(
            "batch 2, 3 heads, float64",
            _feed_case(4, [2, 5, 1], batch=2, heads=3, dtype=torch.float64, seed=3),
            {"window": 4, "batch": 2, "heads": 3, "dtype": torch.float64},
            _HINT_SLOT,
        ),
        Case(
            "bfloat16 stays bfloat16",
            _feed_case(3, [2, 2], dtype=torch.bfloat16, seed=4),
            {"window": 3, "dtype": torch.bfloat16},
            "allocate the buffers like k (cache.allocate)",
        ),
        Case(
            "decoding equals sliding-window attention (i-4 < j <= i)",
            _decode_case,
            {"window": 4, "tokens": 12},
            _HINT_SLOT,
        ),
        Case(
            "bad k or v raises ValueError",
            _bad_case,
            {"calls": ["k, v of different shapes", "3-d k", "lists"]},
            "call cache.check_new(k, v) before writing anything",
        ),
    ]
    return run_check("check_sliding_window_update", fn, cases)
