"""Practical guide: chunking covers every token as documented; the decision guide follows the
lesson's table; checkpointing gives identical gradients; autocast and checkpointing save memory."""

from __future__ import annotations

import pytest
import torch

from lcedu.practice.chunking import chunk_document, chunk_spans, chunk_visibility
from lcedu.practice.guide import choose_method
from lcedu.practice.memory_tricks import BlockStack, saved_activation_bytes, training_step
from lcedu.testing import seed_everything


@pytest.mark.parametrize("n", [0, 1, 5, 16, 17, 100])
@pytest.mark.parametrize("chunk_size, overlap", [(4, 0), (4, 1), (4, 3), (7, 2), (1, 0), (16, 5)])
def test_chunks_cover_every_token_with_exact_overlap(n, chunk_size, overlap):
    tokens = list(range(n))
    chunks = chunk_document(tokens, chunk_size, overlap)
    assert sorted(set(t for c in chunks for t in c)) == tokens  # every token, nothing else
    assert all(1 <= len(c) <= chunk_size for c in chunks)
    assert all(c == tokens[c[0] : c[0] + len(c)] for c in chunks)  # contiguous pieces
    for a, b in zip(chunks, chunks[1:]):
        assert len(a) == chunk_size  # only the last chunk may be short
        assert a[-overlap:] == b[:overlap] if overlap else a[-1] + 1 == b[0]
        assert b[-1] > a[-1]  # each chunk brings new tokens
    if n:
        assert chunks[-1][-1] == n - 1
        stride = chunk_size - overlap
        assert len(chunks) == max(1, -(-(n - overlap) // stride))


def test_lesson_loop_adds_redundant_tail_chunks():
    # The lesson's loop: for i in range(0, len(tokens), chunk_size - overlap)
    tokens, chunk_size, overlap = list(range(10)), 4, 2
    lesson = [tokens[i : i + chunk_size] for i in range(0, len(tokens), chunk_size - overlap)]
    assert lesson[-1] == [8, 9] and set(lesson[-1]) <= set(lesson[-2])  # adds nothing new
    assert chunk_document(tokens, chunk_size, overlap)[-1] == [6, 7, 8, 9]


def test_chunk_document_keeps_sequence_type():
    assert chunk_document("abcdefg", 3, 1) == ["abc", "cde", "efg"]
    t = torch.arange(9)
    assert all(isinstance(c, torch.Tensor) for c in chunk_document(t, 4, 1))


def test_visibility_is_causal_and_limited_to_first_chunk():
    n, cs, ov = 20, 6, 2
    vis = chunk_visibility(n, cs, ov)
    spans = chunk_spans(n, cs, ov)
    for i in range(n):
        first = min(a for a, b in spans if a <= i < b)
        assert vis[i].nonzero().flatten().tolist() == list(range(first, i + 1))
    assert not vis[n - 1, 0]  # the end of the document cannot see its beginning
    assert torch.equal(chunk_visibility(8, 8, 0), torch.ones(8, 8, dtype=torch.bool).tril())


@pytest.mark.parametrize(
    "call",
    [
        lambda: chunk_spans(10, 4, 4),
        lambda: chunk_spans(10, 4, 5),
        lambda: chunk_spans(10, 0, 0),
        lambda: chunk_spans(10, 4, -1),
        lambda: chunk_spans(-1, 4, 1),
        lambda: chunk_document(5, 4, 1),
        lambda: choose_method(0, 8192),
        lambda: choose_method(4096, 8192, gpus=0),
        lambda: choose_method(4096, 8192, from_scratch="yes"),
    ],
)
def test_bad_inputs_raise_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_choose_method_follows_the_lessons_table():
    r = choose_method(4096, 8192)
    assert r.methods == ("Position Interpolation", "light fine-tuning") and r.rows == ("4K → 8K",)
    assert "YaRN" in choose_method(4096, 32768).methods
    assert "Position Interpolation" not in choose_method(4096, 32768).methods
    assert choose_method(4096, 32768).rows == ("4K → 32K",)  # the lesson's row, no Flash yet
    assert "FlashAttention" in choose_method(4096, 32769).methods
    assert choose_method(4096, 32768, from_scratch=True).methods[0] == "ALiBi"
    big = choose_method(32768, 131072, gpus=8)
    assert {"FlashAttention", "Ring Attention", "sparse attention"} <= set(big.methods)
    one_gpu = choose_method(32768, 131072, gpus=1)
    assert "Ring Attention" not in one_gpu.methods and one_gpu.notes
    huge = choose_method(131072, 2_000_000, gpus=8)
    assert "Mamba / state-space models" in huge.methods and "1M+" in huge.rows
    assert choose_method(8192, 4096).methods == ("nothing",)
    assert "light fine-tuning" not in choose_method(4096, 8192, can_finetune=False).methods
    assert len(r.methods) == len(r.reasons) and "4K → 8K" in str(r)


def test_checkpointing_gives_identical_gradients_and_saves_memory():
    seed_everything(0)
    model = BlockStack(2, 24, 3).double()
    x = torch.randn(2, 13, 24, dtype=torch.float64)
    grads = {}
    for ck in (False, True):
        model.checkpointing = ck
        model.zero_grad()
        loss = training_step(model, x)
        grads[ck] = (loss, [p.grad.clone() for p in model.parameters()])
    assert torch.equal(grads[False][0], grads[True][0])
    for a, b in zip(grads[False][1], grads[True][1]):
        assert torch.equal(a, b)  # recomputation is the same computation: bit-identical
    model.checkpointing = False
    plain = saved_activation_bytes(model, x)
    model.checkpointing = True
    ckpt = saved_activation_bytes(model, x)
    assert ckpt == 2 * x.numel() * 8  # only each block's input is kept
    assert plain > 10 * ckpt


def test_bf16_autocast_shrinks_saved_activations_and_stays_close():
    seed_everything(1)
    model = BlockStack(2, 32, 4)
    x = torch.randn(2, 16, 32)
    fp32 = saved_activation_bytes(model, x)
    bf16 = saved_activation_bytes(model, x, autocast_dtype=torch.bfloat16)
    assert bf16 < 0.9 * fp32  # matmul inputs saved in bf16; norms and softmax stay fp32
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        y16 = model(x)
    with torch.no_grad():
        y32 = model(x)
    err = float((y16.float() - y32).abs().max())
    assert 0 < err < 0.1  # bf16 matmuls (~3 significant digits), residuals in fp32
    with pytest.raises(ValueError, match="bfloat16"):
        training_step(model, x, autocast_dtype=torch.float64)


def test_package_reexports_its_submodules_names():
    import importlib

    import lcedu.practice as practice

    for name in practice.__all__:
        obj = getattr(practice, name)
        module = importlib.import_module(obj.__module__)
        assert getattr(module, name) is obj, name
    assert practice.chunk_document is chunk_document and practice.choose_method is choose_method
    assert practice.__all__ == sorted(practice.__all__)
