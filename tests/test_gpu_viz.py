"""`lcedu.viz.gpu`: the GPU figure and its loader, with and without a GPU record."""

from __future__ import annotations

import json
import shutil
from itertools import combinations

import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from lcedu.bench.records import BENCH_DIR, GPU_REPORT_COMMAND, cpu_records
from lcedu.viz.gpu import gpu_record_names, load_records, plot_gpu_bench


def _texts(fig):
    for t in fig.findobj(lambda a: hasattr(a, "get_fontsize") and hasattr(a, "get_text")):
        if t.get_text() and t.get_visible():
            yield t


def _check_legible(fig):
    FigureCanvasAgg(fig).draw()
    assert all(t.get_fontsize() >= 8 for t in _texts(fig))
    legend = fig.legends[0]
    renderer = fig.canvas.get_renderer()
    box = legend.get_window_extent(renderer)
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent(renderer)), "legend over the data"
    for ax in fig.axes:
        lines = [ln for ln in ax.get_lines()]
        for a, b in combinations(lines, 2):
            same_data = list(a.get_xdata()) == list(b.get_xdata()) and list(
                a.get_ydata()
            ) == list(b.get_ydata())
            same_style = (a.get_color(), a.get_linestyle(), a.get_marker()) == (
                b.get_color(),
                b.get_linestyle(),
                b.get_marker(),
            )
            assert not (same_data and same_style), "two identical lines hide each other"


def test_default_figure_without_gpu_record_says_so():
    assert gpu_record_names() == [p.name for p in sorted(BENCH_DIR.glob("attention_cuda_*.json"))]
    fig = plot_gpu_bench()
    _check_legible(fig)
    title = fig._suptitle.get_text()
    if not gpu_record_names():
        assert "No GPU run is recorded" in title and GPU_REPORT_COMMAND in title
    assert sum(len(ax.get_lines()) for ax in fig.axes) > 0


def _gpu_record(n_values):
    rows = []
    for n in n_values:
        for method, ms in (("naive", 1e-6 * n * n), ("sdpa_flash", 2e-7 * n * n),
                           ("triton", 2.5e-7 * n * n)):
            rows.append({"n": n, "causal": False, "method": method, "status": "ok",
                         "median_ms": ms, "tflops": 4 * 8 * n * n * 64 / (ms / 1e3) / 1e12,
                         "peak_bytes": 1000 * n if method != "naive" else 4 * n * n})
    return {"environment": {"device": "cuda", "device_name": "Test GPU 80GB", "torch": "x",
                            "date": "2026-01-01T00:00:00Z"},
            "config": {"dtype": "bfloat16"}, "rows": rows, "targets": []}


def test_a_gpu_record_is_found_and_drawn_beside_the_cpu_ones(tmp_path):
    for p in cpu_records():
        shutil.copy(p, tmp_path / p.name)
    (tmp_path / "attention_cuda_test-gpu-80gb.json").write_text(
        json.dumps(_gpu_record((512, 1024, 2048)))
    )
    assert gpu_record_names(tmp_path) == ["attention_cuda_test-gpu-80gb.json"]
    records, any_gpu = load_records(tmp_path)
    assert any_gpu and records[0]["file"] == "attention_cuda_test-gpu-80gb.json"
    assert len(records) == 1 + len(cpu_records())
    fig = plot_gpu_bench(bench_dir=tmp_path)
    _check_legible(fig)
    assert "GPU" in fig._suptitle.get_text() and "No GPU" not in fig._suptitle.get_text()
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any("Test GPU 80GB" in s for s in labels) and "Triton kernel (ours)" in labels
    # the GPU record's Triton line: 3 points on the time panel
    time_ax = fig.axes[0]
    assert any(list(ln.get_xdata()) == [512, 1024, 2048] for ln in time_ax.get_lines())


def test_nothing_to_plot_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no attention records"):
        plot_gpu_bench(bench_dir=tmp_path)
