"""The dense witness itself, checked against PyTorch's SDPA (math backend) and by hand."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lcedu.attention.reference import attention
from lcedu.testing import assert_close


def _qkv(B, H, Lq, Lk, D, dtype, gen, Dv=None):
    q = torch.randn(B, H, Lq, D, generator=gen, dtype=dtype)
    k = torch.randn(B, H, Lk, D, generator=gen, dtype=dtype)
    v = torch.randn(B, H, Lk, Dv or D, generator=gen, dtype=dtype)
    return q, k, v


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(
    "shape", [(1, 1, 1, 1, 4), (2, 3, 17, 17, 8), (1, 5, 9, 23, 16), (2, 1, 13, 7, 3)]
)
def test_matches_sdpa(dtype, causal, shape):
    gen = torch.Generator().manual_seed(hash((dtype, causal, shape)) % 2**31)
    q, k, v = _qkv(*shape, dtype, gen)
    want = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert_close(attention(q, k, v, causal=causal), want)


def test_mask_bias_scale_and_weights_match_sdpa():
    gen = torch.Generator().manual_seed(1)
    q, k, v = _qkv(2, 3, 10, 12, 8, torch.float64, gen, Dv=5)
    mask = torch.rand(10, 12, generator=gen) > 0.3
    mask[:, 0] = True
    bias = torch.randn(3, 10, 12, generator=gen, dtype=torch.float64)
    out, w = attention(q, k, v, mask=mask, scale=0.3, return_weights=True)
    assert_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=0.3))
    assert_close(w.sum(-1), torch.ones(2, 3, 10, dtype=torch.float64))
    assert bool((w[..., ~mask] == 0).all())
    assert_close(
        attention(q, k, v, bias=bias), F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    )


def test_by_hand_single_query():
    q = torch.tensor([[[[1.0, 0.0]]]])
    k = torch.tensor([[[[1.0, 0.0], [0.0, 1.0]]]])
    v = torch.tensor([[[[10.0], [20.0]]]])
    a = math.exp(1 / math.sqrt(2))
    want = (10 * a + 20) / (a + 1)
    assert attention(q, k, v).item() == pytest.approx(want, rel=1e-6)


def test_fully_masked_row_is_zero_not_nan():
    q, k, v = (torch.randn(1, 1, 3, 4) for _ in range(3))
    mask = torch.ones(3, 3, dtype=torch.bool)
    mask[1] = False
    out = attention(q, k, v, mask=mask)
    assert torch.isfinite(out).all() and (out[0, 0, 1] == 0).all()


def test_gradients_match_sdpa():
    gen = torch.Generator().manual_seed(2)
    q, k, v = (t.requires_grad_() for t in _qkv(1, 3, 9, 9, 4, torch.float64, gen))
    attention(q, k, v, causal=True).sum().backward()
    grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
    for g, t in zip(grads, (q, k, v)):
        assert_close(g, t.grad)


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: (torch.randn(2, 4, 8), torch.randn(2, 4, 8), torch.randn(2, 4, 8)),
            "4 dimensions",
        ),
        (
            lambda: (torch.randn(1, 2, 4, 8), torch.randn(1, 2, 4, 6), torch.randn(1, 2, 4, 6)),
            "head_dim",
        ),
        (
            lambda: (torch.randn(1, 2, 4, 8), torch.randn(1, 2, 5, 8), torch.randn(1, 2, 4, 8)),
            "sequence length",
        ),
        (
            lambda: (torch.randn(1, 2, 4, 8), torch.randn(1, 3, 4, 8), torch.randn(1, 3, 4, 8)),
            "head counts",
        ),
        (
            lambda: (
                torch.randn(1, 2, 4, 8),
                torch.randn(1, 2, 4, 8).double(),
                torch.randn(1, 2, 4, 8),
            ),
            "dtype",
        ),
        (lambda: (torch.ones(1, 2, 4, 8, dtype=torch.long),) * 3, "floating"),
    ],
)
def test_bad_shapes_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        attention(*make())


def test_bad_mask_and_scale_raise_value_error():
    q = torch.randn(1, 1, 4, 8)
    with pytest.raises(ValueError, match="boolean"):
        attention(q, q, q, mask=torch.ones(4, 4))
    with pytest.raises(ValueError, match="does not match"):
        attention(q, q, q, mask=torch.ones(5, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match="scale"):
        attention(q, q, q, scale=-1.0)
