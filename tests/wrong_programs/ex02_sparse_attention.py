"""Wrong sliding-window / Longformer masks and banded attention (exercise 02)."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from lcedu.attention.sliding_window import lesson_sliding_window_attention

WRONG = []


def wrong(check, key, **opts):
    def deco(fn):
        WRONG.append((check, key, fn, opts))
        return fn

    return deco


SW, LF, BA = "check_sliding_window_mask", "check_longformer_mask", "check_banded_attention"


def _check(n, window):
    for v in (n, window):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{v!r} must be a positive integer")


def good_window(n, window, *, causal=False):
    _check(n, window)
    i = torch.arange(n)
    off = i[None, :] - i[:, None]
    return ((off <= 0) & (off >= -window)) if causal else off.abs() <= window


@wrong(SW, "sparse.off_by_one")  # the lesson's 2w keys (erratum 2)
def window_strict(n, window, *, causal=False):
    _check(n, window)
    i = torch.arange(n)
    off = i[None, :] - i[:, None]
    m = (off >= -window) & (off < window)
    return m & (off <= 0) if causal else m


@wrong(SW, "sparse.future")
def window_ignores_causal(n, window, *, causal=False):
    return good_window(n, window)


@wrong(SW, "cmp.not_bool")
def window_as_ints(n, window, *, causal=False):
    return good_window(n, window, causal=causal).int()


@wrong(SW, "cmp.raise_none")  # window=-3 and 2.5 slip through
def window_checks_zero_only(n, window, *, causal=False):
    if window == 0:
        raise ValueError("window must be positive")
    i = torch.arange(n)
    off = i[None, :] - i[:, None]
    return ((off <= 0) & (off >= -window)) if causal else off.abs() <= window


def good_longformer(n, window, global_tokens, padding_mask=None):
    mask = good_window(n, window)
    for g in global_tokens:
        if isinstance(g, bool) or not isinstance(g, int) or not 0 <= g < n:
            raise ValueError(f"{g!r} is not a position")
    if padding_mask is not None and tuple(padding_mask.shape) != (n,):
        raise ValueError("padding_mask must have n entries")
    glob = torch.zeros(n, dtype=torch.bool)
    glob[list(global_tokens)] = True
    mask = mask | glob[:, None] | glob[None, :]
    if padding_mask is not None:
        mask = mask & padding_mask[:, None] & padding_mask[None, :]
    return mask


@wrong(LF, "sparse.pad_column")  # masks ignored (erratum 3)
def longformer_ignores_padding(n, window, global_tokens, padding_mask=None):
    return good_longformer(n, window, global_tokens, None)


@wrong(LF, "sparse.global_col")  # one-sided global attention (erratum 4)
def longformer_one_sided(n, window, global_tokens, padding_mask=None):
    mask = good_window(n, window)
    for g in global_tokens:
        if not 0 <= g < n:
            raise ValueError("out of range")
        mask[g] = True
    if padding_mask is not None:
        mask = mask & padding_mask[:, None] & padding_mask[None, :]
    return mask


@wrong(LF, "sparse.global_row")  # globals hard-coded to the first positions (erratum 4)
def longformer_first_tokens(n, window, global_tokens, padding_mask=None):
    return good_longformer(n, window, list(range(len(global_tokens))), padding_mask)


@wrong(LF, "engine.changed_input")  # overwrites the caller's padding_mask
def longformer_overwrites_padding(n, window, global_tokens, padding_mask=None):
    mask = good_longformer(n, window, global_tokens, padding_mask)
    if padding_mask is not None:
        padding_mask[:] = True
    return mask


@wrong(LF, "cmp.raise_none")  # global index -1 is Python's last position, not an error
def longformer_negative_index(n, window, global_tokens, padding_mask=None):
    for g in global_tokens:
        if g >= n:
            raise ValueError("out of range")
    mask = good_window(n, window)
    glob = torch.zeros(n, dtype=torch.bool)
    glob[[int(g) for g in global_tokens]] = True
    mask = mask | glob[:, None] | glob[None, :]
    if padding_mask is not None:
        mask = mask & padding_mask[:, None] & padding_mask[None, :]
    return mask


def good_banded(q, k, v, window, causal=False):
    B, H, n, D = q.shape
    w = window
    nb = -(-n // w)
    L = nb * w
    right = 0 if causal else w
    span = 2 * w + right
    qb = F.pad(q, (0, 0, 0, L - n)).view(B, H, nb, w, D) / math.sqrt(D)
    ks = F.pad(k, (0, 0, w, L - n + right)).unfold(2, span, w)
    vs = F.pad(v, (0, 0, w, L - n + right)).unfold(2, span, w).transpose(-1, -2)
    s = qb @ ks
    i = torch.arange(L).view(nb, w, 1)
    j = torch.arange(nb).view(nb, 1, 1) * w - w + torch.arange(span).view(1, 1, span)
    keep = ((j - i).abs() <= w) & (j >= 0) & (j < n)
    if causal:
        keep = keep & (j <= i)
    out = torch.softmax(s.masked_fill(~keep, float("-inf")), -1) @ vs
    return out.reshape(B, H, L, -1)[:, :, :n]


@wrong(BA, "sparse.band_off_by_one")  # the lesson's sketch (errata 1, 2, 5)
def banded_lesson_sketch(q, k, v, window, causal=False):
    # the sketch's window_size is the full width 2w (its w = window_size // 2)
    return lesson_sliding_window_attention(q, k, v, 2 * window)


@wrong(BA, "sparse.edges")  # zero-padded keys take softmax weight (erratum 1)
def banded_zero_padded_edges(q, k, v, window, causal=False):
    B, H, n, D = q.shape
    w = window
    nb = -(-n // w)
    L = nb * w
    right = 0 if causal else w
    span = 2 * w + right
    qb = F.pad(q, (0, 0, 0, L - n)).view(B, H, nb, w, D) / math.sqrt(D)
    ks = F.pad(k, (0, 0, w, L - n + right)).unfold(2, span, w)
    vs = F.pad(v, (0, 0, w, L - n + right)).unfold(2, span, w).transpose(-1, -2)
    s = qb @ ks
    i = torch.arange(L).view(nb, w, 1)
    j = torch.arange(nb).view(nb, 1, 1) * w - w + torch.arange(span).view(1, 1, span)
    keep = (j - i).abs() <= w  # forgets the keys outside 0 … n-1
    if causal:
        keep = keep & (j <= i)
    out = torch.softmax(s.masked_fill(~keep, float("-inf")), -1) @ vs
    return out.reshape(B, H, L, -1)[:, :, :n]


@wrong(BA, "engine.changed_input")  # scales q in place
def banded_scales_q_in_place(q, k, v, window, causal=False):
    q /= 1.0 + 1e-3
    return good_banded(q * (1.0 + 1e-3), k, v, window, causal)


@wrong(BA, "cmp.dtype")
def banded_float64(q, k, v, window, causal=False):
    return good_banded(q.double(), k.double(), v.double(), window, causal)


def _dense_rows(q, k, v, window, causal, lo, hi):
    n = q.shape[2]
    i = torch.arange(lo, hi)[:, None]
    j = torch.arange(n)[None, :]
    keep = (i - j).abs() <= window
    if causal:
        keep = keep & (j <= i)
    s = q[:, :, lo:hi] @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return torch.softmax(s.masked_fill(~keep, float("-inf")), -1) @ v


@wrong(BA, "sparse.memory_peak", structure=True)  # plain dense attention
def banded_dense(q, k, v, window, causal=False):
    return _dense_rows(q, k, v, window, causal, 0, q.shape[2])


@wrong(BA, "sparse.memory_total", structure=True)  # dense in chunks of n/64 queries
def banded_dense_in_chunks(q, k, v, window, causal=False):
    n = q.shape[2]
    step = max(1, n // 64)
    return torch.cat([_dense_rows(q, k, v, window, causal, s, min(n, s + step))
                      for s in range(0, n, step)], dim=2)


@wrong(BA, "sparse.memory_total", structure=True)  # dense, in NumPy, in chunks
def banded_numpy(q, k, v, window, causal=False):
    Q, K, V = (x.numpy() for x in (q, k, v))
    n = Q.shape[2]
    out = np.empty_like(Q)
    idx = np.arange(n)
    for s in range(0, n, 64):
        e = min(n, s + 64)
        sc = Q[:, :, s:e] @ K.swapaxes(-1, -2) / np.float32(math.sqrt(Q.shape[-1]))
        keep = np.abs(idx[s:e, None] - idx[None, :]) <= window
        if causal:
            keep &= idx[None, :] <= idx[s:e, None]
        sc = np.where(keep, sc, -np.inf)
        sc = np.exp(sc - sc.max(-1, keepdims=True))
        out[:, :, s:e] = (sc / sc.sum(-1, keepdims=True)) @ V
    return torch.from_numpy(out)


@wrong(BA, "sparse.torch_ops", structure=True)  # one Python step per token (erratum 5)
def banded_token_loop(q, k, v, window, causal=False):
    n = q.shape[2]
    outs = []
    for i in range(n):
        lo, hi = max(0, i - window), i + 1 if causal else min(n, i + window + 1)
        s = q[:, :, i : i + 1] @ k[:, :, lo:hi].transpose(-2, -1) / math.sqrt(q.shape[-1])
        outs.append(torch.softmax(s, -1) @ v[:, :, lo:hi])
    return torch.cat(outs, dim=2)
