"""Checks for the sparse-attention exercises (notebook 02): window mask, Longformer mask, and a
chunked banded attention.

Each check compares the learner's function with the library (`lcedu.attention.masks`,
`lcedu.attention.reference`, `lcedu.attention.sliding_window`) and explains what differs: an
off-by-one window, attended padding, one-sided global attention, zero-padded edges, inputs
changed in place, or an n × n intermediate (the lesson's sketch, errata 1–5). The banded
kernel's structure is measured in its own process: the memory it touches and the torch
operations it runs, so dense attention in chunks, in NumPy or in lists is caught alike.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from lcedu.attention.masks import longformer_mask, sliding_window_mask
from lcedu.attention.reference import attention
from lcedu.attention.sliding_window import sliding_window_attention
from lcedu.grading.core import Case, Report, compare_tensors, expect_raises_each, fail, run_check
from lcedu.grading.messages import register, t

__all__ = ["check_sliding_window_mask", "check_longformer_mask", "check_banded_attention"]

register({
    "sparse.what_mask": "the mask",
    "sparse.what_out": "the output",
    "sparse.off_by_one": "row {row} allows {got} keys, expected 2·window + 1 = {want}: the window "
                         "is off by one",
    "sparse.row_count": "row {row} allows {got} keys, expected 2·window + 1 = {want}",
    "sparse.future": "with causal=True a query may not see later keys (j > i)",
    "sparse.pad_column": "position {j} is padding, but some query attends to it (column {j} "
                         "should be all False)",
    "sparse.pad_row": "position {j} is padding: its row should be all False",
    "sparse.global_row": "token {g} is global: it should attend to every real token (row {g})",
    "sparse.global_col": "token {g} is global: every real token should attend to it (column {g}) "
                         "— global attention goes both ways",
    "sparse.band_off_by_one": "query i attends to keys i−{w} … i+{w}−1 (2·window keys): the "
                              "window is off by one; |i − j| <= window includes both ends "
                              "(2·window + 1 keys, the lesson's erratum 2)",
    "sparse.edges": "rows {rows} near the edges are wrong: keys outside 0 … n-1 must get no "
                    "weight (mask them to -inf; a zero key still scores 0 and takes softmax "
                    "weight)",
    "sparse.memory_peak": "for n={n} your function held {got} MB at once (the n × n scores are "
                          "{dense} MB; the limit is {limit} MB): banded attention keeps only "
                          "about n·3·window scores, so never build the (n, n) scores or mask, "
                          "not even in pieces of rows",
    "sparse.memory_total": "for n={n} your function wrote {got} MB of fresh memory in all (the "
                           "n × n scores are {dense} MB; the limit is {limit} MB): it computes "
                           "(almost) all n × n scores, in pieces; compute only the keys within "
                           "the window of each block",
    "sparse.torch_numel": "for n={n} your function computed {got} million tensor entries in all "
                          "(n² = {dense} million, the limit {limit} million): it computes scores "
                          "outside the band; work on blocks of queries with only their keys",
    "sparse.torch_ops": "{got} tensor operations for n={n}, window={w} (limit {limit}): that is "
                        "about one Python step per token; work on blocks of queries instead",
    "sparse.hint.window": "keys j with |i - j| <= window: both ends included, 2·window + 1 keys "
                          "in the middle",
    "sparse.hint.full": "when the window covers the whole sequence, every entry is True",
    "sparse.hint.causal": "causal: i - window <= j <= i",
    "sparse.hint.bad_window": "check that n and window are positive integers (not bools, not "
                              "fractions) and raise ValueError with a sentence otherwise",
    "sparse.hint.lf_plain": "without globals or padding this is the sliding window",
    "sparse.hint.lf_global": "a global token's row and column are both full",
    "sparse.hint.lf_positions": "use the positions you are given, not the first few tokens",
    "sparse.hint.lf_pad_end": "padding (False in padding_mask) is never attended, even by global "
                              "tokens",
    "sparse.hint.lf_pad_start": "a padded position neither attends nor is attended",
    "sparse.hint.lf_bad": "check every global position is a whole number in 0 … n-1, the window "
                          "is a positive integer, and padding_mask has n entries; raise "
                          "ValueError otherwise",
    "sparse.hint.band": "cut the queries into blocks of `window`; block c attends to key blocks "
                        "c-1, c, c+1 with a mask for |i - j| <= window and for keys outside the "
                        "sequence",
    "sparse.hint.band_ragged": "pad the last block, and mask the padded keys",
    "sparse.hint.band_causal": "causal: keys i - window … i only",
    "sparse.hint.band_full": "with a window that covers everything, this is full attention",
    "sparse.hint.band_memory": "the rule: memory about n·window, never n × n — the grader "
                               "measures the memory your function touches, however it computes",
    "sparse.hint.band_steps": "loop over blocks (or none at all), not over every token",
    "sparse.case.bad_window": "bad n or window raises ValueError",
    "sparse.case.lf_bad": "bad window, global positions or padding raise ValueError",
    "sparse.case.memory": "memory: no n × n scores, however computed",
    "sparse.case.steps": "vectorised: no loop over tokens",
})


def _is_bool_square(got: Any, n: int) -> torch.Tensor:
    """`got` as an (n, n) boolean tensor, or the case fails saying what it is instead."""
    if not isinstance(got, torch.Tensor) or got.dtype != torch.bool or tuple(got.shape) != (n, n):
        compare_tensors(got, torch.zeros(n, n, dtype=torch.bool), what=t("sparse.what_mask"))
    return got


_BAD_INTS = [0, -3, 2.5, True, "2"]


# ----- sliding_window_mask ---------------------------------------------------------------


def _window_case(n: int, window: int, causal: bool) -> Callable[[Callable], None]:
    def run(fn: Callable) -> None:
        want = sliding_window_mask(n, window, causal=causal)
        got = _is_bool_square(fn(n, window, causal=causal), n)
        if not torch.equal(got, want):
            counts = got.sum(dim=1).tolist()
            mid = n // 2
            if not causal and n > 2 * window and counts[mid] != 2 * window + 1:
                key = "sparse.off_by_one" if abs(counts[mid] - (2 * window + 1)) <= 2 \
                    else "sparse.row_count"
                fail(key, row=mid, got=counts[mid], want=2 * window + 1)
            if causal and bool(got.triu(1).any()):
                fail("sparse.future")
        compare_tensors(got, want, what=t("sparse.what_mask"))

    return run


def check_sliding_window_mask(fn: Any) -> Report:
    """Grade ``sliding_window_mask(n, window, *, causal=False)``: |i − j| <= window."""
    hint = t("sparse.hint.window")
    bad = [(f"window={b!r}", (5, b), {}) for b in _BAD_INTS]
    bad += [(f"n={b!r}", (b, 2), {}) for b in (-1, 2.5, True, "5")]
    cases = [
        Case("n=7, window=2", _window_case(7, 2, False), {"n": 7, "window": 2}, hint),
        Case("n=10, window=3", _window_case(10, 3, False), {"n": 10, "window": 3}, hint),
        Case("n=1, window=1", _window_case(1, 1, False), {"n": 1, "window": 1}, hint),
        Case("window larger than n", _window_case(5, 8, False), {"n": 5, "window": 8},
             t("sparse.hint.full")),
        Case("causal, n=9, window=2", _window_case(9, 2, True),
             {"n": 9, "window": 2, "causal": True}, t("sparse.hint.causal")),
        Case("causal, n=6, window=1", _window_case(6, 1, True),
             {"n": 6, "window": 1, "causal": True}, t("sparse.hint.causal")),
        Case(t("sparse.case.bad_window"), lambda f: expect_raises_each(f, bad),
             {"window": _BAD_INTS, "n": [-1, 2.5, True, "5"]}, t("sparse.hint.bad_window")),
    ]
    return run_check("check_sliding_window_mask", fn, cases)


# ----- longformer_mask -------------------------------------------------------------------


def _longformer_case(
    n: int, window: int, glob: list[int], pad: list[bool] | None
) -> Callable[[Callable], None]:
    def run(fn: Callable) -> None:
        padding = torch.tensor(pad) if pad is not None else None
        want = longformer_mask(n, window, glob, padding)
        got = _is_bool_square(fn(n, window, list(glob), padding), n)
        if torch.equal(got, want):
            return
        real = padding if padding is not None else torch.ones(n, dtype=torch.bool)
        for j in (~real).nonzero().flatten().tolist():
            if bool(got[:, j].any()):
                fail("sparse.pad_column", j=j)
            if bool(got[j].any()):
                fail("sparse.pad_row", j=j)
        for g in glob:
            if not torch.equal(got[g], want[g]):
                fail("sparse.global_row", g=g)
            if not torch.equal(got[:, g], want[:, g]):
                fail("sparse.global_col", g=g)
        compare_tensors(got, want, what=t("sparse.what_mask"))

    return run


def check_longformer_mask(fn: Any) -> Report:
    """Grade ``longformer_mask(n, window, global_tokens, padding_mask=None)``."""
    pad_tail = [True] * 9 + [False] * 3
    pad_head = [False] * 2 + [True] * 7
    pad_mid = [True] * 4 + [False] + [True] * 5
    bad = [(f"global_tokens=[{g!r}] with n=6", (6, 1, [g], None), {}) for g in (6, -1, 1.5, 99)]
    bad += [(f"window={b!r}", (6, b, [0], None), {}) for b in (0, -3, 2.5)]
    bad += [("padding_mask of length 4 with n=6", (6, 1, [0], torch.ones(4, dtype=torch.bool)),
             {})]
    cases = [
        Case("no globals, no padding", _longformer_case(8, 1, [], None),
             {"n": 8, "window": 1, "global_tokens": []}, t("sparse.hint.lf_plain")),
        Case("one global token at 0", _longformer_case(10, 1, [0], None),
             {"n": 10, "window": 1, "global_tokens": [0]}, t("sparse.hint.lf_global")),
        Case("globals at arbitrary positions", _longformer_case(12, 2, [3, 8], None),
             {"n": 12, "window": 2, "global_tokens": [3, 8]}, t("sparse.hint.lf_positions")),
        Case("padding at the end", _longformer_case(12, 2, [0], pad_tail),
             {"n": 12, "window": 2, "global_tokens": [0], "padding_mask": pad_tail},
             t("sparse.hint.lf_pad_end")),
        Case("padding at the start", _longformer_case(9, 1, [5], pad_head),
             {"n": 9, "window": 1, "global_tokens": [5], "padding_mask": pad_head},
             t("sparse.hint.lf_pad_start")),
        Case("a padded token in the middle, a global next to it",
             _longformer_case(10, 2, [3], pad_mid),
             {"n": 10, "window": 2, "global_tokens": [3], "padding_mask": pad_mid},
             t("sparse.hint.lf_pad_start")),
        Case(t("sparse.case.lf_bad"), lambda f: expect_raises_each(f, bad),
             {"global_tokens": [[6], [-1], [1.5], [99]], "window": [0, -3, 2.5]},
             t("sparse.hint.lf_bad")),
    ]
    return run_check("check_longformer_mask", fn, cases)


# ----- banded attention ------------------------------------------------------------------


def _qkv(shape: tuple[int, ...], seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=gen) for _ in range(3)]


def _attention_case(shape, window: int, causal: bool, seed: int) -> Callable[[Callable], None]:
    def run(fn: Callable) -> None:
        q, k, v = _qkv(shape, seed)
        want = attention(q, k, v, mask=sliding_window_mask(shape[2], window, causal=causal))
        got = fn(q, k, v, window, causal=causal)
        if (isinstance(got, torch.Tensor) and got.shape == want.shape
                and got.is_floating_point() and not torch.isnan(got).any()):
            n = shape[2]
            row_err = (got.double() - want.double()).abs().amax(dim=(0, 1, 3))
            bad = (row_err > 1e-4).nonzero().flatten().tolist()
            edges = set(range(window)) | set(range(max(0, n - window), n))
            if bad and set(bad) <= edges:
                fail("sparse.edges", rows=f"{bad[:4]}{'…' if len(bad) > 4 else ''}")
            i = torch.arange(n)
            offset = i[None, :] - i[:, None]  # j - i
            lesson = (offset >= -window) & (offset < window)  # keys i-w … i+w-1 (2w keys)
            if causal:
                lesson &= offset <= 0
            mid = slice(window, max(window, n - window))
            alt = attention(q, k, v, mask=lesson)
            if not causal and n > 2 * window and torch.allclose(got[:, :, mid].double(),
                                                                alt[:, :, mid].double(), atol=1e-4):
                fail("sparse.band_off_by_one", w=window)
        compare_tensors(got, want, what=t("sparse.what_out"))

    return run


# The structure case: n large enough that n × n float32 scores (64 MiB) dwarf the limits.
_BIG_N, _BIG_W, _BIG_D = 4096, 8, 8
_PEAK_LIMIT = 16 * 2**20  # bytes held at once above the start
_TOUCH_LIMIT = 32 * 2**20  # fresh memory written in all
_NUMEL_LIMIT = 16 * _BIG_N * 3 * _BIG_W * 4 + 8 * _BIG_N * _BIG_D  # torch entries in all


def _band_rows(q, k, v, window, rows):
    """The expected output for a few query rows, from their own window of keys only."""
    out = []
    d = q.shape[-1]
    for i in rows:
        lo, hi = max(0, i - window), min(q.shape[2], i + window + 1)
        s = (q[:, :, i : i + 1].double() @ k[:, :, lo:hi].double().transpose(-2, -1)) / math.sqrt(d)
        out.append(torch.softmax(s, -1) @ v[:, :, lo:hi].double())
    return torch.cat(out, dim=2).float()


def _memory_case(fn: Any) -> None:
    n, w, d = _BIG_N, _BIG_W, _BIG_D
    q, k, v = _qkv((1, 1, n, d), seed=5)
    small = tuple(x[:, :, :64].clone() for x in (q, k, v))
    got = fn.call((q, k, v, w), {"causal": False}, measure=True,
                  warmup=((*small, w), {"causal": False}))
    stats = fn.last.stats
    rows = [0, 1, w, n // 2, n - w - 1, n - 1]
    if isinstance(got, torch.Tensor) and tuple(got.shape) == (1, 1, n, d):
        compare_tensors(got[:, :, rows], _band_rows(q, k, v, w, rows), what=t("sparse.what_out"))
    else:
        compare_tensors(got, torch.zeros(1, 1, n, d), what=t("sparse.what_out"))
    dense = n * n * 4 / 2**20
    mb = 2**20
    if stats.get("peak_bytes", 0) > _PEAK_LIMIT:
        fail("sparse.memory_peak", n=n, got=f"{stats['peak_bytes'] / mb:.0f}",
             dense=f"{dense:.0f}", limit=f"{_PEAK_LIMIT / mb:.0f}")
    if stats.get("touched_bytes", 0) > _TOUCH_LIMIT:
        fail("sparse.memory_total", n=n, got=f"{stats['touched_bytes'] / mb:.0f}",
             dense=f"{dense:.0f}", limit=f"{_TOUCH_LIMIT / mb:.0f}")
    if stats.get("torch_total_numel", 0) > _NUMEL_LIMIT:
        fail("sparse.torch_numel", n=n, got=f"{stats['torch_total_numel'] / 1e6:.0f}",
             dense=f"{n * n / 1e6:.0f}", limit=f"{_NUMEL_LIMIT / 1e6:.0f}")


def _steps_case(fn: Any) -> None:
    n, w = 1024, 16
    q, k, v = _qkv((1, 1, n, 8), seed=6)
    small = tuple(x[:, :, :64].clone() for x in (q, k, v))
    got = fn.call((q, k, v, w), {"causal": True}, measure=True,
                  warmup=((*small, w), {"causal": True}))
    want = sliding_window_attention(q, k, v, w, causal=True)
    compare_tensors(got, want, what=t("sparse.what_out"))
    ops = fn.last.stats.get("torch_ops", 0)
    limit = 30 * (-(-n // w)) + 200
    if ops > limit:
        fail("sparse.torch_ops", got=ops, n=n, w=w, limit=limit)


def check_banded_attention(fn: Any) -> Report:
    """Grade ``banded_attention(q, k, v, window, causal=False)`` against dense attention."""
    hint = t("sparse.hint.band")
    cases = [
        Case("(1, 2, 16, 8), window=4", _attention_case((1, 2, 16, 8), 4, False, 1),
             {"shape": (1, 2, 16, 8), "window": 4}, hint),
        Case("length not a multiple of the window", _attention_case((2, 3, 37, 8), 5, False, 2),
             {"shape": (2, 3, 37, 8), "window": 5}, t("sparse.hint.band_ragged")),
        Case("causal", _attention_case((1, 2, 29, 4), 3, True, 3),
             {"shape": (1, 2, 29, 4), "window": 3, "causal": True},
             t("sparse.hint.band_causal")),
        Case("causal, ragged, 3 heads", _attention_case((1, 3, 23, 8), 4, True, 7),
             {"shape": (1, 3, 23, 8), "window": 4, "causal": True},
             t("sparse.hint.band_causal")),
        Case("window larger than n", _attention_case((1, 1, 6, 4), 10, False, 4),
             {"shape": (1, 1, 6, 4), "window": 10}, t("sparse.hint.band_full")),
        Case("window=1", _attention_case((2, 1, 9, 4), 1, False, 8),
             {"shape": (2, 1, 9, 4), "window": 1}, hint),
        Case(t("sparse.case.memory"), _memory_case,
             {"shape": (1, 1, _BIG_N, _BIG_D), "window": _BIG_W}, t("sparse.hint.band_memory")),
        Case(t("sparse.case.steps"), _steps_case,
             {"shape": (1, 1, 1024, 8), "window": 16, "causal": True},
             t("sparse.hint.band_steps")),
    ]
    return run_check("check_banded_attention", fn, cases)

