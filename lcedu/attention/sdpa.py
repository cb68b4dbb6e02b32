"""PyTorch's fused attention, with the backend chosen by name through today's API.

`torch.nn.functional.scaled_dot_product_attention` dispatches to a flash kernel (on CPU too),
memory-efficient attention (xFormers' algorithm, Rabe & Staats 2021), cuDNN, or the plain
"math" formula. The lesson's `torch.backends.cuda.sdp_kernel` is deprecated (erratum 6);
this wrapper uses `torch.nn.attention.sdpa_kernel` and explains a refusal in plain words.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from lcedu import _checks as chk
from lcedu.attention.reference import check_qkv

__all__ = ["sdpa", "BACKENDS", "backend_available"]

BACKENDS: dict[str, SDPBackend | None] = {
    "auto": None,
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "math": SDPBackend.MATH,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
}


def _why_not(backend: str, q: torch.Tensor, v: torch.Tensor, reasons: list[str]) -> str:
    """A plain-language account of why a backend refused these inputs."""
    dev = q.device.type
    if backend == "flash" and v.shape[-1] != q.shape[-1]:
        return (
            f"the flash kernel needs q, k and v to share their last dimension, got head_dim "
            f"{q.shape[-1]} for q/k and {v.shape[-1]} for v; use 'math' (or 'efficient' on CUDA)"
        )
    if dev == "cpu" and backend in ("efficient", "cudnn"):
        return f"the '{backend}' backend exists only on CUDA GPUs; on a CPU use 'flash' or 'math'"
    if (
        dev == "cuda"
        and backend in ("flash", "cudnn")
        and q.dtype
        not in (
            torch.float16,
            torch.bfloat16,
        )
    ):
        return (
            f"the CUDA '{backend}' kernel takes only float16 or bfloat16 inputs, got {q.dtype}; "
            "cast q, k, v with .half() or .bfloat16(), or use 'efficient' or 'math'"
        )
    if dev == "cuda" and backend == "flash" and q.shape[-1] > 256:
        return f"the CUDA flash kernel supports head_dim up to 256, got {q.shape[-1]}"
    said = "; ".join(r for r in reasons if "not used because" not in r)
    return (
        f"PyTorch has no '{backend}' kernel for these inputs (device {dev}, dtype {q.dtype}, "
        f"head_dim {q.shape[-1]}); try backend='math'" + (f". PyTorch says: {said}" if said else "")
    )


def sdpa(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    backend: str = "auto",
    causal: bool = False,
    scale: float | None = None,
) -> torch.Tensor:
    """Scaled dot-product attention on (B, H, L, D) tensors with one named backend.

    backend: "auto" (PyTorch picks), "flash", "efficient", "math" or "cudnn". Only the
    named backend is enabled; if it cannot take the inputs, a ValueError says why (for
    example CUDA flash with float32, or 'efficient' on a CPU). causal is top-left aligned.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {sorted(BACKENDS)}, got {backend!r}")
    check_qkv(q, k, v, name="sdpa")
    if scale is not None:
        scale = chk.positive_real("scale", scale, fn="sdpa", what="a positive number")
    chosen = BACKENDS[backend]
    if chosen is None:
        return F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal), scale=scale)
    # PyTorch warns once per reason a kernel was skipped; we fold that into the error.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            with sdpa_kernel(chosen):
                return F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal), scale=scale)
        except RuntimeError as err:
            if "No available kernel" not in str(err) and "No viable backend" not in str(err):
                raise
            reasons = [str(w.message).split(" (Triggered internally")[0] for w in caught]
            raise ValueError(f"sdpa: {_why_not(backend, q, v, reasons)}") from err


def backend_available(backend: str, q: torch.Tensor, *, causal: bool = False) -> bool:
    """True if `sdpa(q, q, q, backend=backend)` runs on inputs shaped and typed like q."""
    try:
        sdpa(q, q, q, backend=backend, causal=causal)
    except ValueError:
        return False
    return True
