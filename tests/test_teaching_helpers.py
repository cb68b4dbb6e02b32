"""lcedu.teaching: conventions, captured deprecations, the lesson's Longformer, recorded bench."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lcedu.attention.masks import longformer_mask
from lcedu.attention.reference import attention
from lcedu.attention.sliding_window import LongformerSelfAttention
from lcedu.teaching.context_parallel import try_torch_context_parallel
from lcedu.teaching.conventions import causal_mask
from lcedu.teaching.deprecated import (
    capture_warnings,
    lesson_cuda_autocast_matmul,
    lesson_sdp_kernel_sdpa,
)
from lcedu.teaching.lesson_longformer import (
    LessonLongformerAttention,
    influence_matrix,
    pattern_text,
)
from lcedu.teaching.recorded import (
    PRACTICE_CSV,
    causal_time_ratios,
    memory_tricks_figure,
    recorded_memory_tricks,
)


@pytest.mark.parametrize("lq,lk", [(3, 7), (5, 5), (1, 9), (4, 11)])
def test_top_left_is_sdpa_is_causal(lq: int, lk: int) -> None:
    g = torch.Generator().manual_seed(lq * 100 + lk)
    q = torch.randn(2, 3, lq, 8, generator=g, dtype=torch.float64)
    k, v = (torch.randn(2, 3, lk, 8, generator=g, dtype=torch.float64) for _ in range(2))
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    ours = attention(q, k, v, mask=causal_mask(lq, lk, alignment="top_left"))
    assert torch.allclose(ours, ref)


@pytest.mark.parametrize("lq,lk", [(3, 7), (1, 9), (4, 11)])
def test_bottom_right_is_decoding_the_last_queries(lq: int, lk: int) -> None:
    g = torch.Generator().manual_seed(lk)
    q, k, v = (torch.randn(1, 2, lk, 8, generator=g, dtype=torch.float64) for _ in range(3))
    full = F.scaled_dot_product_attention(q, k, v, is_causal=True)[:, :, -lq:]
    ours = attention(q[:, :, -lq:], k, v, mask=causal_mask(lq, lk, alignment="bottom_right"))
    assert torch.allclose(ours, full)
    if lq != lk:
        assert not torch.equal(
            causal_mask(lq, lk, alignment="top_left"), causal_mask(lq, lk, alignment="bottom_right")
        )


@pytest.mark.parametrize(
    "bad",
    [
        dict(q_len=0, k_len=3),
        dict(q_len=2, k_len=2.0),
        dict(q_len=2, k_len=3, alignment="diagonal"),
    ],
)
def test_causal_mask_rejects_bad_input(bad: dict) -> None:
    with pytest.raises(ValueError):
        causal_mask(**bad)


def test_deprecated_calls_warn_and_still_run_on_cpu() -> None:
    q = torch.randn(1, 2, 9, 4)
    out, ws = lesson_sdp_kernel_sdpa(q, q, q)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, q, q))
    assert any(w.category == "FutureWarning" and w.mentions("sdpa_kernel") for w in ws)
    a = torch.randn(3, 5)
    prod, ws = lesson_cuda_autocast_matmul(a, a.T)
    assert any(w.category == "FutureWarning" and w.mentions("torch.amp.autocast") for w in ws)
    if not torch.cuda.is_available():
        assert prod.dtype == torch.float32  # the CUDA-only context disables itself
    with pytest.raises(ValueError):
        capture_warnings(3)
    with pytest.raises(ValueError):
        lesson_sdp_kernel_sdpa(q[0], q, q)


def test_lesson_longformer_attends_padding_and_globals_one_way() -> None:
    torch.manual_seed(1)
    n, w = 17, 2
    h = torch.randn(1, n, 8, dtype=torch.float64)
    pad = torch.ones(1, n, dtype=torch.bool)
    pad[0, 14:] = False
    lesson = LessonLongformerAttention(8, 2, window_size=2 * w, global_tokens=2).double()
    seen = influence_matrix(lambda x: lesson(x, attention_mask=pad), h)
    assert seen[:14, 14:].any()  # erratum 3: padded tokens reach real rows
    assert seen[:2].all()  # the first two rows see everything ...
    assert not seen[10, 0]  # ... but a far row never sees the global token 0 (erratum 4)


def test_influence_matrix_recovers_longformer_mask() -> None:
    torch.manual_seed(2)
    n, w = 19, 3
    h = torch.randn(1, n, 12, dtype=torch.float64)
    pad = torch.ones(1, n, dtype=torch.bool)
    pad[0, 15:] = False
    glob = torch.zeros(1, n, dtype=torch.bool)
    glob[0, [0, 9]] = True
    layer = LongformerSelfAttention(12, 3, attention_window=2 * w).double()
    seen = influence_matrix(lambda x: layer(x, padding_mask=pad, global_mask=glob), h)
    assert torch.equal(seen, longformer_mask(n, w, glob, pad)[0, 0])
    with pytest.raises(ValueError):
        influence_matrix(lambda x: x, torch.zeros(2, 3, 4))
    with pytest.raises(ValueError):
        LessonLongformerAttention(10, 3)


def test_recorded_memory_tricks_reads_the_csv() -> None:
    rows = recorded_memory_tricks()
    assert [r["config"] for r in rows][0] == "fp32" and len(rows) == 4
    assert rows[0]["peak_ratio"] == 1.0
    text = PRACTICE_CSV.read_text()
    for r in rows:
        assert f"{r['config']},{r['seq_len']},{r['step_ms']}" in text.replace(".0,", ",")
    fig = memory_tricks_figure(rows, "recorded")
    assert fig.axes[0].get_title() == "recorded"
    assert fig.axes[0].get_legend() is None and len(fig.legends) == 1
    with pytest.raises(ValueError):
        memory_tricks_figure(rows, "")
    with pytest.raises(ValueError):
        recorded_memory_tricks("/nonexistent/practice.csv")


@pytest.mark.parametrize("bad", [dict(world_size=1), dict(seq_len=30), dict(heads=0)])
def test_context_parallel_rejects_bad_input(bad: dict) -> None:
    with pytest.raises(ValueError):
        try_torch_context_parallel(**bad)


def test_pattern_text() -> None:
    m = torch.tensor([[True, False], [True, True]])
    assert pattern_text(m, m, titles=("a", "b")).splitlines() == [
        "a     b",
        "■ ·   ■ ·",
        "■ ■   ■ ■",
    ]
    with pytest.raises(ValueError):
        pattern_text()
    with pytest.raises(ValueError):
        pattern_text(m, titles=("a", "b"))


def test_causal_time_ratios() -> None:
    rows = [
        dict(method="a", n=8, causal=False, status="ok", median_ms=10.0),
        dict(method="a", n=8, causal=True, status="ok", median_ms=5.0),
        dict(method="b", n=8, causal=True, status="ok", median_ms=5.0),
        dict(method="a", n=16, causal=False, status="skipped", median_ms=None),
        dict(method="a", n=16, causal=True, status="ok", median_ms=3.0),
    ]
    assert causal_time_ratios(rows) == {("a", 8): 0.5}
    with pytest.raises(ValueError):
        causal_time_ratios([dict(method="a")])


def test_streaming_positions_renumber_inside_the_cache() -> None:
    from lcedu.kvcache.sinks import SinkCache
    from lcedu.positions.rope import rope_inv_freq
    from lcedu.teaching.streaming import rope_scores, streaming_positions

    cache = SinkCache(3, 5)
    cache.update(torch.zeros(1, 1, 37, 2), torch.zeros(1, 1, 37, 2))
    assert cache.positions().tolist() == [0, 1, 2, 32, 33, 34, 35, 36]
    assert streaming_positions(cache).tolist() == list(range(8))
    g = torch.Generator().manual_seed(3)
    inv = rope_inv_freq(12).double()
    q = torch.randn(12, generator=g, dtype=torch.float64)
    k = torch.randn(8, 12, generator=g, dtype=torch.float64)
    orig = rope_scores(q, k, 36, cache.positions(), inv)
    renum = rope_scores(q, k, 7, streaming_positions(cache), inv)
    # witness: the plain dot product of explicitly rotated pairs (relative property of RoPE)
    assert torch.allclose(orig[3:], renum[3:])  # recent distances unchanged
    assert not torch.allclose(orig[:3], renum[:3])  # sink distances shrink
    with pytest.raises(ValueError):
        streaming_positions(object())
    with pytest.raises(ValueError):
        rope_scores(q[None], k, 0, cache.positions(), inv)
