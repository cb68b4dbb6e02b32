"""Checks for exercise 01: the memory of a KV cache and of a materialised score matrix.

The reference is `lcedu.kvcache.memory`. Cases cover multi-head and grouped-query shapes,
batches, dtypes of 1, 2 and 4 bytes, and bad input that must raise ValueError.
"""

from __future__ import annotations

from collections.abc import Callable

from lcedu.grading.core import Case, CheckFailed, Report, expect_raises, run_check
from lcedu.kvcache.memory import attention_matrix_bytes, kv_cache_bytes

__all__ = ["check_kv_cache_bytes", "check_attention_matrix_bytes"]


def _equal_int(got: object, want: int, what: str, hint_ratio: dict[float, str]) -> None:
    if isinstance(got, float) and got.is_integer():
        got = int(got)
    if isinstance(got, bool) or not isinstance(got, int):
        raise CheckFailed(f"{what} should be a whole number of bytes (int), got {got!r}")
    if got != want:
        msg = f"{what}: got {got:,} bytes, expected {want:,}"
        if got:
            ratio = want / got
            for r, why in hint_ratio.items():
                if abs(ratio - r) < 1e-9:
                    msg += f" (off by a factor of {r:g}: {why})"
                    break
        raise CheckFailed(msg)


KV_CASES = [
    # (name, layers, kv_heads, head_dim, seq_len, batch, bytes)
    ("Llama-2-7B-like, 4k tokens, fp16", 32, 32, 128, 4096, 1, 2),
    ("grouped-query: 8 KV heads, 32k tokens, bf16", 32, 8, 128, 32768, 1, 2),
    ("batch of 4, fp32", 2, 3, 64, 1000, 4, 4),
    ("int8 cache, odd sizes", 5, 7, 96, 777, 3, 1),
]


def check_kv_cache_bytes(fn: Callable[..., int]) -> Report:
    """Grade `kv_cache_bytes(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
    bytes_per_element=2)`."""
    ratios = {
        2.0: "remember the cache stores keys AND values",
        0.5: "keys and values are counted once each, not twice each",
    }
    cases = []
    for name, L, H, D, n, b, nbytes in KV_CASES:

        def run(f, L=L, H=H, D=D, n=n, b=b, nbytes=nbytes):
            got = f(L, H, D, n, batch_size=b, bytes_per_element=nbytes)
            want = kv_cache_bytes(L, H, D, n, batch_size=b, bytes_per_element=nbytes)
            _equal_int(
                got,
                want,
                "kv_cache_bytes",
                {
                    float(L): "every layer has its own cache",
                    float(b): "every sequence in the batch has its own cache",
                    **ratios,  # last, so the K-and-V hint wins when L or b is 2
                },
            )

        cases.append(
            Case(
                name,
                run,
                {
                    "num_layers": L,
                    "num_kv_heads": H,
                    "head_dim": D,
                    "seq_len": n,
                    "batch_size": b,
                    "bytes_per_element": nbytes,
                },
                hint="count the elements of K and V in every layer, times the bytes of each",
            )
        )

    def defaults(f):
        got = f(32, 32, 128, 4096)
        _equal_int(
            got,
            kv_cache_bytes(32, 32, 128, 4096),
            "with default batch_size and bytes",
            {2.0: "the default bytes_per_element is 2 (fp16/bf16)"},
        )

    cases.append(
        Case(
            "defaults: batch_size=1, bytes_per_element=2",
            defaults,
            hint="keep the defaults from the signature",
        )
    )

    def bad(f):
        expect_raises(lambda: f(0, 8, 128, 4096), ValueError, what="num_layers=0")
        expect_raises(lambda: f(32, 8, 128, -5), ValueError, what="seq_len=-5")
        expect_raises(
            lambda: f(32, 8, 128, 4096, bytes_per_element=0), ValueError, what="bytes_per_element=0"
        )

    cases.append(
        Case(
            "bad input raises ValueError",
            bad,
            hint="check each argument is a positive whole number and raise ValueError",
        )
    )
    return run_check("kv_cache_bytes", fn, cases)


def check_attention_matrix_bytes(fn: Callable[..., int]) -> Report:
    """Grade `attention_matrix_bytes(seq_len, num_heads=1, *, batch_size=1,
    bytes_per_element=2)`."""
    cases = []
    for n, H, b, nbytes in [(4096, 32, 1, 2), (1000, 8, 2, 4), (777, 5, 3, 1), (131072, 1, 1, 2)]:

        def run(f, n=n, H=H, b=b, nbytes=nbytes):
            got = f(n, H, batch_size=b, bytes_per_element=nbytes)
            want = attention_matrix_bytes(n, H, batch_size=b, bytes_per_element=nbytes)
            _equal_int(
                got,
                want,
                "attention_matrix_bytes",
                {
                    float(n): "the score matrix is seq_len × seq_len: square the length",
                    float(H): "every head has its own score matrix",
                },
            )

        cases.append(
            Case(
                f"seq_len={n}, heads={H}, batch={b}, {nbytes} bytes",
                run,
                {"seq_len": n, "num_heads": H, "batch_size": b, "bytes_per_element": nbytes},
                hint="one score per (query, key) pair, per head, per sequence",
            )
        )

    def bad(f):
        expect_raises(lambda: f(0, 8), ValueError, what="seq_len=0")
        expect_raises(lambda: f(128, 0), ValueError, what="num_heads=0")

    cases.append(
        Case(
            "bad input raises ValueError",
            bad,
            hint="raise ValueError for lengths or head counts below 1",
        )
    )
    return run_check("attention_matrix_bytes", fn, cases)
