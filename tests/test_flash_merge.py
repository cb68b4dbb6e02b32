"""merge_partials: two halves of the keys, merged by LSE, equal attention over all keys."""

from __future__ import annotations

import math

import pytest
import torch

from lcedu.attention.flash import merge_partials
from lcedu.attention.reference import attention
from lcedu.testing import assert_close, seed_everything


def _partial(q, k, v, scale):
    """Attention over k/v plus the LSE of the scaled scores, written out independently."""
    s = (q.double() @ k.double().transpose(-2, -1)) * scale
    lse = torch.logsumexp(s, dim=-1)
    out = torch.softmax(s, dim=-1) @ v.double()
    return out.to(q.dtype), lse.to(q.dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("split", [1, 7, 12])
def test_merge_two_key_halves_equals_full_attention(dtype, split):
    seed_everything(0)
    B, H, Lq, Lk, D = 2, 3, 5, 13, 8
    q = torch.randn(B, H, Lq, D, dtype=dtype)
    k = torch.randn(B, H, Lk, D, dtype=dtype)
    v = torch.randn(B, H, Lk, D, dtype=dtype)
    scale = 1 / math.sqrt(D)
    oa, la = _partial(q, k[:, :, :split], v[:, :, :split], scale)
    ob, lb = _partial(q, k[:, :, split:], v[:, :, split:], scale)
    out, lse = merge_partials(oa, la, ob, lb)
    assert out.dtype == dtype and lse.dtype == dtype
    assert_close(out, attention(q, k, v))
    full_lse = torch.logsumexp((q.double() @ k.double().transpose(-2, -1)) * scale, dim=-1)
    assert_close(lse, full_lse.to(dtype))
    # Merging is symmetric.
    out2, lse2 = merge_partials(ob, lb, oa, la)
    assert_close(out2, out)
    assert_close(lse2, lse)


def test_empty_partial_contributes_nothing_and_no_nan():
    seed_everything(1)
    out_a = torch.randn(1, 2, 4, 3)
    lse_a = torch.randn(1, 2, 4)
    out_b = torch.full((1, 2, 4, 3), float("nan"))  # a partial that saw no keys
    lse_b = torch.full((1, 2, 4), float("-inf"))
    out, lse = merge_partials(out_a, lse_a, out_b, lse_b)
    assert not torch.isnan(out).any()
    assert torch.equal(out, out_a)
    assert torch.equal(lse, lse_a)
    # Both empty: zeros and -inf.
    out, lse = merge_partials(torch.zeros_like(out_a), lse_b, out_b, lse_b)
    assert torch.equal(out, torch.zeros_like(out_a))
    assert torch.isneginf(lse).all()
    # Row-wise mix: some rows empty in a, some in b.
    la = lse_a.clone()
    la[..., 0] = float("-inf")
    lb = torch.randn(1, 2, 4)
    lb[..., 1] = float("-inf")
    ob = torch.randn(1, 2, 4, 3)
    out, lse = merge_partials(out_a, la, ob, lb)
    assert torch.isfinite(out).all() and torch.isfinite(lse).all()
    assert torch.equal(out[..., 0, :], ob[..., 0, :])
    assert torch.equal(out[..., 1, :], out_a[..., 1, :])


def test_computes_in_fp32_returns_input_dtype():
    seed_everything(2)
    # Large LSE gap: in bf16 the exp of the difference underflows/rounds badly if done in bf16.
    out_a = torch.randn(1, 1, 6, 4)
    out_b = torch.randn(1, 1, 6, 4)
    lse_a = torch.randn(1, 1, 6) * 3
    lse_b = torch.randn(1, 1, 6) * 3
    ref_out, _ = merge_partials(out_a.double(), lse_a.double(), out_b.double(), lse_b.double())
    out, lse = merge_partials(
        out_a.bfloat16(), lse_a.bfloat16(), out_b.bfloat16(), lse_b.bfloat16()
    )
    assert out.dtype == torch.bfloat16 and lse.dtype == torch.bfloat16
    ref2_out, ref2_lse = merge_partials(
        out_a.bfloat16().double(),
        lse_a.bfloat16().double(),
        out_b.bfloat16().double(),
        lse_b.bfloat16().double(),
    )
    # Result equals the fp64 merge of the same bf16 inputs, rounded once to bf16.
    assert torch.equal(out, ref2_out.bfloat16())
    assert torch.equal(lse, ref2_lse.bfloat16())
    assert_close(out.double(), ref_out, dtype=torch.bfloat16)


def test_gradients_flow():
    seed_everything(3)
    oa = torch.randn(1, 1, 3, 2, dtype=torch.float64, requires_grad=True)
    ob = torch.randn(1, 1, 3, 2, dtype=torch.float64, requires_grad=True)
    la = torch.randn(1, 1, 3, dtype=torch.float64, requires_grad=True)
    lb = torch.randn(1, 1, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: merge_partials(*a), (oa, la, ob, lb))


_Z4, _Z3 = (1, 1, 3, 2), (1, 1, 3)


@pytest.mark.parametrize(
    "args, words",
    [
        (
            (torch.zeros(_Z4), torch.zeros(_Z3), torch.zeros(1, 1, 4, 2), torch.zeros(_Z3)),
            "same shape",
        ),
        (
            (torch.zeros(_Z4), torch.zeros(1, 1, 4), torch.zeros(_Z4), torch.zeros(_Z3)),
            "lse_a and lse_b",
        ),
        ((torch.zeros(3, 2), torch.zeros(3), torch.zeros(3, 2), torch.zeros(3)), "4 dimensions"),
        (
            (
                torch.zeros(1, 1, 3, 2),
                torch.zeros(1, 1, 3),
                torch.zeros(1, 1, 3, 2).double(),
                torch.zeros(1, 1, 3),
            ),
            "dtypes",
        ),
        (
            (torch.zeros(1, 1, 3, 2), None, torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3)),
            "torch.Tensor",
        ),
    ],
)
def test_bad_inputs_raise_value_error(args, words):
    with pytest.raises(ValueError, match=words):
        merge_partials(*args)
