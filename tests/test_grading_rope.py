"""The RoPE/PI/YaRN graders accept the library, reject stubs and each known-wrong version.

Wrong versions are written here as a learner might: interleaved pairing or a reversed
rotation in apply_rope, PI that multiplies, the lesson's YaRN sketch (its correction range),
a ramp over even numbers, a ramp without a clamp, a reversed ramp, an unclamped range, and a
temperature applied for factor ≤ 1; plus garbage return values.
"""

from __future__ import annotations

import math

import pytest
import torch

from lcedu.grading import NOT_IMPLEMENTED_MESSAGE
from lcedu.grading.rope import (
    check_apply_rope,
    check_linear,
    check_yarn_attention_factor,
    check_yarn_inv_freq,
)
from lcedu.positions import scaling as sc
from lcedu.positions.rope import apply_rope, rope_inv_freq


def failing(report, case_prefix):
    for c in report.results:
        if c.name.startswith(case_prefix):
            assert not c.passed, f"{case_prefix!r} should fail:\n{report}"
            return c
    raise AssertionError(f"no case starting with {case_prefix!r} in\n{report}")


def _stub(*args, **kwargs):
    raise NotImplementedError


CHECKS = [check_apply_rope, check_linear, check_yarn_inv_freq, check_yarn_attention_factor]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_stub_fails_every_case_as_not_implemented(check):
    report = check(_stub)
    assert report.n_passed == 0 and report.not_implemented, str(report)
    assert all(r.message == NOT_IMPLEMENTED_MESSAGE for r in report.results)


def _yarn_inv(dim, base, factor, orig, beta_fast=32, beta_slow=1):
    return sc.yarn(dim, base, factor, orig, beta_fast=beta_fast, beta_slow=beta_slow)[0]


@pytest.mark.parametrize(
    "check, fn",
    [
        (check_apply_rope, apply_rope),
        (check_linear, sc.linear),
        (check_yarn_inv_freq, _yarn_inv),
        (check_yarn_attention_factor, sc.yarn_mscale),
    ],
    ids=["apply_rope", "linear", "yarn_inv_freq", "yarn_attention_factor"],
)
def test_library_passes(check, fn):
    report = check(fn)
    assert report.passed, str(report)
    assert report.n_total >= 5


# ----- apply_rope ----------------------------------------------------------------------


