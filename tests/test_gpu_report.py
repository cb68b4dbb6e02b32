"""`lcedu gpu-report`: its CPU rehearsal runs as a bare GPU machine would run it, and its parts
(checks, budget, peaks, summaries) do what they say. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lcedu.bench import gpu_checks
from lcedu.bench.attention import METHODS, _over_budget, run_attention_bench
from lcedu.bench.gpu_report import LAB_PACKAGES, PARTS
from lcedu.bench.peaks import add_peak_fraction, dense_bf16_peak_tflops
from lcedu.bench.records import summarize_attention

ROOT = Path(__file__).resolve().parent.parent


def _fake_lab_packages(folder: Path, marker: Path) -> None:
    """Stand-ins that shadow the lab packages: importing one notes its name, then fails."""
    for name in sorted(LAB_PACKAGES):
        pkg = folder / name
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(
            f"with open({str(marker)!r}, 'a') as f:\n    f.write({name!r} + '\\n')\n"
            f"raise ImportError('lab package {name} imported on the gpu-report path')\n"
        )


@pytest.fixture(scope="module")
def dry_run(tmp_path_factory):
    """`python -m lcedu gpu-report OUT --dry-run` in a clean environment, lab packages absent."""
    tmp = tmp_path_factory.mktemp("gpu_report")
    fake, out, marker = tmp / "fake", tmp / "out", tmp / "imported.txt"
    _fake_lab_packages(fake, marker)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp),
        "PYTHONPATH": os.pathsep.join([str(fake), str(ROOT)]),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "lcedu", "gpu-report", str(out), "--dry-run"],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return proc, out, marker


def test_dry_run_writes_every_record_and_lists_every_part(dry_run):
    proc, out, marker = dry_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Traceback" not in proc.stdout + proc.stderr
    names = {p.name for p in out.iterdir()}
    assert names == {
        "gpu_report_cpu_dry-run.json",
        "gpu_report_cpu_dry-run.log",
        "checks_cpu_dry-run.json",
        "attention_cpu_dry-run.json",
        "sparse_cpu_dry-run.csv",
        "sparse_cpu_dry-run.json",
    }
    report = json.loads((out / "gpu_report_cpu_dry-run.json").read_text())
    assert report["dry_run"] is True
    assert [p["part"] for p in report["parts"]] == list(PARTS)
    assert all(p["status"] == "ok" for p in report["parts"]), report["parts"]
    env = report["environment"]
    assert env["device"] == "cpu" and env["torch"] == torch.__version__
    assert "triton" in env and env["date"].endswith("Z")
    log = (out / "gpu_report_cpu_dry-run.log").read_text()
    assert all(f"=== {part} ===" in log for part in PARTS)


def test_dry_run_needs_no_lab_package(dry_run):
    proc, out, marker = dry_run
    assert not marker.exists(), f"imported on the gpu-report path: {marker.read_text()}"
    report = json.loads((out / "gpu_report_cpu_dry-run.json").read_text())
    assert report["lab_modules_loaded"] == []  # sys.modules of the subprocess, at its end


def test_dry_run_runs_cpu_paths_and_names_what_needs_cuda(dry_run):
    _, out, _ = dry_run
    checks = json.loads((out / "checks_cpu_dry-run.json").read_text())["checks"]
    by_status: dict[str, list[str]] = {}
    for c in checks:
        by_status.setdefault(c["status"], []).append(c["group"])
    assert not by_status.get("failed") and not by_status.get("error"), checks
    assert {"sdpa_backends", "flash_attention", "flex_sliding_window", "flex_alibi"} <= set(
        by_status["passed"]
    )
    report = json.loads((out / "gpu_report_cpu_dry-run.json").read_text())
    skipped = " | ".join(f"{s['what']}: {s['why']}" for s in report["skipped_cuda_only"])
    for what in ("triton_vs_sdpa", "erratum 6", "bench attention triton", "sdpa_efficient",
                 "bench sparse flex_compiled"):
        assert what in skipped
    rec = json.loads((out / "attention_cpu_dry-run.json").read_text())
    assert {r["method"] for r in rec["rows"]} == set(METHODS)
    assert any(r["status"] == "ok" and r["tflops"] > 0 for r in rec["rows"])


def test_gpu_report_without_cuda_is_one_line(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from lcedu.cli import main

    with pytest.raises(SystemExit) as e:
        main(["gpu-report", "unused-dir"])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--dry-run" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["bench", "sparse", "--window", "0"],
        ["bench", "sparse", "--sizes", "-64"],
        ["bench", "sparse", "--repeats", "two"],
        ["bench", "sparse", "--max-dense-gib", "-1"],
        ["bench", "attention", "--sizes", "-64"],
        ["bench", "attention", "--sizes", "512,zero"],
        ["bench", "attention", "--heads", "0"],
        ["bench", "attention", "--methods", "magic"],
        ["bench", "attention", "--max-gib", "0"],
        ["bench", "practice", "--seq", "0"],
        ["bench", "quadratic", "--lengths", "-3"],
        ["gpu-report", "x", "--budget-s", "-5"],
    ],
)
def test_bad_bench_arguments_are_one_line_and_status_2(argv, capsys):
    from lcedu.cli import main

    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert len(err.splitlines()) == 1 and "error" in err and "Traceback" not in err
    assert captured.out == ""


def test_bench_cuda_request_without_a_gpu_is_one_line(capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    from lcedu.cli import main

    for name in ("attention", "sparse"):
        with pytest.raises(SystemExit) as e:
            main(["bench", name, "--device", "cuda"])
        assert e.value.code == 2
        assert "no CUDA GPU" in capsys.readouterr().err


def test_peak_table_matches_names_and_leaves_others_unknown():
    assert dense_bf16_peak_tflops("NVIDIA H100 80GB HBM3") == 989.4
    assert dense_bf16_peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert dense_bf16_peak_tflops("NVIDIA H200") == 989.4
    assert dense_bf16_peak_tflops("NVIDIA A100-SXM4-80GB") == 312.0
    assert dense_bf16_peak_tflops("NVIDIA L40S") == 362.05  # not the L4's
    assert dense_bf16_peak_tflops("NVIDIA L4") == 121.0
    for unknown in ("NVIDIA H100 NVL", "NVIDIA H200 NVL", "Tesla T4", "", "NVIDIA A10G"):
        assert dense_bf16_peak_tflops(unknown) is None
    rows = [{"status": "ok", "tflops": 100.0}, {"status": "skipped"}]
    add_peak_fraction(rows, 400.0)
    assert rows[0]["peak_fraction"] == 0.25 and "peak_fraction" not in rows[1]
    add_peak_fraction(rows, None)
    assert rows[0]["peak_fraction"] is None


def test_time_budget_skips_with_a_reason():
    now = time.monotonic()
    assert _over_budget(None, 1024, 3, now + 100) is None
    assert _over_budget((1024, 1.0), 2048, 1, now + 100) is None  # forecast 8 s
    why = _over_budget((1024, 1.0), 2048, 1, now + 5)
    assert why is not None and "forecast 8 s" in why
    assert "spent" in _over_budget(None, 64, 1, now - 1)
    rows = run_attention_bench(
        (16, 32), heads=1, head_dim=8, repeats=1, methods=("flash",), log=lambda s: None,
        deadline=time.monotonic() - 1,
    )
    assert rows and all(r["status"] == "skipped" and "budget" in r["note"] for r in rows)


def _row(n, causal, method, ms, tflops):
    return {"n": n, "causal": causal, "method": method, "status": "ok", "median_ms": ms,
            "tflops": tflops}


def test_summary_states_ratios_from_the_record():
    rows = [
        _row(8192, False, "triton", 2.0, 300.0),
        _row(8192, False, "sdpa_flash", 1.5, 400.0),
        _row(16384, False, "sdpa_flash", 6.0, 400.0),
        _row(8192, False, "naive", 12.0, 50.0),
        _row(8192, False, "flash", 40.0, 15.0),
        {"n": 16384, "causal": False, "method": "naive", "status": "oom", "note": "oom"},
    ]
    rec = {"environment": {"device_name": "Test GPU", "device": "cuda"}, "rows": rows,
           "config": {"dtype": "bfloat16"}}
    s = summarize_attention(rec)
    assert s["triton_vs_sdpa_flash"]["non-causal"] == (8192, pytest.approx(0.75))
    assert s["naive_vs_sdpa_flash"]["non-causal"] == (8192, pytest.approx(8.0))
    assert s["naive_vs_flash"]["non-causal"] == (8192, pytest.approx(0.3))
    assert s["triton_vs_sdpa_flash"]["causal"] is None
    assert s["largest_n"]["sdpa_flash"]["non-causal"] == 16384
    assert s["largest_n"]["naive"]["non-causal"] == 8192
    assert any("0.75x SDPA flash" in line for line in s["lines"])


def test_checks_catch_a_wrong_kernel(monkeypatch):
    import lcedu.attention.flash as flash

    real = flash.flash_attention

    def ignores_causal(q, k, v, causal=False, **kw):
        return real(q, k, v, causal=False, **kw)

    monkeypatch.setattr(flash, "flash_attention", ignores_causal)
    records = gpu_checks.check_flash_attention(torch.device("cpu"), True)
    status = {(("causal=True" in r["check"]), r["status"]) for r in records}
    assert status == {(False, "passed"), (True, "failed")}


def test_a_check_that_raises_is_recorded_and_the_rest_go_on(monkeypatch):
    def boom(dev, dry_run):
        raise RuntimeError("kernel exploded")

    checks = {"first": boom, "sdpa_backends": gpu_checks.CHECKS["sdpa_backends"]}
    monkeypatch.setattr(gpu_checks, "CHECKS", checks)
    records = gpu_checks.run_checks("cpu", log=lambda s: None)
    assert records[0]["status"] == "error" and "kernel exploded" in records[0]["detail"]
    assert any(r["group"] == "sdpa_backends" and r["status"] == "passed" for r in records)
    assert gpu_checks.error_ratio_ok(0.01, 0.01, 0.0)
    assert not gpu_checks.error_ratio_ok(0.5, 0.01, 0.02)


def test_triton_check_runs_under_the_interpreter():
    pytest.importorskip("triton")
    code = (
        "import json, torch\n"
        "from lcedu.bench.gpu_checks import check_triton_vs_sdpa\n"
        "print(json.dumps([r['status'] for r in check_triton_vs_sdpa(torch.device('cpu'), "
        "True)]))\n"
    )
    env = {**os.environ, "TRITON_INTERPRET": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    statuses = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(statuses) == 4 and set(statuses) == {"passed"}


def test_keep_going_records_an_error_and_the_rest_goes_on(monkeypatch):
    import lcedu.bench.attention as bench
    import lcedu.bench.sparse as sparse

    def broken(q, k, v, causal=False):
        raise RuntimeError("a kernel bug")

    monkeypatch.setattr(bench, "naive_attention", broken)
    rows = run_attention_bench((16, 32), heads=1, head_dim=8, repeats=1, causal_modes=(False,),
                               methods=("naive", "flash"), log=lambda s: None, keep_going=True)
    by = {(r["n"], r["method"]): r for r in rows}
    assert by[16, "naive"]["status"] == "error" and "a kernel bug" in by[16, "naive"]["note"]
    assert by[32, "naive"]["status"] == "skipped" and "error at n=16" in by[32, "naive"]["note"]
    assert by[16, "flash"]["status"] == by[32, "flash"]["status"] == "ok"

    monkeypatch.setattr(sparse, "attention", lambda *a, **k: broken(None, None, None))
    rows = sparse.run_sparse_bench((32,), window=4, heads=1, head_dim=8, repeats=1,
                                   methods=("dense_reference", "banded"), log=lambda s: None)
    by = {r["method"]: r for r in rows}
    assert by["dense_reference"]["status"] == "error" and by["banded"]["status"] == "ok"


def test_the_gpu_run_passes_arguments_its_benches_accept(monkeypatch, tmp_path):
    """The non-dry-run path (GPU sizes, budget, memory limits) parsed by the real parsers."""
    import lcedu.bench.attention as attention
    import lcedu.bench.gpu_checks as checks
    import lcedu.bench.gpu_report as report
    import lcedu.bench.sparse as sparse

    seen = {}

    def fake_attention(argv):
        args = attention.build_parser().parse_args(argv)
        seen["attention"] = args
        rec = {"environment": {"device_name": "x"}, "config": {"sizes": list(args.sizes)},
               "rows": []}
        Path(args.out).write_text(json.dumps(rec))
        return 0

    def fake_sparse(argv):
        seen["sparse"] = sparse.build_parser().parse_args(argv)
        return 0

    real_info = report.environment_info
    monkeypatch.setattr(report, "environment_info",
                        lambda dev: {**real_info(dev), "gpu_memory_bytes": 80 * 2**30})
    monkeypatch.setattr(attention, "main", fake_attention)
    monkeypatch.setattr(sparse, "main", fake_sparse)
    monkeypatch.setattr(checks, "run_checks", lambda *a, **k: [])
    out = report._report(tmp_path, torch.device("cpu"), dry_run=False, budget_s=450.0)
    assert [p["status"] for p in out["parts"]] == ["ok"] * 4, out["parts"]
    a, s = seen["attention"], seen["sparse"]
    assert a.sizes == report.GPU_SIZES and a.dtype == "bfloat16" and a.keep_going
    assert 0 < a.budget_s <= 450 * report.BUDGET_SHARES["bench attention"]
    assert tuple(s.sizes) == report.SPARSE_GPU_SIZES and s.max_dense_gib == 20.0
    assert not s.no_flex
