"""Wrong `alibi_slopes` and `alibi_bias` (exercise 06)."""

import math

import torch

WRONG = []


def wrong(check, key, **opts):
    def deco(fn):
        WRONG.append((check, key, fn, opts))
        return fn

    return deco


SL, BI = "check_alibi_slopes", "check_alibi_bias"


def _check(num_heads):
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError("num_heads must be a whole number >= 1")


def _pow2(n):
    return [2.0 ** (-8.0 * h / n) for h in range(1, n + 1)]


def good_slopes(num_heads):
    _check(num_heads)
    n = 2 ** math.floor(math.log2(num_heads))
    return torch.tensor(_pow2(n) + _pow2(2 * n)[0::2][: num_heads - n], dtype=torch.float32)


@wrong(SL, "alibi.m06")
def slopes_all_equal(num_heads):
    _check(num_heads)
    return torch.full((num_heads,), 2.0 ** -8)


@wrong(SL, "alibi.m11")  # extra heads continue the sequence instead of interleaving
def slopes_continue(num_heads):
    _check(num_heads)
    n = 2 ** math.floor(math.log2(num_heads))
    return torch.tensor([2.0 ** (-8.0 * h / n) for h in range(1, num_heads + 1)])


@wrong(SL, "alibi.m08")  # the power-of-two formula for every head count
def slopes_direct(num_heads):
    _check(num_heads)
    return torch.tensor(_pow2(num_heads))


@wrong(SL, "alibi.m01")
def slopes_list(num_heads):
    return good_slopes(num_heads).tolist()


@wrong(SL, "cmp.dtype")
def slopes_float64(num_heads):
    return good_slopes(num_heads).double()


@wrong(SL, "cmp.raise_wrong")  # alibi_slopes(2.5) raises TypeError, not ValueError
def slopes_type_error(num_heads):
    if num_heads < 1:
        raise ValueError("num_heads must be >= 1")
    n = 2 ** math.floor(math.log2(num_heads))
    extra = _pow2(2 * n)[0::2][: num_heads - n]
    return torch.tensor(_pow2(n) + extra, dtype=torch.float32)


def good_bias(num_heads, q_len, k_len=None, *, causal=True, symmetric=False, sign=-1.0,
              mask=True, check=True):
    if k_len is None:
        k_len = q_len
    if check:
        for v in (num_heads, q_len, k_len):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError("sizes must be whole numbers >= 1")
        if causal and k_len < q_len:
            raise ValueError("causal needs k_len >= q_len")
    i = torch.arange(q_len, dtype=torch.float32) + (k_len - q_len)
    j = torch.arange(k_len, dtype=torch.float32)
    d = i[:, None] - j[None, :]
    if symmetric:
        d = d.abs()
    bias = sign * good_slopes(num_heads)[:, None, None] * d
    if causal and mask:
        bias = bias.masked_fill(j[None, None, :] > i[None, :, None], float("-inf"))
    return bias


@wrong(BI, "alibi.m17")
def bias_wrong_sign(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
    return good_bias(num_heads, q_len, k_len, causal=causal, symmetric=symmetric, sign=1.0)


@wrong(BI, "alibi.m16")
def bias_no_future_mask(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
    return good_bias(num_heads, q_len, k_len, causal=causal, symmetric=symmetric, mask=False)


@wrong(BI, "alibi.m13")  # a precomputed buffer stops at a maximum length (erratum 17)
def bias_precomputed_buffer(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
    k_len = q_len if k_len is None else k_len
    full = good_bias(num_heads, min(q_len, 1024), min(k_len, 1024), causal=causal,
                     symmetric=symmetric)
    return full[:, :q_len, :k_len]


@wrong(BI, "cmp.values")  # always |i - j| (erratum 16): wrong for the signed variant
def bias_always_symmetric(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
    return good_bias(num_heads, q_len, k_len, causal=causal, symmetric=True)


@wrong(BI, "alibi.m15")  # -inf although nothing is causal
def bias_masks_when_not_causal(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
    bias = good_bias(num_heads, q_len, k_len, causal=causal, symmetric=symmetric)
    k = bias.shape[-1]
    future = torch.arange(k)[None, :] > (torch.arange(q_len) + (k - q_len))[:, None]
    return bias.masked_fill(future, float("-inf"))


@wrong(BI, "cmp.dtype")
def bias_float64(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
    return good_bias(num_heads, q_len, k_len, causal=causal, symmetric=symmetric).double()


@wrong(BI, "cmp.raise_none")  # q_len=0 gives an empty tensor instead of an error
def bias_no_validation(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
    if num_heads < 1:
        raise ValueError("num_heads must be >= 1")
    return good_bias(num_heads, q_len, k_len, causal=causal, symmetric=symmetric, check=False)
