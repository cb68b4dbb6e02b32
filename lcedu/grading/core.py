"""The grading engine: run a learner's function on cases, never raise, explain every failure.

A check is a list of `Case`s. A case computes the expected result itself, then calls the
learner's function through a `Learner` proxy: each call runs in a forked child process
(`lcedu.grading.sandbox`) on the child's own copy of the inputs, under one wall-clock budget
for the whole check, and comes back as plain data. Comparisons and the verdict happen here,
in the parent, where the learner's code cannot reach them. A `Report` renders as HTML in
Jupyter and as text in a terminal, and carries a JSON payload that `lcedu grade` collects.
"""

from __future__ import annotations

import html
import inspect
import math
import mmap
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from lcedu.grading import sandbox
from lcedu.grading.messages import t, text
from lcedu.grading.sandbox import ExcInfo, Opaque, Outcome, safe_str, safe_type_name
from lcedu.testing import tolerance

__all__ = [
    "GRADE_MIMETYPE",
    "Case",
    "CaseResult",
    "CheckFailed",
    "Learner",
    "LearnerRaised",
    "Report",
    "run_check",
    "compare_tensors",
    "expect",
    "expect_raises",
    "expect_raises_each",
    "fail",
    "fmt_value",
    "NOT_IMPLEMENTED_MESSAGE",
]

GRADE_MIMETYPE = "application/vnd.lcedu.grade+json"
NOT_IMPLEMENTED_MESSAGE = t("engine.not_implemented")
DEFAULT_TIME_LIMIT = 10.0  # seconds for one case
DEFAULT_BUDGET = 25.0  # seconds for a whole check, every case together
AFTER_TIMEOUT_LIMIT = 2.0  # once a case has timed out, later cases get this long
CASE_FILTER: Callable[[str, Case], bool] | None = None  # tests only: which cases to run


class CheckFailed(Exception):
    """Raised inside a case to report a failure with a learner-facing explanation."""

    def __init__(
        self, message: str, error: float | None = None, tol: float | None = None, key: str = ""
    ):
        super().__init__(message)
        self.message = message
        self.error = error
        self.tol = tol
        self.key = key


def fail(key: str, *, error: float | None = None, tol: float | None = None, **kw: Any):
    """Fail the case with the message `key` of the message table."""
    raise CheckFailed(t(key, **kw), error=error, tol=tol, key=key)


class LearnerRaised(Exception):
    """The learner's call raised; `info` says what, where, and whose code it was."""

    def __init__(self, info: ExcInfo):
        super().__init__(info.type_name)
        self.info = info

    def is_a(self, exc_type: type[BaseException]) -> bool:
        return exc_type.__name__ in self.info.kinds


class _TimedOut(BaseException):
    def __init__(self, seconds: float, progress: int = -1):
        super().__init__(seconds)
        self.seconds = seconds
        self.progress = progress


class _BudgetSpent(BaseException):
    pass


class _Died(Exception):
    def __init__(self, how: str):
        super().__init__(how)
        self.how = how


# ----- safe formatting -------------------------------------------------------------------


def fmt_value(v: Any, limit: int = 80) -> str:
    """A short, never-failing description of a value returned by a learner."""
    if isinstance(v, bool) or v is None:
        return repr(v)
    if isinstance(v, int):
        if v.bit_length() > 200:
            return t("engine.huge_int", digits=int(v.bit_length() * math.log10(2)) + 1)
        return f"{v:,}"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, torch.Tensor):
        return f"a tensor of shape {tuple(v.shape)} and dtype {v.dtype}"
    if isinstance(v, Opaque):
        return t("engine.unsendable", kind=v.kind, why=v.why)
    if isinstance(v, str):
        text = repr(v)
        return text if len(text) <= limit else text[: limit - 1] + "…"
    kind = safe_type_name(v)
    text = safe_str(v, limit)
    return f"{kind} {text}" if text and kind not in text else (text or kind)


