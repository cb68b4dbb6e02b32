"""The real model (SmolLM2-135M, GGUF, offline) driven by the course's kernels and scalings.

Witnesses: the model's own SDPA and eager paths, transformers' own RoPE scalings, a dense
single forward for the token-by-token streaming loop, transformers' own KV cache for the
course's memory calculator. The model loads once (module fixture) with networking blocked.
"""

from __future__ import annotations

import socket

import pytest
import torch

rm = pytest.importorskip("lcedu.models.real_model")

try:
    rm.gguf_path()
    import accelerate  # noqa: F401
    import gguf  # noqa: F401
except (rm.MissingModelError, ImportError) as e:  # pragma: no cover - make test installs it
    pytest.skip(f"the model extra is not installed ({e})", allow_module_level=True)

PROMPT = (
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n    a, b = 0, 1\n"
    "    for _ in range(n):\n        a, b = b, a + b\n    return a\n\n"
    "The attention mechanism lets every token look at the tokens before it. "
)


@pytest.fixture(scope="module")
def loaded():
    attempts = []

    def refuse(self, address, *a, **k):
        attempts.append(address)
        raise OSError(f"network blocked by the test (tried {address!r})")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        mp.setattr(socket, "create_connection", lambda *a, **k: refuse(None, a))
        lm = rm.load_model()
    lm.attempts = attempts
    return lm


@pytest.fixture(scope="module")
def ids(loaded):
    out = loaded.tokenizer(PROMPT * 3, return_tensors="pt").input_ids[:, :173]  # odd length
    assert out.shape[1] == 173
    return out


def _logits(model, ids):
    with torch.no_grad():
        return model(input_ids=ids, use_cache=False).logits[0].float()


def test_loader_runs_offline_and_describes_the_model(loaded):
    assert loaded.attempts == [], "the loader tried to reach the network"
    facts = rm.model_facts(loaded.model)
    assert (facts["layers"], facts["hidden"], facts["query_heads"], facts["kv_heads"]) == (
        30, 576, 9, 3)
    assert facts["native_context"] == 8192 and facts["rope_theta"] == 100_000.0
    assert 130e6 < facts["parameters"] < 140e6
    assert loaded.path.name.endswith(".gguf")


def test_course_cache_calculator_matches_transformers_cache(loaded, ids):
    n = ids.shape[1]
    assert rm.allocated_cache_bytes(loaded.model, ids) == rm.predicted_cache_bytes(loaded.model, n)
    # 30 layers · 3 KV heads · 64 dims · 2 (K and V) · 2 bytes (bf16) per token
    assert rm.predicted_cache_bytes(loaded.model, 1) == 30 * 3 * 64 * 2 * 2


@pytest.mark.parametrize("name", ["lcedu_tiled", "lcedu_dense"])
def test_course_attention_gives_the_models_logits(loaded, ids, name):
    model = loaded.model
    rm.use_attention(model, "sdpa")
    want = _logits(model, ids)
    rm.use_attention(model, name)
    try:
        got = _logits(model, ids)
    finally:
        rm.use_attention(model, "sdpa")
    # bf16 activations: compare with a tolerance on the logit scale, and the predictions.
    err = (got - want).abs().max().item()
    assert err < 0.05 * want.abs().max().item(), f"{name}: max logit difference {err}"
    # bf16 near-ties flip a few greedy picks (the model's own eager path: ~97% on this text)
    assert (got.argmax(-1) == want.argmax(-1)).float().mean() > 0.93
    nll_w = torch.nn.functional.cross_entropy(want[:-1], ids[0, 1:])
    nll_g = torch.nn.functional.cross_entropy(got[:-1], ids[0, 1:])
    assert abs(nll_w - nll_g) < 0.02


