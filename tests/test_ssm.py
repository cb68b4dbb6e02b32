"""Selective scan: the chunked/parallel scan equals the plain recurrence (values and gradients)."""

from __future__ import annotations

import math

import pytest
import torch

from lcedu.ssm.scan import (
    scan_state_bytes,
    selective_scan,
    selective_scan_reference,
    selective_scan_step,
)
from lcedu.testing import assert_close, seed_everything


def _inputs(seed, b=2, L=37, d=5, n=3, dtype=torch.float64, requires_grad=False):
    g = seed_everything(seed)
    x = torch.randn(b, L, d, generator=g, dtype=dtype)
    delta = torch.nn.functional.softplus(torch.randn(b, L, d, generator=g, dtype=dtype))
    A = -torch.rand(d, n, generator=g, dtype=dtype) * 2 - 0.1
    B = torch.randn(b, L, n, generator=g, dtype=dtype)
    C = torch.randn(b, L, n, generator=g, dtype=dtype)
    D = torch.randn(d, generator=g, dtype=dtype)
    ts = [x, delta, A, B, C, D]
    return [t.requires_grad_(requires_grad) for t in ts]


def _loop(x, delta, A, B, C, D):
    """An independent, scalar-by-scalar recurrence (no shared code with the library)."""
    b, L, d = x.shape
    n = A.shape[1]
    y = torch.zeros(b, L, d, dtype=x.dtype)
    for bi in range(b):
        for c in range(d):
            h = [0.0] * n
            for t in range(L):
                dt, xt = float(delta[bi, t, c]), float(x[bi, t, c])
                acc = 0.0
                for s in range(n):
                    h[s] = math.exp(dt * float(A[c, s])) * h[s] + dt * float(B[bi, t, s]) * xt
                    acc += float(C[bi, t, s]) * h[s]
                y[bi, t, c] = acc + float(D[c]) * xt
    return y


def test_reference_matches_scalar_loop():
    args = _inputs(0, b=1, L=9, d=2, n=3)
    assert_close(selective_scan_reference(*args), _loop(*args))


@pytest.mark.parametrize("chunk_size", [1, 4, 7, 64])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_chunked_scan_equals_recurrence(chunk_size, dtype):
    args = _inputs(1, dtype=dtype)
    assert_close(selective_scan(*args, chunk_size=chunk_size), selective_scan_reference(*args))


def test_without_d_and_gradients_match():
    a1 = _inputs(2, L=23, requires_grad=True)
    a2 = [t.detach().clone().requires_grad_(True) for t in a1]
    y1 = selective_scan(*a1[:5], None, chunk_size=8)
    y2 = selective_scan_reference(*a2[:5], None)
    assert_close(y1, y2)
    w = torch.randn(y1.shape, dtype=y1.dtype, generator=torch.Generator().manual_seed(5))
    (y1 * w).sum().backward()
    (y2 * w).sum().backward()
    for t1, t2 in zip(a1[:5], a2[:5]):
        assert_close(t1.grad, t2.grad)


def test_step_by_step_decoding_equals_scan():
    x, delta, A, B, C, D = _inputs(3, L=12)
    y = selective_scan(x, delta, A, B, C, D, chunk_size=5)
    h = torch.zeros(x.shape[0], x.shape[2], A.shape[1], dtype=x.dtype)
    for t in range(12):
        h, yt = selective_scan_step(h, x[:, t], delta[:, t], A, B[:, t], C[:, t], D)
        assert_close(yt, y[:, t])
    assert h.shape == (2, 5, 3)  # the state never grows


def test_validation_and_state_bytes():
    x, delta, A, B, C, D = _inputs(4, L=6)
    with pytest.raises(ValueError, match="delta"):
        selective_scan(x, delta[:, :5], A, B, C, D)
    with pytest.raises(ValueError, match="A must be"):
        selective_scan(x, delta, A[:2], B, C, D)
    with pytest.raises(ValueError, match="chunk_size"):
        selective_scan(x, delta, A, B, C, D, chunk_size=0)
    with pytest.raises(ValueError, match="B must be"):
        selective_scan(x, delta, A, B[:, :, :2], C, D)
    assert scan_state_bytes(1536, 16) == 1536 * 16 * 2
    with pytest.raises(ValueError):
        scan_state_bytes(0, 16)


def test_empty_sequence_is_a_clear_value_error():
    x, delta, A, B, C, D = _inputs(5, L=4)
    empty = [t[:, :0] for t in (x, delta)] + [A] + [t[:, :0] for t in (B, C)] + [D]
    for fn in (selective_scan, selective_scan_reference):
        with pytest.raises(ValueError, match="at least one step"):
            fn(*empty)


def test_package_reexports_the_scan():
    import lcedu.ssm as ssm

    assert ssm.selective_scan is selective_scan
    assert ssm.selective_scan_reference is selective_scan_reference
    assert ssm.selective_scan_step is selective_scan_step
    assert ssm.scan_state_bytes is scan_state_bytes
    assert sorted(ssm.__all__) == sorted(
        ["selective_scan", "selective_scan_reference", "selective_scan_step", "scan_state_bytes"]
    )
