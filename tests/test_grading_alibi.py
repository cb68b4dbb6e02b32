"""The ALiBi graders accept the library, reject stubs and each known-wrong implementation.

Wrong implementations are written here as a learner might: the lesson's one-slope concept
formula, an off-by-one exponent, extra heads that continue the sequence, the power-of-two
formula for every H, a bias of the wrong sign, the lesson's bias without −inf and from a
precomputed buffer, top-left-aligned decoding queries, and garbage return values.
"""

from __future__ import annotations

import math

import pytest
import torch

from lcedu.grading import NOT_IMPLEMENTED_MESSAGE
from lcedu.grading.alibi import check_alibi_bias, check_alibi_slopes
from lcedu.positions.alibi import LessonALiBiAttention, alibi_bias, alibi_slopes


def _validate(H):
    if not isinstance(H, int) or H < 1:
        raise ValueError("num_heads must be >= 1")


def failing(report, case_prefix):
    for c in report.results:
        if c.name.startswith(case_prefix):
            assert not c.passed, f"{case_prefix!r} should fail:\n{report}"
            return c
    raise AssertionError(f"no case starting with {case_prefix!r} in\n{report}")


# ----- slopes --------------------------------------------------------------------------


def test_library_slopes_pass():
    report = check_alibi_slopes(alibi_slopes)
    assert report.passed, str(report)
    assert report.n_total >= 8


def test_stub_slopes_not_implemented():
    def stub(num_heads):
        raise NotImplementedError

    report = check_alibi_slopes(stub)
    assert report.n_passed == 0 and report.not_implemented
    assert all(r.message == NOT_IMPLEMENTED_MESSAGE for r in report.results)


def test_lesson_sketch_slopes_pass_erratum_15():
    # The lesson's _get_alibi_slopes is the authors' code: right (only its comment is off).
    def lesson(num_heads):
        return LessonALiBiAttention._get_alibi_slopes(None, num_heads).view(num_heads)

    report = check_alibi_slopes(lesson)
    assert [r.name for r in report.results if not r.passed] == ["bad input raises ValueError"]


def test_one_slope_for_every_head_is_rejected():
    # The lesson's concept box: m_h = 2^(-8/H), with no h.
    def concept_box(num_heads):
        _validate(num_heads)
        return torch.full((num_heads,), 2 ** (-8 / num_heads))

    report = check_alibi_slopes(concept_box)
    assert "same slope" in failing(report, "num_heads=8").message


@pytest.mark.parametrize(
    "exponent",
    [lambda h, H: -8 * (h - 1) / H, lambda h, H: -h / H, lambda h, H: 8 * h / H],
    ids=["off by one", "missing the 8", "positive"],
)
def test_wrong_exponent_is_rejected(exponent):
    def wrong(num_heads):
        _validate(num_heads)
        return torch.tensor([2.0 ** exponent(h, num_heads) for h in range(1, num_heads + 1)])

    report = check_alibi_slopes(wrong)
    case = failing(report, "num_heads=8")
    assert "exponent" in case.message or "same slope" in case.message
    assert report.n_passed <= 1  # only the bad-input case may pass


def test_continuing_the_sequence_is_rejected():
    def continuing(num_heads):
        _validate(num_heads)
        n = 2 ** int(math.floor(math.log2(num_heads)))
        return torch.tensor([2.0 ** (-8 * h / n) for h in range(1, num_heads + 1)])

    report = check_alibi_slopes(continuing)
    assert next(r for r in report.results if r.name.startswith("num_heads=8")).passed
    case = failing(report, "num_heads=12")
    assert "continue the sequence" in case.message
    failing(report, "num_heads=6")
    failing(report, "num_heads=20")


def test_power_of_two_formula_for_every_H_is_rejected():
    def direct(num_heads):
        _validate(num_heads)
        return torch.tensor([2.0 ** (-8 * h / num_heads) for h in range(1, num_heads + 1)])

    report = check_alibi_slopes(direct)
    assert "power of two only" in failing(report, "num_heads=12").message
    assert next(r for r in report.results if r.name.startswith("num_heads=16")).passed


@pytest.mark.parametrize(
    "result, words",
    [
        (None, "torch.Tensor"),
        ([0.5, 0.25], "torch.Tensor"),
        ("nan", "positive"),
        ("2d", "flat tensor"),
        ("int", "floating"),
    ],
)
def test_garbage_slopes_are_reported(result, words):
    def garbage(num_heads):
        _validate(num_heads)
        if result == "nan":
            return torch.full((num_heads,), float("nan"))
        if result == "2d":
            return alibi_slopes(num_heads).view(1, num_heads, 1, 1)
        if result == "int":
            return torch.ones(num_heads, dtype=torch.int64)
        return result

    report = check_alibi_slopes(garbage)
    assert words in failing(report, "num_heads=8").message


