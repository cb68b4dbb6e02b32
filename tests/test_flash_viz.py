"""Figures and the widget for notebook 03 build from the core's numbers and reject bad input."""

from __future__ import annotations

import json

import pytest
import torch
from matplotlib.figure import Figure

from lcedu.viz.flash import (
    load_bench_records,
    plot_bench,
    plot_io_model,
    plot_online_softmax,
    plot_tile_map,
)
from lcedu.widgets.flash import render, tile_explorer


def test_figures():
    assert isinstance(plot_online_softmax(torch.randn(13), 4), Figure)
    fig = plot_tile_map(100, 100, 16, 16, causal=True)
    assert "28 of 49 tiles" in fig.axes[0].get_title()  # T=7: 7·8/2
    assert isinstance(plot_io_model([256, 1024]), Figure)
    with pytest.raises(ValueError):
        plot_io_model([])


def test_bench_records_and_plot(tmp_path):
    rows = [
        {
            "n": n,
            "causal": c,
            "method": m,
            "status": "ok",
            "median_ms": 1.0 * n,
            "min_ms": 1.0,
            "peak_bytes": n * 1024,
            "tflops": 0.1,
        }
        for n in (256, 512)
        for c in (False, True)
        for m in ("naive", "flash")
    ]
    (tmp_path / "attention_cpu.json").write_text(
        json.dumps({"environment": {"device": "cpu"}, "rows": rows})
    )
    (tmp_path / "attention_other.json").write_text(json.dumps({"unrelated": 1}))
    recs = load_bench_records(tmp_path)
    assert [r["path"] for r in recs] == ["attention_cpu.json"]
    assert isinstance(plot_bench(recs[0]["rows"], "t"), Figure)
    with pytest.raises(ValueError, match="no measured rows"):
        plot_bench([{"n": 1, "status": "skipped"}])


def test_tile_explorer_renders():
    assert isinstance(render(100, 16, 32, True), Figure)
    with pytest.raises(ValueError, match="n_q must be"):
        render(0)
    with pytest.raises(ValueError, match="block_q"):
        render(64, 0)
    assert tile_explorer() is not None
