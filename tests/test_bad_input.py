"""Bad input to the public API and the CLI gets a clear ValueError (or a one-line message).

Each call below is one a learner could make: a size that is zero, negative, a bool or a
float, a wrong dtype, shapes that disagree, or a size so large that torch's allocator (or a
Python loop) would be reached. The allocation checks run against a pretend 16 GiB machine
so the verdicts do not depend on where the tests run.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lcedu import _checks as chk
from lcedu.attention.flash import flash_attention, merge_partials
from lcedu.attention.masks import (
    bigbird_layout,
    bigbird_mask,
    block_sparse_mask,
    causal_mask,
    dilated_window_mask,
    global_mask,
    longformer_mask,
    sliding_window_mask,
)
from lcedu.attention.reference import attention
from lcedu.attention.ring import ring_memory_per_rank, ring_schedule, simulate_ring_attention
from lcedu.attention.ring_layouts import gather_sequence, shard_sequence, token_positions
from lcedu.attention.sdpa import sdpa
from lcedu.attention.sliding_window import sliding_window_attention
from lcedu.kvcache.decode import sink_mask, sliding_window_causal_mask
from lcedu.kvcache.memory import ModelShape, attention_matrix_bytes, format_bytes, kv_cache_bytes
from lcedu.kvcache.paged import PagedKVCache
from lcedu.kvcache.sinks import SinkCache
from lcedu.kvcache.sliding import SlidingWindowCache
from lcedu.positions.alibi import alibi_bias, alibi_slopes
from lcedu.positions.rope import apply_rope, rope_cos_sin, rope_inv_freq
from lcedu.positions.rotary import RotaryEmbedding
from lcedu.positions.scaling import rope_frequencies, yarn, yarn_correction_range
from lcedu.practice.chunking import chunk_spans
from lcedu.ssm.scan import scan_state_bytes
from lcedu.tools.ring_demo import main as ring_demo_main

ROOT = Path(__file__).resolve().parents[1]
GIB = 1 << 30


@pytest.fixture(autouse=True)
def _a_16_gib_machine(monkeypatch):
    monkeypatch.setattr(chk, "available_bytes", lambda device=None: 16 * GIB)


def _t(*shape, dtype=torch.float32):
    return torch.zeros(*shape, dtype=dtype)


HUGE = {
    "sliding_window_mask(10**7, 3)": lambda: sliding_window_mask(10**7, 3),
    "causal_mask(10**6)": lambda: causal_mask(10**6),
    "dilated_window_mask(10**6, 2, 2)": lambda: dilated_window_mask(10**6, 2, 2),
    "global_mask(10**6, [0])": lambda: global_mask(10**6, [0]),
    "longformer_mask(10**6, 4)": lambda: longformer_mask(10**6, 4),
    "bigbird_mask(10**6, 64)": lambda: bigbird_mask(10**6, 64),
    "bigbird_layout(10**6)": lambda: bigbird_layout(
        10**6, num_random_blocks=1, num_global_blocks=2, seed=0
    ),
    "block_sparse_mask(2x2, 10**6)": lambda: block_sparse_mask(
        torch.ones(2, 2, dtype=torch.bool), 10**6
    ),
    "alibi_bias(32, 10**6)": lambda: alibi_bias(32, 10**6),
    "alibi_slopes(10**9)": lambda: alibi_slopes(10**9),
    "SlidingWindowCache(10**12)": lambda: SlidingWindowCache(10**12),
    "PagedKVCache(4, 10**9)": lambda: PagedKVCache(4, 10**9),
    "token_positions(10**12, 2, 0)": lambda: token_positions(10**12, 2, 0),
}


@pytest.mark.parametrize("call", sorted(HUGE))
def test_huge_sizes_are_refused_before_torch_allocates(call):
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"would allocate [\d.]+ [KMGTPEZY]?i?B, more than"):
        HUGE[call]()
    assert time.perf_counter() - start < 60  # a verdict, never a hang (not a timing claim)


def test_a_cache_refuses_a_buffer_that_does_not_fit_when_it_learns_the_shape():
    cache = SlidingWindowCache(10**9)  # the smallest buffers (4 GB) fit on 16 GiB …
    with pytest.raises(ValueError, match="SlidingWindowCache: K/V buffers"):
        cache.update(_t(1, 8, 1, 64), _t(1, 8, 1, 64))  # … 8 heads × 64 dims do not
    paged = PagedKVCache(16, 10**6)
    with pytest.raises(ValueError, match="PagedKVCache: the K/V pool"):
        paged.update(_t(1, 32, 1, 128), _t(1, 32, 1, 128))


def test_sizes_that_fit_are_still_built():
    assert sliding_window_mask(64, 3).shape == (64, 64)
    assert alibi_slopes(5).shape == (5,)
    assert token_positions(12, 3, 1).tolist() == [4, 5, 6, 7]


def test_slopes_equal_the_papers_formula():
    for h in (1, 2, 3, 5, 8, 12, 16, 33):
        n = 2 ** math.floor(math.log2(h))
        want = [2.0 ** (-8.0 * i / n) for i in range(1, n + 1)]
        want += [2.0 ** (-8.0 * i / (2 * n)) for i in range(1, 2 * n + 1, 2)][: h - n]
        assert alibi_slopes(h, dtype=torch.float64).tolist() == want


BAD_CALLS = {
    # the list
    "attention with zero keys": (
        lambda: attention(_t(1, 1, 3, 4), _t(1, 1, 0, 4), _t(1, 1, 0, 4)),
        "at least one key",
    ),
    "sliding_window_attention with n = 0": (
        lambda: sliding_window_attention(_t(1, 1, 0, 4), _t(1, 1, 0, 4), _t(1, 1, 0, 4), 2),
        "empty",
    ),
    "format_bytes('1024')": (lambda: format_bytes("1024"), "number of bytes"),
    "format_bytes(nan)": (lambda: format_bytes(float("nan")), "finite"),
    "format_bytes(inf)": (lambda: format_bytes(float("inf")), "finite"),
    "format_bytes(-1)": (lambda: format_bytes(-1), "negative"),
    "format_bytes(True)": (lambda: format_bytes(True), "number of bytes"),
    "ModelShape with more KV heads than heads": (
        lambda: ModelShape("x", 2, 4, 8, 16),
        "cannot exceed num_heads",
    ),
    "ModelShape with heads not a multiple of KV heads": (
        lambda: ModelShape("x", 2, 6, 4, 16),
        "multiple of num_kv_heads",
    ),
    "ModelShape with 0 layers": (lambda: ModelShape("x", 0, 4, 4, 16), "num_layers"),
    # sizes: zero, negative, bool, float
    "kv_cache_bytes(2.5 layers)": (lambda: kv_cache_bytes(2.5, 8, 64, 10), "num_layers"),
    "kv_cache_bytes(True heads)": (lambda: kv_cache_bytes(2, True, 64, 10), "num_kv_heads"),
    "attention_matrix_bytes(0)": (lambda: attention_matrix_bytes(0), "seq_len"),
    "sliding_window_mask(8, 0)": (lambda: sliding_window_mask(8, 0), "window"),
    "sliding_window_mask(8, -1)": (lambda: sliding_window_mask(8, -1), "window"),
    "sliding_window_mask(8.0, 2)": (lambda: sliding_window_mask(8.0, 2), "n must be"),
    "sliding_window_mask(True, 2)": (lambda: sliding_window_mask(True, 2), "n must be"),
    "sliding_window_mask(causal=1)": (
        lambda: sliding_window_mask(8, 2, causal=1),
        "causal must be True or False",
    ),
    "causal_mask(0)": (lambda: causal_mask(0), "n must be"),
    "bigbird_mask(seed=-1)": (lambda: bigbird_mask(16, 4, seed=-1), "seed"),
    "global_mask(8, [8])": (lambda: global_mask(8, [8]), "out of range"),
    "global_mask(8, [-1])": (lambda: global_mask(8, [-1]), "out of range"),
    "alibi_slopes(0)": (lambda: alibi_slopes(0), "num_heads"),
    "alibi_slopes(2.5)": (lambda: alibi_slopes(2.5), "num_heads"),
    "alibi_slopes(True)": (lambda: alibi_slopes(True), "num_heads"),
    "alibi_slopes(dtype=int64)": (lambda: alibi_slopes(4, dtype=torch.int64), "dtype"),
    "alibi_bias(4, 0)": (lambda: alibi_bias(4, 0), "q_len"),
    "alibi_bias(causal='yes')": (lambda: alibi_bias(4, 3, causal="yes"), "causal"),
    "SlidingWindowCache(0)": (lambda: SlidingWindowCache(0), "window"),
    "SlidingWindowCache(2.0)": (lambda: SlidingWindowCache(2.0), "window"),
    "SinkCache(-1, 4)": (lambda: SinkCache(-1, 4), "start_size"),
    "SinkCache(2, 0)": (lambda: SinkCache(2, 0), "recent_size"),
    "PagedKVCache(0, 4)": (lambda: PagedKVCache(0, 4), "block_size"),
    "PagedKVCache(4, False)": (lambda: PagedKVCache(4, False), "num_blocks"),
    "sliding_window_causal_mask(0, 2)": (lambda: sliding_window_causal_mask(0, 2), "n must be"),
    "sink_mask(4, -1, 2)": (lambda: sink_mask(4, -1, 2), "start_size"),
    "token_positions(0, 2, 0)": (lambda: token_positions(0, 2, 0), "seq_len"),
    "token_positions(8, 2, 2)": (lambda: token_positions(8, 2, 2), "rank"),
    "token_positions(8, 2.0, 0)": (lambda: token_positions(8, 2.0, 0), "world_size"),
    "token_positions(7, 2, 0)": (lambda: token_positions(7, 2, 0), "not divisible"),
    "shard_sequence(list)": (lambda: shard_sequence([1, 2], 2, 0), "torch.Tensor"),
    "shard_sequence(dim=9)": (lambda: shard_sequence(_t(1, 1, 4, 2), 2, 0, dim=9), "out of range"),
    "gather_sequence([])": (lambda: gather_sequence([]), "non-empty"),
    "gather_sequence(layout=3)": (lambda: gather_sequence([_t(1, 1, 2, 2)], 3), "layout"),
    "ring_schedule(8, 0)": (lambda: ring_schedule(8, 0), "world_size"),
    "ring_memory_per_rank(8, 2, heads=0)": (
        lambda: ring_memory_per_rank(8, 2, heads=0),
        "heads",
    ),
    "simulate_ring_attention(scale=-1)": (
        lambda: simulate_ring_attention(_t(1, 1, 4, 2), _t(1, 1, 4, 2), _t(1, 1, 4, 2), 2,
                                        scale=-1.0),
        "scale",
    ),
    "chunk_spans(10, 0, 0)": (lambda: chunk_spans(10, 0, 0), "chunk_size"),
    "chunk_spans(10, 4, 4)": (lambda: chunk_spans(10, 4, 4), "smaller than chunk_size"),
    "chunk_spans(-1, 4, 1)": (lambda: chunk_spans(-1, 4, 1), "n must be"),
    "scan_state_bytes(0, 4)": (lambda: scan_state_bytes(0, 4), "channels"),
    # dtypes and shapes
    "attention with int tensors": (
        lambda: attention(*(torch.zeros(1, 1, 2, 2, dtype=torch.int64),) * 3),
        "floating",
    ),
    "attention with 3-D q": (lambda: attention(_t(1, 2, 2), _t(1, 1, 2, 2), _t(1, 1, 2, 2)), "4"),
    "attention with head_dim mismatch": (
        lambda: attention(_t(1, 1, 2, 4), _t(1, 1, 2, 3), _t(1, 1, 2, 3)),
        "head_dim",
    ),
    "attention(scale=0)": (
        lambda: attention(_t(1, 1, 2, 2), _t(1, 1, 2, 2), _t(1, 1, 2, 2), scale=0),
        "scale",
    ),
    "attention(scale=True)": (
        lambda: attention(_t(1, 1, 2, 2), _t(1, 1, 2, 2), _t(1, 1, 2, 2), scale=True),
        "scale",
    ),
    "attention(causal='no')": (
        lambda: attention(_t(1, 1, 2, 2), _t(1, 1, 2, 2), _t(1, 1, 2, 2), causal="no"),
        "causal",
    ),
    "sdpa(scale=nan)": (
        lambda: sdpa(_t(1, 1, 2, 2), _t(1, 1, 2, 2), _t(1, 1, 2, 2), scale=float("nan")),
        "scale",
    ),
    "flash_attention(block_q=0)": (
        lambda: flash_attention(_t(1, 1, 2, 2), _t(1, 1, 2, 2), _t(1, 1, 2, 2), block_q=0),
        "block_q",
    ),
    "flash_attention(block_k=1.5)": (
        lambda: flash_attention(_t(1, 1, 2, 2), _t(1, 1, 2, 2), _t(1, 1, 2, 2), block_k=1.5),
        "block_k",
    ),
    "merge_partials shape mismatch": (
        lambda: merge_partials(_t(1, 1, 2, 2), _t(1, 1, 2), _t(1, 1, 3, 2), _t(1, 1, 3)),
        "same shape",
    ),
    "sliding_window_attention(window=0)": (
        lambda: sliding_window_attention(_t(1, 1, 4, 2), _t(1, 1, 4, 2), _t(1, 1, 4, 2), 0),
        "window",
    ),
    "rope_inv_freq(7)": (lambda: rope_inv_freq(7), "even"),
    "rope_inv_freq(0)": (lambda: rope_inv_freq(0), "dim"),
    "rope_inv_freq(8.0)": (lambda: rope_inv_freq(8.0), "dim"),
    "rope_inv_freq(base=-1)": (lambda: rope_inv_freq(8, -1.0), "base"),
    "rope_cos_sin(attention_scaling=0)": (
        lambda: rope_cos_sin(torch.arange(3), rope_inv_freq(4), attention_scaling=0),
        "attention_scaling",
    ),
    "apply_rope(style='x')": (
        lambda: apply_rope(_t(1, 1, 2, 4), _t(2, 4), _t(2, 4), style="x"),
        "style",
    ),
    "apply_rope with odd head_dim": (
        lambda: apply_rope(_t(1, 1, 2, 3), _t(2, 3), _t(2, 3)),
        "even",
    ),
    "RotaryEmbedding(6, style='x')": (lambda: RotaryEmbedding(6, style="x"), "style"),
    "RotaryEmbedding(6, scaling={'type': 'nope'})": (
        lambda: RotaryEmbedding(6, scaling={"type": "nope"}),
        "unknown scaling type",
    ),
    "rope_frequencies(8, scaling={'type': 'linear'})": (
        lambda: rope_frequencies(8, 10000.0, {"type": "linear"}),
        "bad arguments for scaling 'linear'",
    ),
    "rope_frequencies(8, scaling='yarn')": (
        lambda: rope_frequencies(8, 10000.0, "yarn"),
        "scaling must be None or a dict",
    ),
    "yarn(factor=0.5)": (lambda: yarn(8, 10000.0, 0.5, 64), "factor"),
    "yarn(truncate=1)": (lambda: yarn(8, 10000.0, 2, 64, truncate=1), "truncate"),
    "yarn_correction_range(beta_fast == beta_slow)": (
        lambda: yarn_correction_range(8, 10000.0, 64, beta_fast=2, beta_slow=2),
        "beta_fast must be greater",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_calls_raise_a_clear_value_error(name):
    call, words = BAD_CALLS[name]
    with pytest.raises(ValueError) as err:
        call()
    message = str(err.value)
    assert words in message, message
    assert "\n" not in message.strip() and len(message) < 400


def test_checks_validate_in_one_style():
    with pytest.raises(ValueError, match=r"^f: n must be a positive integer, got 0$"):
        chk.positive_int("n", 0, fn="f")
    with pytest.raises(ValueError, match=r"^n must be a non-negative integer, got -1$"):
        chk.nonneg_int("n", -1)
    for bad in (True, 2.0, "3", None, float("nan")):
        with pytest.raises(ValueError):
            chk.positive_int("n", bad)
    for bad in (0, -1.0, float("inf"), float("nan"), True, "1"):
        with pytest.raises(ValueError):
            chk.positive_real("x", bad)
    assert chk.positive_int("n", torch.tensor(3).item()) == 3
    assert chk.flag("b", False) is False
    with pytest.raises(ValueError, match="b must be True or False"):
        chk.flag("b", 0)
    assert chk.one_of("s", "a", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="s must be one of 'a', 'b', got 'c'"):
        chk.one_of("s", "c", ("a", "b"))
    with pytest.raises(ValueError, match="must have the same shape"):
        chk.same_shape("a and b", _t(2), _t(3))
    assert chk.float_dtype("dtype", None) == torch.get_default_dtype()
    with pytest.raises(ValueError, match="one of float32"):
        chk.float_dtype("dtype", torch.float64, allowed=(torch.float32,))
    assert chk.allocation("x", 1) == 1


RING_DEMO_BAD = [
    (["--seq-len", "-8"], "seq_len must be a positive integer, got -8"),
    (["--seq-len", "abc"], "invalid int value"),
    (["--world-size", "0"], "at least 1"),
    (["--world-size", "-3"], "at least 1"),
    (["--heads", "0"], "heads must be a positive integer"),
    (["--head-dim", "-2"], "head_dim must be a positive integer"),
    (["--batch", "0"], "batch must be a positive integer"),
    (["--timeout", "-5"], "timeout must be a positive"),
    (["--seed", "-1"], "seed must be a non-negative integer"),
    (["--layout", "diagonal"], "invalid choice"),
    (["--dtype", "int8"], "invalid choice"),
    (["--world-size", "3", "--seq-len", "10", "--layout", "zigzag"], "not divisible"),
    (["--no-such-flag"], "unrecognized arguments"),
]


@pytest.mark.parametrize("argv, words", RING_DEMO_BAD)
def test_ring_demo_answers_a_bad_argument_in_one_line(argv, words, capsys):
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(ring_demo_main(argv))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and err.startswith("lcedu ring-demo: "), err


@pytest.mark.timeout(120)
def test_ring_demo_default_length_suits_every_world_size(capsys):
    for world in (3, 5):
        assert ring_demo_main(["--world-size", str(world), "--layout", "zigzag", "--heads", "1",
                               "--head-dim", "4"]) == 0
        assert f"seq_len={1024 * world}" in capsys.readouterr().out


CLI_BAD = [
    ["nosuch"],
    ["notebooks", "execute", "no/such/notebook.ipynb"],
    ["exercises"],
    ["bench"],
    ["ring-demo", "--seq-len", "-8"],
    ["doctor", "--extra"],
]


@pytest.mark.parametrize("argv", CLI_BAD, ids=" ".join)
def test_cli_answers_bad_arguments_in_one_line_without_a_traceback(argv, tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "lcedu", *argv],
        cwd=tmp_path,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stderr.count("\n") == 1 and run.stderr.startswith("lcedu"), run.stderr
