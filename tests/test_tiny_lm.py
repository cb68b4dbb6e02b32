"""The tiny LM: each scheme's attention equals the dense reference with its rotation/bias."""

from __future__ import annotations

import math

import pytest
import torch

from lcedu.attention.reference import attention
from lcedu.models.positional import SCHEMES, sinusoidal_table
from lcedu.models.tiny_lm import RopeOverride, TinyLM, TinyLMConfig
from lcedu.positions.alibi import alibi_bias
from lcedu.positions.rope import apply_rope, rope_cos_sin, rope_inv_freq
from lcedu.testing import assert_close, seed_everything


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster on one thread when the CPU is shared (no effect on results'
    correctness; restored afterwards)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def small(pos: str, **kw) -> TinyLM:
    cfg = dict(pos=pos, dim=30, layers=2, heads=3, max_len=24)  # odd head count, head_dim 10
    cfg.update(kw)
    return TinyLM(TinyLMConfig(**cfg))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("pos", SCHEMES)
def test_attention_equals_dense_reference(pos, dtype):
    seed_everything(0)
    model = small(pos).to(dtype)
    attn = model.blocks[0].attn
    B, L, H = 2, 13, 3
    x = torch.randn(B, L, 30, dtype=dtype)
    got = attn(x, **model.attention_inputs(L, dtype=dtype))
    q, k, v = attn.project(x)
    if pos == "rope":
        cos, sin = rope_cos_sin(torch.arange(L), rope_inv_freq(10))
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    if pos == "alibi":
        # −m_h·(i−j) with m_h = 2^(−8h/H) for H=3 (non-power of two: 2 heads + 1 interleaved)
        bias = alibi_bias(H, L, dtype=dtype)
        expected = attention(q, k, v, bias=bias)
    else:
        expected = attention(q, k, v, causal=True)
    assert_close(got, attn.merge(expected), dtype=dtype)


def test_alibi_bias_in_the_model_is_the_papers_linear_penalty():
    model = small("alibi", heads=2, dim=20)
    bias = model.attention_inputs(5)["bias"]
    slopes = [2.0 ** (-8 * h / 2) for h in (1, 2)]
    for h, m in enumerate(slopes):
        for i in range(5):
            for j in range(5):
                want = -m * (i - j) if j <= i else -math.inf
                assert bias[h, i, j].item() == pytest.approx(want)


@pytest.mark.parametrize("pos", SCHEMES)
def test_model_is_causal_and_trains(pos):
    seed_everything(1)
    model = small(pos)
    idx = torch.randint(0, 256, (2, 17))
    changed = idx.clone()
    changed[:, 11:] = (changed[:, 11:] + 1) % 256
    a, b = model(idx), model(changed)
    assert_close(a[:, :11], b[:, :11])
    assert not torch.allclose(a[:, 11:], b[:, 11:])
    loss = model.loss(idx, torch.roll(idx, -1, 1))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_only_absolute_schemes_tell_positions_of_a_constant_sequence_apart():
    # On "aaaa…" every value vector is the same, so relative schemes (NoPE, RoPE, ALiBi) give
    # the same output at every position whatever the weights; absolute embeddings do not.
    seed_everything(2)
    idx = torch.full((1, 12), ord("a"))
    for pos in SCHEMES:
        with torch.no_grad():
            logits = small(pos)(idx)[0]
        same = torch.allclose(logits, logits[:1].expand_as(logits), atol=1e-5)
        assert same == (pos in ("none", "rope", "alibi")), pos


