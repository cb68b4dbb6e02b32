"""Wrong programs for go-further 08 (`sink_positions`), each with its diagnosis."""

import torch


def _ok(n, s, r):
    for v, least in ((n, 0), (s, 0), (r, 1)):
        if isinstance(v, bool) or not isinstance(v, int) or v < least:
            raise ValueError("bad")


def overlapping_window(n, s, r):
    _ok(n, s, r)
    return torch.cat([torch.arange(min(n, s)), torch.arange(max(n - r, 0), n)])


def sinks_not_clamped(n, s, r):
    _ok(n, s, r)
    return torch.cat([torch.arange(s), torch.arange(min(max(n - r, s), n), n)])


def no_sinks(n, s, r):
    _ok(n, s, r)
    return torch.arange(max(n - r, 0), n)


def window_one_short(n, s, r):
    _ok(n, s, r)
    k = min(n, s)
    return torch.cat([torch.arange(k), torch.arange(max(n - r + 1, k), n)])


def window_one_long(n, s, r):
    _ok(n, s, r)
    k = min(n, s)
    return torch.cat([torch.arange(k), torch.arange(max(n - r - 1, k), n)])


def cache_slots(n, s, r):
    _ok(n, s, r)
    k = min(n, s)
    return torch.arange(k + n - max(n - r, k))


def newest_first(n, s, r):
    _ok(n, s, r)
    k = min(n, s)
    return torch.cat([torch.arange(k), torch.arange(max(n - r, k), n)]).flip(0)


def window_before_sinks(n, s, r):
    _ok(n, s, r)
    k = min(n, s)
    return torch.cat([torch.arange(max(n - r, k), n), torch.arange(k)])


def as_float(n, s, r):
    _ok(n, s, r)
    k = min(n, s)
    return torch.cat([torch.arange(k), torch.arange(max(n - r, k), n)]).float()


def zero_recent_allowed(n, s, r):
    for v in (n, s, r):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError("bad")
    k = min(n, s)
    return torch.cat([torch.arange(k), torch.arange(max(n - r, k), n)])


def unprintable_error(n, s, r):
    class Weird(Exception):
        def __str__(self):
            raise RuntimeError("no")

    raise Weird()


def simulates_the_stream_in_python(n, s, r):
    _ok(n, s, r)
    kept = []
    for pos in range(n):
        kept.append(pos)
        if len(kept) > s + r:
            del kept[s - 1 if s else 0]  # evicts the wrong token: the last sink
    return torch.tensor(kept, dtype=torch.int64)


CORPUS = [
    (overlapping_window, "sink.duplicates"),
    (sinks_not_clamped, "sink.unseen"),
    (no_sinks, "sink.no_sinks"),
    (window_one_short, "sink.window"),
    (window_one_long, "sink.window"),
    (cache_slots, "sink.renumbered"),
    (newest_first, "sink.order"),
    (window_before_sinks, "sink.order"),
    (as_float, "cmp.dtype"),
    (zero_recent_allowed, "cmp.raise_none"),
    (unprintable_error, "engine.raised"),
    (simulates_the_stream_in_python, "cmp.not_exact"),
]