def test_missing_validation_is_reported():
    report = check_alibi_slopes(lambda num_heads: alibi_slopes(max(num_heads, 1)))
    assert "should raise ValueError" in failing(report, "bad input").message


def test_a_raising_function_is_reported_not_crashing():
    report = check_alibi_slopes(lambda num_heads: 1 / 0)
    assert "ZeroDivisionError" in failing(report, "num_heads=8").message


# ----- bias ------------------------------------------------------------------------------


def test_library_bias_passes():
    report = check_alibi_bias(alibi_bias)
    assert report.passed, str(report)


def test_stub_bias_not_implemented():
    def stub(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
        raise NotImplementedError

    report = check_alibi_bias(stub)
    assert report.n_passed == 0 and report.not_implemented


def _signed_bias(
    num_heads, q_len, k_len=None, *, causal=True, symmetric=False, sign=-1.0, mask=True, offset=True
):
    if num_heads < 1 or q_len < 1:
        raise ValueError("bad size")
    k_len = q_len if k_len is None else k_len
    if causal and k_len < q_len:
        raise ValueError("fewer keys than queries")
    m = alibi_slopes(num_heads)
    i = torch.arange(q_len) + ((k_len - q_len) if offset else 0)
    j = torch.arange(k_len)
    d = (i[:, None] - j[None, :]).float()
    if symmetric:
        d = d.abs()
    b = sign * m[:, None, None] * d
    if causal and mask:
        b = b.masked_fill(j[None, None, :] > i[None, :, None], float("-inf"))
    return b


def test_wrong_sign_is_rejected():
    report = check_alibi_bias(lambda *a, **kw: _signed_bias(*a, sign=1.0, **kw))
    assert "wrong sign" in failing(report, "causal, 4 heads").message
    assert "wrong sign" in failing(report, "symmetric").message


def test_lesson_bias_without_minus_inf_is_rejected():
    # The lesson adds -m·|i-j| and a separate causal mask; as a bias alone it masks nothing.
    def lesson_like(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
        return _signed_bias(num_heads, q_len, k_len, causal=causal, symmetric=True, mask=False)

    report = check_alibi_bias(lesson_like)
    assert "−inf" in failing(report, "causal, 4 heads").message
    assert next(r for r in report.results if r.name.startswith("symmetric")).passed


def test_lesson_precomputed_buffer_is_rejected_erratum_17():
    max_seq_len = 64
    positions = torch.arange(max_seq_len)
    distance = (positions.unsqueeze(0) - positions.unsqueeze(1)).abs()

    def from_buffer(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
        k_len = q_len if k_len is None else k_len
        m = alibi_slopes(num_heads)
        b = -m[:, None, None] * distance[k_len - q_len : k_len, :k_len]
        if causal:
            i = torch.arange(k_len - q_len, k_len)
            b = b.masked_fill(torch.arange(k_len)[None, None, :] > i[None, :, None], float("-inf"))
        return b

    report = check_alibi_bias(from_buffer)
    # Exactly the lesson's crash: the buffer's slice stops at max_seq_len.
    case = failing(report, "longer than a precomputed buffer")
    assert "must match the size" in case.message and "no maximum length" in case.hint
    assert next(r for r in report.results if r.name.startswith("causal, 4 heads")).passed


def test_top_left_aligned_decoding_is_rejected():
    report = check_alibi_bias(lambda *a, **kw: _signed_bias(*a, offset=False, **kw))
    failing(report, "decoding")
    assert next(r for r in report.results if r.name.startswith("causal, 4 heads")).passed


@pytest.mark.parametrize(
    "result, words",
    [(None, "torch.Tensor"), ("nan", "NaN"), ("shape", "shape"), ("int", "floating")],
)
def test_garbage_bias_is_reported(result, words):
    def garbage(num_heads, q_len, k_len=None, *, causal=True, symmetric=False):
        good = alibi_bias(num_heads, q_len, k_len, causal=causal, symmetric=symmetric)
        if result == "nan":
            return torch.where(torch.isinf(good), good, torch.full_like(good, float("nan")))
        if result == "shape":
            return good[None]
        if result == "int":
            return torch.zeros(good.shape, dtype=torch.int64)
        return result

    report = check_alibi_bias(garbage)
    assert words in failing(report, "causal, 4 heads").message
