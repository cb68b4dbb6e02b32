"""Witness tests for ALiBi: the paper's slopes, SDPA and FlexAttention against dense attention.

The slope formula and every expected bias are written out here independently of
`lcedu.positions.alibi`; attention is compared with `lcedu.attention.reference.attention`.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from lcedu.attention.reference import attention
from lcedu.positions.alibi import (
    ALiBiAttention,
    LessonALiBiAttention,
    alibi_attention,
    alibi_bias,
    alibi_bias_bytes,
    alibi_effective_span,
    alibi_flex_attention,
    alibi_score_mod,
    alibi_slopes,
    lesson_buffer_bytes,
)
from lcedu.testing import assert_close, seed_everything

# Eager (uncompiled) FlexAttention warns that it materialises the scores; that is what we
# want for a small CPU witness test.
pytestmark = pytest.mark.filterwarnings("ignore:flex_attention called without torch.compile")


def paper_slopes(H: int) -> list[float]:
    """Press et al. (2022), §3 and footnote: 2^(-8h/H) for powers of two; otherwise the
    slopes of the nearest lower power of two n, then every other slope of 2n heads."""

    def geometric(n: int) -> list[float]:
        first = 2 ** (-8 / n)
        return [first**h for h in range(1, n + 1)]

    n = 1
    while n * 2 <= H:
        n *= 2
    return geometric(n) + geometric(2 * n)[0::2][: H - n]


def random_qkv(B, H, Lq, Lk, D, dtype=torch.float32, seed=0, requires_grad=False):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(B, H, Lq, D, generator=g, dtype=torch.float64).to(dtype)
    k = torch.randn(B, H, Lk, D, generator=g, dtype=torch.float64).to(dtype)
    v = torch.randn(B, H, Lk, D, generator=g, dtype=torch.float64).to(dtype)
    if requires_grad:
        for t in (q, k, v):
            t.requires_grad_(True)
    return q, k, v


def independent_causal_bias(H: int, Lq: int, Lk: int) -> torch.Tensor:
    """-m_h * (i - j) with i the query's absolute position (queries are the last Lq)."""
    m = torch.tensor(paper_slopes(H), dtype=torch.float64)
    out = torch.empty(H, Lq, Lk, dtype=torch.float64)
    for i in range(Lq):
        pos = Lk - Lq + i
        for j in range(Lk):
            out[:, i, j] = -m * (pos - j) if j <= pos else float("-inf")
    return out


# ----- slopes --------------------------------------------------------------------------


@pytest.mark.parametrize("H", range(1, 65))
def test_slopes_match_paper_formula(H):
    got = alibi_slopes(H, dtype=torch.float64)
    assert got.shape == (H,)
    assert_close(got, torch.tensor(paper_slopes(H), dtype=torch.float64))


def test_slopes_by_hand():
    # Powers of two: 2^-1 .. 2^-8 for 8 heads; 2^-0.5 .. 2^-8 for 16.
    assert alibi_slopes(8, dtype=torch.float64).tolist() == [2.0**-h for h in range(1, 9)]
    assert_close(
        alibi_slopes(16, dtype=torch.float64),
        torch.tensor([2.0 ** (-h / 2) for h in range(1, 17)], dtype=torch.float64),
    )
    # 12 heads: the 8-head slopes, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5 interleaved between.
    twelve = alibi_slopes(12, dtype=torch.float64)
    expected = [2.0**-h for h in range(1, 9)] + [2.0 ** -(h + 0.5) for h in range(4)]
    assert_close(twelve, torch.tensor(expected, dtype=torch.float64))
    # Not "continuing the sequence": the extra heads are steeper than the last ones.
    assert twelve[8] > twelve[7]


@pytest.mark.parametrize("H", [1, 3, 8, 12, 20, 32, 48])
def test_lesson_slopes_are_right_erratum_15(H):
    lesson = LessonALiBiAttention(2 * H, H, max_seq_len=4)._get_alibi_slopes(H)
    assert lesson.shape == (1, H, 1, 1)
    assert_close(alibi_slopes(H), lesson.view(H))


def test_slopes_dtype_and_device():
    s = alibi_slopes(5, dtype=torch.bfloat16, device="cpu")
    assert s.dtype == torch.bfloat16 and s.device.type == "cpu"
    assert alibi_slopes(5).dtype == torch.get_default_dtype()


# ----- bias ----------------------------------------------------------------------------


