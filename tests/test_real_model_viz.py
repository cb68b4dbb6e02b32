"""Notebook 10's figures and the bucket table, on small made-up records (no model needed)."""

from __future__ import annotations

import numpy as np
import pytest

from lcedu.viz import real_model as rv


def _ppl(files=("a", "b", "c"), scalings=("none", "yarn")):
    rng = np.random.default_rng(3)
    runs = [{"file": f, "scaling": s, "buckets": list(rng.uniform(1, 3, 5))}
            for f in files for s in scalings]
    return {"bucket": 1024, "native_context": 4096, "factor": 1.25, "runs": runs}


def test_bucket_table_is_mean_and_spread_over_texts():
    rec = _ppl()
    t = rv.bucket_table(rec)
    rows = np.array([r["buckets"] for r in rec["runs"] if r["scaling"] == "yarn"])
    assert t["yarn"]["n"] == 3
    np.testing.assert_allclose(t["yarn"]["mean"], rows.mean(0))
    np.testing.assert_allclose(t["yarn"]["std"], rows.std(0, ddof=1))
    np.testing.assert_allclose(t["yarn"]["max"], rows.max(0))


def test_bucket_table_uses_only_texts_with_every_scaling():
    rec = _ppl()
    rec["runs"] = [r for r in rec["runs"] if not (r["file"] == "c" and r["scaling"] == "yarn")]
    t = rv.bucket_table(rec)
    assert t["none"]["n"] == t["yarn"]["n"] == 2
    rec["runs"] = [r for r in rec["runs"] if r["scaling"] == "none"][:1] + [
        r for r in rec["runs"] if r["scaling"] == "yarn" and r["file"] == "b"]
    with pytest.raises(ValueError, match="every scaling"):
        rv.bucket_table(rec)


def test_figures_draw_the_records():
    rng = np.random.default_rng(0)
    fig = rv.perplexity_figure(_ppl())
    assert len(fig.axes[0].lines) >= 2 and fig.legends
    st = {"window": 16, "sinks": 4, "runs": [
        {"file": "x.py", "kind": k, "nll": list(rng.uniform(0, 4, 100))}
        for k in ("dense", "window", "sinks")]}
    fig = rv.streaming_figure(st, smooth=8)
    assert [len(ln.get_xdata()) for ln in fig.axes[0].lines[:3]] == [93, 93, 93]
    fig = rv.sink_mass_figure(rng.uniform(0, 1, (30, 9)), uniform=0.01)
    assert fig.axes[0].images[0].get_array().shape == (9, 30)
    pk = {"trials": [{"length": 2040, "passed": True}, {"length": 2050, "passed": False},
                     {"length": 4100, "passed": True}]}
    fig = rv.passkey_figure(pk)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["2K\n1/2 passed", "4K\n1/1 passed"]
    with pytest.raises(ValueError, match="layers, heads"):
        rv.sink_mass_figure(np.zeros(3))


def test_wilson_interval_contains_the_rate():
    lo, hi = rv._wilson(3, 4)
    assert lo < 0.75 < hi and 0 <= lo and hi <= 1
    assert rv._wilson(0, 4)[0] == 0.0


def test_streaming_summary_averages_after_the_cache_is_full():
    rng = np.random.default_rng(1)
    runs = [{"file": f, "kind": k, "nll": list(rng.uniform(0, 4, 50))}
            for f in ("a.py", "b.py") for k in ("dense", "window", "sinks")]
    rec = {"window": 20, "sinks": 4, "runs": runs}
    s = rv.streaming_summary(rec)
    assert set(s) == {"a.py", "b.py"} and set(s["a.py"]) == {"dense", "window", "sinks"}
    assert s["b.py"]["sinks"] == pytest.approx(np.mean(runs[5]["nll"][20:]))
    fig = rv.streaming_figure(rec, smooth=5)
    assert len([ax for ax in fig.axes if ax.lines]) == 2  # one panel per text
    rec["window"] = 50
    with pytest.raises(ValueError, match="not more than the cache"):
        rv.streaming_summary(rec)


def test_passkey_rates_group_by_nominal_length():
    pk = {"trials": [{"length": 2035, "passed": True}, {"length": 2035, "passed": False},
                     {"length": 8150, "passed": True}]}
    r = rv.passkey_rates(pk)
    assert list(r) == [2048, 8192]
    assert (r[2048]["passed"], r[2048]["trials"], r[2048]["rate"]) == (1, 2, 0.5)
    assert r[2048]["low"] < 0.5 < r[2048]["high"]
    with pytest.raises(ValueError, match="no trials"):
        rv.passkey_rates({"trials": []})


def test_streaming_difference_interval_covers_a_known_shift():
    rng = np.random.default_rng(2)
    base = rng.normal(3.0, 1.0, 2000)
    rec = {"window": 100, "runs": [{"file": "t.py", "kind": "window", "nll": list(base + 0.8)},
                                   {"file": "t.py", "kind": "sinks", "nll": list(base)}]}
    d = rv.streaming_difference(rec)["t.py"]
    assert d["difference"] == pytest.approx(0.8)
    assert d["low"] <= 0.8 <= d["high"] and d["blocks"] == 1900 // 64
    noisy = {"window": 100, "runs": [
        {"file": "t.py", "kind": "window", "nll": list(rng.normal(3.0, 1.0, 2000))},
        {"file": "t.py", "kind": "sinks", "nll": list(rng.normal(3.0, 1.0, 2000))}]}
    n = rv.streaming_difference(noisy)["t.py"]
    assert n["low"] < 0 < n["high"]  # no shift: the interval straddles zero
    with pytest.raises(ValueError, match="no text with both"):
        rv.streaming_difference(rec, "window", "dense")
