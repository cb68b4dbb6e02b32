"""The grading engine: run a learner's function on cases, never raise, explain every failure.

A check is a list of `Case`s. Each case calls the learner's function on one input (fixed
seeds, edge cases), compares with the library's own implementation (one truth), and yields
a `CaseResult`. A `Report` renders as HTML in Jupyter and as text in a terminal, and carries
a machine-readable payload (`application/vnd.lcedu.grade+json`) that `lcedu grade` collects.
"""

from __future__ import annotations

import html
import math
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch

from lcedu.testing import tolerance

__all__ = [
    "GRADE_MIMETYPE",
    "Case",
    "CaseResult",
    "CheckFailed",
    "Report",
    "run_check",
    "compare_tensors",
    "expect",
    "expect_raises",
    "NOT_IMPLEMENTED_MESSAGE",
]

GRADE_MIMETYPE = "application/vnd.lcedu.grade+json"
NOT_IMPLEMENTED_MESSAGE = (
    "not implemented yet: replace the `raise NotImplementedError(...)` line with your code, "
    "run that cell, then run this check again"
)
DEFAULT_TIME_LIMIT = 20.0


class CheckFailed(Exception):
    """Raised inside a case to report a failure with a learner-facing explanation."""

    def __init__(self, message: str, error: float | None = None, tol: float | None = None):
        super().__init__(message)
        self.message = message
        self.error = error
        self.tol = tol


class _TimeLimit(BaseException):
    """Raised by the alarm when a case runs past its time limit (BaseException: not caught
    by a learner's `except Exception`)."""


@dataclass
class Case:
    """One graded input.

    Args:
        name: a short description shown to the learner ("n=7, window=2, causal").
        run: called with the learner's function; returns None (pass) or raises
            `CheckFailed` with an explanation. Any other exception means the learner's
            code raised, and is reported as such.
        params: the input's parameters, shown when the case fails.
        hint: shown when this case fails: a nudge, never the answer.
    """

    name: str
    run: Callable[[Callable[..., Any]], None]
    params: dict[str, Any] = field(default_factory=dict)
    hint: str = ""


