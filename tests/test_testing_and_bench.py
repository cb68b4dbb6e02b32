"""The tolerance table, seeding, and the measurement helpers."""

from __future__ import annotations

import random
import sys

import pytest
import torch

from lcedu.bench import (
    device,
    device_name,
    environment_info,
    measure_peak_memory,
    time_fn,
    write_record,
)
from lcedu.bench.quadratic_wall import fit_power_law
from lcedu.testing import assert_close, close_enough, seed_everything, tolerance


def test_tolerances_tighten_with_precision():
    assert (
        tolerance(torch.float64).atol
        < tolerance(torch.float32).atol
        < tolerance(torch.bfloat16).atol
    )
    with pytest.raises(ValueError):
        tolerance(torch.int64)
    with pytest.raises(ValueError):
        tolerance("float32")


def test_close_enough_and_assert_close():
    x = torch.randn(10)
    assert close_enough(x + 1e-7, x)
    assert not close_enough(x + 1e-2, x)
    assert not close_enough(x[:5], x)
    with pytest.raises(AssertionError):
        assert_close(x + 1, x)


def test_seed_everything_is_reproducible():
    seed_everything(123)
    a = (random.random(), torch.randn(3))
    gen = seed_everything(123)
    b = (random.random(), torch.randn(3))
    assert a[0] == b[0] and torch.equal(a[1], b[1])
    assert isinstance(gen, torch.Generator)
    with pytest.raises(ValueError):
        seed_everything(-1)


def test_device_is_cpu_here_and_named():
    assert device().type in {"cpu", "cuda", "mps"}
    assert device_name("cpu")
    info = environment_info("cpu")
    assert {"device_name", "torch", "date"} <= set(info)


def test_time_fn_validates_and_measures():
    t = time_fn(lambda: sum(range(1000)), warmup=0, repeats=3)
    assert len(t.times) == 3 and 0 <= t.min_s <= t.median_s
    with pytest.raises(ValueError):
        time_fn(lambda: None, repeats=0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS is read from /proc")
def test_peak_memory_sees_a_large_allocation():
    size = 64 * 2**20
    peak = measure_peak_memory(lambda: torch.ones(size // 4).add_(1))
    assert peak is not None and 0.9 * size <= peak <= 3 * size


def test_fit_power_law_recovers_exponent():
    xs = [10, 20, 40, 80]
    p, c = fit_power_law(xs, [3 * x**2 for x in xs])
    assert p == pytest.approx(2) and c == pytest.approx(3)
    with pytest.raises(ValueError):
        fit_power_law([1], [1])


def test_write_record(tmp_path):
    path = write_record(tmp_path / "a" / "r.json", {"x": 1})
    assert path.read_text().strip().startswith("{")
