"""RoPE (lcedu.positions.rope) against Hugging Face's Llama rotary code and against
independent formulas: complex multiplication (Meta's original), the relative property, norms."""

from __future__ import annotations

import math

import pytest
import torch

from lcedu.positions.rope import apply_rope, rope_cos_sin, rope_inv_freq
from lcedu.positions.rotary import RotaryEmbedding
from lcedu.testing import assert_close, seed_everything

hf_llama = pytest.importorskip("transformers.models.llama.modeling_llama")
from transformers import LlamaConfig  # noqa: E402

# Bit-for-bit agreement is expected with Hugging Face (same float32 operations); 1e-6 is
# the bar and leaves room for a different libm/BLAS, far tighter than the table's
# float32 1e-4 (which is sized for reordered attention sums, not for one formula).
HF_RTOL, HF_ATOL = 1e-6, 1e-7


def _llama_config(dim: int, base: float, max_pos: int = 4096, params: dict | None = None):
    rope = {"rope_type": "default", "rope_theta": base, **(params or {})}
    return LlamaConfig(
        hidden_size=dim * 2,
        num_attention_heads=2,
        head_dim=dim,
        max_position_embeddings=max_pos,
        rope_parameters=rope,
        num_hidden_layers=1,
        vocab_size=8,
        intermediate_size=8,
    )


