"""FlashAttention's forward pass as a Triton kernel: one program per (query block, batch·head).

Follows FlashAttention-2 (Dao, 2023) and Triton's fused-attention tutorial: each program keeps
its query block, a running max, a running sum and an fp32 accumulator in registers/SRAM while
it streams key/value blocks, and writes the output and the log-sum-exp once. The backward is
the pure-PyTorch FA2 backward of `lcedu.attention.flash`, fed by the kernel's LSE.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache

import torch

from lcedu import _checks as chk
from lcedu.attention.flash import FlashAttentionFunction
from lcedu.attention.reference import check_qkv

__all__ = [
    "triton_flash_attention",
    "triton_available",
    "interpreting",
    "TRITON_MISSING",
    "TritonNotInstalledError",
]

TRITON_MISSING = (
    "triton_flash_attention needs the Triton compiler, which is not installed. "
    "Install it with `pip install triton` (Linux; it comes with PyTorch's CUDA wheels). "
    "Without a GPU, set TRITON_INTERPRET=1 before Python starts to run the kernel on the CPU "
    "in Triton's (slow) interpreter. The pure-PyTorch `flash_attention` needs neither."
)


class TritonNotInstalledError(ImportError, RuntimeError):
    """Raised when the kernel is called without Triton: the module itself imports fine.

    A RuntimeError (the call cannot run here) and, for code that already catches it, an
    ImportError; the message says how to install Triton or use the interpreter.
    """


_LOG2E = 1.4426950408889634  # the kernel uses exp2: e^x = 2^(x·log2 e)
_SUPPORTED = (torch.float16, torch.bfloat16, torch.float32)


def triton_available() -> bool:
    """True if `import triton` works."""
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True


def interpreting() -> bool:
    """True if Triton kernels run in the CPU interpreter (TRITON_INTERPRET=1 at import)."""
    return os.environ.get("TRITON_INTERPRET", "0") not in ("", "0")


@lru_cache(maxsize=1)
def _kernel():
    """Build the @triton.jit kernel on first use, so importing this module never needs Triton."""
    try:
        import triton
        import triton.language as tl
    except ImportError as err:
        raise TritonNotInstalledError(TRITON_MISSING) from err

    @triton.jit
    def flash_fwd(
        Q, K, V, O, LSE,  # pointers: (N, L, D) tensors, LSE (N, Lq) fp32
        sqn, sqm, sqd, skn, skm, skd, svn, svm, svd, son, som, sod,  # strides
        Lq, Lk, D, qk_scale,  # qk_scale = softmax scale · log2(e)
        HEAD_D: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
        CAUSAL: tl.constexpr,
    ):  # fmt: skip
        pid_m = tl.program_id(0)  # which block of queries
        pid_n = tl.program_id(1)  # which (batch, head)
        offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
        offs_n = tl.arange(0, BLOCK_N)
        offs_d = tl.arange(0, HEAD_D)  # head_dim padded to a power of two, masked below
        d_ok = offs_d < D
        # Load this program's query block once; it stays on chip for the whole loop.
        q_ptrs = Q + pid_n * sqn + offs_m[:, None] * sqm + offs_d[None, :] * sqd
        q = tl.load(q_ptrs, mask=(offs_m[:, None] < Lq) & d_ok[None, :], other=0.0)
        m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)  # running max (log2 units)
        l_i = tl.zeros([BLOCK_M], dtype=tl.float32)  # running sum of 2^(s - m)
        acc = tl.zeros([BLOCK_M, HEAD_D], dtype=tl.float32)  # unnormalised output
        hi = Lk
        if CAUSAL:  # key blocks wholly after this query block are never loaded
            hi = tl.minimum(Lk, (pid_m + 1) * BLOCK_M)
        for start_n in range(0, hi, BLOCK_N):
            cols = start_n + offs_n
            k_ptrs = K + pid_n * skn + cols[None, :] * skm + offs_d[:, None] * skd
            k = tl.load(k_ptrs, mask=(cols[None, :] < Lk) & d_ok[:, None], other=0.0)
            s = tl.dot(q, k) * qk_scale  # (BLOCK_M, BLOCK_N) scores, in log2 units
            ok = cols[None, :] < Lk  # ragged last block
            if CAUSAL:
                ok = ok & (cols[None, :] <= offs_m[:, None])
            s = tl.where(ok, s, float("-inf"))
            m_new = tl.maximum(m_i, tl.max(s, 1))
            alpha = tl.exp2(m_i - m_new)  # rescale what was summed under the old max
            p = tl.exp2(s - m_new[:, None])
            l_i = l_i * alpha + tl.sum(p, 1)
            v_ptrs = V + pid_n * svn + cols[:, None] * svm + offs_d[None, :] * svd
            v = tl.load(v_ptrs, mask=(cols[:, None] < Lk) & d_ok[None, :], other=0.0)
            acc = acc * alpha[:, None] + tl.dot(p.to(v.dtype), v)
            m_i = m_new
        acc = acc / l_i[:, None]
        o_ptrs = O + pid_n * son + offs_m[:, None] * som + offs_d[None, :] * sod
        tl.store(o_ptrs, acc.to(O.dtype.element_ty), mask=(offs_m[:, None] < Lq) & d_ok[None, :])
        lse = (m_i + tl.log2(l_i)) * 0.6931471805599453  # back to natural log
        tl.store(LSE + pid_n * Lq + offs_m, lse, mask=offs_m < Lq)

    return flash_fwd


def _forward(q3, k3, v3, causal, block_m, block_n, scale):
    """The kernel launch, in `FlashAttentionFunction`'s forward contract (out, lse)."""
    import triton

    n, lq, d = q3.shape
    lk = k3.shape[1]
    out = torch.empty_like(q3)
    lse = torch.empty(n, lq, dtype=torch.float32, device=q3.device)
    head_d = max(16, triton.next_power_of_2(d))
    grid = (triton.cdiv(lq, block_m), n)
    _kernel()[grid](
        q3, k3, v3, out, lse,
        *q3.stride(), *k3.stride(), *v3.stride(), *out.stride(),
        lq, lk, d, scale * _LOG2E,
        HEAD_D=head_d, BLOCK_M=block_m, BLOCK_N=block_n, CAUSAL=causal,
    )  # fmt: skip
    return out, lse


