"""Wrong programs for go-further 07 (`zigzag_positions`), each with its diagnosis."""

import torch


def _ok(n, w, r):
    for v in (n, w):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError("bad")
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < w:
        raise ValueError("rank")
    if n % (2 * w):
        raise ValueError("divisible")


def _chunks(n, w, a, b, dtype=torch.int64):
    c = n // (2 * w)
    return torch.cat([torch.arange(a * c, (a + 1) * c), torch.arange(b * c, (b + 1) * c)]).to(
        dtype)


def shifted(n, w, r):
    _ok(n, w, r)
    return _chunks(n, w, r, r + w)


def off_by_one(n, w, r):
    _ok(n, w, r)
    return _chunks(n, w, r, 2 * w - 2 - r) if w > 1 else _chunks(n, w, r, 0)


def past_the_end(n, w, r):
    _ok(n, w, r)
    return _chunks(n, w, r, 2 * w - r)


def contiguous(n, w, r):
    _ok(n, w, r)
    k = n // w
    return torch.arange(r * k, (r + 1) * k)


def striped(n, w, r):
    _ok(n, w, r)
    return torch.arange(r, n, w)


def swapped(n, w, r):
    _ok(n, w, r)
    return _chunks(n, w, 2 * w - 1 - r, r)


def as_float(n, w, r):
    _ok(n, w, r)
    return _chunks(n, w, r, 2 * w - 1 - r, torch.float32)


def python_list(n, w, r):
    _ok(n, w, r)
    return _chunks(n, w, r, 2 * w - 1 - r).tolist()


def only_divisible_by_w(n, w, r):
    for v in (n, w):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError("bad")
    if isinstance(r, bool) or not isinstance(r, int) or not 0 <= r < w or n % w:
        raise ValueError("rank")
    return _chunks(n, w, r, 2 * w - 1 - r)


def negative_rank_allowed(n, w, r):
    _ok(n, w, 0)
    if isinstance(r, bool) or not isinstance(r, int) or r >= w:
        raise ValueError("rank")
    r = r % w  # rank -1 taken as the last rank instead of refused
    return _chunks(n, w, r, 2 * w - 1 - r)


def floods_output(n, w, r):
    _ok(n, w, r)
    print("x" * 1_000_000)
    return _chunks(n, w, r, r + w)


CORPUS = [
    (shifted, "zz.shifted"),
    (off_by_one, "zz.off_by_one"),
    (past_the_end, "zz.out_of_range"),
    (contiguous, "zz.contiguous"),
    (striped, "zz.striped"),
    (swapped, "zz.order"),
    (as_float, "cmp.dtype"),
    (python_list, "cmp.not_tensor"),
    (only_divisible_by_w, "cmp.raise_none"),
    (negative_rank_allowed, "cmp.raise_none"),
    (floods_output, "zz.shifted"),
]
