"""flash_attention against PyTorch SDPA (math backend): outputs, LSE, gradients, tiles, IO model."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from lcedu.attention.flash import (
    TILE_FULL,
    TILE_MASKED,
    TILE_SKIPPED,
    flash_attention,
    hbm_bytes_flash,
    hbm_bytes_naive,
    merge_partials,
    online_softmax,
    visited_tiles,
)
from lcedu.testing import assert_close, seed_everything


def _sdpa_math(q, k, v, causal, scale=None):
    with sdpa_kernel(SDPBackend.MATH):
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=scale)


def _qkv(B, H, Lq, Lk, D, Dv, dtype, grad=False):
    q = torch.randn(B, H, Lq, D, dtype=dtype, requires_grad=grad)
    k = torch.randn(B, H, Lk, D, dtype=dtype, requires_grad=grad)
    v = torch.randn(B, H, Lk, Dv, dtype=dtype, requires_grad=grad)
    return q, k, v


# Ragged lengths (not multiples of the block), Lq != Lk both ways, odd head counts.
SHAPES = [
    (1, 3, 37, 37, 16, 16, 8, 8),
    (2, 1, 29, 45, 8, 12, 16, 7),
    (1, 5, 50, 21, 16, 16, 16, 16),
    (2, 3, 7, 7, 4, 4, 128, 128),  # a single tile
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_and_lse_equal_sdpa(shape, causal, dtype):
    seed_everything(0)
    B, H, Lq, Lk, D, Dv, bq, bk = shape
    q, k, v = _qkv(B, H, Lq, Lk, D, Dv, dtype)
    out, lse = flash_attention(q, k, v, causal=causal, block_q=bq, block_k=bk, return_lse=True)
    assert out.shape == (B, H, Lq, Dv) and out.dtype == dtype
    assert lse.shape == (B, H, Lq)
    assert_close(out, _sdpa_math(q, k, v, causal))
    s = (q.double() @ k.double().transpose(-2, -1)) / math.sqrt(D)
    if causal:
        s = s.masked_fill(torch.ones(Lq, Lk, dtype=torch.bool).tril().logical_not(), -math.inf)
    assert_close(lse, torch.logsumexp(s, dim=-1).to(lse.dtype), dtype=dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("shape", SHAPES[:3])
def test_gradients_equal_sdpa(shape, causal, dtype):
    seed_everything(1)
    B, H, Lq, Lk, D, Dv, bq, bk = shape
    q, k, v = _qkv(B, H, Lq, Lk, D, Dv, dtype, grad=True)
    g = torch.randn(B, H, Lq, Dv, dtype=dtype)
    out = flash_attention(q, k, v, causal=causal, block_q=bq, block_k=bk)
    got = torch.autograd.grad(out, (q, k, v), g)
    ref = torch.autograd.grad(_sdpa_math(q, k, v, causal), (q, k, v), g)
    for name, a, b in zip("qkv", got, ref):
        assert_close(a, b, msg=f"d{name}")


def test_gradcheck_through_out_and_lse_float64():
    seed_everything(2)
    q, k, v = _qkv(1, 2, 9, 7, 4, 3, torch.float64, grad=True)
    for causal in (False, True):
        assert torch.autograd.gradcheck(
            lambda q, k, v, c=causal: flash_attention(
                q, k, v, causal=c, block_q=4, block_k=3, return_lse=True
            ),
            (q, k, v),
        )


def test_custom_scale_and_half_precision():
    seed_everything(3)
    q, k, v = _qkv(1, 2, 33, 33, 16, 16, torch.float32)
    assert_close(
        flash_attention(q, k, v, scale=0.3, block_q=8, block_k=8),
        _sdpa_math(q, k, v, False, scale=0.3),
    )
    qb, kb, vb = q.bfloat16(), k.bfloat16(), v.bfloat16()
    out, lse = flash_attention(qb, kb, vb, causal=True, block_q=8, block_k=16, return_lse=True)
    assert out.dtype == torch.bfloat16 and lse.dtype == torch.float32
    ref = _sdpa_math(qb.double(), kb.double(), vb.double(), True)
    assert_close(out, ref.bfloat16(), dtype=torch.bfloat16)


def test_large_scores_do_not_overflow():
    """Scores near 1e4: exp without subtracting the running max would give inf/NaN."""
    seed_everything(4)
    q, k, v = _qkv(1, 1, 20, 20, 8, 8, torch.float32)
    q = q * 300
    out = flash_attention(q, k, v, block_q=8, block_k=8)
    assert torch.isfinite(out).all()
    assert_close(out, _sdpa_math(q.double(), k.double(), v.double(), False).float())


def test_halves_merged_equal_whole():
    """flash over two key halves + merge_partials = flash over all keys (ring attention's step)."""
    seed_everything(5)
    q, k, v = _qkv(1, 3, 19, 26, 8, 8, torch.float64)
    oa, la = flash_attention(q, k[:, :, :11], v[:, :, :11], block_q=8, block_k=8, return_lse=True)
    ob, lb = flash_attention(q, k[:, :, 11:], v[:, :, 11:], block_q=8, block_k=8, return_lse=True)
    out, lse = merge_partials(oa, la, ob, lb)
    whole, whole_lse = flash_attention(q, k, v, return_lse=True)
    assert_close(out, whole)
    assert_close(lse, whole_lse)


def test_nothing_quadratic_saved_for_backward():
    seed_everything(6)
    L, D = 96, 8
    q, k, v = _qkv(1, 2, L, L, D, D, torch.float32, grad=True)
    sizes = []

    def pack(t):
        sizes.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = flash_attention(q, k, v, causal=True, block_q=16, block_k=16)
    assert sizes, "expected the autograd Function to save q, k, v, out, lse"
    assert max(sizes) <= 2 * L * D  # O(n·d), while one score matrix is 2·L·L = 18432
    out.sum().backward()
    assert q.grad is not None and torch.isfinite(q.grad).all()


@pytest.mark.parametrize("T", [1, 2, 5, 8])
def test_causal_visits_triangular_number_of_tiles(T):
    b = 16
    grid = visited_tiles(T * b, T * b, b, b, causal=True)
    assert grid.shape == (T, T)
    assert int((grid > 0).sum()) == T * (T + 1) // 2
    assert int((grid == TILE_MASKED).sum()) == T  # only the diagonal is masked
    assert torch.equal(grid == TILE_MASKED, torch.eye(T, dtype=torch.bool))
    assert bool((grid[torch.ones(T, T, dtype=torch.bool).triu(1)] == TILE_SKIPPED).all())
    full = visited_tiles(T * b, T * b, b, b, causal=False)
    assert bool((full == TILE_FULL).all())


def test_visited_tiles_ragged():
    grid = visited_tiles(10, 7, 4, 3, causal=True)
    assert grid.shape == (3, 3)
    # brute force: a tile is visited iff some (i, j) in it has j <= i, masked iff some j > i
    for i in range(3):
        for j in range(3):
            qs, ks = range(4 * i, min(4 * i + 4, 10)), range(3 * j, min(3 * j + 3, 7))
            any_ok = any(jj <= ii for ii in qs for jj in ks)
            any_masked = any(jj > ii for ii in qs for jj in ks)
            want = TILE_SKIPPED if not any_ok else (TILE_MASKED if any_masked else TILE_FULL)
            assert int(grid[i, j]) == want


def test_io_model():
    n, d = 4096, 64
    naive = hbm_bytes_naive(n, d, bytes_per_elem=2)
    assert naive == 2 * (4 * n * d + 4 * n * n)
    flash = hbm_bytes_flash(n, d, sram_bytes=192 * 1024, bytes_per_elem=2)
    assert flash < naive / 4
    # Theta(n^2 d^2 / M): doubling n roughly quadruples flash traffic, doubling SRAM halves it.
    r = hbm_bytes_flash(2 * n, d) / hbm_bytes_flash(n, d)
    assert 3.5 < r < 4.5
    r = hbm_bytes_flash(n, d, sram_bytes=96 * 1024) / hbm_bytes_flash(n, d)
    assert 1.7 < r < 2.3
    assert hbm_bytes_naive(n, d, batch_heads=8) == 8 * naive


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"block_q": 0}, "block_q must be a positive integer"),
        ({"block_k": -3}, "block_k must be a positive integer"),
        ({"block_q": 2.5}, "block_q"),
        ({"scale": 0.0}, "scale must be a positive number"),
    ],
)
def test_bad_arguments(kwargs, words):
    q, k, v = _qkv(1, 1, 4, 4, 2, 2, torch.float32)
    with pytest.raises(ValueError, match=words):
        flash_attention(q, k, v, **kwargs)