def _describe(info: ExcInfo) -> tuple[str, str]:
    """The learner-facing sentence and message key for an exception from a call."""
    exc = info.type_name + (f": {info.message}" if info.message else "")
    line = info.learner_line
    if info.origin == "library":
        where = (
            t("engine.your_line", line=line[0], code=line[1]) if line else info.where or "?"
        )
        return t("engine.raised_in_library", exc=exc, lib=info.library, where=where), (
            "engine.raised_in_library"
        )
    if info.origin == "course_called":
        return t("engine.raised_in_course_called", where=info.course_function, exc=exc), (
            "engine.raised_in_course_called"
        )
    if info.origin in ("course", "grader"):
        return t("engine.raised_in_course", where=info.course_function, exc=exc), (
            "engine.raised_in_course"
        )
    if "RecursionError" in info.kinds:
        return t("engine.recursion"), "engine.recursion"
    if "MemoryError" in info.kinds:
        return t("engine.memory", exc=exc), "engine.memory"
    where = t("engine.at_line", line=line[0], code=line[1]) if line else ""
    return t("engine.raised", exc=exc, where=where), "engine.raised"


# ----- the learner's function, behind a process boundary ---------------------------------


def _same(a: Any, b: Any) -> bool:
    """True when the learner's copy `b` of an input still equals the original `a`."""
    if isinstance(a, torch.Tensor):
        if not isinstance(b, torch.Tensor) or a.shape != b.shape or a.dtype != b.dtype:
            return False
        if a.is_floating_point() or a.is_complex():
            both_nan = torch.isnan(a) & torch.isnan(b)
            return bool(((a == b) | both_nan).all())
        return torch.equal(a, b)
    if isinstance(a, (list, tuple)) and not isinstance(b, Opaque):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            return False
        return all(_same(x, y) for x, y in zip(a, b))
    return True  # numbers, strings and objects the grader does not protect


class _Progress:
    """A shared 8-byte slot: a driver running several calls says which one it is on."""

    def __init__(self) -> None:
        self._m = mmap.mmap(-1, 8)

    def set(self, i: int) -> None:
        self._m.seek(0)
        self._m.write(struct.pack("q", i))

    def get(self) -> int:
        self._m.seek(0)
        return struct.unpack("q", self._m.read(8))[0]


_PROGRESS: _Progress | None = None


def progress(i: int) -> None:
    """Called by a driver (in the child) before its i-th call."""
    if _PROGRESS is not None:
        _PROGRESS.set(i)


class Learner:
    """The learner's function as a case sees it: calling it runs it in a child process.

    ``learner(*args, **kwargs)`` returns the value (made plain: CPU tensors, numbers, …) or
    raises `LearnerRaised`; inputs the function changed in place fail the case unless named
    in ``may_change``. `run(driver, ...)` runs grader code that calls the function several
    times in one child. `last` is the latest `Outcome` (measurements, printed output).
    """

    def __init__(self, fn: Callable[..., Any], clock: _Clock):
        self.fn = fn
        self.clock = clock
        self.last: Outcome | None = None
        self.outputs: list[tuple[str, int]] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.call(args, kwargs)

    def call(
        self,
        args: tuple = (),
        kwargs: dict | None = None,
        *,
        may_change: Sequence[str] = (),
        measure: bool = False,
        warmup: tuple[tuple, dict] | None = None,
    ) -> Any:
        """Call the function on (args, kwargs); `measure` records memory and torch
        operations (after an unmeasured call on `warmup`'s small inputs, if given)."""
        kwargs = dict(kwargs or {})
        if measure and warmup is not None:
            measure = warmup  # type: ignore[assignment]
        out = self._execute(self.fn, tuple(args), kwargs, measure)
        if out.exc is not None:
            raise LearnerRaised(out.exc)
        names = _arg_names(self.fn, len(args), list(kwargs))
        for name, before, after in zip(names, list(args) + list(kwargs.values()), out.args_after):
            if name not in may_change and not _same(before, after):
                fail("engine.changed_input", name=name)
        return out.value

    def run(self, driver: Callable[..., Any], *args: Any, measure: bool = False) -> Any:
        """``driver(fn, *args)`` in one child; its return value comes back."""
        out = self._execute(driver, (self.fn, *args), {}, measure)
        if out.exc is not None:
            raise LearnerRaised(out.exc)
        return out.value

    def _execute(self, target, args, kwargs, measure) -> Outcome:
        deadline = self.clock.deadline()
        global _PROGRESS
        if _PROGRESS is None and sandbox.FORK_AVAILABLE:
            _PROGRESS = _Progress()
        if _PROGRESS is not None:
            _PROGRESS.set(-1)
        out = sandbox.run_isolated(target, args, kwargs, deadline=deadline, measure=measure)
        self.last = out
        if out.output_chars:
            self.outputs.append((out.output, out.output_chars))
        if out.timed_out:
            self.clock.timed_out = True
            raise _TimedOut(self.clock.limit_now, _PROGRESS.get() if _PROGRESS else -1)
        if out.died:
            raise _Died(out.died)
        return out


