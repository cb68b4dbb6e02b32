"""Datasheet peaks: the dense bf16 tensor-core throughput a GPU is sold with, by device name.

The fraction of this peak that an attention kernel reaches is how the FlashAttention papers
(Dao et al., 2022; Dao, 2023) report efficiency. The values are NVIDIA's datasheet figures
without structured sparsity; a name not in the table gets None ('unknown'), never a guess.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["DENSE_BF16_PEAK_TFLOPS", "dense_bf16_peak_tflops", "add_peak_fraction"]

# (pattern on torch.cuda.get_device_name(), dense bf16 TFLOP/s). First match wins, so the
# more specific names come first; NVL and other variants with other clocks stay unknown.
DENSE_BF16_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    (r"\bH200\b(?!.*NVL)", 989.4),  # H200 SXM
    (r"\bH100\b.*\bPCIe\b", 756.0),
    (r"\bH100\b.*\b(SXM|HBM3)\b", 989.4),  # H100 SXM5 ("NVIDIA H100 80GB HBM3")
    (r"\bA100\b", 312.0),  # SXM and PCIe alike
    (r"\bL40S\b", 362.05),
    (r"\bL4\b", 121.0),
    (r"\bA10\b", 125.0),
)


def dense_bf16_peak_tflops(device_name: str) -> float | None:
    """The datasheet dense bf16 peak for a GPU name, or None when the name is not known."""
    for pattern, tflops in DENSE_BF16_PEAK_TFLOPS:
        if re.search(pattern, device_name or ""):
            return tflops
    return None


def add_peak_fraction(rows: list[dict[str, Any]], peak_tflops: float | None) -> None:
    """Give every measured row its `peak_fraction` (achieved / peak; None when peak unknown)."""
    for row in rows:
        if row.get("status") == "ok" and row.get("tflops") is not None:
            row["peak_fraction"] = None if not peak_tflops else row["tflops"] / peak_tflops
