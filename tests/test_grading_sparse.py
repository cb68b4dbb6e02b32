"""The sparse-attention graders: the library passes, stubs are 'not implemented', and each
known-wrong implementation (including the lesson's loop) fails a specific case with a
relevant message."""

from __future__ import annotations

import pytest
import torch

from lcedu.attention.masks import longformer_mask, sliding_window_mask
from lcedu.attention.reference import attention
from lcedu.attention.sliding_window import (
    lesson_sliding_window_attention,
    sliding_window_attention,
)
from lcedu.grading.messages import t
from lcedu.grading.sparse import (
    check_banded_attention,
    check_longformer_mask,
    check_sliding_window_mask,
)


def _failed(report, case_name):
    for r in report.results:
        if r.name == case_name:
            assert not r.passed, f"{case_name} should fail"
            return r.message
    raise AssertionError(f"no case named {case_name!r}")


def _stub(*args, **kwargs):
    raise NotImplementedError("replace this line with your code")


@pytest.mark.parametrize("check", [check_sliding_window_mask, check_longformer_mask,
                                   check_banded_attention])
def test_stub_is_not_implemented(check):
    report = check(_stub)
    assert report.not_implemented and not report.passed
    assert all(r.not_implemented for r in report.results)


@pytest.mark.parametrize("garbage", [None, 3, "mask", lambda *a, **k: None,
                                     lambda *a, **k: torch.full((2, 2), float("nan"))])
def test_garbage_is_reported_never_raised(garbage):
    for check in (check_sliding_window_mask, check_longformer_mask, check_banded_attention):
        report = check(garbage)
        assert not report.passed
        assert str(report)  # renders


# ----- sliding_window_mask ---------------------------------------------------------------


def test_library_window_mask_passes():
    report = check_sliding_window_mask(sliding_window_mask)
    assert report.passed, str(report)


def test_off_by_one_window_is_rejected():
    def off_by_one(n, window, *, causal=False):
        if window < 1:
            raise ValueError("window must be positive")
        i = torch.arange(n)
        d = i[:, None] - i[None, :]
        return (d.abs() < window) if not causal else ((d >= 0) & (d < window))

    report = check_sliding_window_mask(off_by_one)
    assert "off by one" in _failed(report, "n=7, window=2")


def test_window_mask_without_validation_is_rejected():
    def no_check(n, window, *, causal=False):
        i = torch.arange(n)
        d = i[:, None] - i[None, :]
        return (d.abs() <= window) if not causal else ((d >= 0) & (d <= window))

    report = check_sliding_window_mask(no_check)
    assert "should raise ValueError" in _failed(report, t("sparse.case.bad_window"))
    assert report.n_passed == report.n_total - 1


# ----- longformer_mask -------------------------------------------------------------------


def test_library_longformer_mask_passes():
    report = check_longformer_mask(longformer_mask)
    assert report.passed, str(report)


def _lf(n, window, global_tokens, padding_mask=None, *, rows=True, cols=True, pad=True):
    for g in global_tokens:
        if not 0 <= g < n:
            raise ValueError("global token out of range")
    i = torch.arange(n)
    m = (i[:, None] - i[None, :]).abs() <= window
    g = torch.zeros(n, dtype=torch.bool)
    g[list(global_tokens)] = True
    if rows:
        m |= g[:, None]
    if cols:
        m |= g[None, :]
    if pad and padding_mask is not None:
        m &= padding_mask[:, None] & padding_mask[None, :]
    return m


def test_one_sided_global_is_rejected():
    rows_only = check_longformer_mask(lambda *a: _lf(*a, cols=False))
    assert "both ways" in _failed(rows_only, "one global token at 0")
    # The lesson's diagram: the global column, but an empty global row.
    cols_only = check_longformer_mask(lambda *a: _lf(*a, rows=False))
    assert "row 0" in _failed(cols_only, "one global token at 0")


def test_attended_padding_is_rejected():
    report = check_longformer_mask(lambda *a: _lf(*a, pad=False))
    assert "padding" in _failed(report, "padding at the end")
    assert "padding" in _failed(report, "padding at the start")
    assert not any(r.passed is False for r in report.results[:3])


def test_first_positions_as_globals_is_rejected():
    # The sketch hard-codes the globals to the first len(global_tokens) positions.
    def first_k(n, window, global_tokens, padding_mask=None):
        return _lf(n, window, list(range(len(global_tokens))), padding_mask)

    report = check_longformer_mask(first_k)
    _failed(report, "globals at arbitrary positions")


# ----- banded attention ------------------------------------------------------------------


def test_library_banded_attention_passes():
    report = check_banded_attention(sliding_window_attention)
    assert report.passed, str(report)


def test_lesson_loop_is_rejected():
    def lesson(q, k, v, window, causal=False):
        return lesson_sliding_window_attention(q, k, v, window_size=2 * window)

    report = check_banded_attention(lesson)
    assert "off by one" in _failed(report, "(1, 2, 16, 8), window=4")
    assert report.results[0].key == "sparse.band_off_by_one"


def test_zero_padded_edges_are_explained():
    def edges_wrong(q, k, v, window, causal=False):
        # Correct window, but keys outside the sequence are zero vectors (erratum 1 alone).
        n = q.shape[2]
        kp = torch.nn.functional.pad(k, (0, 0, window, window))
        vp = torch.nn.functional.pad(v, (0, 0, window, window))
        i = torch.arange(n)[:, None]
        j = torch.arange(n + 2 * window)[None, :] - window
        m = (j - i).abs() <= window
        if causal:
            m &= j <= i
        return attention(q, kp, vp, mask=m)

    report = check_banded_attention(edges_wrong)
    assert "near the edges" in _failed(report, "(1, 2, 16, 8), window=4")


def test_dense_masked_attention_is_rejected_for_memory():
    def dense(q, k, v, window, causal=False):
        return attention(q, k, v, mask=sliding_window_mask(q.shape[2], window, causal=causal))

    report = check_banded_attention(dense)
    assert "n × n" in _failed(report, t("sparse.case.memory"))
    assert report.n_passed == report.n_total - 1


def test_ignoring_causal_is_rejected():
    report = check_banded_attention(lambda q, k, v, w, causal=False:
                                    sliding_window_attention(q, k, v, w))
    for r in report.results:
        assert r.passed == ("causal" not in r.name and "vectorised" not in r.name), r.name