def test_sinusoidal_table_matches_vaswani():
    table = sinusoidal_table(50, 8)
    for p in (0, 1, 17, 49):
        for i in range(4):
            angle = p / 10000 ** (2 * i / 8)
            assert table[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_extrapolating_schemes_run_past_max_len_learned_refuses():
    idx = torch.zeros(1, 40, dtype=torch.long)
    for pos in ("none", "sinusoidal", "rope", "alibi"):
        assert small(pos)(idx).shape == (1, 40, 256)
    with pytest.raises(ValueError, match="larger than the learned position table"):
        small("learned")(idx)


def test_rope_override_changes_the_rotation():
    seed_everything(3)
    model = small("rope")
    idx = torch.randint(0, 256, (1, 20))
    plain = model(idx)
    same = model(idx, rope=RopeOverride(rope_inv_freq(10), 1.0))
    assert torch.equal(plain, same)
    pi = model(idx, rope=RopeOverride(rope_inv_freq(10) / 4, 1.0))
    assert not torch.allclose(plain, pi)


def test_bad_input_raises_clear_errors():
    with pytest.raises(ValueError, match="unknown position scheme 'xpos'"):
        TinyLMConfig(pos="xpos")
    with pytest.raises(ValueError, match="divisible"):
        TinyLMConfig(dim=30, heads=4)
    with pytest.raises(ValueError, match="must be even"):
        TinyLMConfig(dim=12, heads=4)
    with pytest.raises(ValueError, match="only applies to a RoPE model"):
        small("alibi")(torch.zeros(1, 4, dtype=torch.long),
                       rope=RopeOverride(rope_inv_freq(10)))
    with pytest.raises(ValueError, match="frequencies"):
        small("rope")(torch.zeros(1, 4, dtype=torch.long), rope=RopeOverride(torch.ones(3)))
    with pytest.raises(ValueError, match="batch, length"):
        small("none")(torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="unknown model config keys"):
        TinyLMConfig.from_dict({"pos": "rope", "width": 3})


@pytest.mark.parametrize("pos", SCHEMES)
def test_whole_model_through_the_course_reference_attention_equals_sdpa(pos):
    # The course's own dense attention (lcedu.attention.reference) can run the model end to end.
    seed_everything(4)
    model = small(pos).double()
    idx = torch.randint(0, 256, (2, 19))
    with torch.no_grad():
        fast = model(idx)
        ref = model(idx, attention="reference")
    assert_close(ref, fast, dtype=torch.float64)
    loss = model.loss(idx, torch.roll(idx, -1, 1), attention="reference")
    assert torch.isfinite(loss)


def test_model_can_be_built_from_keywords():
    model = TinyLM(pos="alibi", dim=20, layers=1, heads=2, max_len=8)
    assert model.config == TinyLMConfig(pos="alibi", dim=20, layers=1, heads=2, max_len=8)
    base = TinyLMConfig(pos="rope", dim=20, layers=1, heads=2, max_len=8)
    assert TinyLM(base, pos="none").config.pos == "none"  # keywords override a config's fields
    assert TinyLM().config == TinyLMConfig()  # defaults: 4 layers, dim 128, 4 heads, rope
    with pytest.raises(ValueError, match="unknown position scheme 'nope'"):
        TinyLM(pos="nope")
    with pytest.raises(ValueError, match="unknown model setting"):
        TinyLM(width=3)
    with pytest.raises(ValueError, match="must be a TinyLMConfig"):
        TinyLM({"pos": "rope"})


def test_more_bad_input_raises_clear_errors():
    model = small("rope")
    idx = torch.zeros(1, 4, dtype=torch.long)
    with pytest.raises(ValueError, match="unknown attention kernel 'flash'"):
        model(idx, attention="flash")
    with pytest.raises(ValueError, match=r"ids in 0 … 255"):
        model(torch.full((1, 4), 256))
    with pytest.raises(ValueError, match="targets must be a tensor shaped like idx"):
        model.loss(idx, torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="rope_scaling needs pos='rope'"):
        TinyLMConfig(pos="alibi", rope_scaling="linear", rope_original_len=8)
    with pytest.raises(ValueError, match="shorter than max_len"):
        TinyLMConfig(pos="rope", rope_scaling="yarn", rope_original_len=256, max_len=256)
