"""`lcedu doctor`: is this machine ready for the course? One [OK]/[FAIL] line per component.

Checks each required package against the floor in pyproject.toml, names the device torch
will use (CUDA with the GPU's name, Apple MPS, or CPU), and reports optional pieces (Triton).
Its output is what a bug report should include.
"""

from __future__ import annotations

import platform
import sys
from collections.abc import Callable
from importlib import metadata

__all__ = ["REQUIREMENTS", "run_doctor", "version_at_least"]

# (distribution, floor, required)
REQUIREMENTS: list[tuple[str, str, bool]] = [
    ("torch", "2.5", True),
    ("numpy", "1.24", True),
    ("matplotlib", "3.7", True),
    ("ipywidgets", "8.0", True),
    ("tqdm", "4.60", True),
    ("jupyterlab", "4.0", True),
    ("nbval", "0.11", True),
    ("triton", "3.0", False),
]


def _parse(v: str) -> tuple[int, ...]:
    parts = []
    for piece in v.split("+")[0].split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
        if not piece.isdigit():
            break
    return tuple(parts)


def version_at_least(version: str, floor: str) -> bool:
    """'2.13.0+cpu' >= '2.5' -> True. Pre-release tags count as their release."""
    a, b = _parse(version), _parse(floor)
    n = max(len(a), len(b))
    return a + (0,) * (n - len(a)) >= b + (0,) * (n - len(b))


def _torch_device() -> str:
    import torch

    if torch.cuda.is_available():
        return f"CUDA ({torch.cuda.get_device_name(0)})"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "Apple MPS"
    return "CPU (no GPU found: every notebook runs on the CPU; GPU cells explain themselves)"


def run_doctor(write: Callable[[str], None] = print) -> int:
    """Print the report; return 0 if every required component is fine, else 1."""
    ok = True
    py = platform.python_version()
    if sys.version_info >= (3, 10):  # noqa: UP036 - a learner may run an older Python
        write(f"[OK]   python {py} (>= 3.10)")
    else:
        write(f"[FAIL] python {py}: the course needs Python >= 3.10")
        ok = False
    for dist, floor, required in REQUIREMENTS:
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            if required:
                write(f"[FAIL] {dist}: not installed (needs >= {floor}); run `make setup`")
                ok = False
            else:
                write(f"[SKIP] {dist}: not installed (optional; only the Triton kernel needs it)")
            continue
        extra = ""
        if dist == "torch":
            try:
                extra = f"; device: {_torch_device()}"
            except Exception as e:  # noqa: BLE001 - report, don't crash
                extra = f"; device check failed: {e}"
        if version_at_least(version, floor):
            write(f"[OK]   {dist} {version} (>= {floor}){extra}")
        else:
            tag = "[FAIL]" if required else "[SKIP]"
            write(f"{tag} {dist} {version}: the course needs >= {floor}{extra}")
            ok = ok and not required
    return 0 if ok else 1