def test_bad_tensors():
    q, k, v = _qkv(1, 1, 4, 4, 2, 2, torch.float32)
    with pytest.raises(ValueError, match="head_dim"):
        flash_attention(q, torch.randn(1, 1, 4, 3), v)
    with pytest.raises(ValueError, match="dtype"):
        flash_attention(q, k.double(), v)
    with pytest.raises(ValueError, match="4 dimensions"):
        flash_attention(q[0], k, v)
    with pytest.raises(ValueError, match="at least one key"):
        flash_attention(q, k[:, :, :0], v[:, :, :0])
    with pytest.raises(ValueError, match="n_q"):
        visited_tiles(0, 4)
    with pytest.raises(ValueError, match="n"):
        hbm_bytes_flash(-1)


def test_online_softmax_steps():
    seed_everything(7)
    x = torch.randn(23) * 4
    probs, ms, ls = online_softmax(x, 5)
    assert ms.shape == ls.shape == (5,)
    torch.testing.assert_close(probs, torch.softmax(x.double(), 0))
    for i in range(5):  # after block i: max and sum over the first 5(i+1) scores
        seen = x.double()[: 5 * (i + 1)]
        torch.testing.assert_close(ms[i], seen.max())
        torch.testing.assert_close(ls[i], torch.exp(seen - seen.max()).sum())
    with pytest.raises(ValueError, match="1-D"):
        online_softmax(torch.zeros(2, 2), 2)
