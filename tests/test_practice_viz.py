"""Figures, the guide widget and the practice benchmark's cache table (fast smoke and facts)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lcedu.bench.practice import (  # noqa: E402
    format_cache_table,
    format_tricks_table,
    main,
    measure_cache_memory,
)
from lcedu.kvcache.decode import cache_history  # noqa: E402
from lcedu.kvcache.full import KVCache  # noqa: E402
from lcedu.kvcache.memory import kv_cache_bytes  # noqa: E402
from lcedu.kvcache.paged import PagedKVCache  # noqa: E402
from lcedu.kvcache.sliding import SlidingWindowCache  # noqa: E402
from lcedu.viz import kvcache as kv_viz  # noqa: E402
from lcedu.viz import practice as practice_viz  # noqa: E402
from lcedu.widgets.guide import method_guide, render  # noqa: E402


def test_cache_figures():
    fig = kv_viz.plot_cache_history(
        {"full": cache_history(KVCache(), 6), "sliding": cache_history(SlidingWindowCache(2), 6)}
    )
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    paged = PagedKVCache(2, 6)
    paged.update(torch.zeros(1, 1, 3, 2), torch.zeros(1, 1, 3, 2))
    paged.fork(0)
    assert isinstance(kv_viz.plot_block_table(paged), Figure)
    assert isinstance(kv_viz.plot_sink_effect({"a": torch.ones(5)}, 2), Figure)
    with pytest.raises(ValueError):
        kv_viz.plot_cache_history({})
    with pytest.raises(ValueError):
        kv_viz.plot_block_table(KVCache())


def test_practice_figures_and_widget():
    assert len(practice_viz.plot_chunks(20, 6, 2).axes) == 2
    assert isinstance(practice_viz.plot_scan_vs_attention_memory((256, 1024)), Figure)
    assert isinstance(render(4096, 2**21, 8, False, False), Figure)
    rows = [{"config": "fp32", "time_ratio": 1.0, "peak_ratio": None, "saved_ratio": 1.0}]
    assert isinstance(practice_viz.plot_memory_tricks(rows), Figure)
    w = method_guide()
    assert len(w.controls) == 5 and w.figure is not None
    with pytest.raises(ValueError):
        method_guide(3000, 8192)


def test_cache_memory_rows_match_the_formula():
    rows = measure_cache_memory((64, 2048), heads=2, head_dim=8, window=256, sinks=4, block_size=16)
    by = {(r["cache"], r["seq_len"]): r["cache_bytes"] for r in rows}
    for n in (64, 2048):
        assert by[("full", n)] == kv_cache_bytes(1, 2, 8, n)  # fp16: 2 bytes per element
        assert by[("paged (block 16)", n)] == kv_cache_bytes(1, 2, 8, -(-n // 16) * 16)
        assert by[("sliding (W=256)", n)] == kv_cache_bytes(1, 2, 8, 256)
    table = format_cache_table(rows)
    assert "sinks (4 + 252)" in table and "n=2048" in table
    trick = [
        {
            "config": "fp32",
            "step_ms": 1.0,
            "time_ratio": 1.0,
            "peak_bytes": None,
            "peak_ratio": None,
            "saved_bytes": 2**20,
            "saved_ratio": 1.0,
        }
    ]
    assert "n/a" in format_tricks_table(trick)


def test_bench_cli_rejects_bad_arguments():
    with pytest.raises(SystemExit):
        main(["--seq", "0", "--no-write"])
