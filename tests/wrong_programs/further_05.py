"""Wrong programs for go-further 05 (`llama3_inv_freq`), each with its diagnosis."""

import math

import torch


def _ok(dim, base, factor, L, low, high):
    for name, v in (("base", base), ("factor", factor), ("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            raise ValueError(name)
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2 or dim % 2:
        raise ValueError("dim")
    if base <= 1 or factor < 1 or not 0 < low < high:
        raise ValueError("range")
    if isinstance(L, bool) or not isinstance(L, int) or L < 1:
        raise ValueError("L")


def _llama(dim, base, factor, L, low, high, *, swap=False, blend=True, reverse=False,
           two_pi=True, dtype=torch.float32):
    inv = 1.0 / (base ** (torch.arange(0, dim, 2, dtype=dtype) / dim))
    lam = (2 * math.pi if two_pi else 1.0) / inv
    lo, hi = L / low, L / high
    if swap:
        lo, hi = hi, lo
    smooth = ((L / lam - low) / (high - low)).clamp(0, 1)
    if reverse:
        smooth = 1 - smooth
    mid = (1 - smooth) * inv / factor + smooth * inv if blend else inv / factor
    return torch.where(lam < hi, inv, torch.where(lam > lo, inv / factor, mid))


def _make(**how):
    def llama3_inv_freq(dim, base, factor, original_max_position, *, low_freq_factor=1.0,
                        high_freq_factor=4.0):
        _ok(dim, base, factor, original_max_position, low_freq_factor, high_freq_factor)
        return _llama(dim, base, factor, original_max_position, low_freq_factor,
                      high_freq_factor, **how)

    return llama3_inv_freq


def pi_everywhere(dim, base, factor, original_max_position, *, low_freq_factor=1.0,
                  high_freq_factor=4.0):
    _ok(dim, base, factor, original_max_position, low_freq_factor, high_freq_factor)
    return 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)) / factor


def unchanged(dim, base, factor, original_max_position, *, low_freq_factor=1.0,
              high_freq_factor=4.0):
    _ok(dim, base, factor, original_max_position, low_freq_factor, high_freq_factor)
    return 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))


def wrong_defaults(dim, base, factor, original_max_position, *, low_freq_factor=1.0,
                   high_freq_factor=8.0):
    _ok(dim, base, factor, original_max_position, low_freq_factor, high_freq_factor)
    return _llama(dim, base, factor, original_max_position, low_freq_factor, high_freq_factor)


def no_order_check(dim, base, factor, original_max_position, *, low_freq_factor=1.0,
                   high_freq_factor=4.0):
    _ok(dim, base, factor, original_max_position, 1.0, 4.0)
    if low_freq_factor <= 0:
        raise ValueError("low")
    return _llama(dim, base, factor, original_max_position, low_freq_factor, high_freq_factor)


def retries_forever(dim, base, factor, original_max_position, *, low_freq_factor=1.0,
                    high_freq_factor=4.0):
    _ok(dim, base, factor, original_max_position, low_freq_factor, high_freq_factor)
    while True:  # a retry loop whose bare except swallows everything
        try:
            if factor == 1.0:
                raise RuntimeError("retry")
            return _llama(dim, base, factor, original_max_position, low_freq_factor,
                          high_freq_factor)
        except:  # noqa: E722
            continue


CORPUS = [
    (_make(swap=True), "l3.swapped"),
    (_make(blend=False), "l3.no_blend"),
    (_make(reverse=True), "l3.blend_reversed"),
    (_make(two_pi=False), "l3.two_pi"),
    (_make(dtype=torch.float64), "cmp.dtype"),
    (pi_everywhere, "l3.pi"),
    (unchanged, "l3.unchanged"),
    (wrong_defaults, "l3.default"),
    (no_order_check, "cmp.raise_none"),
    (retries_forever, "engine.timeout"),
]
