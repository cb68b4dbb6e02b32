"""`lcedu bench attention`: the harness runs, skips what does not fit, writes a full record.

No timing is asserted (timings are not reproducible); only the shape of the results.
"""

from __future__ import annotations

import json

import pytest
import torch

from lcedu.attention.reference import attention
from lcedu.bench.attention import (
    attention_flops,
    main,
    naive_attention,
    naive_bytes,
    run_attention_bench,
    targets,
)
from lcedu.testing import assert_close, seed_everything


def test_naive_baseline_is_attention():
    seed_everything(0)
    q, k, v = (torch.randn(1, 2, 9, 4) for _ in range(3))
    for causal in (False, True):
        assert_close(naive_attention(q, k, v, causal), attention(q, k, v, causal=causal))


def test_flops_and_bytes_formulas():
    assert attention_flops(1024, 8, 64, causal=False) == 4 * 8 * 1024**2 * 64
    assert attention_flops(1024, 8, 64, causal=True) == 2 * 8 * 1024**2 * 64
    assert naive_bytes(16384, 8, 4) == 2 * 8 * 16384**2 * 4 + 16384**2  # ~16 GiB


def test_small_run_measures_and_skips():
    rows = run_attention_bench(
        (32, 64),
        heads=2,
        head_dim=8,
        repeats=1,
        max_bytes=20_000,
        methods=("naive", "flash", "sdpa_flash", "triton"),
        log=lambda s: None,
    )
    by = {(r["n"], r["causal"], r["method"]): r for r in rows}
    assert by[(32, False, "flash")]["status"] == "ok"
    assert by[(32, True, "sdpa_flash")]["tflops"] > 0
    # 64: naive needs 2·2·64²·4 + 64² bytes > 20 000: skipped with a reason, not timed
    assert by[(64, False, "naive")]["status"] == "skipped"
    assert "limit" in by[(64, False, "naive")]["note"]
    assert by[(32, False, "triton")]["status"] == "skipped"  # CUDA only
    with pytest.raises(ValueError, match="unknown methods"):
        run_attention_bench((32,), methods=("magic",))
    with pytest.raises(ValueError, match="sizes"):
        run_attention_bench((0,))


def test_out_of_memory_is_recorded_and_larger_sizes_skipped(monkeypatch):
    """'Up to where naive runs out of memory': an allocation failure becomes a row, not a crash."""
    import lcedu.bench.attention as bench

    real = bench.naive_attention

    def naive_that_runs_out(q, k, v, causal=False):
        if q.shape[2] >= 64:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 16.00 GiB")
        return real(q, k, v, causal)

    monkeypatch.setattr(bench, "naive_attention", naive_that_runs_out)
    rows = run_attention_bench(
        (32, 64, 128),
        heads=2,
        head_dim=8,
        repeats=1,
        methods=("naive", "flash"),
        causal_modes=(False,),
        log=lambda s: None,
    )
    by = {(r["n"], r["method"]): r for r in rows}
    assert by[(32, "naive")]["status"] == "ok"
    assert by[(64, "naive")]["status"] == "oom" and "n=64" in by[(64, "naive")]["note"]
    assert by[(128, "naive")]["status"] == "skipped"
    assert "ran out of memory at n=64" in by[(128, "naive")]["note"]
    assert all(by[(n, "flash")]["status"] == "ok" for n in (32, 64, 128))

    def broken(q, k, v, causal=False):
        raise RuntimeError("a real bug, not memory")

    monkeypatch.setattr(bench, "naive_attention", broken)
    with pytest.raises(RuntimeError, match="real bug"):
        run_attention_bench((32,), methods=("naive",), repeats=1, log=lambda s: None)


def test_targets_from_rows():
    def row(n, causal, method, ms=None, peak=None):
        return {
            "n": n,
            "causal": causal,
            "method": method,
            "status": "ok",
            "median_ms": ms,
            "min_ms": ms,
            "peak_bytes": peak,
        }

    rows = [
        row(4096, False, "flash", 300),
        row(4096, True, "flash", 150),
        row(4096, False, "sdpa_flash", 200),
        row(16384, False, "flash", 1, 10 * 2**20),
    ]
    t = {x["target"].split(" at ")[0]: x for x in targets(rows)}
    first = t["flash_attention (ours, 128): within 2x of SDPA flash"]
    assert first["value"] == pytest.approx(1.5) and first["met"] is True
    mem = t["flash peak extra memory <= 1/16 of naive's"]
    assert mem["met"] is True and "computed" in mem["note"]


def test_main_writes_a_record(tmp_path):
    out = tmp_path / "rec.json"
    rc = main(
        [
            "--sizes",
            "32",
            "--heads",
            "2",
            "--head-dim",
            "8",
            "--repeats",
            "1",
            "--methods",
            "naive,flash,sdpa_flash",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    rec = json.loads(out.read_text())
    env = rec["environment"]
    assert env["device"] == "cpu" and env["device_name"] and env["torch"] == torch.__version__
    assert env["date"].endswith("Z")
    assert {r["method"] for r in rec["rows"]} == {"naive", "flash", "sdpa_flash"}
    assert rec["config"]["dtype"] == "float32"
