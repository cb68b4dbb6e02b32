"""LongformerSelfAttention: the dense formulation row by row, and Hugging Face's module."""

from __future__ import annotations

import pytest
import torch

from lcedu.attention.masks import longformer_mask
from lcedu.attention.reference import attention
from lcedu.attention.sliding_window import LongformerSelfAttention
from lcedu.testing import assert_close, seed_everything


def _dense_longformer(mod: LongformerSelfAttention, h, pad, glob):
    """The witness: one Longformer mask, two projections. Non-global rows use the local
    q/k/v, global rows the global q/k/v; padded rows are zero."""
    B, n, _ = h.shape
    mask = longformer_mask(n, mod.one_sided_window, glob, pad)
    scale = mod.head_dim**-0.5
    local = attention(mod._heads(mod.query(h)), mod._heads(mod.key(h)),
                      mod._heads(mod.value(h)), mask=mask, scale=scale)
    glob_out = attention(mod._heads(mod.query_global(h)), mod._heads(mod.key_global(h)),
                         mod._heads(mod.value_global(h)), mask=mask, scale=scale)
    out = torch.where(glob[:, None, :, None], glob_out, local)  # rows are chosen, not mixed
    return out.transpose(1, 2).reshape(B, n, -1)


def _inputs(B, n, hidden, seed, dtype=torch.float64):
    gen = seed_everything(seed)
    h = torch.randn(B, n, hidden, generator=gen, dtype=dtype)
    pad = torch.ones(B, n, dtype=torch.bool)
    glob = torch.zeros(B, n, dtype=torch.bool)
    return h, pad, glob


@pytest.mark.parametrize("n", [7, 16, 33])
@pytest.mark.parametrize("num_heads", [1, 3])
def test_matches_dense_formulation(n, num_heads):
    mod = LongformerSelfAttention(6 * num_heads, num_heads, attention_window=4).double()
    h, pad, glob = _inputs(2, n, 6 * num_heads, seed=n + num_heads)
    glob[0, [0, n // 2]] = True  # globals at arbitrary positions, different per row
    glob[1, n - 1] = True
    pad[1, : n // 4 + 1] = False  # padding on the left of row 1
    pad[0, n - 2 :] = False
    glob[0, n - 2 :] = False
    got = mod(h, padding_mask=pad, global_mask=glob)
    want = _dense_longformer(mod, h, pad, glob)
    assert_close(got, want)
    assert bool((got[~pad] == 0).all())


def test_no_globals_and_list_of_positions():
    mod = LongformerSelfAttention(8, 2, attention_window=6).double()
    h, pad, glob = _inputs(1, 20, 8, seed=3)
    assert_close(mod(h), _dense_longformer(mod, h, pad, glob))
    glob[:, [2, 11]] = True
    assert_close(mod(h, global_mask=[2, 11]), _dense_longformer(mod, h, pad, glob))


def test_every_token_sees_the_global_token():
    # Symmetric global attention (erratum 4): changing the global token's value changes every
    # real row, including rows far outside its window.
    mod = LongformerSelfAttention(8, 2, attention_window=2).double()
    h, pad, glob = _inputs(1, 30, 8, seed=4)
    out = mod(h, global_mask=[0])
    h2 = h.clone()
    h2[0, 0] += 1.0
    changed = (mod(h2, global_mask=[0]) - out).abs().amax(dim=-1)[0]
    assert bool((changed > 1e-6).all())


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_low_precision_close_to_float64(dtype):
    mod = LongformerSelfAttention(16, 4, attention_window=8)
    h, pad, glob = _inputs(2, 25, 16, seed=9, dtype=torch.float32)
    glob[:, 3] = True
    pad[0, 20:] = False
    got = mod.to(dtype)(h.to(dtype), padding_mask=pad, global_mask=glob)
    mod64 = mod.double()
    want = _dense_longformer(mod64, h.to(dtype).double(), pad, glob)
    assert_close(got, want, dtype=dtype)


def test_gradients_match_dense_formulation():
    mod = LongformerSelfAttention(12, 3, attention_window=4).double()
    h, pad, glob = _inputs(2, 13, 12, seed=5)
    glob[0, 6] = glob[1, 0] = True
    pad[1, 10:] = False
    h.requires_grad_(True)
    params = [h, *mod.parameters()]
    g1 = torch.autograd.grad(mod(h, pad, glob).square().sum(), params)
    g2 = torch.autograd.grad(_dense_longformer(mod, h, pad, glob).square().sum(), params)
    for a, b in zip(g1, g2):
        assert_close(a, b)


def test_matches_hugging_face_module():
    hf = pytest.importorskip("transformers.models.longformer.modeling_longformer")
    from transformers import LongformerConfig

    hidden, heads, aw, n = 16, 2, 4, 12  # HF needs n to be a multiple of attention_window
    cfg = LongformerConfig(hidden_size=hidden, num_attention_heads=heads, attention_window=[aw],
                           attention_probs_dropout_prob=0.0, num_hidden_layers=1)
    ref = hf.LongformerSelfAttention(cfg, layer_id=0).double().eval()
    mod = LongformerSelfAttention(hidden, heads, attention_window=aw).double()
    mod.load_state_dict(ref.state_dict())
    h, pad, glob = _inputs(2, n, hidden, seed=8)
    glob[0, [1, 7]] = True
    glob[1, 0] = True
    pad[1, 9:] = False
    hf_mask = torch.zeros(2, n, dtype=torch.float64)
    hf_mask[~pad] = -10000.0
    hf_mask[glob] = 10000.0
    with torch.no_grad():
        want = ref(h, attention_mask=hf_mask, is_index_masked=hf_mask < 0,
                   is_index_global_attn=hf_mask > 0, is_global_attn=True)[0]
        got = mod(h, padding_mask=pad, global_mask=glob)
    # HF computes its softmax in float32 even for float64 inputs, so compare at float32's
    # tolerance.
    assert_close(got, want, dtype=torch.float32)


@pytest.mark.parametrize(
    "make,call",
    [
        (lambda: LongformerSelfAttention(8, 2, 7), None),
        (lambda: LongformerSelfAttention(8, 2, 0), None),
        (lambda: LongformerSelfAttention(8, 3, 4), None),
        (None, lambda m: m(torch.randn(1, 5, 7))),
        (None, lambda m: m(torch.randn(5, 8))),
        (None, lambda m: m(torch.randn(1, 5, 8), global_mask=[5])),
        (None, lambda m: m(torch.randn(1, 5, 8), padding_mask=torch.ones(1, 4, dtype=bool))),
        (None, lambda m: m(torch.randn(1, 5, 8), padding_mask=torch.arange(5)[None] < 4,
                           global_mask=[4])),
    ],
)
def test_bad_input_raises_value_error(make, call):
    with pytest.raises(ValueError):
        if make is not None:
            make()
        else:
            call(LongformerSelfAttention(8, 2, 4))


def test_chunked_path_matches_dense_formulation(monkeypatch):
    import lcedu.attention.sliding_window as sw

    monkeypatch.setattr(sw, "CHUNK_ELEMENTS", 100)  # one head and one block per step
    mod = LongformerSelfAttention(12, 3, attention_window=4).double()
    h, pad, glob = _inputs(2, 19, 12, seed=12)
    glob[0, [2, 15]] = True
    glob[1, 7] = True
    pad[0, 17:] = False
    h.requires_grad_(True)
    got = mod(h, pad, glob)
    want = _dense_longformer(mod, h, pad, glob)
    assert_close(got, want)
    for a, b in zip(torch.autograd.grad(got.sum(), h), torch.autograd.grad(want.sum(), h)):
        assert_close(a, b)