@dataclass
class CaseResult:
    name: str
    passed: bool
    message: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    hint: str = ""
    error: float | None = None
    tol: float | None = None
    not_implemented: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "passed": self.passed,
            "message": self.message,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "hint": self.hint,
            "error": None if self.error is None else _round_sig(self.error),
            "tol": self.tol,
            "not_implemented": self.not_implemented,
        }


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, int, str)) or v is None:
        return v
    if isinstance(v, float):
        return _round_sig(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    return repr(v)


def _round_sig(x: float, digits: int = 2) -> float:
    if x is None or not math.isfinite(x) or x == 0:
        return x
    return float(f"{x:.{digits}g}")


def _fmt_err(x: float | None) -> str:
    if x is None:
        return ""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf"
    return f"{x:.1e}"


@dataclass
class Report:
    """The outcome of one check: what passed, what failed on which input, and hints."""

    check: str
    results: list[CaseResult]
    function: str = ""

    @property
    def n_passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def n_total(self) -> int:
        return len(self.results)

    @property
    def passed(self) -> bool:
        return self.n_total > 0 and self.n_passed == self.n_total

    @property
    def not_implemented(self) -> bool:
        return self.n_total > 0 and all(r.not_implemented for r in self.results)

    def __bool__(self) -> bool:
        return self.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "function": self.function,
            "passed": self.n_passed,
            "total": self.n_total,
            "all_passed": self.passed,
            "not_implemented": self.not_implemented,
            "cases": [r.to_dict() for r in self.results],
        }

    # ----- rendering -------------------------------------------------------------------
    def _headline(self) -> str:
        if self.passed:
            return f"{self.check}: all {self.n_total} cases passed. Well done!"
        if self.not_implemented:
            return f"{self.check}: not yet ({NOT_IMPLEMENTED_MESSAGE})"
        return f"{self.check}: {self.n_passed}/{self.n_total} cases passed"

    def __str__(self) -> str:
        lines = [self._headline()]
        if self.not_implemented:
            return lines[0]
        for r in self.results:
            mark = "PASS" if r.passed else "FAIL"
            lines.append(f"  [{mark}] {r.name}")
            if not r.passed:
                if r.message:
                    lines.append(f"         {r.message}")
                if r.error is not None:
                    tol = f" (tolerance {r.tol:.0e})" if r.tol is not None else ""
                    lines.append(f"         max error {_fmt_err(r.error)}{tol}")
                if r.params:
                    shown = ", ".join(f"{k}={_plain(v)}" for k, v in r.params.items())
                    lines.append(f"         input: {shown}")
                if r.hint:
                    lines.append(f"         hint: {r.hint}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else ("#9a6700" if self.not_implemented else "#cf222e")
        head = html.escape(self._headline())
        parts = [
            f'<div style="border-left:4px solid {colour};padding:4px 10px;margin:4px 0;'
            f'font-family:system-ui,sans-serif">',
            f'<div style="font-weight:600;color:{colour}">{head}</div>',
        ]
        if not self.not_implemented:
            parts.append('<ul style="margin:4px 0;padding-left:18px">')
            for r in self.results:
                icon = "&#10004;" if r.passed else "&#10008;"
                item = f"{icon} {html.escape(r.name)}"
                if not r.passed:
                    details = []
                    if r.message:
                        details.append(html.escape(r.message))
                    if r.error is not None:
                        tol = f" (tolerance {r.tol:.0e})" if r.tol is not None else ""
                        details.append(f"max error {_fmt_err(r.error)}{tol}")
                    if r.params:
                        shown = ", ".join(f"{k}={_plain(v)}" for k, v in r.params.items())
                        details.append("input: " + html.escape(shown))
                    if r.hint:
                        details.append("<i>hint: " + html.escape(r.hint) + "</i>")
                    item += "<br><small>" + "<br>".join(details) + "</small>"
                parts.append(f"<li>{item}</li>")
            parts.append("</ul>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        return {
            "text/plain": str(self),
            "text/html": self._repr_html_(),
            GRADE_MIMETYPE: self.to_dict(),
        }


# ----- running cases -------------------------------------------------------------------


@contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after `seconds` where SIGALRM exists and we are on the main
    thread (Linux/macOS Jupyter kernels); elsewhere the block runs to completion."""
    usable = (
        seconds
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        yield
        return

    def _handler(signum, frame):
        raise _TimeLimit()

    old = signal.signal(signal.SIGALRM, _handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def _describe_exception(exc: BaseException) -> str:
    tb = traceback.extract_tb(exc.__traceback__)
    where = ""
    for frame in reversed(tb):
        # The learner's code lives in the notebook (an ipykernel cell file).
        if "ipykernel" in frame.filename or frame.filename.startswith("<"):
            where = f" (at line {frame.lineno}: `{(frame.line or '').strip()}`)"
            break
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"your function raised {type(exc).__name__}{': ' + text if text else ''}{where}"


def run_check(
    check: str,
    fn: Any,
    cases: Sequence[Case],
    *,
    time_limit: float = DEFAULT_TIME_LIMIT,
) -> Report:
    """Run every case against `fn` and return a Report. Never raises (but Ctrl-C stops it)."""
    name = getattr(fn, "__name__", type(fn).__name__)
    if not callable(fn):
        res = [
            CaseResult(
                c.name,
                False,
                f"expected a function, got {type(fn).__name__}; pass the function itself, "
                "without calling it",
                c.params,
                c.hint,
            )
            for c in cases
        ]
        return Report(check, res, name)
    results: list[CaseResult] = []
    for case in cases:
        results.append(_run_case(case, fn, time_limit))
    return Report(check, results, name)


def _run_case(case: Case, fn: Callable[..., Any], time_limit: float) -> CaseResult:
    start = time.perf_counter()
    try:
        with _time_limit(time_limit):
            case.run(fn)
    except CheckFailed as e:
        return CaseResult(case.name, False, e.message, case.params, case.hint, e.error, e.tol)
    except NotImplementedError:
        return CaseResult(
            case.name, False, NOT_IMPLEMENTED_MESSAGE, case.params, "", not_implemented=True
        )
    except _TimeLimit:
        return CaseResult(
            case.name,
            False,
            f"took longer than {time_limit:g} s; look for a Python loop over every element "
            "or an infinite loop",
            case.params,
            case.hint,
        )
    except KeyboardInterrupt:
        raise
    except RecursionError:
        return CaseResult(
            case.name, False, "your function recursed too deeply", case.params, case.hint
        )
    except BaseException as e:  # noqa: BLE001 - a grader must report, never crash
        return CaseResult(case.name, False, _describe_exception(e), case.params, case.hint)
    del start
    return CaseResult(case.name, True, "", case.params)


# ----- comparison helpers used inside cases ---------------------------------------------


def expect(condition: bool, message: str) -> None:
    """Fail the case with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message)