def _arg_names(fn: Any, n_args: int, kw_names: list[str]) -> list[str]:
    names: list[str] = []
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except BaseException:  # noqa: BLE001 - any callable, even one whose signature raises
        params = []
    for i in range(n_args):
        names.append(params[i] if i < len(params) else f"argument {i + 1}")
    return names + kw_names


class _Clock:
    """One wall-clock budget per check, and a limit per case inside it."""

    def __init__(self, per_case: float, budget: float):
        self.per_case = per_case
        self.end = time.monotonic() + budget
        self.budget = budget
        self.case_end = self.end
        self.timed_out = False
        self.limit_now = per_case

    def start_case(self) -> None:
        if time.monotonic() >= self.end:
            raise _BudgetSpent()
        limit = min(AFTER_TIMEOUT_LIMIT, self.per_case) if self.timed_out else self.per_case
        self.limit_now = min(limit, self.end - time.monotonic())
        self.case_end = time.monotonic() + self.limit_now

    def deadline(self) -> float:
        if time.monotonic() >= self.end:
            raise _BudgetSpent()
        return min(self.case_end, self.end)


# ----- cases and reports -----------------------------------------------------------------


@dataclass
class Case:
    """One graded input.

    Args:
        name: a short description shown to the learner ("n=7, window=2, causal").
        run: called with a `Learner`; returns None (pass) or raises `CheckFailed` with an
            explanation. A `LearnerRaised` it lets through is reported as the learner's error.
        params: the input's parameters, shown when the case fails.
        hint: shown when this case fails: a nudge, never the answer.
    """

    name: str
    run: Callable[[Any], None]
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
    key: str = ""
    output: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["params"] = {k: _plain(v) for k, v in self.params.items()}
        out["error"] = None if self.error is None else _round_sig(self.error)
        return out


def _plain(v: Any) -> Any:
    if isinstance(v, (bool, str)) or v is None:
        return v
    if isinstance(v, int):
        return v if v.bit_length() <= 60 else fmt_value(v)
    if isinstance(v, float):
        return _round_sig(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, torch.dtype):
        return str(v).replace("torch.", "")
    return safe_str(v, 80)


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


def _shown_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_plain(v)}" for k, v in params.items())


