"""Checks for exercise 01: the memory of a KV cache and of a materialised score matrix.

The reference is `lcedu.kvcache.memory`. Cases cover multi-head and grouped-query shapes,
batches, dtypes of 1, 2 and 4 bytes, every argument's bad values (negative, zero, fractional,
bool, text), and a probe with distinct primes that tells the usual mistakes apart.
"""

from __future__ import annotations

from collections.abc import Callable

from lcedu.grading.core import (
    Case,
    Report,
    bad_calls,
    expect_raises_each,
    fail,
    fmt_value,
    run_check,
)
from lcedu.grading.messages import register, t
from lcedu.kvcache.memory import attention_matrix_bytes, kv_cache_bytes

__all__ = ["check_kv_cache_bytes", "check_attention_matrix_bytes"]

register({
    "kv.not_int": "{what} should be a whole number of bytes, an int, but your function returned "
                  "{got}",
    "kv.wrong": "{what}: got {got} bytes, expected {want}",
    "kv.kv_once": "{what}: got {got} bytes, expected {want}: the cache stores keys AND values, "
                  "so count the elements twice (the factor 2)",
    "kv.kv_four": "{what}: got {got} bytes, expected {want}: keys and values are counted once "
                  "each (a factor 2 in all), not twice each",
    "kv.elements": "{what}: got {got}, expected {want} bytes: you counted elements, not bytes; "
                   "multiply by bytes_per_element",
    "kv.layers": "{what}: got {got} bytes, expected {want}: every layer has its own cache "
                 "(multiply by num_layers)",
    "kv.batch": "{what}: got {got} bytes, expected {want}: every sequence in the batch has its "
                "own cache (multiply by batch_size)",
    "kv.heads": "{what}: got {got} bytes, expected {want}: every head has its own score "
                "matrix (multiply by num_heads)",
    "kv.square": "{what}: got {got} bytes, expected {want}: the score matrix is seq_len × "
                 "seq_len, so square the length",
    "kv.default": "with the default batch_size and bytes_per_element your function returns {got} "
                  "bytes, expected {want}, although it is right when they are passed explicitly: "
                  "keep the defaults of the signature (batch_size=1, bytes_per_element=2)",
    "kv.hint.count": "count the elements of K and V in every layer, times the bytes of each",
    "kv.hint.defaults": "keep the defaults from the signature",
    "kv.hint.bad": "check each argument is a whole number (an int, not a bool) ≥ 1 and raise "
                   "ValueError with a sentence otherwise",
    "kv.hint.attn": "one score per (query, key) pair, per head, per sequence",
    "kv.case.defaults": "defaults: batch_size=1, bytes_per_element=2",
    "kv.case.bad": "bad input raises ValueError (every argument, several bad values)",
})

# Distinct primes: the ratio of a wrong answer to the right one names the mistake.
_PROBE = dict(num_layers=3, num_kv_heads=5, head_dim=7, seq_len=11, batch_size=13,
              bytes_per_element=4)
_BAD_VALUES = [0, -3, 2.5, True, "8"]


def _as_int(got: object, what: str) -> int:
    if isinstance(got, bool) or not isinstance(got, int):
        fail("kv.not_int", what=what, got=f"{fmt_value(got)} ({type(got).__name__})")
    return got


def _kv_probe_driver(fn):
    p = _PROBE
    return fn(p["num_layers"], p["num_kv_heads"], p["head_dim"], p["seq_len"],
              batch_size=p["batch_size"], bytes_per_element=p["bytes_per_element"])


_KV_RATIOS = [  # want / got -> message key
    (2, "kv.kv_once"), (0.5, "kv.kv_four"), (4, "kv.elements"), (8, "kv.elements"),
    (3, "kv.layers"), (13, "kv.batch"),
]


def _diagnose_kv(f, what: str, got: int, want: int) -> None:
    """`got` != `want`: ask the function once more, on the prime probe, to say why."""
    try:
        probe = f.run(_kv_probe_driver)
    except Exception:  # noqa: BLE001 - no diagnosis; the plain message follows
        probe = None
    p = _PROBE
    right = kv_cache_bytes(**{k: p[k] for k in ("num_layers", "num_kv_heads", "head_dim",
                                                 "seq_len")},
                           batch_size=p["batch_size"], bytes_per_element=p["bytes_per_element"])
    if isinstance(probe, int) and not isinstance(probe, bool) and probe > 0:
        for ratio, key in _KV_RATIOS:
            if right == probe * ratio:
                fail(key, what=what, got=fmt_value(got), want=fmt_value(want))
    fail("kv.wrong", what=what, got=fmt_value(got), want=fmt_value(want))


KV_CASES = [
    # (name, layers, kv_heads, head_dim, seq_len, batch, bytes)
    ("Llama-2-7B-like, 4k tokens, fp16", 32, 32, 128, 4096, 1, 2),
    ("grouped-query: 8 KV heads, 32k tokens, bf16", 32, 8, 128, 32768, 1, 2),
    ("batch of 4, fp32", 2, 3, 64, 1000, 4, 4),
    ("int8 cache, odd sizes", 5, 7, 96, 777, 3, 1),
    ("one of everything", 1, 1, 1, 1, 1, 1),
]


