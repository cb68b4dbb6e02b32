"""The flash graders accept the library, reject stubs, garbage and each known-wrong version."""

from __future__ import annotations

import math

import torch

from lcedu.attention.flash import flash_attention, merge_partials
from lcedu.grading import NOT_IMPLEMENTED_MESSAGE
from lcedu.grading.flash import check_flash_forward, check_merge_partials


def failing(report, case_prefix):
    for c in report.results:
        if c.name.startswith(case_prefix):
            assert not c.passed, f"{case_prefix!r} should fail:\n{report}"
            return c
    raise AssertionError(f"no case starting with {case_prefix!r} in\n{report}")


def library_forward(q, k, v, *, block_q, block_k):
    return flash_attention(q, k, v, block_q=block_q, block_k=block_k, return_lse=True)


def learner_forward(q, k, v, *, block_q, block_k, rescale=True, subtract_max=True, lse_kind="ok"):
    """A learner-style FA2 forward with switches for the classic mistakes."""
    scale = 1 / math.sqrt(q.shape[-1])
    outs, lses = [], []
    for q0 in range(0, q.shape[2], block_q):
        qi = q[:, :, q0 : q0 + block_q] * scale
        m = torch.full(qi.shape[:-1] + (1,), float("-inf"))
        l_sum = torch.zeros_like(m)
        acc = torch.zeros(qi.shape[:-1] + (v.shape[-1],))
        for k0 in range(0, k.shape[2], block_k):
            s = qi @ k[:, :, k0 : k0 + block_k].transpose(-2, -1)
            if subtract_max:
                m_new = torch.maximum(m, s.amax(-1, keepdim=True))
            else:
                m_new = torch.zeros_like(m)
            alpha = torch.exp(m - m_new) if subtract_max else torch.ones_like(m)
            p = torch.exp(s - m_new)
            l_sum = l_sum * alpha + p.sum(-1, keepdim=True)
            acc = (acc * alpha if rescale else acc) + p @ v[:, :, k0 : k0 + block_k]
            m = m_new
        outs.append(acc / l_sum)
        lse = {"ok": m + torch.log(l_sum), "no_max": torch.log(l_sum), "no_log": m + l_sum}
        lses.append(lse[lse_kind].squeeze(-1))
    return torch.cat(outs, 2), torch.cat(lses, 2)


def test_library_and_learner_style_pass():
    assert check_merge_partials(merge_partials).passed
    r = check_flash_forward(library_forward)
    assert r.passed, str(r)
    assert r.n_total >= 5
    assert check_flash_forward(learner_forward).passed


def test_stubs_are_not_implemented():
    def stub(*args, **kwargs):
        raise NotImplementedError

    for check in (check_merge_partials, check_flash_forward):
        report = check(stub)
        assert report.n_passed == 0 and report.not_implemented
        assert all(r.message == NOT_IMPLEMENTED_MESSAGE for r in report.results)


def test_missing_rescale_is_rejected_with_the_reason():
    def wrong(q, k, v, *, block_q, block_k):
        return learner_forward(q, k, v, block_q=block_q, block_k=block_k, rescale=False)

    report = check_flash_forward(wrong)
    assert report.results[0].passed  # one tile: nothing to rescale
    c = failing(report, "several key blocks")
    assert "exp(m_old − m_new)" in c.message and "accumulator" in c.message


def test_max_never_subtracted_is_rejected_on_large_scores():
    def wrong(q, k, v, *, block_q, block_k):
        return learner_forward(q, k, v, block_q=block_q, block_k=block_k, subtract_max=False)

    report = check_flash_forward(wrong)
    assert report.results[0].passed  # small scores: exp does not overflow
    c = failing(report, "large scores")
    assert "overflow" in c.message and "max" in c.message


def test_wrong_lse_is_rejected():
    for kind, words in (("no_max", "missing the running max"), ("no_log", "m + log(l)")):

        def wrong(q, k, v, *, block_q, block_k, kind=kind):
            return learner_forward(q, k, v, block_q=block_q, block_k=block_k, lse_kind=kind)

        c = failing(check_flash_forward(wrong), "several key blocks")
        assert words in c.message, c.message


def test_merge_mistakes_are_rejected():
    def naive_exp(oa, la, ob, lb):  # exp(lse) directly: overflows on large scores
        ea, eb = torch.exp(la), torch.exp(lb)
        s = ea + eb
        out = (ea.unsqueeze(-1) * oa + eb.unsqueeze(-1) * ob) / s.unsqueeze(-1)
        return out, torch.log(s)

    report = check_merge_partials(naive_exp)
    assert report.results[0].passed
    assert (
        "NaN" in failing(report, "large scores").message
        or "inf" in failing(report, "large scores").message
    )

    def max_lse(oa, la, ob, lb):
        out, _ = merge_partials(oa, la, ob, lb)
        return out, torch.maximum(la, lb)

    assert "max(lse_a, lse_b)" in failing(check_merge_partials(max_lse), "two halves").message

    def average(oa, la, ob, lb):  # ignores the LSEs
        return (oa + ob) / 2, merge_partials(oa, la, ob, lb)[1]

    assert "merged out" in failing(check_merge_partials(average), "uneven halves").message

    def nan_on_empty(oa, la, ob, lb):  # stable for finite LSEs, NaN when one is -inf
        m = torch.maximum(la, lb)
        wa, wb = torch.exp(la - m), torch.exp(lb - m)
        s = wa + wb
        return (wa.unsqueeze(-1) * oa + wb.unsqueeze(-1) * ob) / s.unsqueeze(-1), m + torch.log(s)

    report = check_merge_partials(nan_on_empty)
    assert report.results[0].passed
    assert "NaN" in failing(report, "both partials saw no keys").message


def test_garbage_is_reported_not_raised():
    for bad in (
        lambda *a, **k: None,
        lambda *a, **k: (torch.zeros(1),),
        lambda *a, **k: (torch.full((1, 2, 8, 8), float("nan")), torch.zeros(1, 2, 8)),
    ):
        for check in (check_merge_partials, check_flash_forward):
            report = check(bad)
            assert not report.passed
            assert all(r.message for r in report.results if not r.passed)