def test_wrong_grouping_of_kv_heads_is_caught(loaded, ids, monkeypatch):
    """The tolerance above is tight enough to see a GQA mistake (heads tiled, not grouped)."""
    model = loaded.model
    rm.use_attention(model, "sdpa")
    want = _logits(model, ids)
    from lcedu.models.real_model import attention as att

    monkeypatch.setattr(
        att, "expand_kv_heads", lambda x, h: x.repeat(1, h // x.shape[1], 1, 1)
    )
    rm.use_attention(model, "lcedu_dense")
    try:
        got = _logits(model, ids)
    finally:
        rm.use_attention(model, "sdpa")
    nll_w = torch.nn.functional.cross_entropy(want[:-1], ids[0, 1:])
    nll_g = torch.nn.functional.cross_entropy(got[:-1], ids[0, 1:])
    assert abs(nll_w - nll_g) > 0.2


def test_expand_kv_heads_refuses_uneven_groups():
    with pytest.raises(ValueError, match="evenly"):
        rm.expand_kv_heads(torch.zeros(1, 3, 2, 4), 8)


SCALED = [("pi", 1.7), ("ntk", 2.3), ("dynamic", 1.5), ("yarn", 2.5)]


@pytest.mark.parametrize("name,factor", SCALED)
def test_course_inv_freq_equals_transformers(loaded, name, factor):
    cfg = loaded.model.config
    hf = rm.transformers_rotary(cfg, name, factor)
    course = rm.CourseRotaryEmbedding(cfg, name, factor)
    pos = torch.arange(0, 12_001, 7)[None]  # beyond the native 8192 (dynamic recomputes)
    x = torch.zeros(1, dtype=torch.float32)
    cos_h, sin_h = hf(x, pos)
    cos_c, sin_c = course(x, pos)
    torch.testing.assert_close(course.inv_freq, hf.inv_freq, rtol=1e-6, atol=0)
    assert course.attention_scaling == pytest.approx(hf.attention_scaling, rel=1e-12)
    torch.testing.assert_close(cos_c, cos_h, rtol=0, atol=2e-4)
    torch.testing.assert_close(sin_c, sin_h, rtol=0, atol=2e-4)
    plain = rm.transformers_rotary(cfg, "none")
    assert not torch.allclose(plain(x, pos)[0], cos_h, atol=1e-2), "the scaling changed nothing"


@pytest.mark.parametrize("name,factor", SCALED)
def test_model_logits_same_with_course_or_transformers_scaling(loaded, ids, name, factor):
    model = loaded.model
    native = model.config.max_position_embeddings
    model.config.max_position_embeddings = 64  # so dynamic NTK is active at 173 tokens
    try:
        rm.set_rope(model, name, factor, source="transformers")
        want = _logits(model, ids)
        rm.set_rope(model, name, factor, source="course")
        got = _logits(model, ids)
        rm.set_rope(model)
        plain = _logits(model, ids)
    finally:
        model.config.max_position_embeddings = native
        rm.set_rope(model)
    # Frequencies agree to an ulp; in bf16 a one-ulp change of a cos/sin entry can flip a
    # rounding that 30 layers amplify, so compare as the attention test does.
    nll = torch.nn.functional.cross_entropy
    assert abs(nll(got[:-1], ids[0, 1:]) - nll(want[:-1], ids[0, 1:])) < 0.01
    assert (got.argmax(-1) == want.argmax(-1)).float().mean() > 0.93
    assert (got - want).abs().max() < 0.05 * want.abs().max()
    assert abs(nll(plain[:-1], ids[0, 1:]) - nll(want[:-1], ids[0, 1:])) > 0.01 or (
        (plain - want).abs().max() > 0.5 * want.abs().max()
    ), "scaling left the logits unchanged"


def test_lessons_yarn_sketch_differs_from_transformers(loaded):
    """A known-wrong scaling (the lesson's YaRN sketch, ERRATA 10-14) fails the comparison."""
    from lcedu.positions.scaling import lesson_yarn_inv_freq

    hf = rm.transformers_rotary(loaded.model.config, "yarn", 2.5)
    sketch, mscale = lesson_yarn_inv_freq(64, 8192, 20480, 100_000.0)
    assert not torch.allclose(sketch.float(), hf.inv_freq, rtol=1e-3)


def test_scaling_bad_input_says_why(loaded):
    with pytest.raises(ValueError, match="scaling must be one of"):
        rm.set_rope(loaded.model, "rope2x", 2.0)
    with pytest.raises(ValueError, match="factor must be"):
        rm.course_inv_freq(loaded.model.config, "pi", 0.5)
    with pytest.raises(ValueError, match="source"):
        rm.set_rope(loaded.model, "pi", 2.0, source="hub")


def test_token_nll_matches_the_models_loss_and_buckets(loaded, ids):
    nll = rm.token_nll(loaded.model, ids, chunk=50)
    with torch.no_grad():
        loss = loaded.model(input_ids=ids, labels=ids, use_cache=False).loss
    assert nll.shape == (ids.shape[1] - 1,)
    assert nll.mean().item() == pytest.approx(loss.item(), abs=2e-3)
    b = rm.bucket_means(nll, 50)
    assert len(b) == 4 and b[-1] == pytest.approx(nll[150:].mean().item())
    with pytest.raises(ValueError, match="bucket"):
        rm.bucket_means(nll, 0)


def test_streaming_full_and_wide_window_equal_one_dense_forward(loaded, ids):
    short = ids[:, :41]
    dense = rm.token_nll(loaded.model, short)
    full = rm.stream_nll(loaded.model, short, "full")
    wide = rm.stream_nll(loaded.model, short, "window", window=64)
    # one bf16 forward vs 40 bf16 decoding steps: equal up to bf16 rounding
    assert (full - dense).abs().mean() < 0.05 and (full - dense).abs().max() < 0.4
    torch.testing.assert_close(wide, full, rtol=0, atol=1e-4)
    narrow = rm.stream_nll(loaded.model, short, "window", window=8)
    assert (narrow[:7] - full[:7]).abs().max() < 1e-4  # identical until the first eviction
    assert (narrow[10:] - full[10:]).abs().max() > 0.05
    sinks = rm.stream_nll(loaded.model, short, "sinks", window=8, n_sink=4)
    assert (sinks[:7] - full[:7]).abs().max() < 1e-4
    with pytest.raises(ValueError, match="larger than n_sink"):
        rm.make_cache("sinks", 4, 4)
    with pytest.raises(ValueError, match="cache kind"):
        rm.make_cache("ring", 8)


def test_sink_mass_equals_eager_attention_weights(loaded, ids):
    model = loaded.model
    mass = rm.sink_mass(model, ids, n_sink=4, min_query=32)
    rm.use_attention(model, "eager")
    try:
        with torch.no_grad():
            att = model(input_ids=ids, output_attentions=True, use_cache=False).attentions
    finally:
        rm.use_attention(model, "sdpa")
    want = torch.stack([a[0, :, 32:, :4].float().sum(-1).mean(-1) for a in att])
    assert mass.shape == (30, 9)
    torch.testing.assert_close(mass, want, rtol=0, atol=0.02)
    assert model.config._attn_implementation == "sdpa"
    with pytest.raises(ValueError, match="min_query"):
        rm.sink_mass(model, ids, min_query=1000)


def test_passkey_prompt_holds_the_key_at_its_depth(loaded):
    tok = loaded.tokenizer
    ids = rm.passkey_prompt(tok, 600, 0.25, "51234")
    assert 500 < ids.shape[1] <= 620
    text = tok.decode(ids[0])
    assert text.count("51234") == 2 and text.endswith("The pass key is")
    assert 0.1 < text.index("51234") / len(text) < 0.4
    trial = rm.PasskeyTrial(600, 0.25, "51234", " 51234. Rem")
    assert trial.passed and not rm.PasskeyTrial(600, 0.25, "51234", " 5123").passed
    with pytest.raises(ValueError, match="depth"):
        rm.passkey_prompt(tok, 600, 1.5, "51234")


def test_cli_refuses_bad_input_before_loading(capsys):
    from lcedu.models.real_model_cli import main

    assert main(["perplexity", "--scaling", "bogus", "--out", "/dev/null"]) == 2
    assert "unknown scaling" in capsys.readouterr().err