@dataclass
class Report:
    """The outcome of one check: what passed, what failed on which input, and hints."""

    check: str
    results: list[CaseResult]
    function: str = ""
    note: str = ""

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
            "note": self.note,
            "cases": [r.to_dict() for r in self.results],
        }

    # ----- rendering -------------------------------------------------------------------
    def _headline(self) -> str:
        if self.passed:
            return t("frame.all_passed", check=self.check, total=self.n_total)
        if self.not_implemented:
            return t("frame.not_yet", check=self.check, why=t("engine.not_implemented"))
        return t(
            "frame.some_passed", check=self.check, passed=self.n_passed, total=self.n_total
        )

    def _details(self) -> list[tuple[CaseResult, list[tuple[str, str]]]]:
        """Per case, its detail lines as (kind, text); a message seen before is referred to."""
        seen: dict[str, int] = {}
        out = []
        for i, r in enumerate(self.results, start=1):
            lines: list[tuple[str, str]] = []
            if not r.passed:
                if r.message:
                    if r.message in seen and len(r.message) > 60:
                        lines.append(("msg", t("frame.same_as_above", case=seen[r.message])))
                    else:
                        seen.setdefault(r.message, i)
                        lines.append(("msg", r.message))
                if r.error is not None:
                    tol = t("frame.tolerance", tol=f"{r.tol:.0e}") if r.tol is not None else ""
                    lines.append(("err", t("frame.max_error", error=_fmt_err(r.error)) + tol))
                if r.params:
                    lines.append(("input", t("frame.input", shown=_shown_params(r.params))))
                if r.output:
                    lines.append(("output", t("frame.printed", text=r.output)))
                if r.hint:
                    lines.append(("hint", t("frame.hint", hint=r.hint)))
            out.append((r, lines))
        return out

    def __str__(self) -> str:
        lines = [self._headline()]
        if self.not_implemented:
            return lines[0]
        for r, details in self._details():
            mark = t("frame.pass") if r.passed else t("frame.fail")
            lines.append(f"  [{mark}] {r.name}")
            lines.extend(f"         {text}" for _, text in details)
        if self.note:
            lines.append(self.note)
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
            for r, details in self._details():
                icon = "&#10004;" if r.passed else "&#10008;"
                item = f"{icon} {html.escape(r.name)}"
                if details:
                    shown = []
                    for kind, text in details:
                        text = html.escape(text)
                        if kind == "hint":
                            text = f"<i>{text}</i>"
                        elif kind == "output":
                            text = f"<code style='white-space:pre-wrap'>{text}</code>"
                        shown.append(text)
                    item += "<br><small>" + "<br>".join(shown) + "</small>"
                parts.append(f"<li>{item}</li>")
            parts.append("</ul>")
            if self.note:
                parts.append(f"<small>{html.escape(self.note)}</small>")
        parts.append("</div>")
        return "".join(parts)

    def _repr_mimebundle_(self, include=None, exclude=None) -> dict[str, Any]:
        return {
            "text/plain": str(self),
            "text/html": self._repr_html_(),
            GRADE_MIMETYPE: self.to_dict(),
        }


# ----- running cases -------------------------------------------------------------------


def _safe_name(fn: Any) -> str:
    try:
        name = getattr(fn, "__name__", None)
        if isinstance(name, str):
            return name
    except BaseException:  # noqa: BLE001 - a __name__ that raises
        pass
    return safe_type_name(fn)


def run_check(
    check: str,
    fn: Any,
    cases: Sequence[Case],
    *,
    time_limit: float | None = None,
    budget: float | None = None,
) -> Report:
    """Run every case against `fn` and return a Report. Never raises (but Ctrl-C stops it).

    Each case may take `time_limit` seconds (default `DEFAULT_TIME_LIMIT`), the whole check
    at most `budget` seconds (default `DEFAULT_BUDGET`)."""
    time_limit = DEFAULT_TIME_LIMIT if time_limit is None else time_limit
    budget = DEFAULT_BUDGET if budget is None else budget
    if CASE_FILTER is not None:  # the project's own tests: skip cases a test is not about
        cases = [c for c in cases if CASE_FILTER(check, c)]
    name = _safe_name(fn)
    try:
        is_callable = callable(fn)
    except BaseException:  # noqa: BLE001
        is_callable = False
    if not is_callable:
        message = t("engine.not_callable", kind=safe_type_name(fn))
        res = [
            CaseResult(c.name, False, message, c.params, c.hint, key="engine.not_callable")
            for c in cases
        ]
        return Report(check, res, name)
    clock = _Clock(min(time_limit, budget), budget)
    results = [_run_case(case, fn, clock) for case in cases]
    note = "" if sandbox.FORK_AVAILABLE else t("frame.no_fork")
    return Report(check, results, name, note)


def _output_text(learner: Learner) -> str:
    if not learner.outputs:
        return ""
    text, total = learner.outputs[0]
    total = sum(n for _, n in learner.outputs)
    text = text[:500]
    if total > len(text):
        text += f" … ({total - len(text):,} more characters not shown)"
    return text


