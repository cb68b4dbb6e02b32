"""Run the lesson's deprecated PyTorch calls and capture what they warn (errata 6 and 20).

The lesson uses ``torch.backends.cuda.sdp_kernel`` (replaced by ``torch.nn.attention.sdpa_kernel``)
and ``torch.cuda.amp.autocast`` (replaced by ``torch.autocast(device_type, ...)``). Both still run
on a CPU today; this module runs them and returns each warning's category and message, so a
notebook can print a stable phrase instead of a raw traceback.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

__all__ = [
    "CapturedWarning",
    "capture_warnings",
    "lesson_sdp_kernel_sdpa",
    "lesson_cuda_autocast_matmul",
]


@dataclass(frozen=True)
class CapturedWarning:
    """One warning: its category name (e.g. ``FutureWarning``) and its message text."""

    category: str
    message: str

    def mentions(self, phrase: str) -> bool:
        """Whether the message contains `phrase` (case-insensitive)."""
        return phrase.lower() in self.message.lower()


def capture_warnings(fn: Callable[[], Any]) -> tuple[Any, list[CapturedWarning]]:
    """Call `fn()` with every warning recorded (none filtered); return (result, warnings)."""
    if not callable(fn):
        raise ValueError("capture_warnings needs a function to call, e.g. lambda: f(x)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn()
    return result, [CapturedWarning(w.category.__name__, str(w.message)) for w in caught]


def lesson_sdp_kernel_sdpa(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, list[CapturedWarning]]:
    """The lesson's §2.3 call, verbatim: SDPA inside the deprecated ``sdp_kernel`` context.

    Returns SDPA's output and the warnings raised. On a CPU the flags are CUDA-only and SDPA
    picks its CPU kernel as usual; on CUDA with fp32 inputs the flash-only setting refuses.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        if not isinstance(t, torch.Tensor) or t.dim() != 4:
            raise ValueError(f"{name} must be a (batch, heads, seq, head_dim) tensor")

    def call() -> torch.Tensor:
        with torch.backends.cuda.sdp_kernel(
            enable_flash=True, enable_math=False, enable_mem_efficient=False
        ):
            return F.scaled_dot_product_attention(q, k, v)

    return capture_warnings(call)


def lesson_cuda_autocast_matmul(
    a: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, list[CapturedWarning]]:
    """The lesson's §6.2 ``with torch.cuda.amp.autocast(dtype=torch.bfloat16)`` around ``a @ b``.

    Returns the product and the warnings. Without CUDA the context disables itself (the
    product stays fp32); ``torch.autocast("cpu", dtype=torch.bfloat16)`` is the working form.
    """
    if not isinstance(a, torch.Tensor) or not isinstance(b, torch.Tensor):
        raise ValueError("a and b must be tensors that can be multiplied, a @ b")

    def call() -> torch.Tensor:
        with torch.cuda.amp.autocast(dtype=torch.bfloat16):
            return a @ b

    return capture_warnings(call)
