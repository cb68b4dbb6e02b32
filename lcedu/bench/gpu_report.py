"""`lcedu gpu-report OUTDIR`: the course's whole GPU run in one command, and its CPU rehearsal.

On a CUDA machine it runs the correctness checks (`lcedu.bench.gpu_checks`), then
`lcedu bench attention --device cuda` (naive vs flash_attention vs Triton vs each SDPA
backend, bf16, n = 512…32K, the FlashAttention papers' time / memory / TFLOP/s comparison)
and `lcedu bench sparse --device cuda`, under one time budget, writing JSON records and a log
into OUTDIR. A failure in one part is recorded and the rest goes on. `--dry-run` runs the
same code on the CPU at tiny sizes (part of `make test`, so the command cannot rot). Only
torch (and Triton on a GPU) are needed: nothing here imports the lab packages.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lcedu.bench import BenchArgumentParser, environment_info, name_slug, positive_float
from lcedu.bench import device as pick_device

__all__ = ["PARTS", "LAB_PACKAGES", "lab_modules_loaded", "main"]

PARTS = ("environment", "checks", "bench attention", "bench sparse")
# Packages of the JupyterLab course that a bare GPU machine does not have.
LAB_PACKAGES = frozenset({
    "ipywidgets", "IPython", "ipykernel", "jupyter", "jupyter_client", "jupyter_core",
    "jupyterlab", "notebook", "nbformat", "nbclient", "nbval", "matplotlib",
})
GPU_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768)
# Three lengths, 4x apart (each compiles FlexAttention once); the targets compare 32K with 8K.
SPARSE_GPU_SIZES = (2048, 8192, 32768)
# Shares of the budget: checks end by 25 %, the attention bench by 70 %, sparse by 100 %.
BUDGET_SHARES = {"checks": 0.25, "bench attention": 0.70, "bench sparse": 1.0}


def lab_modules_loaded() -> list[str]:
    """The lab packages (see LAB_PACKAGES) this process has imported; [] is the goal."""
    return sorted(m for m in sys.modules if m.split(".")[0] in LAB_PACKAGES)


class _Tee:
    """A text stream that writes to the terminal and to the log file."""

    def __init__(self, *streams):
        self.streams = streams

    def write(self, text: str) -> int:
        for s in self.streams:
            s.write(text)
        return len(text)

    def flush(self) -> None:
        for s in self.streams:
            s.flush()


def _run_part(name: str, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one part; any failure (an exception, a bench's exit) is recorded, not raised."""
    print(f"\n=== {name} ===", flush=True)
    t0 = time.monotonic()
    try:
        result = {"part": name, "status": "ok", **(fn() or {})}
    except SystemExit as err:  # a bench's argument error
        result = {"part": name, "status": "error", "detail": f"exited with status {err.code}"}
    except Exception as err:  # noqa: BLE001 - one part failing must not stop the others
        result = {
            "part": name,
            "status": "error",
            "detail": f"{type(err).__name__}: {err}".splitlines()[0][:500],
            "traceback": traceback.format_exc(limit=10),
        }
        print(result["traceback"], flush=True)
    result["seconds"] = round(time.monotonic() - t0, 2)
    print(f"--- {name}: {result['status']} in {result['seconds']:.1f} s", flush=True)
    return result


def _write_json(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj, indent=2) + "\n", encoding="utf-8")
    return path


