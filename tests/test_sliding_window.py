"""Banded sliding-window attention and the lesson's sketch, against the dense reference."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn.functional as F

from lcedu.attention.flex import (
    flex_available,
    flex_sliding_window_attention,
    flex_status,
)
from lcedu.attention.masks import longformer_mask, sliding_window_mask
from lcedu.attention.reference import attention
from lcedu.attention.sliding_window import (
    lesson_sliding_window_attention,
    sliding_window_attention,
)
from lcedu.testing import assert_close, seed_everything, tolerance


def _qkv(shape, dtype=torch.float32, seed=0, grad=False):
    gen = seed_everything(seed)
    out = [torch.randn(*shape, generator=gen).to(dtype) for _ in range(3)]
    return [t.requires_grad_(grad) for t in out]


@pytest.mark.parametrize("n", [1, 5, 16, 37, 64])  # multiples of the window and not
@pytest.mark.parametrize("w", [1, 4, 16])
@pytest.mark.parametrize("causal", [False, True])
def test_matches_dense_reference_float64(n, w, causal):
    q, k, v = _qkv((2, 3, n, 8), torch.float64, seed=n * 100 + w)
    got = sliding_window_attention(q, k, v, w, causal=causal)
    want = attention(q, k, v, mask=sliding_window_mask(n, w, causal=causal))
    assert_close(got, want)


@pytest.mark.parametrize("block_size", [1, 3, 8, 50])
def test_block_size_does_not_change_the_result(block_size):
    q, k, v = _qkv((1, 2, 29, 4), torch.float64, seed=7)
    want = attention(q, k, v, mask=sliding_window_mask(29, 5))
    assert_close(sliding_window_attention(q, k, v, 5, block_size=block_size), want)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_low_precision_matches_float64_truth(dtype):
    q, k, v = _qkv((2, 5, 45, 16), dtype, seed=3)
    got = sliding_window_attention(q, k, v, 6, causal=True)
    truth = attention(*(t.double() for t in (q, k, v)), mask=sliding_window_mask(45, 6,
                                                                               causal=True))
    assert got.dtype == dtype
    assert_close(got, truth, dtype=dtype)


def test_padding_is_never_attended_and_padded_rows_are_zero():
    n, w = 23, 3
    q, k, v = _qkv((2, 3, n, 8), torch.float64, seed=11)
    pad = torch.ones(2, n, dtype=torch.bool)
    pad[0, 17:] = False
    pad[1, :2] = False  # left padding too
    got = sliding_window_attention(q, k, v, w, padding_mask=pad)
    want = attention(q, k, v, mask=longformer_mask(n, w, [], pad))
    assert_close(got, want)
    assert bool((got[0, :, 17:] == 0).all())
    # Changing a padded key's value must not change anything.
    v2 = v.clone()
    v2[0, :, 18] += 100.0
    assert_close(sliding_window_attention(q, k, v2, w, padding_mask=pad), got)


@pytest.mark.parametrize("causal", [False, True])
def test_gradients_match_dense_reference(causal):
    n, w = 21, 4
    q, k, v = _qkv((1, 3, n, 8), torch.float64, seed=5, grad=True)
    g = torch.randn(1, 3, n, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = torch.autograd.grad((sliding_window_attention(q, k, v, w, causal=causal) * g).sum(),
                              (q, k, v))
    want = torch.autograd.grad(
        (attention(q, k, v, mask=sliding_window_mask(n, w, causal=causal)) * g).sum(), (q, k, v)
    )
    for a, b in zip(got, want):
        assert_close(a, b)


def test_never_builds_an_n_by_n_tensor():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Largest(TorchDispatchMode):
        biggest = 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else [out]:
                if isinstance(t, torch.Tensor):
                    Largest.biggest = max(Largest.biggest, t.numel())
            return out

    n, w = 1024, 8
    q, k, v = _qkv((1, 1, n, 4), seed=2)
    with Largest():
        sliding_window_attention(q, k, v, w)
    assert Largest.biggest <= n * (w + 2 * w)  # the band: n·(block + 2w), far below n² = 1M


@pytest.mark.parametrize(
    "call",
    [
        lambda q: sliding_window_attention(q, q, q, 0),
        lambda q: sliding_window_attention(q, q, q, 2.0),
        lambda q: sliding_window_attention(q, q[:, :, :5], q[:, :, :5], 2),
        lambda q: sliding_window_attention(q, q[..., :3], q, 2),
        lambda q: sliding_window_attention(q[0], q[0], q[0], 2),
        lambda q: sliding_window_attention(q, q, q, 2, padding_mask=torch.ones(3, dtype=bool)),
        lambda q: sliding_window_attention(q, q, q, 2, padding_mask=torch.ones(9)),
        lambda q: sliding_window_attention(q, q, q, 2, block_size=0),
    ],
)
def test_bad_input_raises_value_error(call):
    q = torch.randn(1, 2, 9, 4)
    with pytest.raises(ValueError):
        call(q)


# ----- the lesson's sketch: where exactly it is wrong (errata 1, 2) --------------------


def _lesson_semantics(q, k, v, w):
    """What the sketch computes, written independently: keys i−w … i+w−1 of K and V padded
    with w zero vectors on each side (a zero key scores 0 and takes softmax weight)."""
    n = q.shape[2]
    kp = F.pad(k, (0, 0, w, w))
    vp = F.pad(v, (0, 0, w, w))
    i = torch.arange(n)[:, None]
    jp = torch.arange(n + 2 * w)[None, :]  # padded index; original index is jp − w
    mask = (jp >= i) & (jp <= i + 2 * w - 1)
    return attention(q, kp, vp, mask=mask)


def test_lesson_sketch_is_what_errata_1_and_2_describe():
    n, w = 24, 4
    q, k, v = _qkv((2, 3, n, 8), torch.float64, seed=21)
    lesson = lesson_sliding_window_attention(q, k, v, window_size=2 * w)
    assert_close(lesson, _lesson_semantics(q, k, v, w))

    right = sliding_window_attention(q, k, v, w)
    tol = tolerance(torch.float64)
    row_err = (lesson - right).abs().amax(dim=(0, 1, 3))
    wrong_rows = {int(i) for i in (row_err > tol.atol).nonzero().flatten()}
    # Every row is wrong except i = n − w: its 2w keys i−w … n−1 are exactly the real window.
    assert wrong_rows == set(range(n)) - {n - w}

    # Erratum 2 alone explains the interior: there the sketch equals a window of keys
    # i−w … i+w−1 (2w keys, the key i+w is missing).
    off_by_one = torch.zeros(n, n, dtype=torch.bool)
    for i in range(n):
        off_by_one[i, max(0, i - w) : min(n, i + w)] = True
    fixed_edges = attention(q, k, v, mask=off_by_one)
    interior = list(range(w, n - w + 1))
    edges = [i for i in range(n) if i not in interior]
    assert_close(lesson[:, :, interior], fixed_edges[:, :, interior])
    # Erratum 1 is what is left at the edges: zero keys take softmax weight there.
    edge_err = (lesson[:, :, edges] - fixed_edges[:, :, edges]).abs().amax(dim=(0, 1, 3))
    assert bool((edge_err > tol.atol).all())


# ----- FlexAttention -------------------------------------------------------------------


@pytest.mark.skipif(not flex_available(), reason="FlexAttention is not in this torch")
@pytest.mark.parametrize("causal", [False, True])
def test_flex_eager_matches_reference(causal):
    n, w = 40, 5
    q, k, v = _qkv((1, 2, n, 16), seed=4)
    got = flex_sliding_window_attention(q, k, v, w, causal=causal, compiled=False)
    assert_close(got, attention(q, k, v, mask=sliding_window_mask(n, w, causal=causal)))


@pytest.mark.skipif(not flex_available(), reason="FlexAttention is not in this torch")
@pytest.mark.parametrize("causal", [False, True])
def test_flex_with_padding_matches_reference(causal):
    # Same contract as the banded kernel: padded keys never attended, padded rows zero.
    n, w = 37, 4
    q, k, v = _qkv((2, 3, n, 8), seed=13)
    pad = torch.ones(2, n, dtype=torch.bool)
    pad[0, 30:] = False
    pad[1, :3] = False
    got = flex_sliding_window_attention(q, k, v, w, causal=causal, padding_mask=pad,
                                        compiled=False, block_size=16)
    mask = sliding_window_mask(n, w, causal=causal) & pad[:, None, :, None] & pad[:, None, None, :]
    assert_close(got, attention(q, k, v, mask=mask))
    assert bool((got[0, :, 30:] == 0).all()) and bool((got[1, :, :3] == 0).all())
    assert_close(got, sliding_window_attention(q, k, v, w, causal=causal, padding_mask=pad))


@pytest.mark.skipif(not flex_available(), reason="FlexAttention is not in this torch")
def test_flex_with_global_tokens_and_padding_matches_longformer_mask():
    n, w = 70, 3
    q, k, v = _qkv((2, 2, n, 8), seed=14)
    glob = torch.zeros(2, n, dtype=torch.bool)
    glob[0, [0, 41]] = True  # different positions per batch row, far apart
    glob[1, 66] = True
    pad = torch.ones(2, n, dtype=torch.bool)
    pad[0, 60:] = False
    for g, p in ((glob, None), (glob, pad), ([5, 69], None)):
        got = flex_sliding_window_attention(q, k, v, w, global_tokens=g, padding_mask=p,
                                            compiled=False, block_size=16)
        assert_close(got, attention(q, k, v, mask=longformer_mask(n, w, g, p)))


@pytest.mark.skipif(not flex_status("cpu")[0], reason="no compiled FlexAttention here")
def test_flex_compiled_block_mask_covers_every_batch_row(monkeypatch):
    # The compiled kernel visits only the tiles the BlockMask lists, so the BlockMask must be
    # built per batch row when globals/padding differ by row (a batch-broadcast one, built
    # from row 0, would skip row 1's global tiles). The kernel is replaced by the eager one
    # (no compiling here); what is checked is the BlockMask it is given.
    from torch.nn.attention.flex_attention import flex_attention

    import lcedu.attention.flex as flex

    seen = []

    def eager(q, k, v, *, block_mask, scale):
        seen.append(block_mask)
        return flex_attention(q, k, v, block_mask=block_mask, scale=scale)

    monkeypatch.setattr(flex, "_compiled_flex", lambda: eager)
    n, w, bs = 256, 2, 16
    q, k, v = _qkv((2, 1, n, 8), seed=15)
    glob = torch.zeros(2, n, dtype=torch.bool)
    glob[0, 3] = True
    glob[1, 200] = True
    got = flex_sliding_window_attention(q, k, v, w, global_tokens=glob, block_size=bs)
    want_mask = longformer_mask(n, w, glob)[:, 0]  # (2, n, n)
    assert_close(got, attention(q, k, v, mask=longformer_mask(n, w, glob)))
    tiles = seen[0].to_dense().bool()  # (batch, 1, n / bs, n / bs)
    needed = want_mask.view(2, n // bs, bs, n // bs, bs).any(dim=(2, 4))
    assert tiles.shape[0] == 2 and bool((tiles[:, 0] | ~needed).all())


@pytest.mark.skipif(not flex_available(), reason="FlexAttention is not in this torch")
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(padding_mask=torch.ones(3, 9, dtype=torch.bool)),  # batch 3, inputs batch 1
        dict(padding_mask=torch.ones(8, dtype=torch.bool)),
        dict(global_tokens=[9]),
        dict(global_tokens=[0], causal=True),
    ],
)
def test_flex_bad_input_raises_value_error(kwargs):
    q = torch.randn(1, 2, 9, 4)
    with pytest.raises(ValueError):
        flex_sliding_window_attention(q, q, q, 2, compiled=False, **kwargs)


@pytest.mark.skipif(
    not (flex_status("cpu")[0] and os.environ.get("LCEDU_SLOW")),
    reason="compiles for tens of seconds on a CPU; set LCEDU_SLOW=1 to run",
)
@pytest.mark.timeout(600)
def test_flex_compiled_matches_banded():
    n, w = 300, 32
    q, k, v = _qkv((1, 2, n, 16), seed=6)
    got = flex_sliding_window_attention(q, k, v, w, compiled=True)
    assert_close(got, sliding_window_attention(q, k, v, w))


@pytest.mark.parametrize("chunk", [1, 200, 5000])  # one query block per step … all blocks
def test_memory_chunking_does_not_change_the_result(monkeypatch, chunk):
    import lcedu.attention.sliding_window as sw

    monkeypatch.setattr(sw, "CHUNK_ELEMENTS", chunk)
    n, w = 45, 4
    q, k, v = _qkv((2, 3, n, 8), torch.float64, seed=31, grad=True)
    pad = torch.ones(2, n, dtype=torch.bool)
    pad[1, 40:] = False
    got = sliding_window_attention(q, k, v, w, padding_mask=pad)
    want = attention(q, k, v, mask=longformer_mask(n, w, [], pad))
    assert_close(got, want)
    ga = torch.autograd.grad(got.sum(), (q, k, v))
    gb = torch.autograd.grad(want.sum(), (q, k, v))
    for a, b in zip(ga, gb):
        assert_close(a, b)
