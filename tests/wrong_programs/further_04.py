"""Wrong programs for go-further 04 (`ntk_aware_inv_freq`), each with its diagnosis."""

import math

import torch


def _ok(dim, base, factor):
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 4 or dim % 2:
        raise ValueError("dim")
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 1:
        raise ValueError("base")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) \
            or not math.isfinite(factor) or factor < 1:
        raise ValueError("factor")


def _rope(dim, base):
    return 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))


def pi_instead(dim, base, factor):
    _ok(dim, base, factor)
    return _rope(dim, base) / factor


def exponent_flipped(dim, base, factor):
    _ok(dim, base, factor)
    return _rope(dim, base * factor ** ((dim - 2) / dim))


def no_exponent(dim, base, factor):
    _ok(dim, base, factor)
    return _rope(dim, base * factor)


def both(dim, base, factor):
    _ok(dim, base, factor)
    return _rope(dim, base * factor ** (dim / (dim - 2))) / factor


def pair_index(dim, base, factor):
    _ok(dim, base, factor)
    b = base * factor ** (dim / (dim - 2))
    return 1.0 / (b ** (torch.arange(dim // 2).float() / dim))


def not_inverted(dim, base, factor):
    _ok(dim, base, factor)
    b = base * factor ** (dim / (dim - 2))
    return b ** (torch.arange(0, dim, 2).float() / dim)


def float64(dim, base, factor):
    _ok(dim, base, factor)
    b = base * factor ** (dim / (dim - 2))
    return 1.0 / (b ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))


def every_dim(dim, base, factor):
    _ok(dim, base, factor)
    b = base * factor ** (dim / (dim - 2))
    return 1.0 / (b ** (torch.arange(dim).float() / dim))


def divides_by_zero_for_small_dim(dim, base, factor):
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0 or dim % 2:
        raise ValueError("dim")
    _ok(4, base, factor)
    return _rope(dim, base * factor ** (dim / (dim - 2)))  # dim=2: ZeroDivisionError


def no_factor_check(dim, base, factor):
    _ok(dim, base, 1.0)
    return _rope(dim, base * factor ** (dim / (dim - 2)))


def numpy_list(dim, base, factor):
    _ok(dim, base, factor)
    return _rope(dim, base * factor ** (dim / (dim - 2))).tolist()


def changes_nothing(dim, base, factor):
    _ok(dim, base, factor)
    return _rope(dim, base)


CORPUS = [
    (pi_instead, "ntk.pi"),
    (exponent_flipped, "ntk.exponent_flipped"),
    (no_exponent, "ntk.no_exponent"),
    (both, "ntk.both"),
    (pair_index, "ntk.pairs"),
    (not_inverted, "ntk.not_inverted"),
    (float64, "cmp.dtype"),
    (every_dim, "cmp.shape"),
    (divides_by_zero_for_small_dim, "cmp.raise_wrong"),
    (no_factor_check, "cmp.raise_none"),
    (numpy_list, "cmp.not_tensor"),
    (changes_nothing, "cmp.values"),
]
