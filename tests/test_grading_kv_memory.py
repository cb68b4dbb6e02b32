"""Exercise 01's checks: the library passes, stubs and known-wrong versions fail."""

from __future__ import annotations

from lcedu.grading.kv_memory import check_attention_matrix_bytes, check_kv_cache_bytes
from lcedu.grading.messages import t
from lcedu.kvcache.memory import attention_matrix_bytes, kv_cache_bytes


def _stub(*args, **kwargs):
    raise NotImplementedError("stub")


def test_reference_passes():
    assert check_kv_cache_bytes(kv_cache_bytes).passed
    assert check_attention_matrix_bytes(attention_matrix_bytes).passed


def test_stubs_fail_politely():
    for check in (check_kv_cache_bytes, check_attention_matrix_bytes):
        report = check(_stub)
        assert report.not_implemented and report.n_passed == 0


def test_forgetting_values_fails_with_the_factor_two_hint():
    def keys_only(L, H, D, n, *, batch_size=1, bytes_per_element=2):
        return L * H * D * n * batch_size * bytes_per_element

    report = check_kv_cache_bytes(keys_only)
    assert not report.passed
    assert "keys AND values" in report.results[0].message


def test_forgetting_layers_or_batch_fails():
    def no_layers(L, H, D, n, *, batch_size=1, bytes_per_element=2):
        return 2 * H * D * n * batch_size * bytes_per_element

    def no_batch(L, H, D, n, *, batch_size=1, bytes_per_element=2):
        return 2 * L * H * D * n * bytes_per_element

    assert not check_kv_cache_bytes(no_layers).passed
    report = check_kv_cache_bytes(no_batch)
    assert not report.passed
    failed = {r.name for r in report.results if not r.passed}
    assert "batch of 4, fp32" in failed


def test_missing_validation_fails_only_the_bad_input_case():
    def unchecked(L, H, D, n, *, batch_size=1, bytes_per_element=2):
        return 2 * L * H * D * n * batch_size * bytes_per_element

    report = check_kv_cache_bytes(unchecked)
    failed = [r.name for r in report.results if not r.passed]
    assert failed == [t("kv.case.bad")]


def test_linear_instead_of_quadratic_scores_fails():
    def linear(n, h=1, *, batch_size=1, bytes_per_element=2):
        if n < 1 or h < 1:
            raise ValueError("bad")
        return batch_size * h * n * bytes_per_element

    report = check_attention_matrix_bytes(linear)
    assert not report.passed
    assert "square the length" in report.results[0].message


def test_float_result_is_reported_not_crashing():
    report = check_kv_cache_bytes(lambda *a, **k: "lots")
    assert not report.passed and "whole number" in report.results[0].message