@pytest.mark.parametrize("dim", [2, 32, 64, 96, 128, 256])
@pytest.mark.parametrize("base", [1e4, 5e5, 1e6])
def test_inv_freq_formula_and_hf(dim, base):
    ours = rope_inv_freq(dim, base)
    assert ours.dtype == torch.float32 and ours.shape == (dim // 2,)
    i = torch.arange(dim // 2, dtype=torch.float64)
    exact = base ** (-2 * i / dim)  # float64, written independently
    # float32 exponent rounding: relative error up to ln(base)·2^-24 ≈ 1e-6, plus the pow.
    torch.testing.assert_close(ours.double(), exact, rtol=3e-6, atol=0)
    hf, _ = hf_llama.LlamaRotaryEmbedding.compute_default_rope_parameters(_llama_config(dim, base))
    torch.testing.assert_close(ours, hf, rtol=HF_RTOL, atol=0)


@pytest.mark.parametrize("batched", [False, True])
def test_cos_sin_match_hf_rotary_embedding(batched):
    gen = seed_everything(0)
    dim, base, length = 64, 1e4, 37
    config = _llama_config(dim, base)
    hf_rope = hf_llama.LlamaRotaryEmbedding(config)
    pos = torch.randint(0, 10_000, (3, length), generator=gen)
    x = torch.zeros(3, 2, length, dim)
    hf_cos, hf_sin = hf_rope(x, pos)
    cos, sin = rope_cos_sin(pos if batched else pos[0], rope_inv_freq(dim, base))
    assert cos.shape == ((3, length, dim) if batched else (length, dim))
    ref_cos, ref_sin = (hf_cos, hf_sin) if batched else (hf_cos[0], hf_sin[0])
    torch.testing.assert_close(cos, ref_cos, rtol=HF_RTOL, atol=HF_ATOL)
    torch.testing.assert_close(sin, ref_sin, rtol=HF_RTOL, atol=HF_ATOL)
    # attention_scaling multiplies both
    c2, s2 = rope_cos_sin(pos[0], rope_inv_freq(dim, base), attention_scaling=1.25)
    torch.testing.assert_close(c2, 1.25 * ref_cos[0] if batched else 1.25 * ref_cos)
    torch.testing.assert_close(s2, 1.25 * ref_sin[0] if batched else 1.25 * ref_sin)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("shape", [(1, 1, 7, 32), (2, 3, 33, 64), (3, 5, 17, 128)])
def test_apply_rope_matches_hf(dtype, shape):
    gen = seed_everything(1)
    b, h, length, d = shape
    q = torch.randn(shape, generator=gen).to(dtype)
    k = torch.randn(shape, generator=gen).to(dtype)
    pos = torch.randint(0, 50_000, (b, length), generator=gen)
    cos, sin = rope_cos_sin(pos, rope_inv_freq(d, 5e5))
    cos, sin = cos.to(dtype), sin.to(dtype)
    hf_q, hf_k = hf_llama.apply_rotary_pos_emb(q, k, cos, sin)
    # Same elementwise formula in the same dtype: identical up to rounding of one op.
    tol = {"rtol": HF_RTOL, "atol": HF_ATOL} if dtype in (torch.float32, torch.float64) else {}
    torch.testing.assert_close(apply_rope(q, cos, sin), hf_q, **tol)
    torch.testing.assert_close(apply_rope(k, cos, sin), hf_k, **tol)
    assert apply_rope(q, cos, sin).dtype == dtype


def _complex_rope_interleaved(x: torch.Tensor, pos: torch.Tensor, inv_freq: torch.Tensor):
    """Meta's original Llama code: adjacent dims as complex numbers times e^{i·m·θ} (float64)."""
    angles = pos.double()[:, None] * inv_freq.double()[None, :]
    rot = torch.polar(torch.ones_like(angles), angles)
    xc = torch.view_as_complex(x.double().reshape(*x.shape[:-1], -1, 2).contiguous())
    return torch.view_as_real(xc * rot).flatten(-2)


@pytest.mark.parametrize("d", [2, 16, 64])
def test_interleaved_equals_complex_multiplication(d):
    gen = seed_everything(2)
    x = torch.randn(2, 3, 11, d, generator=gen, dtype=torch.float64)
    pos = torch.arange(11) * 37
    inv = rope_inv_freq(d, 1e4)
    cos, sin = rope_cos_sin(pos, inv)
    got = apply_rope(x, cos.double(), sin.double(), style="interleaved")
    assert_close(got, _complex_rope_interleaved(x, pos, inv), dtype=torch.float32)


@pytest.mark.parametrize("d", [8, 64, 130])
def test_interleaved_is_half_after_permutation(d):
    gen = seed_everything(3)
    x = torch.randn(2, 3, 9, d, generator=gen)
    cos, sin = rope_cos_sin(torch.arange(9) * 101, rope_inv_freq(d, 1e4))
    # pair (2i, 2i+1) of the interleaved layout is pair (i, i + d/2) of the half layout
    perm = torch.cat([torch.arange(0, d, 2), torch.arange(1, d, 2)])
    inter = apply_rope(x, cos, sin, style="interleaved")
    half = apply_rope(x[..., perm], cos, sin, style="half")
    torch.testing.assert_close(inter[..., perm], half, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("style", ["half", "interleaved"])
def test_half_width_cos_sin_accepted(style):
    gen = seed_everything(4)
    x = torch.randn(1, 2, 6, 16, generator=gen)
    inv = rope_inv_freq(16, 1e4)
    cos, sin = rope_cos_sin(torch.arange(6), inv)
    a = apply_rope(x, cos, sin, style=style)
    b = apply_rope(x, cos[..., :8].contiguous(), sin[..., :8].contiguous(), style=style)
    torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.parametrize("style", ["half", "interleaved"])
def test_scores_depend_only_on_relative_distance(style):
    gen = seed_everything(5)
    d = 64
    q = torch.randn(1, 1, 1, d, generator=gen, dtype=torch.float64)
    k = torch.randn(1, 1, 1, d, generator=gen, dtype=torch.float64)
    inv = rope_inv_freq(d, 1e4).double()  # float64 angles: exact even at position 1000

    def rotated(x, m):
        c, s = rope_cos_sin(torch.tensor([m]), inv)
        assert c.dtype == torch.float64
        return apply_rope(x, c, s, style=style)

    def score(m, n):
        return float((rotated(q, m) * rotated(k, n)).sum())

    for m, n in [(5, 2), (100, 3), (7, 40), (0, 0)]:
        for shift in (1, 17, 1000):
            assert math.isclose(
                score(m, n), score(m + shift, n + shift), rel_tol=1e-9, abs_tol=1e-9
            )
    # and it does depend on the distance (the test could fail)
    assert abs(score(10, 0) - score(0, 0)) > 1e-3
    # rotation keeps norms
    assert math.isclose(float(rotated(q, 12345).norm()), float(q.norm()), rel_tol=1e-12)


def test_apply_rope_gradients_match_hf():
    gen = seed_everything(6)
    q = torch.randn(2, 3, 13, 32, generator=gen, dtype=torch.float64, requires_grad=True)
    cos, sin = rope_cos_sin(torch.arange(13), rope_inv_freq(32, 1e4))
    cos, sin = cos.double(), sin.double()
    torch.autograd.gradcheck(lambda t: apply_rope(t, cos, sin), (q,))
    torch.autograd.gradcheck(lambda t: apply_rope(t, cos, sin, style="interleaved"), (q,))
    w = torch.randn(q.shape, generator=gen, dtype=torch.float64)
    (g_ours,) = torch.autograd.grad((apply_rope(q, cos, sin) * w).sum(), q)
    (g_hf,) = torch.autograd.grad(
        (hf_llama.apply_rotary_pos_emb(q, q, cos[None], sin[None])[0] * w).sum(), q
    )
    torch.testing.assert_close(g_ours, g_hf)


def test_rotary_embedding_module_default_and_scaled():
    gen = seed_everything(7)
    x = torch.randn(2, 2, 10, 32, generator=gen)
    rope = RotaryEmbedding(32, 1e4)
    assert "inv_freq" not in rope.state_dict()
    torch.testing.assert_close(rope.inv_freq, rope_inv_freq(32, 1e4), rtol=0, atol=0)
    cos, sin = rope(x)
    assert cos.shape == (10, 32)
    torch.testing.assert_close(rope.rotate(x), apply_rope(x, cos, sin), rtol=0, atol=0)
    # scaled: equals Hugging Face's rotary embedding with the same rope_parameters
    cfg = _llama_config(
        32,
        1e4,
        32768,
        {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 4096},
    )
    hf = hf_llama.LlamaRotaryEmbedding(cfg)
    ours = RotaryEmbedding(32, 1e4, {"type": "yarn", "factor": 8.0, "original_max_position": 4096})
    pos = torch.randint(0, 30_000, (2, 10), generator=gen)
    for a, b in zip(ours(x, pos), hf(x, pos)):
        torch.testing.assert_close(a, b, rtol=HF_RTOL, atol=HF_ATOL)
    assert ours.attention_factor > 1
    # interleaved module agrees with the functional form
    rope_i = RotaryEmbedding(32, 1e4, style="interleaved")
    torch.testing.assert_close(
        rope_i.rotate(x, pos[0]), apply_rope(x, *rope_i(x, pos[0]), style="interleaved")
    )


def test_rotary_embedding_dynamic_follows_positions():
    x = torch.zeros(1, 1, 4, 32)
    rope = RotaryEmbedding(
        32, 1e4, {"type": "dynamic_ntk", "factor": 2.0, "original_max_position": 100}
    )
    short = rope(x, torch.arange(4))[0]
    plain = RotaryEmbedding(32, 1e4)(x, torch.arange(4))[0]
    torch.testing.assert_close(short, plain, rtol=0, atol=0)  # inside the trained length
    far = torch.tensor([0, 1, 2, 399])
    cfg = _llama_config(32, 1e4, 100, {"rope_type": "dynamic", "factor": 2.0})
    hf = hf_llama.LlamaRotaryEmbedding(cfg)
    for a, b in zip(rope(x, far), hf(x, far[None])):
        torch.testing.assert_close(a, b[0], rtol=HF_RTOL, atol=HF_ATOL)
    assert not torch.allclose(rope(x, far)[0], RotaryEmbedding(32, 1e4)(x, far)[0])


HF_DICTS = [
    {"rope_type": "linear", "factor": 4.0},
    {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 512},
    {
        "rope_type": "yarn",
        "factor": 3.3,
        "original_max_position_embeddings": 512,
        "beta_fast": 16,
        "beta_slow": 2,
        "mscale": 1.0,
        "mscale_all_dim": 0.707,
        "truncate": False,
    },
    {
        "rope_type": "llama3",
        "factor": 8.0,
        "original_max_position_embeddings": 512,
        "low_freq_factor": 1.0,
        "high_freq_factor": 4.0,
    },
]


@pytest.mark.parametrize("params", HF_DICTS, ids=lambda p: p["rope_type"])
def test_rotary_embedding_accepts_hf_rope_parameters(params):
    gen = seed_everything(8)
    dim, base = 64, 5e5
    x = torch.zeros(2, 2, 12, dim)
    pos = torch.randint(0, 8000, (2, 12), generator=gen)
    hf = hf_llama.LlamaRotaryEmbedding(_llama_config(dim, base, 4096, dict(params)))
    ours = RotaryEmbedding(dim, base, {**params, "rope_theta": base})
    for a, b in zip(ours(x, pos), hf(x, pos)):
        torch.testing.assert_close(a, b, rtol=HF_RTOL, atol=HF_ATOL)
    assert ours.attention_factor == pytest.approx(float(hf.attention_scaling), rel=1e-6)


def test_rotary_embedding_hf_dynamic_and_default():
    x = torch.zeros(1, 1, 4, 32)
    cfg = _llama_config(32, 1e4, 100, {"rope_type": "dynamic", "factor": 2.0})
    hf = hf_llama.LlamaRotaryEmbedding(cfg)
    ours = RotaryEmbedding(
        32, 1e4, {"rope_type": "dynamic", "factor": 2.0, "original_max_position_embeddings": 100}
    )
    for pos in (torch.tensor([0, 1, 2, 50]), torch.tensor([0, 1, 2, 399])):  # below, above
        for a, b in zip(ours(x, pos), hf(x, pos[None])):
            torch.testing.assert_close(a, b[0], rtol=HF_RTOL, atol=HF_ATOL)
    plain = RotaryEmbedding(32, 1e4, {"rope_type": "default", "rope_theta": 1e4})
    assert plain.scaling is None
    torch.testing.assert_close(plain.inv_freq, rope_inv_freq(32, 1e4), rtol=0, atol=0)


def test_bad_inputs_raise_value_error():
    x = torch.zeros(1, 1, 4, 8)
    cos, sin = rope_cos_sin(torch.arange(4), rope_inv_freq(8))
    bad = [
        lambda: rope_inv_freq(7),
        lambda: rope_inv_freq(0),
        lambda: rope_inv_freq(8, base=0),
        lambda: rope_inv_freq(8, base=-1.0),
        lambda: rope_cos_sin([0, 1], rope_inv_freq(8)),
        lambda: rope_cos_sin(torch.zeros(1, 2, 3), rope_inv_freq(8)),
        lambda: rope_cos_sin(torch.arange(4), torch.zeros(2, 2)),
        lambda: rope_cos_sin(torch.arange(4), rope_inv_freq(8), attention_scaling=0.0),
        lambda: apply_rope(x, cos, sin, style="gptj"),
        lambda: apply_rope(x[0], cos, sin),
        lambda: apply_rope(torch.zeros(1, 1, 4, 6), cos, sin),
        lambda: apply_rope(torch.zeros(1, 1, 5, 8), cos, sin),
        lambda: apply_rope(x, cos, sin[:, :4]),
        lambda: apply_rope(torch.zeros(1, 1, 4, 7), cos, sin),
        lambda: RotaryEmbedding(9),
        lambda: RotaryEmbedding(8, scaling={"type": "magic"}),
        lambda: RotaryEmbedding(8, scaling={"factor": 2}),
        lambda: RotaryEmbedding(8, scaling={"type": "linear", "factor": 0.5}),
        lambda: RotaryEmbedding(8, scaling={"type": "linear", "fator": 2}),
        lambda: RotaryEmbedding(8, style="complex"),
        lambda: RotaryEmbedding(8, 1e4, {"rope_type": "linear", "factor": 2, "rope_theta": 5e5}),
        lambda: RotaryEmbedding(8, scaling={"type": "linear", "rope_type": "yarn", "factor": 2}),
        lambda: RotaryEmbedding(8, scaling={"type": ["linear"], "factor": 2}),
        lambda: RotaryEmbedding(
            8,
            scaling={
                "type": "yarn",
                "factor": 2,
                "original_max_position": 64,
                "original_max_position_embeddings": 64,
            },
        ),
    ]
    for i, fn in enumerate(bad):
        with pytest.raises(ValueError):
            fn()
            pytest.fail(f"case {i} did not raise")


def test_figures_and_explorer_render():
    from matplotlib.figure import Figure

    from lcedu.viz import rope as viz
    from lcedu.widgets.rope import render, rope_explorer

    kw = dict(dim=32, base=1e4, factor=4.0, original_max_position=512)
    for fig in (
        viz.frequency_figure(**kw),
        viz.angles_figure(length=32, **kw),
        viz.decay_figure(points=50, **kw),
        viz.pi_crowding_figure(dim=32),
        render("Llama 3", 4.0, 1e4, 32, 512),
    ):
        assert isinstance(fig, Figure) and fig.axes
    # the explorer draws every view of the issue: wavelengths, ramp, frequency ratio,
    # angle heatmap (+ its colour bar), out of distribution, decay
    titles = [ax.get_title() for ax in render("YaRN", 8.0, 1e4, 64, 1024, 16.0, 2.0).axes]
    for words in ("wavelength", "ramp", "slowed", "cos(m·θ_i)", "out of distribution", "decay"):
        assert any(words in t for t in titles), (words, titles)
    with pytest.raises(ValueError):
        render("magic")
    with pytest.raises(ValueError):
        viz.method_frequencies("magic")
    assert rope_explorer().children