def _bad_calls(base: dict, order: list[str], keyword: set[str]):
    return bad_calls(base, order, {name: _BAD_VALUES for name in order}, keyword)


def check_kv_cache_bytes(fn: Callable[..., int]) -> Report:
    """Grade `kv_cache_bytes(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
    bytes_per_element=2)`."""
    what = "kv_cache_bytes"
    cases = []
    for name, L, H, D, n, b, nbytes in KV_CASES:

        def run(f, L=L, H=H, D=D, n=n, b=b, nbytes=nbytes):
            want = kv_cache_bytes(L, H, D, n, batch_size=b, bytes_per_element=nbytes)
            got = _as_int(f(L, H, D, n, batch_size=b, bytes_per_element=nbytes), what)
            if got != want:
                _diagnose_kv(f, what, got, want)

        params = {"num_layers": L, "num_kv_heads": H, "head_dim": D, "seq_len": n,
                  "batch_size": b, "bytes_per_element": nbytes}
        cases.append(Case(name, run, params, hint=t("kv.hint.count")))

    def defaults(f):
        want = kv_cache_bytes(32, 32, 128, 4096)
        got = _as_int(f(32, 32, 128, 4096), what)
        if got == want:
            return
        explicit = _as_int(f(32, 32, 128, 4096, batch_size=1, bytes_per_element=2), what)
        if explicit != want:
            _diagnose_kv(f, what, got, want)
        fail("kv.default", got=fmt_value(got), want=fmt_value(want))

    cases.append(Case(t("kv.case.defaults"), defaults, hint=t("kv.hint.defaults")))

    order = ["num_layers", "num_kv_heads", "head_dim", "seq_len", "batch_size",
             "bytes_per_element"]
    base = dict(zip(order, (32, 8, 128, 4096, 1, 2)))
    bad_calls = _bad_calls(base, order, {"batch_size", "bytes_per_element"})
    cases.append(Case(t("kv.case.bad"), lambda f: expect_raises_each(f, bad_calls),
                      {"bad values": _BAD_VALUES}, hint=t("kv.hint.bad")))
    return run_check("kv_cache_bytes", fn, cases)


def check_attention_matrix_bytes(fn: Callable[..., int]) -> Report:
    """Grade `attention_matrix_bytes(seq_len, num_heads=1, *, batch_size=1,
    bytes_per_element=2)`."""
    what = "attention_matrix_bytes"
    cases = []
    sizes = [(4096, 32, 1, 2), (1000, 8, 2, 4), (777, 5, 3, 1), (131072, 1, 1, 2), (1, 1, 1, 1)]
    for n, H, b, nbytes in sizes:

        def run(f, n=n, H=H, b=b, nbytes=nbytes):
            want = attention_matrix_bytes(n, H, batch_size=b, bytes_per_element=nbytes)
            got = _as_int(f(n, H, batch_size=b, bytes_per_element=nbytes), what)
            if got == want:
                return
            probe = f(11, 5, batch_size=13, bytes_per_element=4)
            right = attention_matrix_bytes(11, 5, batch_size=13, bytes_per_element=4)
            if isinstance(probe, int) and not isinstance(probe, bool) and probe > 0:
                for ratio, key in ((11, "kv.square"), (5, "kv.heads"), (13, "kv.batch"),
                                   (4, "kv.elements")):
                    if right == probe * ratio:
                        fail(key, what=what, got=fmt_value(got), want=fmt_value(want))
            fail("kv.wrong", what=what, got=fmt_value(got), want=fmt_value(want))

        cases.append(
            Case(f"seq_len={n}, heads={H}, batch={b}, {nbytes} bytes", run,
                 {"seq_len": n, "num_heads": H, "batch_size": b, "bytes_per_element": nbytes},
                 hint=t("kv.hint.attn"))
        )

    def defaults(f):
        want = attention_matrix_bytes(4096)
        got = _as_int(f(4096), what)
        if got != want:
            explicit = _as_int(f(4096, 1, batch_size=1, bytes_per_element=2), what)
            if explicit != want:
                fail("kv.wrong", what=what, got=fmt_value(got), want=fmt_value(want))
            fail("kv.default", got=fmt_value(got), want=fmt_value(want))

    cases.append(Case(t("kv.case.defaults"), defaults, hint=t("kv.hint.defaults")))
    order = ["seq_len", "num_heads", "batch_size", "bytes_per_element"]
    base = dict(zip(order, (128, 8, 1, 2)))
    bad_calls = _bad_calls(base, order, {"batch_size", "bytes_per_element"})
    cases.append(Case(t("kv.case.bad"), lambda f: expect_raises_each(f, bad_calls),
                      {"bad values": _BAD_VALUES}, hint=t("kv.hint.bad")))
    return run_check("attention_matrix_bytes", fn, cases)
