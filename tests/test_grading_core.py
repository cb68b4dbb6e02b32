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
    assert report.results[0].key == "engine.timeout"
    assert "no answer within" in report.results[0].message


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
    with pytest.raises(CheckFailed, match="returned None"):
        expect_raises(lambda: None)
    with pytest.raises(CheckFailed, match="raised TypeError"):
        expect_raises(lambda: (_ for _ in ()).throw(TypeError("x")))


# ----- the child-process engine ---------------------------------------------------------


def _keys(report):
    return [r.key for r in report.results]


def test_bare_except_and_sleep_cannot_defeat_the_budget():
    def stubborn(x):
        while True:
            try:
                time.sleep(0.01)
            except:  # noqa: E722
                pass

    cases = _square_cases() * 3
    t0 = time.perf_counter()
    report = run_check("square", stubborn, cases, time_limit=0.5, budget=1.5)
    assert time.perf_counter() - t0 < 10
    assert set(_keys(report)) <= {"engine.timeout", "engine.budget_spent"}
    assert _keys(report)[0] == "engine.timeout"


def test_output_flood_is_captured_and_cut():
    def chatty(x):
        print("y" * 5_000_000)
        return x + x

    report = run_check("square", chatty, _square_cases()[:1])
    out = report.results[0].output
    assert out.startswith("yyy") and len(out) < 1000 and "more characters not shown" in out
    assert "got 6, expected 9" in report.results[0].message


def test_exception_whose_str_raises_is_reported():
    class Bad(Exception):
        def __str__(self):
            raise RuntimeError("no")

    def f(x):
        raise Bad()

    report = run_check("square", f, _square_cases()[:1])
    r = report.results[0]
    assert r.key == "engine.raised" and "Bad" in r.message and "could not be shown" in r.message


def test_callable_whose_name_raises_is_graded():
    class Weird:
        @property
        def __name__(self):
            raise AttributeError("no name")

        def __call__(self, x):
            return x * x

    report = run_check("square", Weird(), _square_cases())
    assert report.passed and report.function == "Weird"


def test_huge_integer_is_formatted_safely():
    from lcedu.grading.core import fmt_value

    text = fmt_value(7 ** 100_000)
    assert "digits" in text and len(text) < 100


def test_in_place_change_of_an_input_is_named():
    def run(f):
        x = torch.ones(3)
        f(x)

    def scales(x):
        x.mul_(2)
        return x

    report = run_check("scale", scales, [Case("ones", run)])
    r = report.results[0]
    assert r.key == "engine.changed_input" and "`x`" in r.message


def test_exit_inside_the_function_is_a_verdict():
    import os

    report = run_check("square", lambda x: os._exit(4), _square_cases()[:1])
    assert report.results[0].key == "engine.died" and "exit status 4" in report.results[0].message


def test_a_process_killed_from_outside_points_at_memory():
    import os
    import signal

    report = run_check("square", lambda x: os.kill(os.getpid(), signal.SIGKILL),
                       _square_cases()[:1])
    assert report.results[0].key == "engine.killed" and "memory" in report.results[0].message


def test_course_code_errors_are_told_apart_from_the_learners():
    from lcedu.attention.masks import sliding_window_mask

    def calls_course(x):
        return sliding_window_mask(x, -1)  # the course's own function refuses

    r = run_check("square", calls_course, _square_cases()[:1]).results[0]
    assert r.key == "engine.raised_in_course_called" and "sliding_window_mask" in r.message

    def own(x):
        raise KeyError("mine")

    r = run_check("square", own, _square_cases()[:1]).results[0]
    assert r.key == "engine.raised" and "line" in r.message

    def in_torch(x):
        torch.testing.assert_close(torch.ones(2), torch.zeros(2))

    r = run_check("square", in_torch, _square_cases()[:1]).results[0]
    assert r.key == "engine.raised_in_library" and "torch" in r.message

    def grader_bug(f):
        raise ZeroDivisionError("the grader's own mistake")

    r = run_check("square", lambda x: x, [Case("bug", grader_bug)]).results[0]
    assert r.key == "engine.course_bug" and "bug in the course" in r.message


def test_a_repeated_error_is_shown_once():
    def long_error(x):
        raise ValueError("a long explanation " * 5)

    text = str(run_check("square", long_error, _square_cases()))
    assert text.count("your function raised ValueError") == 1
    assert "the same error as in case 1" in text


def test_without_fork_the_engine_still_gives_verdicts(monkeypatch):
    from lcedu.grading import sandbox

    monkeypatch.setattr(sandbox, "FORK_AVAILABLE", False)
    report = run_check("square", lambda x: x * x, _square_cases())
    assert report.passed and "separate process" in str(report)
    report = run_check("square", lambda x: x + x, _square_cases())
    assert not report.passed


def test_language_changes_words_not_verdicts(tmp_path, monkeypatch):
    from lcedu.grading import messages

    (tmp_path / "xx").mkdir()
    (tmp_path / "xx" / "grading.json").write_text(
        json.dumps({"frame.fail": "NEIN", "frame.some_passed": "{check}: {passed} von {total}",
                    "frame.hint": "{broken", "test.case_x3": "x ist 3"}),
        encoding="utf-8",
    )
    monkeypatch.setattr(messages, "_LOCALE", tmp_path)
    # the test's own key goes into copies of the tables, so it never leaks into the real
    # catalogue (which `lcedu translate check` reads later in the same session)
    monkeypatch.setattr(messages, "_registered", dict(messages._registered))
    monkeypatch.setattr(messages, "_by_text", dict(messages._by_text))
    messages.register({"test.case_x3": "x=3"})  # a registered case name is translated too
    english = run_check("square", lambda x: x + x, _square_cases())
    try:
        messages.set_language("xx")
        assert messages.get_language() == "xx"
        other = run_check("square", lambda x: x + x, _square_cases())
        text = str(other)
        assert "NEIN" in text and "square: 0 von 2" in text and "x ist 3" in text
        assert "hint: multiply" in text or "{broken" in text  # a broken text never crashes
        assert [r.passed for r in other.results] == [r.passed for r in english.results]
        assert [r.key for r in other.results] == [r.key for r in english.results]
    finally:
        messages.set_language("en")
    with pytest.raises(ValueError):
        messages.set_language("../etc")


def test_every_message_key_has_english_text():
    from lcedu.grading.messages import catalog

    table = catalog()
    assert len(table) > 100 and all(isinstance(v, str) and v for v in table.values())


def test_a_learners_own_object_never_unpickles_in_the_grader():
    class Sneaky:
        def __reduce__(self):
            return (print, ("this must not run in the grader",))

    seen = []

    def run(f):
        seen.append(f(1))

    run_check("c", lambda x: Sneaky(), [Case("a", run)])
    assert type(seen[0]).__name__ == "Opaque" and seen[0].kind == "Sneaky"
