"""The Triton kernel equals SDPA (math), run in Triton's CPU interpreter in a subprocess.

TRITON_INTERPRET must be set before Triton builds the kernel, so the comparisons run in a
child Python with the variable set; the child also proves the kernel is the interpreter's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
import torch

from lcedu.attention import triton_flash
from lcedu.attention.triton_flash import (
    TRITON_MISSING,
    TritonNotInstalledError,
    triton_available,
    triton_flash_attention,
)

CHILD = textwrap.dedent(
    """
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from triton.runtime.interpreter import InterpretedFunction

    from lcedu.attention.triton_flash import _kernel, interpreting, triton_flash_attention
    from lcedu.testing import assert_close, seed_everything

    assert interpreting()
    assert isinstance(_kernel(), InterpretedFunction), type(_kernel())

    def ref(q, k, v, causal):
        with sdpa_kernel(SDPBackend.MATH):
            return F.scaled_dot_product_attention(
                q.double(), k.double(), v.double(), is_causal=causal
            )

    seed_everything(0)
    # (B, H, Lq, Lk, D): ragged lengths, Lq != Lk both ways, odd heads, non-power-of-two D.
    for B, H, Lq, Lk, D in [(1, 3, 37, 37, 16), (2, 1, 20, 45, 24), (1, 1, 40, 9, 16)]:
        for causal in (False, True):
            q, k, v = (torch.randn(B, H, L, D) for L in (Lq, Lk, Lk))
            out, lse = triton_flash_attention(q, k, v, causal=causal, return_lse=True)
            assert_close(out, ref(q, k, v, causal).float(), msg=f"{(B, H, Lq, Lk, D, causal)}")
            s = (q.double() @ k.double().transpose(-2, -1)) / D**0.5
            if causal:
                s = s.masked_fill(~torch.ones(Lq, Lk, dtype=torch.bool).tril(), float("-inf"))
            assert_close(lse, torch.logsumexp(s, -1).float(), dtype=torch.float32)

    # Half precision in, fp32 accumulation inside.
    q, k, v = (torch.randn(1, 2, 33, 16).half() for _ in range(3))
    out = triton_flash_attention(q, k, v, causal=True, block_m=32, block_n=16)
    assert out.dtype == torch.float16
    assert_close(out, ref(q, k, v, True).half(), dtype=torch.float16)

    # Gradients (the FA2 backward fed by the kernel's LSE).
    q, k, v = (torch.randn(1, 2, 21, 16, requires_grad=True) for _ in range(3))
    g = torch.randn(1, 2, 21, 16)
    got = torch.autograd.grad(triton_flash_attention(q, k, v, causal=True), (q, k, v), g)
    want = torch.autograd.grad(ref(q, k, v, True), (q, k, v), g.double())
    for a, b in zip(got, want):
        assert_close(a, b.float())
    # A scale that is not a finite positive number is refused, not turned into NaN.
    for bad in (float("inf"), float("nan"), 0.0):
        try:
            triton_flash_attention(q, k, v, scale=bad)
        except ValueError as err:
            assert "scale" in str(err), err
        else:
            raise AssertionError(f"scale={bad} accepted")
    print("TRITON-INTERPRETER-OK")
    """
)


@pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
@pytest.mark.timeout(240)
def test_kernel_equals_sdpa_under_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1")
    proc = subprocess.run(
        [sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=220
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "TRITON-INTERPRETER-OK" in proc.stdout


@pytest.mark.skipif(
    triton_flash.interpreting() or torch.cuda.is_available(), reason="needs a plain CPU process"
)
def test_cpu_without_interpreter_is_explained():
    q = torch.randn(1, 1, 8, 16)
    with pytest.raises((ValueError, ImportError), match="TRITON_INTERPRET=1"):
        triton_flash_attention(q, q, q)


def test_missing_triton_gives_clear_message(monkeypatch):
    monkeypatch.setattr(triton_flash, "triton_available", lambda: False)
    q = torch.randn(1, 1, 8, 16)
    with pytest.raises(ImportError, match="pip install triton") as info:
        triton_flash_attention(q, q, q)
    assert str(info.value) == TRITON_MISSING


@pytest.mark.skipif(not triton_available(), reason="Triton is not installed")
def test_bad_inputs():
    q = torch.randn(1, 1, 8, 16)
    with pytest.raises(ValueError, match="float16, bfloat16 or float32"):
        triton_flash_attention(q.double(), q.double(), q.double())
    with pytest.raises(ValueError, match="head_dim"):
        triton_flash_attention(q, q, torch.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="dtype"):
        triton_flash_attention(q, q.half(), q)


def test_without_triton_the_call_explains(monkeypatch):
    """No Triton: calling is a RuntimeError with the clear message (also an ImportError, for
    code that catches that), never a bare `No module named 'triton'`."""
    monkeypatch.setitem(sys.modules, "triton", None)  # makes `import triton` fail
    triton_flash._kernel.cache_clear()
    try:
        assert not triton_available()
        q = torch.randn(1, 1, 8, 16)
        with pytest.raises(RuntimeError, match="pip install triton") as info:
            triton_flash_attention(q, q, q)
        assert isinstance(info.value, ImportError)
        assert isinstance(info.value, TritonNotInstalledError)
        assert str(info.value) == TRITON_MISSING
        with pytest.raises(TritonNotInstalledError, match="TRITON_INTERPRET=1"):
            triton_flash._kernel()
    finally:
        triton_flash._kernel.cache_clear()


def test_without_triton_the_package_imports():
    child = (
        "import sys; sys.modules['triton'] = None\n"
        "import lcedu.attention as A\n"
        "from lcedu.attention.triton_flash import triton_flash_attention\n"
        "assert A.triton_available() is False\n"
        "print('IMPORT-OK')\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", child], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "IMPORT-OK" in proc.stdout
