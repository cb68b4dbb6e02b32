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