@pytest.mark.parametrize("H,Lq,Lk", [(1, 1, 1), (3, 7, 7), (5, 4, 11), (12, 9, 9)])
def test_causal_bias_values(H, Lq, Lk):
    got = alibi_bias(H, Lq, Lk, dtype=torch.float64)
    assert got.shape == (H, Lq, Lk)
    expected = independent_causal_bias(H, Lq, Lk)
    assert torch.equal(torch.isinf(got), torch.isinf(expected))
    finite = torch.isfinite(expected)
    assert_close(got[finite], expected[finite])
    # The diagonal (a query and its own key) is 0: ALiBi only penalises distance.
    assert torch.all(got[:, torch.arange(Lq), torch.arange(Lq) + Lk - Lq] == 0)


def test_symmetric_bias_values_and_causal_equivalence_erratum_16():
    H, L = 4, 6
    m = torch.tensor(paper_slopes(H), dtype=torch.float64)
    i = torch.arange(L)
    dist = (i[:, None] - i[None, :]).abs().double()
    sym = alibi_bias(H, L, causal=False, symmetric=True, dtype=torch.float64)
    assert_close(sym, -m[:, None, None] * dist)
    # Under the causal mask |i-j| = i-j: symmetric changes nothing.
    assert torch.equal(
        alibi_bias(H, L, causal=True, symmetric=True, dtype=torch.float64),
        alibi_bias(H, L, causal=True, dtype=torch.float64),
    )


def test_causal_bias_equals_plus_m_j_form():
    # Softmax is invariant to adding a constant per row: -m(i-j) = m·j - m·i, and m·i is
    # constant along a row, so the +m·j form (BLOOM's, fairseq's) gives the same attention.
    B, H, L, D = 2, 5, 13, 8
    q, k, v = random_qkv(B, H, L, L, D, dtype=torch.float64, seed=1)
    m = torch.tensor(paper_slopes(H), dtype=torch.float64)
    plus_mj = m[:, None, None] * torch.arange(L, dtype=torch.float64)[None, None, :]
    plus_mj = plus_mj.expand(H, L, L)
    out_plus, w_plus = attention(q, k, v, bias=plus_mj, causal=True, return_weights=True)
    ours = alibi_bias(H, L, dtype=torch.float64)
    out, w = attention(q, k, v, bias=ours, return_weights=True)
    assert_close(w, w_plus)
    assert_close(out, out_plus)
    # ...while the bias matrices themselves differ (the shift is per row).
    finite = torch.isfinite(ours)
    assert not torch.allclose(ours[finite], plus_mj[finite])


def test_bias_for_a_long_decode_step_without_any_buffer():
    # One query against 100,000 cached keys: far past any "max_seq_len".
    H, Lk = 4, 100_000
    b = alibi_bias(H, 1, Lk)
    assert b.shape == (H, 1, Lk)
    assert torch.all(b[:, 0, -1] == 0)
    m = torch.tensor(paper_slopes(H))
    assert_close(b[:, 0, 0], -m * (Lk - 1))


def test_bias_dtype_device():
    b = alibi_bias(3, 5, dtype=torch.float16, device="cpu")
    assert b.dtype == torch.float16 and b.shape == (3, 5, 5)
    assert alibi_bias(3, 5).dtype == torch.get_default_dtype()


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(num_heads=0, q_len=4), "num_heads"),
        (dict(num_heads=2.0, q_len=4), "num_heads"),
        (dict(num_heads=True, q_len=4), "num_heads"),
        (dict(num_heads=2, q_len=0), "q_len"),
        (dict(num_heads=2, q_len=4, k_len=0), "k_len"),
        (dict(num_heads=2, q_len=5, k_len=4), "at least as many keys"),
        (dict(num_heads=2, q_len=4, dtype=torch.int64), "floating dtype"),
        (dict(num_heads=2, q_len=4, causal=1), "causal"),
    ],
)
def test_bias_bad_input(kwargs, words):
    with pytest.raises(ValueError, match=words):
        alibi_bias(**kwargs)


@pytest.mark.parametrize("H", [0, -1, 3.5, None])
def test_slopes_bad_input(H):
    with pytest.raises(ValueError, match="num_heads"):
        alibi_slopes(H)


