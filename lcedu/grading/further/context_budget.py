"""Go further 01: the longest context whose KV cache fits a memory budget beside the weights.

The witness is `lcedu.kvcache.memory.kv_cache_bytes`: the answer L is the largest length with
weights + kv_cache_bytes(L) <= memory, so L tokens fit and L + 1 do not. Named mistakes: the
factor 2 for K and V, the weights, the layers, the batch, bytes vs elements, rounding up.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lcedu.grading.core import Case, Report, expect_raises_each, fail, fmt_value, run_check
from lcedu.grading.further._common import BAD_POSITIVE_INTS, as_int, bad_calls
from lcedu.grading.messages import register, t
from lcedu.kvcache.memory import kv_cache_bytes

__all__ = ["check_longest_context"]

register({
    "ctx.kv_once": "{what}: got {got} tokens, expected {want}: the cache holds keys AND values, "
                   "so each token costs twice what you counted (the factor 2)",
    "ctx.weights": "{what}: got {got} tokens, expected {want}: the weights take their share of "
                   "the memory first; only memory_bytes − weight_bytes is left for the cache",
    "ctx.layers": "{what}: got {got} tokens, expected {want}: every layer keeps its own cache "
                  "(a token costs num_layers times more)",
    "ctx.batch": "{what}: got {got} tokens, expected {want}: every sequence of the batch has its "
                 "own cache (a token costs batch_size times more)",
    "ctx.elements": "{what}: got {got} tokens, expected {want}: you counted elements, not bytes; "
                    "multiply by bytes_per_element",
    "ctx.negative": "{what}: got {got}, expected 0: when the weights alone do not fit, no token "
                    "fits either; the answer is 0, never negative",
    "ctx.too_long": "{what}: got {got} tokens, expected {want}: {got} tokens need {need} bytes "
                    "with the weights, more than the {have} bytes there are (round down, not up)",
    "ctx.too_short": "{what}: got {got} tokens, expected {want}: {want} tokens still fit "
                     "({need} of {have} bytes); the answer is the LONGEST length that fits",
    "ctx.default": "with the default batch_size and bytes_per_element your function returns {got} "
                   "tokens, expected {want}, although it is right when they are passed: keep the "
                   "signature's defaults (batch_size=1, bytes_per_element=2)",
    "ctx.hint.count": "one token costs kv_cache_bytes(..., seq_len=1, ...) bytes; divide what "
                      "the weights leave by it, rounding down",
    "ctx.hint.zero": "the weights alone may not fit",
    "ctx.hint.edge": "L tokens fit when weights + cache(L) <= memory: equality fits",
    "ctx.hint.defaults": "keep the defaults from the signature",
    "ctx.hint.bad": "memory_bytes and the shape must be whole numbers ≥ 1, weight_bytes a whole "
                    "number ≥ 0 (ints, not bools); raise ValueError with a sentence otherwise",
    "ctx.case.defaults": "defaults: batch_size=1, bytes_per_element=2",
    "ctx.case.bad": "bad input raises ValueError (every argument, several bad values)",
})

ORDER = ["memory_bytes", "weight_bytes", "num_layers", "num_kv_heads", "head_dim",
         "batch_size", "bytes_per_element"]
KEYWORD = ["batch_size", "bytes_per_element"]


def _reference(mem: int, w: int, L: int, H: int, D: int, b: int, nb: int) -> int:
    per_token = kv_cache_bytes(L, H, D, 1, batch_size=b, bytes_per_element=nb)
    n = max(mem - w, 0) // per_token
    # the witness, both ways: n tokens fit and n + 1 do not
    assert n == 0 or w + kv_cache_bytes(L, H, D, n, batch_size=b, bytes_per_element=nb) <= mem
    assert w + kv_cache_bytes(L, H, D, n + 1, batch_size=b, bytes_per_element=nb) > mem
    return n


def _mistakes(mem, w, L, H, D, b, nb) -> list[tuple[str, int]]:
    per = 2 * L * H * D * b * nb
    free = max(mem - w, 0)
    return [
        ("ctx.kv_once", free // (per // 2)),
        ("ctx.weights", mem // per),
        ("ctx.layers", free // (per // L)),
        ("ctx.batch", free // (per // b)),
        ("ctx.elements", free // (per // nb)),
    ]


# Distinct primes: on the probe every named mistake gives a different answer (13 is right).
_PROBE_PER = 2 * 3 * 5 * 7 * 11 * 4
_PROBE = (23 * _PROBE_PER + 17, 10 * _PROBE_PER, 3, 5, 7, 11, 4)


def _probe_driver(fn):
    p = _PROBE
    return fn(*p[:5], batch_size=p[5], bytes_per_element=p[6])


def _judge(f, got: Any, want: int, p: tuple, what: str) -> None:
    got = as_int(got, what)
    if got == want:
        return
    mem, w, L, H, D, b, nb = p
    if got < 0:
        fail("ctx.negative", what=what, got=fmt_value(got))
    try:
        probe = f.run(_probe_driver)
    except Exception:  # noqa: BLE001 - no diagnosis from the probe; the plain one follows
        probe = None
    if isinstance(probe, int) and not isinstance(probe, bool) and probe != _reference(*_PROBE):
        for key, wrong in _mistakes(*_PROBE):
            if probe == wrong:
                fail(key, what=what, got=fmt_value(got), want=fmt_value(want))
    if got > want:
        need = w + kv_cache_bytes(L, H, D, got, batch_size=b, bytes_per_element=nb)
        fail("ctx.too_long", what=what, got=fmt_value(got), want=fmt_value(want),
             need=fmt_value(need), have=fmt_value(mem))
    need = w + kv_cache_bytes(L, H, D, want, batch_size=b, bytes_per_element=nb)
    fail("ctx.too_short", what=what, got=fmt_value(got), want=fmt_value(want),
         need=fmt_value(need), have=fmt_value(mem))


GIB = 2**30
_PER_ODD = kv_cache_bytes(5, 3, 96, 1, batch_size=4, bytes_per_element=4)
CASES = [
    # name, (memory, weights, layers, kv_heads, head_dim, batch, bytes), hint key
    ("Llama-3-8B-like (8 KV heads) on 80 GiB with 16 GiB of bf16 weights",
     (80 * GIB, 16 * GIB, 32, 8, 128, 1, 2), "ctx.hint.count"),
    ("batch of 4, fp32 cache, odd sizes", (10**9, 123_456_789, 5, 3, 96, 4, 4), "ctx.hint.count"),
    ("int8 cache, batch of 3", (7 * GIB + 12345, 3 * GIB, 7, 5, 64, 3, 1), "ctx.hint.count"),
    ("weights larger than the memory", (10 * GIB, 14 * GIB, 32, 8, 128, 1, 2), "ctx.hint.zero"),
    ("exactly 1000 tokens fit", (777 + 1000 * _PER_ODD, 777, 5, 3, 96, 4, 4), "ctx.hint.edge"),
    ("one byte short of 1000 tokens", (776 + 1000 * _PER_ODD, 777, 5, 3, 96, 4, 4),
     "ctx.hint.edge"),
    ("no weights at all (weight_bytes=0)", (GIB, 0, 2, 2, 32, 1, 2), "ctx.hint.count"),
]


def check_longest_context(fn: Callable[..., int]) -> Report:
    """Grade ``longest_context(memory_bytes, weight_bytes, num_layers, num_kv_heads, head_dim,
    *, batch_size=1, bytes_per_element=2)``."""
    what = "longest_context"
    cases = []
    for name, p, hint in CASES:

        def run(f, p=p):
            want = _reference(*p)
            got = f(*p[:5], batch_size=p[5], bytes_per_element=p[6])
            _judge(f, got, want, p, what)

        cases.append(Case(name, run, dict(zip(ORDER, p)), hint=t(hint)))

    def defaults(f):
        p = (40 * GIB, 14 * GIB, 32, 8, 128, 1, 2)
        want = _reference(*p)
        got = as_int(f(*p[:5]), what)
        if got == want:
            return
        explicit = f(*p[:5], batch_size=1, bytes_per_element=2)
        if explicit != want:
            _judge(f, got, want, p, what)
        fail("ctx.default", got=fmt_value(got), want=fmt_value(want))

    cases.append(Case(t("ctx.case.defaults"), defaults, hint=t("ctx.hint.defaults")))
    base = dict(zip(ORDER, (80 * GIB, 16 * GIB, 32, 8, 128, 1, 2)))
    bad = {name: BAD_POSITIVE_INTS for name in ORDER if name != "weight_bytes"}
    bad["weight_bytes"] = [-1, 2.5, True, "8", None]
    calls = bad_calls(base, ORDER, bad, KEYWORD)
    cases.append(Case(t("ctx.case.bad"), lambda f: expect_raises_each(f, calls),
                      {"bad values": BAD_POSITIVE_INTS}, hint=t("ctx.hint.bad")))
    return run_check("check_longest_context", fn, cases)
