"""Input validation shared by the whole library: one argument order, one message style.

Every check is called as ``check(name, value, ..., fn=None)`` and either returns the value
(normalised: a Python int, a float, a dtype) or raises `ValueError` with one sentence,
``"<fn>: <name> must be <what>, got <value>"`` (the ``fn:`` prefix only when given).
Public entry points call these once; the private helpers they call do not re-check.
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any, NoReturn

import torch

__all__ = [
    "is_int",
    "positive_int",
    "nonneg_int",
    "real",
    "positive_real",
    "flag",
    "float_dtype",
    "one_of",
    "tensor",
    "float_tensors",
    "same_shape",
    "allocation",
    "available_bytes",
    "format_bytes",
    "usage_error",
    "OneLineParser",
]


def _say(fn: str | None, sentence: str) -> str:
    return f"{fn}: {sentence}" if fn else sentence


def _fail(fn: str | None, name: str, what: str, value: Any) -> ValueError:
    return ValueError(_say(fn, f"{name} must be {what}, got {value!r}"))


def is_int(value: Any) -> bool:
    # numbers.Integral: Python ints and NumPy integer scalars alike; bool is not a size
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def positive_int(
    name: str,
    value: Any,
    *,
    fn: str | None = None,
    minimum: int = 1,
    multiple_of: int = 1,
    what: str | None = None,
) -> int:
    """`value` as an int >= `minimum` (1 unless given), a multiple of `multiple_of`; bools
    and floats are refused. `what` replaces "a positive integer" in the message."""
    if not is_int(value) or value < minimum or value % multiple_of:
        if what is None:
            what = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
            what = "a non-negative integer" if minimum == 0 else what
        raise _fail(fn, name, what, value)
    return int(value)


def nonneg_int(name: str, value: Any, *, fn: str | None = None) -> int:
    """`value` as an int >= 0."""
    return positive_int(name, value, fn=fn, minimum=0)


def real(name: str, value: Any, *, fn: str | None = None) -> float:
    """A finite real number (int, float or NumPy scalar; not bool) as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise _fail(fn, name, "a finite number", value)
    return float(value)