def _report(outdir: Path, dev: torch.device, dry_run: bool, budget_s: float) -> dict[str, Any]:
    start = time.monotonic()
    info = environment_info(dev)
    tag = f"{dev.type}_{'dry-run' if dry_run else name_slug(info['device_name'])}"
    parts: list[dict[str, Any]] = []
    cuda_only: list[dict[str, str]] = []

    def deadline(part: str) -> float:
        return start + budget_s * BUDGET_SHARES[part]

    def environment() -> dict[str, Any]:
        from lcedu.bench.peaks import dense_bf16_peak_tflops

        peak = dense_bf16_peak_tflops(info["device_name"]) if dev.type == "cuda" else None
        info["dense_bf16_peak_tflops"] = peak
        for key in ("device_name", "driver", "cuda", "cudnn", "torch", "triton", "date"):
            print(f"{key:>12}: {info.get(key, 'n/a (no CUDA device)')}")
        print(f"{'bf16 peak':>12}: {peak if peak else 'unknown'} TFLOP/s (datasheet, dense)")
        return {"detail": info["device_name"]}

    def checks() -> dict[str, Any]:
        from lcedu.bench.gpu_checks import run_checks

        records = run_checks(dev, dry_run=dry_run, deadline=deadline("checks"))
        path = _write_json(outdir / f"checks_{tag}.json", {"environment": info,
                                                           "checks": records})
        counts: dict[str, int] = {}
        for r in records:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
            if r["status"] == "skipped" or (r["status"] == "refused" and dev.type != "cuda"):
                cuda_only.append({"what": r["check"], "why": r.get("detail", "")})
        bad = counts.get("failed", 0) + counts.get("error", 0)
        return {"status": "ok" if not bad else "failed", "counts": counts,
                "files": [path.name]}

    def bench_attention() -> dict[str, Any]:
        from lcedu.bench import attention

        path = outdir / f"attention_{tag}.json"
        left = max(1.0, deadline("bench attention") - time.monotonic())
        argv = ["--device", dev.type, "--out", str(path), "--budget-s", f"{left:.0f}",
                "--keep-going"]
        if dry_run:
            argv += ["--sizes", "32,48", "--heads", "2", "--head-dim", "16", "--repeats", "1"]
        else:
            argv += ["--sizes", ",".join(map(str, GPU_SIZES)), "--dtype", "bfloat16"]
        rc = attention.main(argv)
        rec = json.loads(path.read_text(encoding="utf-8"))
        for r in rec["rows"]:
            if r["status"] == "skipped" and r["n"] == rec["config"]["sizes"][0]:
                cuda_only.append({"what": f"bench attention {r['method']} causal={r['causal']}",
                                  "why": r["note"]})
        from lcedu.bench.records import summarize_attention

        summary = summarize_attention(rec)
        for line in summary["lines"]:
            print(line)
        errors = [f"n={r['n']} causal={r['causal']} {r['method']}: {r['note']}"
                  for r in rec["rows"] if r["status"] == "error"]
        return {"status": "error" if rc else ("failed" if errors else "ok"),
                "files": [path.name], "summary": summary["lines"], "row_errors": errors}

    def bench_sparse() -> dict[str, Any]:
        from lcedu.bench import sparse

        path = outdir / f"sparse_{tag}.csv"
        left = max(1.0, deadline("bench sparse") - time.monotonic())
        argv = ["--device", dev.type, "--out", str(path), "--budget-s", f"{left:.0f}"]
        if dry_run:
            argv += ["--sizes", "64", "128", "--window", "8", "--heads", "2", "--head-dim",
                     "16", "--repeats", "1", "--no-flex"]
            cuda_only.append({"what": "bench sparse flex_compiled", "why": (
                "compiling FlexAttention on a CPU takes tens of seconds per length; the dry "
                "run leaves it out and the GPU run times it")})
        else:
            argv += ["--sizes", *map(str, SPARSE_GPU_SIZES), "--max-dense-gib",
                     f"{max(0.1, info['gpu_memory_bytes'] / 4 / 2**30):.1f}"]
        rc = sparse.main(argv)
        return {"status": "ok" if rc == 0 else "error",
                "files": [path.name, path.with_suffix(".json").name]}

    for name, fn in zip(PARTS, (environment, checks, bench_attention, bench_sparse)):
        if name in BUDGET_SHARES and time.monotonic() > start + budget_s:
            parts.append({"part": name, "status": "skipped", "detail": "time budget spent"})
            continue
        parts.append(_run_part(name, fn))
        if dev.type == "cuda":
            torch.cuda.empty_cache()
    return {
        "environment": info,
        "dry_run": dry_run,
        "budget_s": budget_s,
        "total_s": round(time.monotonic() - start, 1),
        "parts": parts,
        "skipped_cuda_only": cuda_only,
        "lab_modules_loaded": lab_modules_loaded(),
        "tag": tag,
    }


def build_parser() -> BenchArgumentParser:
    p = BenchArgumentParser(
        prog="lcedu gpu-report",
        description="The GPU run: CUDA checks, `bench attention` and `bench sparse` on the GPU, "
        "records and a log into OUTDIR. --dry-run rehearses it on the CPU at tiny sizes.",
    )
    p.add_argument("outdir", help="folder for the JSON records and the log (created)")
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="CPU, tiny sizes: every code path that does not need CUDA; CUDA-only parts are "
        "recorded as skipped with the reason",
    )
    p.add_argument(
        "--budget-s",
        type=positive_float,
        default=450.0,
        help="total time budget in seconds (default 450: the run fits in 8 minutes)",
    )
    return p


def main(argv: list[str] | None = None) -> int:
    """Run the report; exit status 0 when every part ran and every check passed."""
    p = build_parser()
    args = p.parse_args(argv)
    if args.dry_run:
        dev = torch.device("cpu")
    elif torch.cuda.is_available():
        dev = pick_device("cuda")
    else:
        p.error("no CUDA GPU on this machine; `--dry-run` rehearses the run on the CPU")
    outdir = Path(args.outdir)
    try:
        outdir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        p.error(f"cannot create {outdir}: {err}")
    tag_guess = "dry-run" if args.dry_run else name_slug(torch.cuda.get_device_name(dev))
    log_path = outdir / f"gpu_report_{dev.type}_{tag_guess}.log"
    with log_path.open("w", encoding="utf-8") as log:
        tee, tee_err = _Tee(sys.stdout, log), _Tee(sys.stderr, log)
        with contextlib.redirect_stdout(tee), contextlib.redirect_stderr(tee_err):
            report = _report(outdir, dev, args.dry_run, args.budget_s)
            report["log"] = log_path.name
            path = _write_json(outdir / f"gpu_report_{report['tag']}.json", report)
            print(f"\n=== summary ({report['total_s']:.0f} s of a {args.budget_s:.0f} s budget)")
            for part in report["parts"]:
                print(f"{part['part']:>16}: {part['status']} {part.get('detail', '')}")
            if report["lab_modules_loaded"]:
                print(f"lab packages imported (should be none): {report['lab_modules_loaded']}")
            print(f"wrote {path} and the records beside it")
    bad = [x for x in report["parts"] if x["status"] != "ok"]
    return 1 if bad else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