def _run_case(case: Case, fn: Callable[..., Any], clock: _Clock) -> CaseResult:
    learner = Learner(fn, clock)

    def result(passed: bool, message: str = "", key: str = "", **kw: Any) -> CaseResult:
        hint = text(kw.pop("hint", case.hint))
        return CaseResult(
            text(case.name), passed, message, case.params, hint, key=key,
            output=_output_text(learner), **kw,
        )

    try:
        clock.start_case()
        case.run(learner)
    except CheckFailed as e:
        return result(False, e.message, e.key, error=e.error, tol=e.tol)
    except LearnerRaised as e:
        if e.is_a(NotImplementedError):
            return result(
                False, NOT_IMPLEMENTED_MESSAGE, "engine.not_implemented", hint="",
                not_implemented=True,
            )
        message, key = _describe(e.info)
        return result(False, message, key)
    except _TimedOut as e:
        return result(False, t("engine.timeout", seconds=f"{e.seconds:.3g}"), "engine.timeout")
    except _BudgetSpent:
        return result(
            False, t("engine.budget_spent", seconds=f"{clock.budget:g}"), "engine.budget_spent"
        )
    except _Died as e:
        if "SIGKILL" in e.how:  # not the grader's kill (that is a timeout): the memory limit
            return result(False, t("engine.killed", how=e.how), "engine.killed")
        return result(False, t("engine.died", how=e.how), "engine.died")
    except KeyboardInterrupt:
        raise
    except BaseException as e:  # noqa: BLE001 - the grader's own bug: say so, never crash
        exc = f"{safe_type_name(e)}: {safe_str(e, 200)}"
        return result(False, t("engine.course_bug", exc=exc), "engine.course_bug")
    return result(True)


# ----- comparison helpers used inside cases ---------------------------------------------


def expect(condition: bool, message: str, key: str = "") -> None:
    """Fail the case with `message` unless `condition` holds."""
    if not condition:
        raise CheckFailed(message, key=key)


def compare_tensors(
    got: Any,
    expected: torch.Tensor,
    *,
    what: str = "the result",
    dtype: torch.dtype | None = None,
    check_dtype: bool = True,
    exact: bool = False,
) -> None:
    """Fail the case unless `got` is a tensor equal to `expected` within the tolerance table.

    The message names what differs: type, shape, dtype, device, NaNs, or the largest error.
    `dtype` picks the tolerance (default: expected's dtype); `check_dtype` demands got has
    expected's dtype.
    """
    if not isinstance(got, torch.Tensor):
        fail("cmp.not_tensor", what=what, kind=fmt_value(got) if isinstance(got, Opaque)
             else safe_type_name(got))
    if tuple(got.shape) != tuple(expected.shape):
        fail("cmp.shape", what=what, got=tuple(got.shape), want=tuple(expected.shape))
    if expected.dtype == torch.bool:
        if got.dtype != torch.bool:
            fail("cmp.not_bool", what=what, got=got.dtype)
    elif check_dtype and got.dtype != expected.dtype:
        fail("cmp.dtype", what=what, got=got.dtype, want=expected.dtype)
    if got.device != expected.device:
        fail("cmp.device", what=what, got=got.device, want=expected.device)
    if expected.dtype == torch.bool or exact:
        g, e = got.detach().cpu(), expected.detach().cpu()
        if g.dtype != e.dtype:
            g = g.to(e.dtype)
        if not torch.equal(g, e):
            if expected.dtype == torch.bool:
                wrong = (g != e).nonzero()
                n = wrong.shape[0]
                first = tuple(int(i) for i in wrong[0]) if n else ()
                fail(
                    "cmp.mask_entries", what=what, count=n,
                    entries=t("cmp.entry") if n == 1 else t("cmp.entries"),
                    first=first, got=bool(g[first]), want=bool(e[first]),
                )
            fail("cmp.not_exact", what=what)
        return
    if not got.is_floating_point():
        got = got.to(expected.dtype)
    g = got.detach().double().cpu()
    e = expected.detach().double().cpu()
    if torch.isnan(g).any() and not torch.isnan(e).any():
        fail("cmp.nan", what=what)
    if torch.isinf(g).any() and not torch.isinf(e).any():
        fail("cmp.inf", what=what)
    tol = tolerance(dtype or expected.dtype)
    finite = torch.isfinite(e)
    if not torch.equal(torch.isfinite(g), finite) or not torch.equal(g[~finite], e[~finite]):
        fail("cmp.nonfinite_places", what=what)
    diff = (g[finite] - e[finite]).abs()
    err = float(diff.max()) if diff.numel() else 0.0
    bound = tol.atol + tol.rtol * e[finite].abs()
    if diff.numel() and bool((diff > bound).any()):
        fail("cmp.values", what=what, error=err, tol=tol.atol)


