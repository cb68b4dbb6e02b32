"""Go further 08: which tokens an attention-sink cache (StreamingLLM) keeps after n tokens.

Xiao et al. (2023), "Efficient Streaming Language Models with Attention Sinks": keep the first
`start_size` tokens forever and a rolling window of the `recent_size` latest. The witness is
`lcedu.kvcache.SinkCache`, fed token by token. Named mistakes: a window that overlaps the sinks,
sinks never seen, no sinks, a window one off, cache slots instead of positions, the order.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lcedu.grading.core import Case, Report, expect_raises_each, fail, run_check
from lcedu.grading.further._common import bad_calls, compare_with_mistakes
from lcedu.grading.messages import register, t
from lcedu.kvcache.sinks import SinkCache

__all__ = ["check_sink_positions"]

register({
    "sink.what": "the kept positions",
    "sink.duplicates": "some positions are kept twice: a token among the first start_size is a "
                       "sink, so the rolling window only holds tokens after the sinks",
    "sink.unseen": "some positions have not been seen yet (only {seen} tokens so far): when "
                   "fewer than start_size tokens arrived, all of them are sinks",
    "sink.no_sinks": "only the latest tokens are kept: the first start_size tokens (the sinks) "
                     "stay in the cache forever",
    "sink.window": "the rolling window keeps {got} recent tokens, expected {want}: recent_size "
                   "of them, the current token included",
    "sink.renumbered": "these are the cache's slots 0 … len − 1 (the positions StreamingLLM "
                       "gives RoPE inside the cache); this function returns which ORIGINAL "
                       "positions are kept",
    "sink.order": "the kept positions are out of order: sinks first, then the window, each "
                  "oldest first",
    "sink.hint": "keep 0 … start_size − 1, then the last recent_size of the tokens after them",
    "sink.hint.short": "fewer tokens than the cache holds: keep them all, once each",
    "sink.hint.bad": "seen_tokens and start_size whole numbers ≥ 0, recent_size a whole number "
                     "≥ 1 (ints, not bools); raise ValueError otherwise",
    "sink.case.bad": "bad arguments raise ValueError (several bad values each)",
})


def _witness(n: int, start: int, recent: int) -> torch.Tensor:
    cache = SinkCache(start, recent)
    for _ in range(n):
        cache.update(torch.zeros(1, 1, 1, 1), torch.zeros(1, 1, 1, 1))
    return cache.positions().to(torch.int64) if n else torch.zeros(0, dtype=torch.int64)


def _plain(n: int, start: int, recent: int, *, overlap=False, clamp=True, sinks=True) -> list:
    s = (min(n, start) if clamp else start) if sinks else 0
    lo = max(n - recent, 0) if overlap or not sinks else max(n - recent, s)
    return list(range(s)) + list(range(lo, n))


def _case(n: int, start: int, recent: int) -> Callable:
    def run(f):
        want = _witness(n, start, recent)
        assert want.tolist() == _plain(n, start, recent)
        got = f(n, start, recent)
        if isinstance(got, torch.Tensor) and got.dim() == 1 and not got.is_floating_point():
            vals = got.tolist()
            if len(set(vals)) < len(vals):
                fail("sink.duplicates")
            if vals and max(vals) >= n:
                fail("sink.unseen", seen=n)
            kept_recent = sum(v >= min(n, start) for v in vals)
            want_recent = sum(v >= min(n, start) for v in want.tolist())
            if set(vals) >= set(range(min(n, start))) and kept_recent != want_recent and \
                    sorted(vals)[-1:] == [n - 1] and vals == sorted(vals):
                fail("sink.window", got=kept_recent, want=want_recent)

        def tensor(xs):
            return torch.tensor(xs, dtype=torch.int64)

        mistakes = [
            ("sink.no_sinks", lambda: tensor(_plain(n, start, recent, sinks=False))),
            ("sink.renumbered", lambda: torch.arange(want.numel())),
            ("sink.order", lambda: want.flip(0)),
            ("sink.order", lambda: torch.cat([want[min(n, start):], want[:min(n, start)]])),
        ]
        compare_with_mistakes(got, want, mistakes, what=t("sink.what"), exact=True)

    return run


CASES = [
    (10, 2, 3, "sink.hint"), (100, 4, 16, "sink.hint"), (8, 2, 5, "sink.hint"),
    (7, 2, 5, "sink.hint.short"), (5, 4, 3, "sink.hint.short"), (3, 4, 3, "sink.hint.short"),
    (20, 0, 5, "sink.hint"), (1, 1, 1, "sink.hint.short"), (0, 4, 8, "sink.hint.short"),
]


def check_sink_positions(fn: Callable[..., torch.Tensor]) -> Report:
    """Grade ``sink_positions(seen_tokens, start_size, recent_size)`` -> int64 (kept,)."""
    order = ["seen_tokens", "start_size", "recent_size"]
    cases = [Case(f"{n} tokens seen, start_size={s}, recent_size={r}", _case(n, s, r),
                  dict(zip(order, (n, s, r))), t(h)) for n, s, r, h in CASES]
    bad = {
        "seen_tokens": [-1, 2.5, True, "10", None],
        "start_size": [-1, 2.5, True, "4", None],
        "recent_size": [0, -3, 2.5, True, "8", None],
    }
    calls = bad_calls(dict(zip(order, (10, 2, 3))), order, bad)
    cases.append(Case(t("sink.case.bad"), lambda f: expect_raises_each(f, calls), bad,
                      t("sink.hint.bad")))
    return run_check("check_sink_positions", fn, cases)
