"""The sliding-window cache grader: the library passes, stubs and known-wrong updates fail."""

from __future__ import annotations

from lcedu.grading.kvcache import check_sliding_window_update
from lcedu.kvcache.sliding import SlidingWindowCache


def _by_case(report):
    return {r.name: r for r in report.results}


def loop_solution(cache, k, v):
    cache.check_new(k, v)
    if cache.k_buf is None:
        cache.allocate(k)
    for t in range(k.shape[2]):
        slot = cache.seen_tokens % cache.window
        cache.k_buf[:, :, slot] = k[:, :, t]
        cache.v_buf[:, :, slot] = v[:, :, t]
        cache.seen_tokens += 1


def off_by_one_window(cache, k, v):
    """W previous tokens plus the current one: W+1 slots."""
    if cache.k_buf is None:
        b, h, _, d = k.shape
        cache.k_buf = k.new_zeros(b, h, cache.window + 1, d)
        cache.v_buf = k.new_zeros(b, h, cache.window + 1, d)
    for t in range(k.shape[2]):
        slot = cache.seen_tokens % (cache.window + 1)
        cache.k_buf[:, :, slot] = k[:, :, t]
        cache.v_buf[:, :, slot] = v[:, :, t]
        cache.seen_tokens += 1


def forgets_positions(cache, k, v):
    """Uses the index inside this call as the position: every single-token step hits slot 0."""
    if cache.k_buf is None:
        cache.allocate(k)
    for t in range(k.shape[2]):
        cache.k_buf[:, :, t % cache.window] = k[:, :, t]
        cache.v_buf[:, :, t % cache.window] = v[:, :, t]
    cache.seen_tokens += k.shape[2]


def never_counts(cache, k, v):
    if cache.k_buf is None:
        cache.allocate(k)
    cache.k_buf[:, :, cache.seen_tokens % cache.window] = k[:, :, -1]
    cache.v_buf[:, :, cache.seen_tokens % cache.window] = v[:, :, -1]


def stub(cache, k, v):
    raise NotImplementedError("replace this line with your code")


def test_library_and_loop_solution_pass():
    assert check_sliding_window_update(SlidingWindowCache).passed
    report = check_sliding_window_update(loop_solution)
    assert report.passed, str(report)


def test_stub_is_not_implemented_everywhere():
    report = check_sliding_window_update(stub)
    assert report.not_implemented and report.n_passed == 0
    assert all(r.not_implemented for r in report.results)


def test_off_by_one_window_is_rejected_with_a_reason():
    report = check_sliding_window_update(off_by_one_window)
    cases = _by_case(report)
    r = cases["exactly W keys after the window fills, window=3"]
    assert not r.passed and "4 slots" in r.message and "off by one" in r.message
    assert cases["before the window is full, window=8, 5 tokens"].passed  # right until it fills
    assert not cases["decoding equals sliding-window attention (i-4 < j <= i)"].passed


def test_buffer_that_forgets_positions_is_rejected():
    cases = _by_case(check_sliding_window_update(forgets_positions))
    r = cases["one token at a time, window=4, 11 tokens"]
    assert not r.passed and "lost track of positions" in r.message and "p % 4" in r.message
    assert not cases["decoding equals sliding-window attention (i-4 < j <= i)"].passed


def test_missing_count_and_garbage_are_reported_not_raised():
    cases = _by_case(check_sliding_window_update(never_counts))
    assert "seen_tokens" in cases["one token at a time, window=4, 11 tokens"].message

    def returns_garbage(cache, k, v):
        return 42

    report = check_sliding_window_update(returns_garbage)
    assert report.n_passed == 0
    assert any("None" in r.message or "return" in r.message for r in report.results)

    def raises(cache, k, v):
        raise TypeError("oops")

    report = check_sliding_window_update(raises)
    assert report.n_passed == 0 and "TypeError" in report.results[0].message

    def nan_writer(cache, k, v):
        loop_solution(cache, k * float("nan"), v)

    assert check_sliding_window_update(nan_writer).n_passed == 0
    assert not check_sliding_window_update(None).passed  # not a function


def test_report_renders_without_addresses_or_timings():
    text = str(check_sliding_window_update(forgets_positions))
    assert "0x" not in text and " s)" not in text
    payload = check_sliding_window_update(loop_solution)._repr_mimebundle_()
    assert payload["application/vnd.lcedu.grade+json"]["all_passed"] is True
