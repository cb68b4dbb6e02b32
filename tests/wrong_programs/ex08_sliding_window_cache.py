"""Wrong sliding-window cache updates (exercise 08)."""

import time

import torch

from lcedu.kvcache.sliding import SlidingWindowCache

WRONG = []


def wrong(check, key, **opts):
    def deco(fn):
        WRONG.append((check, key, fn, opts))
        return fn

    return deco


SW = "check_sliding_window_update"


def update(cache, k, v, *, check=True, slots=None, advance=True, shift=0, modulo=True):
    if check:
        cache.check_new(k, v)
    if cache.k_buf is None:
        if slots is None:
            cache.allocate(k)
        else:
            b, h, _, d = k.shape
            cache.k_buf = torch.zeros(b, h, slots, d, dtype=k.dtype)
            cache.v_buf = torch.zeros(b, h, slots, d, dtype=v.dtype)
    size = cache.k_buf.shape[2]
    for t in range(k.shape[2]):
        p = cache.seen_tokens + t + shift
        slot = p % size if modulo else p
        cache.k_buf[:, :, slot] = k[:, :, t]
        cache.v_buf[:, :, slot] = v[:, :, t]
    if advance:
        cache.seen_tokens += k.shape[2]


@wrong(SW, "kvcache.m05")  # W + 1 slots: the window is off by one
def cache_window_plus_one(cache, k, v):
    update(cache, k, v, slots=cache.window + 1)


@wrong(SW, "kvcache.m01")
def cache_forgets_seen_tokens(cache, k, v):
    update(cache, k, v, advance=False)


@wrong(SW, "engine.raised")  # no modulo: IndexError once the window is full
def cache_no_modulo(cache, k, v):
    update(cache, k, v, modulo=False)


@wrong(SW, "kvcache.bad_accepted")  # a cache that never calls its own shape check
def cache_no_check(cache, k, v):
    if isinstance(k, torch.Tensor) and isinstance(v, torch.Tensor) and k.dim() == 4 \
            and k.shape == v.shape:
        update(cache, k, v, check=False)


@wrong(SW, "kvcache.m07")  # slot (p + 1) % W: positions land in the wrong slots
def cache_shifted_slots(cache, k, v):
    update(cache, k, v, shift=1)


@wrong(SW, "kvcache.m10")
def cache_returns_itself(cache, k, v):
    update(cache, k, v)
    return cache


@wrong(SW, "kvcache.m09")  # scales the caller's k in place
def cache_changes_k(cache, k, v):
    update(cache, k, v)
    k.mul_(2.0)


@wrong(SW, "kvcache.m06")  # float32 buffers whatever k's dtype
def cache_float32_buffers(cache, k, v):
    if cache.k_buf is None:
        cache.check_new(k, v)
        b, h, _, d = k.shape
        cache.k_buf = torch.zeros(b, h, cache.window, d)
        cache.v_buf = torch.zeros(b, h, cache.window, d)
    update(cache, k, v, check=False)


@wrong(SW, "kvcache.m07")  # a chunk longer than the window keeps its first W tokens
def cache_long_chunk_keeps_first(cache, k, v):
    cache.check_new(k, v)
    if cache.k_buf is None:
        cache.allocate(k)
    n = k.shape[2]
    for t in range(n):
        p = cache.seen_tokens + t
        if t >= cache.window:
            continue
        cache.k_buf[:, :, p % cache.window] = k[:, :, t]
        cache.v_buf[:, :, p % cache.window] = v[:, :, t]
    cache.seen_tokens += n


@wrong(SW, "engine.timeout", hangs=True)  # a loop that never advances
def cache_never_advances(cache, k, v):
    t = 0
    while t < k.shape[2]:
        cache.seen_tokens += 0


@wrong(SW, "engine.raised_in_course_called")  # the course's allocate() given the wrong thing
def cache_allocates_from_a_list(cache, k, v):
    cache.check_new(k, v)
    cache.allocate(k.tolist())


class WrongSubclass(SlidingWindowCache):
    """A subclass (the other way to hand in the exercise) that forgets to count tokens."""

    def update(self, k, v):
        update(self, k, v, advance=False)


WRONG.append((SW, "kvcache.m01", WrongSubclass, {}))
_ = time
