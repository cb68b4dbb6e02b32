"""Go further 03: which tiles a causal FlashAttention forward visits, skips, or masks.

The witness is `lcedu.attention.flash.visited_tiles(..., causal=True)` (the rule the course's
tiled forward itself uses; Dao, 2023, FlashAttention-2 §3.1 skips the blocks above the
diagonal). Named mistakes: dropping ragged blocks, masked tiles called full or skipped,
bottom-right alignment, one block size for both axes, the transposed grid.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lcedu.attention.flash import visited_tiles
from lcedu.grading.core import Case, Report, expect_raises_each, fail, run_check
from lcedu.grading.further._common import BAD_POSITIVE_INTS, bad_calls, compare_with_mistakes
from lcedu.grading.messages import register, t
from lcedu.grading.sandbox import safe_type_name

__all__ = ["check_causal_tiles"]

register({
    "tiles.what": "the tile grid",
    "tiles.not_tensor": "the tile grid should be a torch.Tensor of int8 codes (0 skipped, 1 full, "
                        "2 masked), but your function returned {kind}",
    "tiles.ragged": "the tile grid has shape {got}, expected {want}: a last, shorter block is "
                    "still a tile (round the number of blocks UP: ceil(n / block))",
    "tiles.transposed": "the tile grid has shape {got}, expected {want}: rows are query blocks, "
                        "columns key blocks",
    "tiles.masked_as_full": "tiles that cross the diagonal are marked 1 (full) but need the mask "
                            "(2): some of their keys come after some of their queries",
    "tiles.partial_skipped": "tiles that cross the diagonal are marked 0 (skipped) but hold keys "
                             "some queries may see: only a tile whose FIRST key comes after its "
                             "LAST query can be skipped",
    "tiles.all_masked": "every visited tile is marked 2 (masked): a tile whose last key is at or "
                        "before its first query needs no mask (1)",
    "tiles.bottom_right": "your grid aligns the diagonal bottom-right (query i at position "
                          "i + n_k − n_q, as decoding with a cache does); this exercise is "
                          "top-left like SDPA's is_causal: query i may see key j when j <= i",
    "tiles.one_block": "your grid uses one block size for both axes: query blocks are block_q "
                       "long, key blocks block_k long",
    "tiles.ragged_end": "the last, shorter block is treated as if it were full length: its "
                        "last query (or key) is min((i + 1)·block, n) − 1",
    "tiles.hint": "tile (i, j) spans queries q0 … q1−1 and keys k0 … k1−1; skip when k0 > q1−1, "
                  "full when k1−1 <= q0, masked otherwise",
    "tiles.hint.ragged": "the last block is shorter when the block does not divide n",
    "tiles.hint.rect": "top-left causal: key j may be seen by query i when j <= i, whatever n_k",
    "tiles.hint.bad": "n_q, n_k, block_q and block_k must be positive whole numbers (ints, not "
                      "bools); raise ValueError with a sentence otherwise",
    "tiles.case.bad": "bad sizes raise ValueError (each argument, several bad values)",
})


def _grid(n_q, n_k, bq, bk, *, offset=0, clamp=True, skip_partial=False, full_partial=False,
          never_full=False) -> torch.Tensor:
    """Tile codes under a (possibly mistaken) rule, for diagnosis only."""
    tq, tk = -(-n_q // bq), -(-n_k // bk)
    g = torch.empty(tq, tk, dtype=torch.int8)
    for i in range(tq):
        q0 = i * bq + offset
        q1 = (min((i + 1) * bq, n_q) if clamp else (i + 1) * bq) + offset
        for j in range(tk):
            k0, k1 = j * bk, min((j + 1) * bk, n_k) if clamp else (j + 1) * bk
            if k0 > q1 - 1:
                g[i, j] = 0
            elif k1 - 1 > q0 or never_full:
                g[i, j] = 0 if skip_partial else (1 if full_partial else 2)
            else:
                g[i, j] = 1
    return g


def _case(n_q: int, n_k: int, bq: int, bk: int) -> Callable:
    def run(f):
        want = visited_tiles(n_q, n_k, bq, bk, causal=True)
        got = f(n_q, n_k, bq, bk)
        if not isinstance(got, torch.Tensor):
            fail("tiles.not_tensor", kind=safe_type_name(got))
        shape, wshape = tuple(got.shape), tuple(want.shape)
        if shape != wshape:
            if shape == (n_q // bq, n_k // bk):
                fail("tiles.ragged", got=shape, want=wshape)
            if shape == wshape[::-1]:
                fail("tiles.transposed", got=shape, want=wshape)
        mistakes = [
            ("tiles.masked_as_full", lambda: _grid(n_q, n_k, bq, bk, full_partial=True)),
            ("tiles.partial_skipped", lambda: _grid(n_q, n_k, bq, bk, skip_partial=True)),
            ("tiles.ragged_end", lambda: _grid(n_q, n_k, bq, bk, clamp=False)),
            ("tiles.all_masked", lambda: _grid(n_q, n_k, bq, bk, never_full=True)),
            ("tiles.bottom_right", lambda: _grid(n_q, n_k, bq, bk, offset=n_k - n_q)),
            ("tiles.one_block", lambda: _grid(n_q, n_k, bq, bq)),
        ]
        compare_with_mistakes(got, want, mistakes, what=t("tiles.what"), exact=True)

    return run


CASES = [
    ("256 × 256, blocks 64 × 64", (256, 256, 64, 64), "tiles.hint"),
    ("300 × 300, blocks 64 × 64 (ragged last block)", (300, 300, 64, 64), "tiles.hint.ragged"),
    ("query blocks 32, key blocks 64, 200 × 200", (200, 200, 32, 64), "tiles.hint"),
    ("100 queries, 260 keys, blocks 32 × 64", (100, 260, 32, 64), "tiles.hint.rect"),
    ("70 queries, 50 keys, blocks 16 × 32 (ragged both ways)", (70, 50, 16, 32),
     "tiles.hint.ragged"),
    ("odd block sizes 33 × 32, 100 × 100", (100, 100, 33, 32), "tiles.hint"),
    ("one tile: 128 × 128, blocks 128 × 128", (128, 128, 128, 128), "tiles.hint"),
    ("a single token", (1, 1, 64, 64), "tiles.hint"),
]


def check_causal_tiles(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade ``causal_tiles(n_q, n_k, block_q, block_k)`` -> int8 (ceil(n_q/bq), ceil(n_k/bk))."""
    cases = [Case(name, _case(*p), dict(zip(("n_q", "n_k", "block_q", "block_k"), p)), t(h))
             for name, p, h in CASES]
    order = ["n_q", "n_k", "block_q", "block_k"]
    calls = bad_calls(dict(zip(order, (256, 256, 64, 64))), order,
                      {k: BAD_POSITIVE_INTS for k in order})
    cases.append(Case(t("tiles.case.bad"), lambda f: expect_raises_each(f, calls),
                      {"bad values": BAD_POSITIVE_INTS}, t("tiles.hint.bad")))
    return run_check("check_causal_tiles", fn, cases)