def triton_flash_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    scale: float | None = None,
    block_m: int | None = None,
    block_n: int | None = None,
    return_lse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Exact attention on (B, H, L, D) tensors by the Triton kernel (CUDA, or the interpreter).

    q, k, v: float16, bfloat16 or float32, one head_dim D ≤ 256 for all three; Lq may differ
    from Lk and lengths need not be multiples of the block. causal is top-left aligned, as
    SDPA's ``is_causal``. block_m/block_n default to 128/64 on a GPU and 16/16 in the
    interpreter. Differentiable: the backward is `flash_attention`'s FA2 backward.
    Without Triton installed, raises `TritonNotInstalledError` (a RuntimeError) whose
    message, `TRITON_MISSING`, says what to do; bad inputs raise ValueError.
    """
    if not triton_available():
        raise TritonNotInstalledError(TRITON_MISSING)
    check_qkv(q, k, v, name="triton_flash_attention")
    if q.dtype not in _SUPPORTED:
        raise ValueError(
            f"triton_flash_attention takes float16, bfloat16 or float32, got {q.dtype}"
        )
    B, H, lq, d = q.shape
    lk = k.shape[2]
    if v.shape[-1] != d:
        raise ValueError(
            f"triton_flash_attention needs v's head_dim to equal q's, got {v.shape[-1]} and {d}"
        )
    if d > 256:
        raise ValueError(f"triton_flash_attention supports head_dim up to 256, got {d}")
    if lk == 0:
        raise ValueError("triton_flash_attention: k and v must hold at least one key")
    if q.device.type != "cuda" and not (q.device.type == "cpu" and interpreting()):
        raise ValueError(
            f"triton_flash_attention runs on a CUDA GPU, or on the CPU only when "
            f"TRITON_INTERPRET=1 was set before Python started; got a {q.device.type} tensor "
            "without the interpreter. Use flash_attention (pure PyTorch) instead."
        )
    if scale is None:
        scale = 1.0 / math.sqrt(d)
    else:
        scale = chk.positive_real("scale", scale, what="a positive number")
    small = q.device.type != "cuda"
    block_m = (16 if small else 128) if block_m is None else block_m
    block_n = (16 if small else 64) if block_n is None else block_n
    for name, b in (("block_m", block_m), ("block_n", block_n)):
        if not chk.is_int(b) or b < 16 or b & (b - 1):
            raise ValueError(f"{name} must be a power of two, at least 16, got {b!r}")
    if lq == 0:
        out = q.new_zeros(B, H, 0, d)
        lse = torch.zeros(B, H, 0, dtype=torch.float32, device=q.device)
        return (out, lse) if return_lse else out
    out, lse = FlashAttentionFunction.apply(
        q.reshape(B * H, lq, d).contiguous(),
        k.reshape(B * H, lk, d).contiguous(),
        v.reshape(B * H, lk, d).contiguous(),
        bool(causal),
        block_m,
        block_n,
        float(scale),
        _forward,
    )
    out = out.reshape(B, H, lq, d)
    return (out, lse.reshape(B, H, lq)) if return_lse else out
