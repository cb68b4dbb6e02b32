"""Go further 07: zigzag sharding for causal Ring Attention (rank r holds chunks r and 2W−1−r).

Cut the sequence into 2W chunks; pairing an early chunk with a late one gives every rank the
same causal work (Brandon et al., 2023, Striped Attention; Llama 3's context parallelism). The
witness is `lcedu.attention.token_positions(..., layout="zigzag")`. Named mistakes: chunks r
and r+W, the mirror off by one, contiguous or striped layouts, the two chunks in swapped order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lcedu.attention import token_positions
from lcedu.grading.core import Case, Report, expect_raises_each, fail, run_check
from lcedu.grading.further._common import bad_calls, compare_with_mistakes
from lcedu.grading.messages import register, t

__all__ = ["check_zigzag_positions"]

register({
    "zz.what": "the positions",
    "zz.shifted": "rank {rank} got chunks {rank} and {rank} + W: the second chunk mirrors the "
                  "first, chunk 2W − 1 − r, so an early chunk always pairs with a late one",
    "zz.off_by_one": "the second chunk is one chunk off: with 2W chunks numbered 0 … 2W − 1, "
                     "rank r's mirror is 2W − 1 − r",
    "zz.contiguous": "rank {rank} got one contiguous block of seq_len / W tokens: zigzag cuts "
                     "the sequence into 2W chunks of seq_len / (2W)",
    "zz.striped": "rank {rank} got every W-th token (the striped layout); zigzag gives each "
                  "rank two whole chunks",
    "zz.order": "the two chunks come in the wrong order: local order is chunk r first, then "
                "chunk 2W − 1 − r",
    "zz.out_of_range": "some positions are outside 0 … seq_len − 1",
    "zz.hint": "c = seq_len / (2W); chunk j is positions j·c … (j + 1)·c − 1",
    "zz.hint.bad": "world_size a positive integer, rank an integer in 0 … world_size − 1, "
                   "seq_len a positive integer divisible by 2·world_size; raise ValueError "
                   "otherwise",
    "zz.case.bad": "bad seq_len, world_size or rank raises ValueError (several bad values each)",
})


def _chunks(n: int, w: int, a: int, b: int) -> torch.Tensor:
    c = n // (2 * w)
    return torch.cat([torch.arange(a * c, (a + 1) * c), torch.arange(b * c, (b + 1) * c)])


def _case(n: int, w: int, r: int) -> Callable:
    def run(f):
        want = token_positions(n, w, r, "zigzag")
        got = f(n, w, r)
        if isinstance(got, torch.Tensor) and got.numel() and not got.is_floating_point() and (
            int(got.min()) < 0 or int(got.max()) >= n
        ):
            fail("zz.out_of_range")
        mistakes = [
            ("zz.shifted", lambda: _chunks(n, w, r, r + w)),
            ("zz.off_by_one", lambda: _chunks(n, w, r, 2 * w - 2 - r)),
            ("zz.contiguous", lambda: token_positions(n, w, r, "contiguous")),
            ("zz.striped", lambda: token_positions(n, w, r, "striped")),
            ("zz.order", lambda: _chunks(n, w, 2 * w - 1 - r, r)),
        ]
        compare_with_mistakes(got, want, mistakes, what=t("zz.what"), exact=True, rank=r)

    return run


CASES = [(16, 2, 0), (16, 2, 1), (24, 3, 1), (40, 4, 3), (48, 4, 0), (60, 5, 2), (2, 1, 0)]


def check_zigzag_positions(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade ``zigzag_positions(seq_len, world_size, rank)`` -> int64 (seq_len // world_size,)."""
    order = ["seq_len", "world_size", "rank"]
    cases = [Case(f"seq_len={n}, world_size={w}, rank={r}", _case(n, w, r),
                  dict(zip(order, (n, w, r))), t("zz.hint")) for n, w, r in CASES]
    bad = {
        "seq_len": [0, -16, 18, 17, 16.0, True, "16"],
        "world_size": [0, -2, 2.0, True, "2"],
        "rank": [2, 3, -1, 1.0, True, "1", None],
    }
    calls = bad_calls(dict(zip(order, (24, 2, 1))), order, bad)
    calls += [("seq_len=20, world_size=4 (20 is not divisible by 8)", (20, 4, 0), {})]
    cases.append(Case(t("zz.case.bad"), lambda f: expect_raises_each(f, calls), bad,
                      t("zz.hint.bad")))
    return run_check("check_zigzag_positions", fn, cases)