def expect_raises(
    call: Callable[[], Any], exc_type: type[BaseException] = ValueError, *, what: str = ""
) -> None:
    """Fail the case unless `call()` raises `exc_type` (e.g. a ValueError for bad input).

    `call` usually calls a `Learner`; a stub's NotImplementedError passes through."""
    what = what or t("cmp.bad_input")
    try:
        value = call()
    except LearnerRaised as e:
        if e.is_a(exc_type):
            return
        if e.is_a(NotImplementedError):
            raise
        detail = f": {e.info.message}" if e.info.message else ""
        fail("cmp.raise_wrong", what=what, want=exc_type.__name__, got=e.info.type_name,
             detail=detail)
    except exc_type:
        return
    except NotImplementedError:
        raise
    except (CheckFailed, _TimedOut, _BudgetSpent, _Died):
        raise
    except Exception as e:  # noqa: BLE001 - an in-process call (tests, the fallback)
        fail("cmp.raise_wrong", what=what, want=exc_type.__name__, got=safe_type_name(e),
             detail="")
    fail("cmp.raise_none", what=what, want=exc_type.__name__, got=fmt_value(value))


def _bad_calls_driver(fn, calls, wanted):
    """In the child: make the bad calls in order, up to the first that does not raise
    `wanted` (named); record what each raised (or returned)."""
    from lcedu.grading.sandbox import describe_exception

    found = []
    for i, (args, kwargs) in enumerate(calls):
        progress(i)
        try:
            value = fn(*args, **kwargs)
        except BaseException as e:  # noqa: BLE001
            info = describe_exception(e)
            found.append(("raised", info))
            if wanted not in info.kinds:
                break
        else:
            found.append(("returned", sandbox._plain(value)))
            break
    return found


def bad_calls(
    base: dict[str, Any], order: Sequence[str], bad: dict[str, Sequence[Any]],
    keyword: Sequence[str] = (),
) -> list[tuple[str, tuple, dict]]:
    """One ``(label, args, kwargs)`` per bad value of each parameter, the others valid."""
    calls = []
    for name, values in bad.items():
        for value in values:
            given = dict(base, **{name: value})
            args = tuple(given[k] for k in order if k not in keyword)
            kwargs = {k: given[k] for k in order if k in keyword}
            calls.append((f"{name}={value!r}", args, kwargs))
    return calls


def expect_raises_each(
    learner: Learner,
    calls: Sequence[tuple[str, tuple, dict]],
    exc_type: type[BaseException] = ValueError,
) -> None:
    """Every ``(label, args, kwargs)`` must raise `exc_type`; all are made in one child."""
    try:
        found = learner.run(_bad_calls_driver, [(a, k) for _, a, k in calls], exc_type.__name__)
    except _TimedOut as e:
        label = calls[e.progress][0] if 0 <= e.progress < len(calls) else "?"
        raise CheckFailed(
            t("engine.timeout", seconds=f"{e.seconds:.3g}") + f" ({label})", key="engine.timeout"
        ) from None
    for (label, _, _), (kind, what) in zip(calls, found):
        if kind == "raised":
            if exc_type.__name__ in what.kinds:
                continue
            if "NotImplementedError" in what.kinds:
                raise LearnerRaised(what)
            detail = f": {what.message}" if what.message else ""
            fail("cmp.raise_wrong", what=label, want=exc_type.__name__, got=what.type_name,
                 detail=detail)
        fail("cmp.raise_none", what=label, want=exc_type.__name__, got=fmt_value(what))