# ----- attention through SDPA and FlexAttention ------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
@pytest.mark.parametrize("B,H,Lq,Lk,D", [(2, 3, 17, 17, 8), (1, 5, 6, 23, 16), (1, 12, 1, 9, 4)])
def test_sdpa_equals_dense_reference_causal(dtype, B, H, Lq, Lk, D):
    q, k, v = random_qkv(B, H, Lq, Lk, D, dtype=dtype, seed=Lq + Lk)
    got = alibi_attention(q, k, v)
    assert got.dtype == dtype and got.shape == (B, H, Lq, D)
    bias = independent_causal_bias(H, Lq, Lk)
    expected = attention(q.double(), k.double(), v.double(), bias=bias)
    assert_close(got, expected.to(dtype), dtype=dtype)


def test_sdpa_equals_dense_reference_symmetric():
    B, H, L, D = 2, 3, 19, 8
    q, k, v = random_qkv(B, H, L, L, D, seed=4)
    m = torch.tensor(paper_slopes(H))
    i = torch.arange(L)
    bias = -m[:, None, None] * (i[:, None] - i[None, :]).abs().float()
    assert_close(alibi_attention(q, k, v, causal=False), attention(q, k, v, bias=bias))


def test_gradients_match_reference():
    B, H, L, D = 1, 3, 11, 8
    q, k, v = random_qkv(B, H, L, L, D, dtype=torch.float64, seed=5, requires_grad=True)
    q2, k2, v2 = (t.detach().clone().requires_grad_(True) for t in (q, k, v))
    g = torch.randn(B, H, L, D, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    (alibi_attention(q, k, v) * g).sum().backward()
    (attention(q2, k2, v2, bias=independent_causal_bias(H, L, L)) * g).sum().backward()
    for a, b in ((q, q2), (k, k2), (v, v2)):
        assert_close(a.grad, b.grad)


def test_decoding_with_a_cache_equals_the_full_pass():
    # The last query against all keys (k_len > q_len) = the last row of the full pass.
    B, H, L, D = 1, 5, 21, 8
    q, k, v = random_qkv(B, H, L, L, D, seed=7)
    full = alibi_attention(q, k, v)
    last = alibi_attention(q[:, :, -3:], k, v)
    assert_close(last, full[:, :, -3:])


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("Lq,Lk", [(13, 13), (5, 29)])
def test_flex_attention_equals_sdpa_and_reference(causal, Lq, Lk):
    if not causal and Lq != Lk:
        Lq = Lk
    B, H, D = 2, 3, 8
    q, k, v = random_qkv(B, H, Lq, Lk, D, seed=8)
    flex = alibi_flex_attention(q, k, v, causal=causal)
    sdpa = alibi_attention(q, k, v, causal=causal)
    bias = alibi_bias(H, Lq, Lk, causal=causal, symmetric=not causal)
    dense = attention(q, k, v, bias=bias)
    assert_close(flex, sdpa)
    assert_close(flex, dense)


def test_score_mod_adds_the_bias():
    from torch.nn.attention.flex_attention import flex_attention

    B, H, L, D = 1, 4, 9, 8
    q, k, v = random_qkv(B, H, L, L, D, seed=9)
    m = torch.tensor(paper_slopes(H))
    out = flex_attention(q, k, v, score_mod=alibi_score_mod(m, causal=False, symmetric=True))
    i = torch.arange(L)
    bias = -m[:, None, None] * (i[:, None] - i[None, :]).abs().float()
    assert_close(out, attention(q, k, v, bias=bias))


@pytest.mark.parametrize("H,Lq,Lk", [(1, 1, 1), (5, 11, 11), (6, 3, 14)])
def test_score_mod_alone_is_causal_alibi(H, Lq, Lk):
    # As alibi_bias and alibi_attention, the score_mod is causal by default: with no
    # block_mask at all it equals SDPA with the bias and the dense reference.
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    q, k, v = random_qkv(2, H, Lq, Lk, 8, seed=H + Lk)
    mod = alibi_score_mod(alibi_slopes(H), q_offset=Lk - Lq)
    alone = flex_attention(q, k, v, score_mod=mod)
    dense = attention(q, k, v, bias=independent_causal_bias(H, Lq, Lk).float())
    assert_close(alone, alibi_attention(q, k, v))
    assert_close(alone, dense)
    # A causal block_mask on top changes nothing; causal=False leaves the masking to it.
    bm = create_block_mask(lambda b, h, qi, ki: ki <= qi + Lk - Lq, None, None, Lq, Lk,
                           device="cpu")
    assert_close(flex_attention(q, k, v, score_mod=mod, block_mask=bm), dense)
    raw = alibi_score_mod(alibi_slopes(H), causal=False, q_offset=Lk - Lq)
    assert_close(flex_attention(q, k, v, score_mod=raw, block_mask=bm), dense)
    # On index grids: -inf exactly above the (offset) diagonal.
    grid = mod(torch.zeros(H, Lq, Lk), 0, torch.arange(H)[:, None, None],
               torch.arange(Lq)[None, :, None], torch.arange(Lk)[None, None, :])
    assert torch.equal(torch.isneginf(grid), torch.isinf(independent_causal_bias(H, Lq, Lk)))


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: alibi_score_mod([0.5]), "1-D tensor"),
        (lambda: alibi_score_mod(torch.tensor([1, 2])), "floating"),
        (lambda: alibi_score_mod(torch.ones(2), q_offset=-1), "q_offset"),
        (lambda: alibi_score_mod(torch.ones(2), causal=None), "causal"),
        (lambda: alibi_attention(*random_qkv(1, 2, 5, 4, 8)), "at least as many"),
        (lambda: alibi_flex_attention(*random_qkv(1, 2, 5, 4, 8)), "at least as many"),
        (
            lambda: alibi_attention(torch.ones(2, 3, 4), torch.ones(2, 3, 4), torch.ones(2, 3, 4)),
            "4 dimensions",
        ),
    ],
)
def test_attention_bad_input(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# ----- the lesson's module: erratum 17 -----------------------------------------------------


def test_lesson_module_fails_past_max_seq_len_erratum_17():
    seed_everything(0)
    hidden, H, max_len = 24, 3, 32
    lesson = LessonALiBiAttention(hidden, H, max_seq_len=max_len)
    fixed = ALiBiAttention(hidden, H)
    # Same projections; the lesson's extra buffers are the only difference in state.
    missing, unexpected = fixed.load_state_dict(lesson.state_dict(), strict=False)
    assert missing == [] and sorted(unexpected) == ["distance_matrix", "slopes"]
    x = torch.randn(2, max_len, hidden)
    with torch.no_grad():
        # Within its buffer the lesson's module is right (|i-j| under a causal mask).
        assert_close(lesson(x), fixed(x))
        longer = torch.randn(2, max_len + 1, hidden)
        with pytest.raises(RuntimeError, match="must match the size"):
            lesson(longer)
        # The on-the-fly version just runs, and its first max_len outputs are causal:
        # unchanged by the extra token.
        out = fixed(longer)
        assert out.shape == (2, max_len + 1, hidden)
        assert_close(out[:, :max_len], fixed(longer[:, :max_len]))


def test_lesson_buffer_is_in_the_state_dict_and_quadratic():
    lesson = LessonALiBiAttention(16, 2, max_seq_len=40)
    buf = lesson.state_dict()["distance_matrix"]
    assert buf.dtype == torch.int64 and buf.shape == (40, 40)
    assert lesson_buffer_bytes(40) == buf.numel() * buf.element_size() == 40 * 40 * 8
    assert "distance_matrix" not in ALiBiAttention(16, 2).state_dict()


def test_lesson_buffer_sizes_at_8k_32k_128k_without_allocating():
    # max_seq_len² int64 entries: 512 MiB, 8 GiB, 128 GiB (measured on the meta device).
    assert lesson_buffer_bytes(8192) == 8192**2 * 8 == 512 * 2**20
    assert lesson_buffer_bytes(32768) == 8 * 2**30
    assert lesson_buffer_bytes(131072) == 128 * 2**30


def test_alibi_module_validates():
    with pytest.raises(ValueError, match="divisible"):
        ALiBiAttention(10, 3)
    with pytest.raises(ValueError, match="expected"):
        ALiBiAttention(12, 3)(torch.ones(2, 5, 8))


def test_lesson_concept_formula_would_give_one_slope_erratum_15():
    # The concept box writes m_h = 2^(-8/H) with no h: every head would share one slope.
    H = 8
    wrong = torch.full((H,), 2 ** (-8 / H))
    assert not torch.allclose(wrong, alibi_slopes(H))
    assert math.isclose(alibi_slopes(H)[0].item(), 2 ** (-8 / H))


def test_no_flex_warning_leaks_from_sdpa_path():
    q, k, v = random_qkv(1, 2, 4, 4, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        alibi_attention(q, k, v)


def test_effective_span_and_bias_bytes():
    span = alibi_effective_span(8, threshold=10.0)
    assert_close(span, torch.tensor([10 * 2.0**h for h in range(1, 9)], dtype=torch.float64))
    # At the span, the bias of that head is -threshold.
    L = int(span[0]) + 1
    assert math.isclose(alibi_bias(8, L, dtype=torch.float64)[0, L - 1, 0].item(), -10.0)
    assert alibi_bias_bytes(8, 100) == alibi_bias(8, 100, dtype=torch.float32).nbytes
    assert alibi_bias_bytes(4, 1, 4096, bytes_per_element=2) == 4 * 4096 * 2
    with pytest.raises(ValueError, match="threshold"):
        alibi_effective_span(4, threshold=0)
    with pytest.raises(ValueError, match="k_len"):
        alibi_bias_bytes(4, 3, 0)


def test_score_mod_values_equal_the_bias():
    # Evaluated on index grids, the score_mod added to a zero score is the bias itself
    # (including the q_offset of decoding, which softmax alone could not detect).
    H, Lq, Lk = 5, 3, 8
    mod = alibi_score_mod(alibi_slopes(H, dtype=torch.float64), q_offset=Lk - Lq)
    h = torch.arange(H)[:, None, None]
    qi = torch.arange(Lq)[None, :, None]
    ki = torch.arange(Lk)[None, None, :]
    got = mod(torch.zeros(H, Lq, Lk, dtype=torch.float64), 0, h, qi, ki)
    expected = independent_causal_bias(H, Lq, Lk)
    finite = torch.isfinite(expected)
    assert_close(got[finite], expected[finite])
    sym = alibi_score_mod(alibi_slopes(H, dtype=torch.float64), causal=False, symmetric=True)
    got = sym(
        torch.zeros(H, Lk, Lk, dtype=torch.float64), 0, h, torch.arange(Lk)[None, :, None], ki
    )
    assert_close(got, alibi_bias(H, Lk, causal=False, symmetric=True, dtype=torch.float64))


# ----- figures and the explorer (smoke tests: they build, and reject bad input) ------------


def test_figures_build_and_validate():
    from matplotlib.figure import Figure

    from lcedu.viz.alibi import (
        plot_attention_pattern,
        plot_bias_matrices,
        plot_bias_memory,
        plot_effective_span,
        plot_slopes,
    )

    assert len(plot_slopes((8, 12)).axes) == 2
    assert isinstance(plot_bias_matrices(6, 10, heads=[0, 5]), Figure)
    assert isinstance(plot_effective_span(12), Figure)
    assert isinstance(plot_attention_pattern(4, 12, causal=False), Figure)
    assert isinstance(plot_bias_memory((1024, 16384), num_heads=4, max_seq_len=8192), Figure)
    with pytest.raises(ValueError, match="head_counts"):
        plot_slopes((8, 0))
    with pytest.raises(ValueError, match="heads must be indices"):
        plot_bias_matrices(4, 8, heads=[4])


def test_explorer_renders_and_validates():
    from matplotlib.figure import Figure

    from lcedu.widgets.alibi import alibi_explorer, render

    assert isinstance(render(12, 9, 20, "causal"), Figure)
    assert isinstance(render(3, 2, 7, "symmetric"), Figure)
    with pytest.raises(ValueError, match="head must be"):
        render(4, 4, 10, "causal")
    with pytest.raises(ValueError, match="mode"):
        render(4, 0, 10, "both")
    w = alibi_explorer()
    heads, head = w.controls["num_heads"], w.controls["head"]
    heads.value = 5
    assert head.max == 4


def test_unmasked_signed_bias_is_the_causal_bias_before_its_mask():
    """causal=False, symmetric=False: −m·(i−j) everywhere (positive after the query); the
    causal mask on top gives back the causal bias, and it is exactly what the unmasked
    FlexAttention score_mod adds."""
    H, Lq, Lk = 5, 4, 9
    raw = alibi_bias(H, Lq, Lk, causal=False, dtype=torch.float64)
    m = alibi_slopes(H, dtype=torch.float64)
    i = torch.arange(Lq, dtype=torch.float64)[:, None] + (Lk - Lq)
    j = torch.arange(Lk, dtype=torch.float64)[None, :]
    assert torch.isfinite(raw).all()
    assert_close(raw, -m[:, None, None] * (i - j))
    causal = alibi_bias(H, Lq, Lk, dtype=torch.float64)
    assert_close(raw.masked_fill(j > i, float("-inf")), causal)
