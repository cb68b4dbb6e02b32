"""The ring graders accept the library, reject stubs and each known-wrong implementation.

Wrong versions are written here as a learner might: a merge without max subtraction (it
overflows), a merge that turns empty rows into NaN, unnormalised weights; the lesson's step
(no causal mask, erratum 19), skipping the diagonal block, skipping by first positions only,
no mask on the diagonal, computing a future block instead of skipping it; garbage returns.
"""

from __future__ import annotations

import math

import torch

from lcedu.attention.flash import merge_partials
from lcedu.attention.ring import lesson_ring_step, ring_step
from lcedu.grading import NOT_IMPLEMENTED_MESSAGE
from lcedu.grading.ring import check_merge_partials, check_ring_step


def failing(report, case_prefix):
    for c in report.results:
        if c.name.startswith(case_prefix):
            assert not c.passed, f"{case_prefix!r} should fail:\n{report}"
            return c
    raise AssertionError(f"no case starting with {case_prefix!r} in\n{report}")


def _shapes(out_a, out_b):
    if out_a.shape != out_b.shape:
        raise ValueError("shapes differ")


# ----- merge --------------------------------------------------------------------------


def test_library_merge_passes():
    report = check_merge_partials(merge_partials)
    assert report.passed, str(report)
    assert report.n_total >= 6


def test_stub_merge_not_implemented():
    def stub(out_a, lse_a, out_b, lse_b):
        raise NotImplementedError

    report = check_merge_partials(stub)
    assert report.n_passed == 0 and report.not_implemented
    assert all(r.message == NOT_IMPLEMENTED_MESSAGE for r in report.results)


def test_unnormalised_merge_is_rejected():
    def plain_sum(out_a, lse_a, out_b, lse_b):
        _shapes(out_a, out_b)
        return out_a + out_b, torch.logaddexp(lse_a, lse_b)

    report = check_merge_partials(plain_sum)
    c = failing(report, "two halves")
    assert "out" in c.message and c.error is not None


def test_merge_garbage_is_reported_not_raised():
    for garbage, words in [
        (lambda *a: None, "pair"),
        (lambda oa, la, ob, lb: oa, "pair"),
        (lambda oa, la, ob, lb: (oa[..., :1], la), "shape"),
        (lambda oa, la, ob, lb: (oa * float("nan"), la), "NaN"),
    ]:
        report = check_merge_partials(garbage)
        assert not report.passed
        assert words in failing(report, "two halves").message, str(report)

    def boom(*a):
        raise IndexError("oops")

    assert "raised IndexError" in failing(check_merge_partials(boom), "two halves").message


# ----- ring step ------------------------------------------------------------------------


def _block(q, k, v, allowed):
    s = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    s = s.masked_fill(~allowed, float("-inf"))
    lse = torch.logsumexp(s, -1)
    safe = torch.where(torch.isneginf(lse), torch.zeros_like(lse), lse)
    return torch.exp(s - safe[..., None]) @ v, lse


def _make_step(skip_rule, mask_diagonal=True):
    """A learner's ring step with a chosen skip rule (and optionally no mask)."""

    def step(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
        allowed = k_pos[None, :] <= q_pos[:, None]
        if causal and skip_rule(q_pos, k_pos, allowed):
            return out, lse
        if not causal or not mask_diagonal:
            allowed = torch.ones_like(allowed)
        bo, bl = _block(q, k_block, v_block, allowed)
        return merge_partials(out, lse, bo.to(out.dtype), bl.to(lse.dtype))

    return step


def test_library_ring_step_passes():
    report = check_ring_step(ring_step)
    assert report.passed, str(report)
    assert report.n_total >= 9


def test_correct_learner_style_step_passes():
    report = check_ring_step(_make_step(lambda q, k, a: not bool(a.any())))
    assert report.passed, str(report)


def test_stub_ring_step_not_implemented():
    def stub(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
        raise NotImplementedError

    report = check_ring_step(stub)
    assert report.n_passed == 0 and report.not_implemented


def test_lesson_step_attends_the_future_and_is_rejected():
    report = check_ring_step(lesson_ring_step)
    assert report.results[0].passed and report.results[4].passed  # right without causality
    assert "future" in failing(report, "causal, the diagonal").message
    assert "skipped" in failing(report, "causal, a block from the future").message
    assert not report.passed


def test_skipping_the_diagonal_block_is_rejected():
    step = _make_step(lambda q, k, a: bool(k.max() > q.min()))  # skips unless fully in the past
    report = check_ring_step(step)
    assert "unchanged" in failing(report, "causal, the diagonal").message
    assert report.results[4].passed


def test_skipping_by_first_positions_fails_zigzag():
    step = _make_step(lambda q, k, a: bool(k[0] > q[0]))
    report = check_ring_step(step)
    assert "unchanged" in failing(report, "causal, zigzag").message


def test_no_mask_on_the_diagonal_is_rejected():
    step = _make_step(lambda q, k, a: not bool(a.any()), mask_diagonal=False)
    report = check_ring_step(step)
    assert "future" in failing(report, "causal, the diagonal").message
    assert report.results[6].passed  # the future block is skipped correctly


def test_computing_a_future_block_instead_of_skipping_is_rejected():
    def never_skip(q, k_block, v_block, out, lse, q_pos, k_pos, causal=False):
        allowed = (
            k_pos[None, :] <= q_pos[:, None]
            if causal
            else torch.ones(len(q_pos), len(k_pos), dtype=torch.bool)
        )
        s = (q @ k_block.transpose(-2, -1)) / math.sqrt(q.shape[-1])
        s = s.masked_fill(~allowed, float("-inf"))
        p = torch.softmax(s, -1)  # NaN on rows with no visible key
        return merge_partials(out, lse, p @ v_block, torch.logsumexp(s, -1))

    report = check_ring_step(never_skip)
    assert "skipped" in failing(report, "causal, a block from the future").message


def test_ring_step_garbage_is_reported():
    report = check_ring_step(lambda *a, **k: None)
    assert report.n_passed == 0
    assert "pair" in report.results[0].message
    report = check_ring_step(lambda q, k, v, out, lse, **kw: (out[..., :1], lse))
    assert "shape" in report.results[0].message
