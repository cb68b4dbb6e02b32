"""The grading engine reports every kind of learner bug and never raises."""

from __future__ import annotations

import json
import time

import pytest
import torch

from lcedu.grading import (
    GRADE_MIMETYPE,
    NOT_IMPLEMENTED_MESSAGE,
    Case,
    CheckFailed,
    compare_tensors,
    expect_raises,
    run_check,
)


def _square_cases():
    def run(f, x=3):
        got = f(x)
        if got != x * x:
            raise CheckFailed(f"got {got}, expected {x * x}")

    return [Case("x=3", run, {"x": 3}, hint="multiply x by itself"), Case("again", run)]


def test_correct_function_passes():
    report = run_check("square", lambda x: x * x, _square_cases())
    assert report.passed and report.n_passed == 2 and bool(report)
    assert "all 2 cases passed" in str(report)


def test_wrong_function_fails_with_message_input_and_hint():
    report = run_check("square", lambda x: x + x, _square_cases())
    assert not report.passed and report.n_passed == 0
    text = str(report)
    assert "got 6, expected 9" in text and "input: x=3" in text and "hint: multiply" in text


def test_not_implemented_is_friendly():
    def stub(x):
        raise NotImplementedError("square: replace this line")

    report = run_check("square", stub, _square_cases())
    assert report.not_implemented and not report.passed
    assert all(r.message == NOT_IMPLEMENTED_MESSAGE for r in report.results)
    assert "not yet" in str(report)


@pytest.mark.parametrize(
    "bad",
    [
        lambda x: 1 / 0,
        lambda x: [][1],
        lambda x: None,
        lambda x: (_ for _ in ()).throw(SystemExit(3)),
    ],
)
def test_learner_exceptions_are_reported_not_raised(bad):
    report = run_check("square", bad, _square_cases())
    assert not report.passed
    assert all(r.message for r in report.results)


def test_not_callable_is_reported():
    report = run_check("square", 42, _square_cases())
    assert not report.passed and "expected a function" in report.results[0].message


def test_time_limit_stops_a_slow_function():
    def slow(x):
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 5:
            pass
        return x * x

    t0 = time.perf_counter()
    report = run_check("square", slow, _square_cases()[:1], time_limit=0.3)
    assert time.perf_counter() - t0 < 3
    assert "took longer than" in report.results[0].message


def test_mimebundle_is_json_serialisable_and_deterministic():
    report = run_check("square", lambda x: x + x, _square_cases())
    bundle = report._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html", GRADE_MIMETYPE}
    payload = json.dumps(bundle[GRADE_MIMETYPE], sort_keys=True)
    again = json.dumps(
        run_check("square", lambda x: x + x, _square_cases()).to_dict(), sort_keys=True
    )
    assert payload == again
    assert "&#10008;" in bundle["text/html"]


def _compare(got, want, **kw):
    try:
        compare_tensors(got, want, **kw)
    except CheckFailed as e:
        return e
    return None


def test_compare_tensors_explains_each_mismatch():
    want = torch.randn(2, 3, dtype=torch.float64)
    assert _compare(want.clone(), want) is None
    assert _compare(want + 1e-12, want) is None
    assert "torch.Tensor" in _compare([1, 2], want).message
    assert "shape" in _compare(want[:1], want).message
    assert "NaN" in _compare(torch.full_like(want, float("nan")), want).message
    err = _compare(want + 0.5, want)
    assert "does not match" in err.message and err.error == pytest.approx(0.5)
    mask = torch.tensor([[True, False], [False, True]])
    flipped = mask.clone()
    flipped[0, 1] = flipped[1, 0] = True
    assert "2 entries" in _compare(flipped, mask).message
    flipped[1, 0] = False
    assert "1 entry " in _compare(flipped, mask).message
    assert "boolean" in _compare(mask.int(), mask).message


def test_expect_raises():
    def ok():
        raise ValueError("bad")

    expect_raises(ok)
    with pytest.raises(CheckFailed, match="nothing was raised"):
        expect_raises(lambda: None)
    with pytest.raises(CheckFailed, match="raised TypeError"):
        expect_raises(lambda: (_ for _ in ()).throw(TypeError("x")))