def test_lesson_apply_rope_passes():
    # The lesson's _apply_rope (PI module) is right: cat([-x2, x1]) is rotate_half.
    def lesson(x, cos, sin):
        d = x.shape[-1]
        x1, x2 = x[..., : d // 2], x[..., d // 2 :]
        return x * cos + torch.cat([-x2, x1], dim=-1) * sin

    assert check_apply_rope(lesson).passed


def test_interleaved_apply_rope_is_rejected():
    report = check_apply_rope(lambda x, c, s: apply_rope(x, c, s, style="interleaved"))
    assert "half style" in failing(report, "odd heads").message
    assert report.results[-1].passed  # still a rotation: the relative property holds


def test_reversed_rotation_is_rejected():
    def reversed_(x, cos, sin):
        d = x.shape[-1]
        x1, x2 = x[..., : d // 2], x[..., d // 2 :]
        return x * cos + torch.cat([x2, -x1], dim=-1) * sin

    report = check_apply_rope(reversed_)
    assert "wrong way" in failing(report, "small").message


def test_cos_only_and_identity_are_rejected():
    assert "sin term" in failing(check_apply_rope(lambda x, c, s: x * c), "small").message
    assert "unchanged" in failing(check_apply_rope(lambda x, c, s: x), "small").message


def test_apply_rope_float32_result_for_bfloat16_is_rejected():
    report = check_apply_rope(lambda x, c, s: apply_rope(x.float(), c.float(), s.float()))
    assert "dtype" in failing(report, "bfloat16").message
    assert report.results[0].passed


@pytest.mark.parametrize(
    "result, words",
    [(None, "torch.Tensor"), ("shape", "shape"), ("nan", "NaN")],
)
def test_garbage_apply_rope_is_reported(result, words):
    def garbage(x, cos, sin):
        if result == "shape":
            return x[..., :-1]
        if result == "nan":
            return torch.full_like(x, float("nan"))
        return None

    report = check_apply_rope(garbage)
    assert report.n_passed == 0
    assert words in report.results[0].message


# ----- linear --------------------------------------------------------------------------


def test_linear_that_multiplies_is_rejected():
    def times(dim, base, factor):
        if factor < 1 or dim % 2:
            raise ValueError("bad")
        return rope_inv_freq(dim, base) * factor, 1.0

    report = check_linear(times)
    assert "multiplied" in failing(report, "dim=128").message
    assert report.results[3].passed  # factor 1: no difference to see
    assert report.results[-1].key == "cmp.raise_wrong"  # factor="2": TypeError from `<`


def test_linear_without_validation_or_with_temperature_is_rejected():
    report = check_linear(lambda dim, base, factor: (rope_inv_freq(dim, base) / factor, 1.0))
    assert "ValueError" in failing(report, "bad input").message
    report = check_linear(lambda d, b, f: (sc.linear(d, b, f)[0], sc.yarn_mscale(f)))
    assert "attention" in failing(report, "dim=128").message


@pytest.mark.parametrize("result", [None, "tensor only", "list"])
def test_garbage_linear_is_reported(result):
    def garbage(dim, base, factor):
        if result == "tensor only":
            return sc.linear(dim, base, factor)[0]
        if result == "list":
            return [1.0, 0.1], 1.0
        return None

    report = check_linear(garbage)
    assert not any(r.passed for r in report.results[:4])
    assert "inv_freq" in report.results[0].message


# ----- YaRN ----------------------------------------------------------------------------


def _validated(f):
    def wrapped(dim, base, factor, orig, beta_fast=32, beta_slow=1):
        if beta_fast <= beta_slow or factor < 1 or dim <= 0 or dim % 2 or orig < 1:
            raise ValueError("bad")
        return f(dim, base, factor, orig, beta_fast, beta_slow)

    return wrapped


def _learner_yarn(*, lesson_range=False, even=False, clamp=True, inverted=False, clamp_range=True):
    """A float32 YaRN written from scratch with one mistake switched on."""

    def f(dim, base, factor, orig, beta_fast, beta_slow):
        if lesson_range:  # the lesson's sketch, verbatim
            x = dim * math.log(factor) / (2 * math.log(orig))
            low, high = max(0, math.floor(x)), min(dim // 2 - 1, math.ceil(x))
        else:

            def corr(r):
                return dim * math.log(orig / (2 * math.pi * r)) / (2 * math.log(base))

            low, high = math.floor(corr(beta_fast)), math.ceil(corr(beta_slow))
            if clamp_range:
                low, high = max(low, 0), min(high, dim - 1)
        idx = torch.arange(0, dim, 2) if even else torch.arange(dim // 2)
        ramp = (idx.float() - low) / max(high - low, 1e-3)
        if clamp:
            ramp = ramp.clamp(0, 1)
        if inverted:
            ramp = 1 - ramp
        theta = 1.0 / base ** (torch.arange(0, dim, 2).float() / dim)
        return theta * (1 - ramp) + theta / factor * ramp

    return _validated(f)


def test_learner_style_correct_yarn_passes():
    assert check_yarn_inv_freq(_learner_yarn()).passed


def test_lesson_yarn_sketch_is_rejected_for_its_range():
    report = check_yarn_inv_freq(_learner_yarn(lesson_range=True))
    assert "lesson" in failing(report, "dim=128, base=10000, s=8").message

    # the library's verbatim copy of the sketch, too
    def sketch(dim, base, factor, orig, beta_fast=32, beta_slow=1):
        if beta_fast <= beta_slow or factor < 1 or dim <= 0 or dim % 2 or orig < 1:
            raise ValueError("bad")
        return sc.lesson_yarn_inv_freq(dim, orig, int(orig * factor), base)[0]

    report = check_yarn_inv_freq(sketch)
    assert "ERRATUM 10" in failing(report, "dim=128, base=10000, s=8").message


@pytest.mark.parametrize(
    "mistake, words",
    [
        ({"even": True}, "even numbers"),
        ({"clamp": False}, "not clamped"),
        ({"inverted": True}, "wrong way round"),
    ],
)
def test_known_yarn_mistakes_are_rejected(mistake, words):
    report = check_yarn_inv_freq(_learner_yarn(**mistake))
    assert words in failing(report, "dim=128, base=10000, s=8").message


def test_unclamped_range_is_rejected_where_low_is_negative():
    report = check_yarn_inv_freq(_learner_yarn(clamp_range=False))
    assert "clamped to [0, dim − 1]" in failing(report, "dim=32").message
    assert report.results[0].passed


def test_pi_instead_of_yarn_and_tuple_return_are_rejected():
    pi = _validated(lambda d, b, s, L, bf, bs: rope_inv_freq(d, b) / s)
    assert "that is PI" in failing(check_yarn_inv_freq(pi), "dim=128").message
    both = _validated(lambda d, b, s, L, bf, bs: sc.yarn(d, b, s, L, beta_fast=bf, beta_slow=bs))
    assert "only the inv_freq" in failing(check_yarn_inv_freq(both), "dim=128").message


def test_yarn_without_validation_is_rejected():
    report = check_yarn_inv_freq(
        lambda d, b, s, L, beta_fast=32, beta_slow=1: _yarn_inv(d, b, max(s, 1.0), L, 32, 1)
    )
    assert "ValueError" in failing(report, "bad input").message


def test_temperature_for_factor_below_one_is_rejected():
    report = check_yarn_attention_factor(lambda s: 0.1 * math.log(s) + 1.0)  # the lesson's
    assert "ERRATUM 14" in failing(report, "s=0.5").message
    assert report.results[0].passed and report.results[3].passed  # s=8 and s=1 agree


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda s: None, "float"),
        (lambda s: 0.1 * math.log(s) + 1.1, "expected"),
        (lambda s: math.sqrt(s), "expected"),
    ],
)
def test_garbage_attention_factor_is_reported(fn, words):
    report = check_yarn_attention_factor(fn)
    assert words in report.results[0].message and not report.results[0].passed
