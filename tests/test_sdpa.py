"""sdpa wrapper: each backend equals the dense reference; refusals become plain ValueErrors."""

from __future__ import annotations

import pytest
import torch

from lcedu.attention.reference import attention
from lcedu.attention.sdpa import backend_available, sdpa
from lcedu.testing import assert_close, seed_everything


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("backend", ["auto", "flash", "math"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cpu_backends_equal_reference(backend, causal, dtype):
    seed_everything(0)
    q = torch.randn(2, 3, 21, 16, dtype=dtype)
    k = torch.randn(2, 3, 33, 16, dtype=dtype)
    v = torch.randn(2, 3, 33, 16, dtype=dtype)
    assert_close(sdpa(q, k, v, backend=backend, causal=causal), attention(q, k, v, causal=causal))


def test_flash_needs_equal_value_dim_math_does_not():
    seed_everything(2)
    q, k, v = torch.randn(1, 2, 9, 16), torch.randn(1, 2, 9, 16), torch.randn(1, 2, 9, 8)
    with pytest.raises(ValueError, match="share their last dimension"):
        sdpa(q, k, v, backend="flash")
    assert_close(sdpa(q, k, v, backend="math"), attention(q, k, v))


def test_scale_passes_through():
    seed_everything(1)
    q = torch.randn(1, 2, 5, 4)
    assert_close(sdpa(q, q, q, backend="math", scale=0.7), attention(q, q, q, scale=0.7))


@pytest.mark.skipif(torch.cuda.is_available(), reason="CPU refusal messages")
@pytest.mark.parametrize("backend", ["efficient", "cudnn"])
def test_gpu_only_backends_refused_on_cpu_in_plain_words(backend):
    q = torch.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="only on CUDA"):
        sdpa(q, q, q, backend=backend)
    assert not backend_available(backend, q)
    assert backend_available("flash", q)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_flash_refuses_fp32():
    q = torch.randn(1, 1, 16, 64, device="cuda")
    with pytest.raises(ValueError, match="float16 or bfloat16"):
        sdpa(q, q, q, backend="flash")
    out = sdpa(q.half(), q.half(), q.half(), backend="flash")
    assert_close(out, attention(q, q, q).half(), dtype=torch.float16, device="cuda")


def test_bad_arguments():
    q = torch.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match="backend must be one of"):
        sdpa(q, q, q, backend="xformers")
    with pytest.raises(ValueError, match="dtype"):
        sdpa(q, q.double(), q)
    for bad in (-1.0, 0.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="scale must be a positive number"):
            sdpa(q, q, q, scale=bad)