def compare_tensors(
    got: Any,
    expected: torch.Tensor,
    *,
    what: str = "the result",
    dtype: torch.dtype | None = None,
    check_dtype: bool = False,
    exact: bool = False,
) -> None:
    """Fail the case unless `got` is a tensor equal to `expected` within the tolerance table.

    The message names what differs: type, shape, dtype, NaNs, or the largest error.
    """
    if not isinstance(got, torch.Tensor):
        raise CheckFailed(
            f"{what} should be a torch.Tensor, but your function returned {type(got).__name__}"
        )
    if tuple(got.shape) != tuple(expected.shape):
        raise CheckFailed(f"{what} has shape {tuple(got.shape)}, expected {tuple(expected.shape)}")
    if check_dtype and got.dtype != expected.dtype:
        raise CheckFailed(f"{what} has dtype {got.dtype}, expected {expected.dtype}")
    if expected.dtype == torch.bool or exact:
        if got.dtype != expected.dtype and expected.dtype == torch.bool:
            raise CheckFailed(f"{what} should be a boolean tensor, got dtype {got.dtype}")
        if not torch.equal(got.detach().cpu(), expected.detach().cpu()):
            if expected.dtype == torch.bool:
                wrong = (got.detach().cpu() != expected.detach().cpu()).nonzero()
                n = wrong.shape[0]
                first = tuple(int(i) for i in wrong[0]) if n else ()
                entries = "entry" if n == 1 else "entries"
                raise CheckFailed(
                    f"{what} differs from the expected mask in {n} {entries} "
                    f"(first at index {first}: got {bool(got[first])}, "
                    f"expected {bool(expected[first])})"
                )
            raise CheckFailed(f"{what} is not exactly the expected value")
        return
    if not got.is_floating_point():
        got = got.to(expected.dtype)
    g = got.detach().double().cpu()
    e = expected.detach().double().cpu()
    if torch.isnan(g).any() and not torch.isnan(e).any():
        raise CheckFailed(
            f"{what} contains NaN; look for 0/0, inf - inf, or exp() of very large numbers"
        )
    if torch.isinf(g).any() and not torch.isinf(e).any():
        raise CheckFailed(f"{what} contains inf; look for exp() overflow or division by zero")
    tol = tolerance(dtype or expected.dtype)
    finite = torch.isfinite(e)
    if not torch.equal(torch.isfinite(g), finite) or not torch.equal(g[~finite], e[~finite]):
        raise CheckFailed(f"{what} has infinities or NaNs in different places than expected")
    diff = (g[finite] - e[finite]).abs()
    err = float(diff.max()) if diff.numel() else 0.0
    bound = tol.atol + tol.rtol * e[finite].abs()
    if diff.numel() and bool((diff > bound).any()):
        raise CheckFailed(f"{what} does not match the expected values", error=err, tol=tol.atol)


def expect_raises(
    call: Callable[[], Any], exc_type: type[BaseException] = ValueError, *, what: str = ""
) -> None:
    """Fail the case unless `call()` raises `exc_type` (e.g. a ValueError for bad input)."""
    try:
        call()
    except exc_type:
        return
    except NotImplementedError:
        raise
    except Exception as e:  # noqa: BLE001
        raise CheckFailed(
            f"{what or 'bad input'} should raise {exc_type.__name__}, "
            f"but your function raised {type(e).__name__}"
        ) from None
    raise CheckFailed(
        f"{what or 'bad input'} should raise {exc_type.__name__}, but nothing was raised"
    )
