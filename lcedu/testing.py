"""One tolerance table and one seed function, shared by tests, graders and notebooks.

Exact algorithms (flash, ring, banded attention) are not bit-identical to the dense
reference: they sum in another order. `tolerance(dtype, device)` says how close is close
enough, per dtype and device, so a test and a grader never disagree about what "equal" means.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import torch

__all__ = [
    "Tolerance",
    "TOLERANCES",
    "tolerance",
    "max_abs_error",
    "close_enough",
    "assert_close",
    "seed_everything",
]


@dataclass(frozen=True)
class Tolerance:
    """Absolute and relative tolerance, as in `torch.testing.assert_close`."""

    rtol: float
    atol: float


# Keyed by (dtype, device type). Attention outputs are convex combinations of V rows, so
# their magnitude is O(1) for random inputs; these bounds hold for sequence lengths up to
# a few thousand with reordered summation (tiles, ring steps, bands).
TOLERANCES: dict[tuple[torch.dtype, str], Tolerance] = {
    (torch.float64, "cpu"): Tolerance(rtol=1e-9, atol=1e-10),
    (torch.float32, "cpu"): Tolerance(rtol=1e-4, atol=1e-5),
    (torch.bfloat16, "cpu"): Tolerance(rtol=2e-2, atol=2e-2),
    (torch.float16, "cpu"): Tolerance(rtol=2e-3, atol=2e-3),
    (torch.float64, "cuda"): Tolerance(rtol=1e-9, atol=1e-10),
    # TF32 may be on for matmuls on Ampere and later.
    (torch.float32, "cuda"): Tolerance(rtol=2e-3, atol=2e-3),
    (torch.bfloat16, "cuda"): Tolerance(rtol=2e-2, atol=2e-2),
    (torch.float16, "cuda"): Tolerance(rtol=2e-3, atol=2e-3),
    (torch.float32, "mps"): Tolerance(rtol=1e-3, atol=1e-3),
    (torch.float16, "mps"): Tolerance(rtol=2e-3, atol=2e-3),
    (torch.bfloat16, "mps"): Tolerance(rtol=2e-2, atol=2e-2),
}


def tolerance(dtype: torch.dtype = torch.float32, device: str | torch.device = "cpu") -> Tolerance:
    """The tolerance for comparing results computed in `dtype` on `device`.

    >>> tolerance(torch.float32)
    Tolerance(rtol=0.0001, atol=1e-05)
    """
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"dtype must be a torch.dtype such as torch.float32, got {dtype!r}")
    kind = torch.device(device).type
    key = (dtype, kind)
    if key in TOLERANCES:
        return TOLERANCES[key]
    cpu_key = (dtype, "cpu")
    if cpu_key in TOLERANCES:
        return TOLERANCES[cpu_key]
    raise ValueError(
        f"no tolerance is defined for dtype {dtype} on {kind}; "
        "use a floating dtype (float64, float32, float16 or bfloat16)"
    )


def max_abs_error(actual: torch.Tensor, expected: torch.Tensor) -> float:
    """Largest absolute difference, computed in float64 (inf if shapes differ or NaN appears)."""
    if actual.shape != expected.shape:
        return float("inf")
    diff = (actual.detach().double().cpu() - expected.detach().double().cpu()).abs()
    if diff.numel() == 0:
        return 0.0
    if torch.isnan(diff).any():
        return float("nan")
    return float(diff.max())


def close_enough(
    actual: torch.Tensor,
    expected: torch.Tensor,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
) -> bool:
    """True when `actual` matches `expected` within the table's tolerance for `dtype`.

    NaN or infinities in `actual` never count as close unless `expected` has them in the
    same places. Shapes must agree exactly.
    """
    if not isinstance(actual, torch.Tensor) or not isinstance(expected, torch.Tensor):
        return False
    if actual.shape != expected.shape:
        return False
    tol = tolerance(dtype or expected.dtype, device)
    return bool(
        torch.allclose(
            actual.detach().double().cpu(),
            expected.detach().double().cpu(),
            rtol=tol.rtol,
            atol=tol.atol,
            equal_nan=False,
        )
        or torch.equal(actual.detach().cpu(), expected.detach().cpu())
    )


def assert_close(
    actual: torch.Tensor,
    expected: torch.Tensor,
    dtype: torch.dtype | None = None,
    device: str | torch.device = "cpu",
    msg: str = "",
) -> None:
    """`torch.testing.assert_close` with the table's tolerance for `dtype` (default: expected's)."""
    tol = tolerance(dtype or expected.dtype, device)
    torch.testing.assert_close(
        actual,
        expected,
        rtol=tol.rtol,
        atol=tol.atol,
        check_dtype=False,
        msg=(lambda m: f"{msg}\n{m}" if msg else m),
    )


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy (if installed) and torch (CPU and CUDA); return a seeded generator.

    Notebooks call this in their first code cell so every figure and number is reproducible.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy as np

        np.random.seed(seed % (2**32))
    except ImportError:  # numpy is a dependency, but the core must not need it
        pass
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    gen = torch.Generator().manual_seed(seed)
    return gen