def positive_real(
    name: str, value: Any, *, fn: str | None = None, what: str = "a positive finite number"
) -> float:
    """A finite real number > 0 as a float."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _fail(fn, name, what, value)
    if not math.isfinite(value) or value <= 0:
        raise _fail(fn, name, what, value)
    return float(value)


def flag(name: str, value: Any, *, fn: str | None = None) -> bool:
    """A real bool (not 0/1, not a tensor)."""
    if not isinstance(value, bool):
        raise _fail(fn, name, "True or False", value)
    return value


def float_dtype(
    name: str,
    value: Any,
    *,
    fn: str | None = None,
    allowed: Sequence[torch.dtype] | None = None,
) -> torch.dtype:
    """A floating torch dtype (None means the default dtype), optionally from `allowed`."""
    if value is None:
        value = torch.get_default_dtype()
    if not isinstance(value, torch.dtype) or not value.is_floating_point:
        raise _fail(fn, name, "a floating dtype such as torch.float32", value)
    if allowed is not None and value not in allowed:
        names = ", ".join(str(d).removeprefix("torch.") for d in allowed)
        raise _fail(fn, name, f"one of {names}", value)
    return value


def one_of(name: str, value: Any, choices: Iterable[Any], *, fn: str | None = None) -> Any:
    """`value` if it is one of `choices` (compared with ==, strings quoted in the message)."""
    choices = tuple(choices)
    if isinstance(value, bool) or not any(
        type(value) is type(c) and value == c for c in choices
    ):
        listed = ", ".join(repr(c) for c in choices)
        raise _fail(fn, name, f"one of {listed}", value)
    return value


def tensor(
    name: str, value: Any, *, fn: str | None = None, ndim: int | None = None, what: str = ""
) -> torch.Tensor:
    """A torch.Tensor (with `ndim` dimensions when given); `what` describes the shape."""
    if not isinstance(value, torch.Tensor):
        got = type(value).__name__
        raise ValueError(_say(fn, f"{name} must be a torch.Tensor{what}, got {got}"))
    if ndim is not None and value.ndim != ndim:
        raise ValueError(
            _say(fn, f"{name} must have {ndim} dimensions{what}, got shape {tuple(value.shape)}")
        )
    return value


def float_tensors(fn: str | None, axes: str, **tensors: Any) -> None:
    """Each of `tensors` (by name) is a 4-D floating torch.Tensor; `axes` names its dims."""
    for label, t in tensors.items():
        tensor(label, t, fn=fn)
        if t.dim() != 4:
            raise ValueError(
                _say(fn, f"{label} must have 4 dimensions ({axes}), got shape {tuple(t.shape)}")
            )
        if not t.is_floating_point():
            raise ValueError(_say(fn, f"{label} must be a floating tensor, got dtype {t.dtype}"))


def same_shape(names: str, *tensors: torch.Tensor, fn: str | None = None) -> None:
    """All `tensors` share one shape; `names` is how the message calls them ("q, k and v")."""
    shapes = [tuple(t.shape) for t in tensors]
    if any(s != shapes[0] for s in shapes):
        listed = ", ".join(str(s) for s in shapes[:-1]) + f" and {shapes[-1]}"
        raise ValueError(_say(fn, f"{names} must have the same shape, got {listed}"))


def same_dtype_device(names: str, *tensors: torch.Tensor, fn: str | None = None) -> None:
    """All `tensors` share one dtype and one device; `names` as in `same_shape`."""
    kinds = [(t.dtype, t.device) for t in tensors]
    if any(k != kinds[0] for k in kinds):
        listed = ", ".join(f"{d} on {v}" for d, v in kinds[:-1])
        listed += f" and {kinds[-1][0]} on {kinds[-1][1]}"
        raise ValueError(_say(fn, f"{names} must share dtypes and devices, got {listed}"))


# ----------------------------------------------------------------------------- sizes
def format_bytes(n: int | float) -> str:
    """Human-readable binary size: 1536 -> '1.5 KiB'."""
    if isinstance(n, bool) or not isinstance(n, numbers.Real):
        raise ValueError(f"format_bytes: a size must be a number of bytes, got {n!r}")
    if not math.isfinite(n):
        raise ValueError(f"format_bytes: a size must be a finite number of bytes, got {n!r}")
    if n < 0:
        raise ValueError(f"format_bytes: a size cannot be negative, got {n}")
    units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
    value = float(n)
    for unit in units:
        if value < 1024 or unit == units[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def available_bytes(device: torch.device | str | None = None) -> int:
    """The memory a tensor could get: the accelerator's total for a CUDA device, else RAM."""
    dev = torch.device(device) if device is not None else torch.device("cpu")
    if dev.type == "cuda" and torch.cuda.is_available():
        return int(torch.cuda.get_device_properties(dev).total_memory)
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a generous 1 TiB
        return 1 << 40


def allocation(
    what: str,
    nbytes: int,
    *,
    fn: str | None = None,
    device: torch.device | str | None = None,
) -> int:
    """Refuse, before torch tries, to build `what` when it needs more than the machine has."""
    limit = available_bytes(device)
    if nbytes > limit:
        raise ValueError(
            _say(
                fn,
                f"{what} would allocate {format_bytes(nbytes)}, more than this machine's "
                f"{format_bytes(limit)} of memory; use a smaller size",
            )
        )
    return nbytes


# --------------------------------------------------------------------------- command lines
def usage_error(prog: str, message: str) -> int:
    """Print ``prog: message`` on stderr as one line and return exit status 2."""
    print(f"{prog}: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        raise SystemExit(usage_error(self.prog, message))
