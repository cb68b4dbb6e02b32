"""Shared pieces of the go-further graders: bad-value calls, result types, named mistakes.

A grader lists the mistakes it knows as (message key, what that mistake returns), computed
in the parent from the witness; a wrong answer equal to one of them is diagnosed by name,
any other wrong answer gets the plain comparison message.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

# bad_calls lives in grading.core, beside expect_raises_each; the go-further graders import it here
from lcedu.grading.core import bad_calls as bad_calls
from lcedu.grading.core import compare_tensors, fail, fmt_value
from lcedu.grading.messages import register
from lcedu.grading.sandbox import Opaque, safe_type_name

register({
    "further.not_int": "{what} should be a whole number (an int), but your function returned "
                       "{got}",
    "further.int_wrong": "{what}: got {got}, expected {want}",
    "further.what_result": "the result",
    "further.python_if": "your {kind} uses a tensor in a Python `if` (or int(), bool(), .item()): "
                         "FlexAttention calls it on whole tensors of indices at once (vmap), so "
                         "write the rule with tensor operations: &, |, ~, torch.where",
})

BAD_POSITIVE_INTS: list[Any] = [0, -3, 2.5, True, "8", None]
BAD_FACTORS: list[Any] = [0.5, 0, -2.0, True, "4", float("nan"), float("inf")]


def shown(values: Sequence[Any]) -> str:
    """Bad values as one printable string (NaN and inf stay out of the JSON payload)."""
    return ", ".join(repr(v) for v in values)


def run_mod(learner: Any, driver: Callable, *args: Any, kind: str) -> Any:
    """`learner.run(driver, *args)`, naming Python control flow on tensors inside a mod."""
    from lcedu.grading.core import LearnerRaised

    try:
        return learner.run(driver, *args)
    except LearnerRaised as e:
        if "data-dependent control flow" in e.info.message or (
            "vmap" in e.info.message and ".item()" in e.info.message
        ):
            fail("further.python_if", kind=kind)
        raise


def as_int(got: Any, what: str) -> int:
    """`got` if it is an int (not a bool), else fail with the type named."""
    if isinstance(got, bool) or not isinstance(got, int):
        kind = fmt_value(got) if isinstance(got, Opaque) else (
            f"{fmt_value(got)} ({safe_type_name(got)})"
        )
        fail("further.not_int", what=what, got=kind)
    return got


def same_tensor(got: Any, want: torch.Tensor) -> bool:
    """True when `got` is a tensor of want's shape holding want's values (dtype aside)."""
    if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(want.shape):
        return False
    g, w = got.detach().double(), want.detach().double()
    same_inf = torch.equal(torch.isinf(g), torch.isinf(w)) and torch.equal(
        g[torch.isinf(g)], w[torch.isinf(w)]
    )
    fin = torch.isfinite(w) & torch.isfinite(g)
    if not same_inf or not torch.equal(fin, torch.isfinite(w)):
        return False
    return bool(torch.allclose(g[fin], w[fin], rtol=1e-4, atol=1e-5))


def compare_with_mistakes(
    got: Any,
    want: torch.Tensor,
    mistakes: Sequence[tuple[str, Callable[[], torch.Tensor]]],
    *,
    what: str,
    exact: bool = False,
    **kw: Any,
) -> None:
    """Fail unless `got` equals `want`; a wrong answer that equals a known mistake's
    result is diagnosed with that mistake's message key (filled with `what` and `kw`); a
    result of another dtype is told its dtype first."""
    if isinstance(got, torch.Tensor) and got.dtype == want.dtype and not same_tensor(got, want):
        for key, make in mistakes:
            try:
                wrong = make()
            except Exception:  # noqa: BLE001 - a mistake that cannot be formed here
                continue
            if same_tensor(got, wrong):
                fail(key, what=what, **kw)
    compare_tensors(got, want, what=what, exact=exact)
