"""Wrong `yarn_inv_freq` and `yarn_attention_factor` (exercise 05), the lesson's sketch first."""

import math

import torch

from lcedu.positions.scaling import lesson_yarn_inv_freq

WRONG = []


def wrong(check, key, **opts):
    def deco(fn):
        WRONG.append((check, key, fn, opts))
        return fn

    return deco


YI, YA = "check_yarn_inv_freq", "check_yarn_attention_factor"


def _check(dim, factor, orig, beta_fast, beta_slow):
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0 or dim % 2:
        raise ValueError("dim must be a positive even integer")
    if not orig >= 1:
        raise ValueError("original_max_position must be >= 1")
    if beta_fast <= beta_slow:
        raise ValueError("beta_fast must be > beta_slow")
    if not factor >= 1:
        raise ValueError("factor must be >= 1")


def yarn(dim, base, factor, orig, beta_fast=32, beta_slow=1, *, pairs=True, clamp=True,
         inverted=False, clamp_range=True, nudge=True, check=True):
    if check:
        _check(dim, factor, orig, beta_fast, beta_slow)

    def cdim(r):
        return dim * math.log(orig / (2 * math.pi * r)) / (2 * math.log(base))

    low, high = math.floor(cdim(beta_fast)), math.ceil(cdim(beta_slow))
    if clamp_range:
        low, high = max(low, 0), min(high, dim - 1)
    if nudge and low == high:
        high += 0.001
    i = torch.arange(dim // 2, dtype=torch.float32) if pairs else torch.arange(0, dim, 2).float()
    ramp = (i - low) / (high - low)
    if clamp:
        ramp = ramp.clamp(0, 1)
    if inverted:
        ramp = 1 - ramp
    theta = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
    return theta * (1 - ramp) + theta / factor * ramp


@wrong(YI, "rope.yarn_sketch")  # the lesson's range and step ramp (errata 10, 11)
def yarn_lesson_sketch(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    _check(dim, factor, original_max_position, beta_fast, beta_slow)
    inv, _ = lesson_yarn_inv_freq(dim, original_max_position,
                                  int(original_max_position * factor), base)
    return inv.float()


@wrong(YI, "rope.yarn_even")
def yarn_even_indices(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    return yarn(dim, base, factor, original_max_position, beta_fast, beta_slow, pairs=False)


@wrong(YI, "rope.yarn_unclamped_ramp")
def yarn_no_ramp_clamp(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    return yarn(dim, base, factor, original_max_position, beta_fast, beta_slow, clamp=False)


@wrong(YI, "rope.yarn_inverted")  # erratum 12
def yarn_inverted(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    return yarn(dim, base, factor, original_max_position, beta_fast, beta_slow, inverted=True)


@wrong(YI, "rope.yarn_unclamped_range")
def yarn_range_unclamped(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    return yarn(dim, base, factor, original_max_position, beta_fast, beta_slow,
                clamp_range=False)


@wrong(YI, "rope.yarn_degenerate")  # low == high: 0/0
def yarn_no_nudge(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    return yarn(dim, base, factor, original_max_position, beta_fast, beta_slow, nudge=False)


@wrong(YI, "rope.yarn_pi")
def yarn_is_pi(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    _check(dim, factor, original_max_position, beta_fast, beta_slow)
    return 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim)) / factor


@wrong(YI, "cmp.raise_none")  # beta_fast == beta_slow accepted
def yarn_equal_betas(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    if beta_fast < beta_slow or factor < 1 or dim % 2 or dim <= 0 or original_max_position < 1:
        raise ValueError("bad arguments")
    return yarn(dim, base, factor, original_max_position, beta_fast, beta_slow, check=False)


@wrong(YI, "cmp.dtype")
def yarn_float64(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    return yarn(dim, base, factor, original_max_position, beta_fast, beta_slow).double()


@wrong(YI, "rope.yarn_tuple")
def yarn_with_temperature(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    inv = yarn(dim, base, factor, original_max_position, beta_fast, beta_slow)
    return inv, 0.1 * math.log(factor) + 1


@wrong(YI, "engine.timeout", hangs=True)  # a retry loop whose bare except eats everything
def yarn_retry_forever(dim, base, factor, original_max_position, beta_fast=32, beta_slow=1):
    while True:
        try:
            raise RuntimeError("try again")
        except:  # noqa: E722
            continue


@wrong(YA, "rope.att_erratum")  # temperature for s <= 1 (erratum 14)
def attention_factor_always(factor):
    return 0.1 * math.log(factor) + 1.0


@wrong(YA, "rope.att_wrong")
def attention_factor_log10(factor):
    return 1.0 if factor <= 1 else 0.1 * math.log10(factor) + 1.0


@wrong(YA, "rope.att_float")
def attention_factor_text(factor):
    return "1.0" if factor <= 1 else str(0.1 * math.log(factor) + 1.0)
