"""Checks for the sparse-attention exercises (notebook 02): window mask, Longformer mask, and a
chunked banded attention.

Each check compares the learner's function with the library (`lcedu.attention.masks`,
`lcedu.attention.reference`) on fixed inputs and explains what differs: an off-by-one window,
attended padding, one-sided global attention, zero-padded edges, an n × n intermediate, or
one Python step per token (the lesson's sketch, errata 1–5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from lcedu.attention.masks import longformer_mask, sliding_window_mask
from lcedu.attention.reference import attention
from lcedu.grading.core import (
    Case,
    CheckFailed,
    Report,
    compare_tensors,
    expect,
    expect_raises,
    run_check,
)

__all__ = ["check_sliding_window_mask", "check_longformer_mask", "check_banded_attention"]


def _is_bool_square(got: Any, n: int, what: str) -> torch.Tensor:
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(f"{what} should be a torch.Tensor, but your function returned "
                          f"{type(got).__name__}")
    if got.dtype != torch.bool:
        raise CheckFailed(f"{what} should be a boolean tensor (True = may attend), got dtype "
                          f"{got.dtype}; compare with <= or & to get booleans")
    if tuple(got.shape) != (n, n):
        raise CheckFailed(f"{what} has shape {tuple(got.shape)}, expected ({n}, {n})")
    return got


# ----- sliding_window_mask ---------------------------------------------------------------


def _window_case(n: int, window: int, causal: bool) -> Callable[[Callable], None]:
    def run(fn: Callable) -> None:
        got = _is_bool_square(fn(n, window, causal=causal), n, "the mask")
        want = sliding_window_mask(n, window, causal=causal)
        if not torch.equal(got, want):
            counts = got.sum(dim=1).tolist()
            mid = n // 2
            if not causal and n > 2 * window and counts[mid] != 2 * window + 1:
                by_one = abs(counts[mid] - (2 * window + 1)) <= 2
                raise CheckFailed(
                    f"row {mid} allows {counts[mid]} keys, expected 2·window + 1 = "
                    f"{2 * window + 1}" + (": the window is off by one" if by_one else "")
                )
            if causal and bool(got.triu(1).any()):
                raise CheckFailed("with causal=True a query may not see later keys (j > i)")
        compare_tensors(got, want, what="the mask")

    return run


def check_sliding_window_mask(fn: Any) -> Report:
    """Grade ``sliding_window_mask(n, window, *, causal=False)``: |i − j| <= window."""
    hint = "keys j with |i - j| <= window: both ends included, 2·window + 1 keys in the middle"
    cases = [
        Case("n=7, window=2", _window_case(7, 2, False), {"n": 7, "window": 2}, hint),
        Case("n=10, window=3", _window_case(10, 3, False), {"n": 10, "window": 3}, hint),
        Case("n=1, window=1", _window_case(1, 1, False), {"n": 1, "window": 1}, hint),
        Case("window larger than n", _window_case(5, 8, False), {"n": 5, "window": 8},
             "when the window covers the whole sequence, every entry is True"),
        Case("causal, n=9, window=2", _window_case(9, 2, True),
             {"n": 9, "window": 2, "causal": True}, "causal: i - window <= j <= i"),
        Case("window=0 raises ValueError",
             lambda fn: expect_raises(lambda: fn(5, 0), ValueError, what="window=0"),
             {"n": 5, "window": 0}, "check that window is a positive integer and raise "
             "ValueError with a sentence otherwise"),
    ]
    return run_check("check_sliding_window_mask", fn, cases)


# ----- longformer_mask -------------------------------------------------------------------


def _longformer_case(
    n: int, window: int, glob: list[int], pad: list[bool] | None
) -> Callable[[Callable], None]:
    def run(fn: Callable) -> None:
        padding = torch.tensor(pad) if pad is not None else None
        got = _is_bool_square(fn(n, window, list(glob), padding), n, "the mask")
        want = longformer_mask(n, window, glob, padding)
        if torch.equal(got, want):
            return
        real = padding if padding is not None else torch.ones(n, dtype=torch.bool)
        for j in (~real).nonzero().flatten().tolist():
            if bool(got[:, j].any()):
                raise CheckFailed(f"position {j} is padding, but some query attends to it "
                                  f"(column {j} should be all False)")
            if bool(got[j].any()):
                raise CheckFailed(f"position {j} is padding: its row should be all False")
        for g in glob:
            if not torch.equal(got[g], want[g]):
                raise CheckFailed(f"token {g} is global: it should attend to every real token "
                                  f"(row {g})")
            if not torch.equal(got[:, g], want[:, g]):
                raise CheckFailed(f"token {g} is global: every real token should attend to it "
                                  f"(column {g}) — global attention goes both ways")
        compare_tensors(got, want, what="the mask")

    return run


def check_longformer_mask(fn: Any) -> Report:
    """Grade ``longformer_mask(n, window, global_tokens, padding_mask=None)``."""
    pad_tail = [True] * 9 + [False] * 3
    pad_head = [False] * 2 + [True] * 7
    cases = [
        Case("no globals, no padding", _longformer_case(8, 1, [], None),
             {"n": 8, "window": 1, "global_tokens": []},
             "without globals or padding this is the sliding window"),
        Case("one global token at 0", _longformer_case(10, 1, [0], None),
             {"n": 10, "window": 1, "global_tokens": [0]},
             "a global token's row and column are both full"),
        Case("globals at arbitrary positions", _longformer_case(12, 2, [3, 8], None),
             {"n": 12, "window": 2, "global_tokens": [3, 8]},
             "use the positions you are given, not the first few tokens"),
        Case("padding at the end", _longformer_case(12, 2, [0], pad_tail),
             {"n": 12, "window": 2, "global_tokens": [0], "padding_mask": pad_tail},
             "padding (False in padding_mask) is never attended, even by global tokens"),
        Case("padding at the start", _longformer_case(9, 1, [5], pad_head),
             {"n": 9, "window": 1, "global_tokens": [5], "padding_mask": pad_head},
             "a padded position neither attends nor is attended"),
        Case("global position out of range raises ValueError",
             lambda fn: expect_raises(lambda: fn(6, 1, [6], None), ValueError,
                                      what="global_tokens=[6] with n=6"),
             {"n": 6, "window": 1, "global_tokens": [6]},
             "check every position is in 0 … n-1 and raise ValueError otherwise"),
    ]
    return run_check("check_longformer_mask", fn, cases)


# ----- banded attention ------------------------------------------------------------------


def _qkv(shape: tuple[int, ...], seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=gen) for _ in range(3)]


def _attention_case(shape, window: int, causal: bool, seed: int) -> Callable[[Callable], None]:
    def run(fn: Callable) -> None:
        q, k, v = _qkv(shape, seed)
        with torch.no_grad():
            got = fn(q, k, v, window, causal=causal)
        want = attention(q, k, v, mask=sliding_window_mask(shape[2], window, causal=causal))
        if (isinstance(got, torch.Tensor) and got.shape == want.shape
                and not torch.isnan(got).any()):
            n = shape[2]
            row_err = (got.double() - want.double()).abs().amax(dim=(0, 1, 3))
            bad = (row_err > 1e-4).nonzero().flatten().tolist()
            edges = set(range(window)) | set(range(max(0, n - window), n))
            if bad and set(bad) <= edges:
                raise CheckFailed(
                    f"rows {bad[:4]}{'…' if len(bad) > 4 else ''} near the edges are wrong: "
                    "keys outside 0 … n-1 must get no weight (mask them to -inf; a zero key "
                    "still scores 0 and takes softmax weight)"
                )
        compare_tensors(got, want, what="the output")

    return run


def _dispatch_mode():
    try:
        from torch.utils._python_dispatch import TorchDispatchMode
    except ImportError:  # pragma: no cover - private API moved
        return None
    return TorchDispatchMode


def _structure_case(kind: str) -> Callable[[Callable], None]:
    n, w = (2048, 8) if kind == "memory" else (1024, 16)

    def run(fn: Callable) -> None:
        mode_cls = _dispatch_mode()

        class Watch(mode_cls):  # type: ignore[misc, valid-type]
            ops = 0
            biggest = 0

            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                out = func(*args, **(kwargs or {}))
                Watch.ops += 1
                for t in out if isinstance(out, (tuple, list)) else [out]:
                    if isinstance(t, torch.Tensor):
                        Watch.biggest = max(Watch.biggest, t.numel())
                return out

        q, k, v = _qkv((1, 1, n, 8), seed=5)
        with torch.no_grad(), Watch():
            got = fn(q, k, v, w, causal=False)
        expect(isinstance(got, torch.Tensor) and tuple(got.shape) == (1, 1, n, 8),
               f"the output should have shape (1, 1, {n}, 8)")
        if kind == "memory":
            expect(
                Watch.biggest < n * n // 4,
                f"a tensor with {Watch.biggest} elements was built for n={n} (n² = {n * n}): "
                "banded attention should only hold about n·3·window scores",
            )
        else:
            limit = 30 * (-(-n // w)) + 200
            expect(
                Watch.ops <= limit,
                f"{Watch.ops} tensor operations for n={n}, window={w} (limit {limit}): "
                "that is about one Python step per token; work on blocks of queries instead",
            )

    return run


def check_banded_attention(fn: Any) -> Report:
    """Grade ``banded_attention(q, k, v, window, causal=False)`` against dense attention."""
    hint = ("cut the queries into blocks of `window`; block c attends to key blocks c-1, c, "
            "c+1 with a mask for |i - j| <= window and for keys outside the sequence")
    cases = [
        Case("(1, 2, 16, 8), window=4", _attention_case((1, 2, 16, 8), 4, False, 1),
             {"shape": (1, 2, 16, 8), "window": 4}, hint),
        Case("length not a multiple of the window", _attention_case((2, 3, 37, 8), 5, False, 2),
             {"shape": (2, 3, 37, 8), "window": 5},
             "pad the last block, and mask the padded keys"),
        Case("causal", _attention_case((1, 2, 29, 4), 3, True, 3),
             {"shape": (1, 2, 29, 4), "window": 3, "causal": True},
             "causal: keys i - window … i only"),
        Case("window larger than n", _attention_case((1, 1, 6, 4), 10, False, 4),
             {"shape": (1, 1, 6, 4), "window": 10},
             "with a window that covers everything, this is full attention"),
    ]
    if _dispatch_mode() is not None:
        cases += [
            Case("memory: no n × n tensor", _structure_case("memory"),
                 {"shape": (1, 1, 2048, 8), "window": 8},
                 "never build the full (n, n) score matrix or mask"),
            Case("vectorised: no loop over tokens", _structure_case("steps"),
                 {"shape": (1, 1, 1024, 8), "window": 16},
                 "loop over blocks (or none at all), not over every token"),
        ]
    return run_check("check_banded_attention", fn, cases)
