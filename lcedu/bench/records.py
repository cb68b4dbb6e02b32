"""The shipped benchmark records: which exist, and the ratios a record states about itself.

Records live in `lcedu/data/bench/` (`attention_cpu*.json` from CPU runs,
`attention_cuda_<gpu-name>.json` from `lcedu gpu-report` on a GPU). Every ratio here is
computed from one record, so both sides of it were measured side by side in one run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = [
    "BENCH_DIR",
    "GPU_REPORT_COMMAND",
    "load_record",
    "gpu_records",
    "cpu_records",
    "summarize_attention",
]

BENCH_DIR = Path(__file__).resolve().parent.parent / "data" / "bench"
GPU_REPORT_COMMAND = "PYTHONPATH=. python3 -m lcedu gpu-report gpu-report-out"


def load_record(path: str | Path) -> dict[str, Any]:
    """One attention record (the JSON `lcedu bench attention` writes), with its file name."""
    path = Path(path)
    if not path.exists():
        raise ValueError(f"no benchmark record at {path}")
    rec = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(rec, dict) or "rows" not in rec or "environment" not in rec:
        raise ValueError(f"{path.name} is not a record of `lcedu bench attention`")
    rec["file"] = path.name
    return rec


def gpu_records(bench_dir: str | Path | None = None) -> list[Path]:
    """The GPU attention records shipped (file names carry the GPU's name); [] if none."""
    folder = Path(bench_dir) if bench_dir is not None else BENCH_DIR
    return sorted(folder.glob("attention_cuda_*.json"))


def cpu_records(bench_dir: str | Path | None = None) -> list[Path]:
    """The CPU attention records shipped (attention_cpu.json, attention_cpu_<machine>.json)."""
    folder = Path(bench_dir) if bench_dir is not None else BENCH_DIR
    return sorted(p for p in folder.glob("attention_cpu*.json") if "dry-run" not in p.name)


def _ok(rec: dict[str, Any], method: str, causal: bool) -> dict[int, dict[str, Any]]:
    return {
        r["n"]: r
        for r in rec["rows"]
        if r["method"] == method and r["causal"] == causal and r["status"] == "ok"
    }


def _ratio_at(
    rec: dict[str, Any], a: str, b: str, causal: bool, key: str, prefer_n: int | None = None
) -> tuple[int, float] | None:
    """(n, a[key] / b[key]) at prefer_n if both ran there, else at the largest n both ran."""
    ra, rb = _ok(rec, a, causal), _ok(rec, b, causal)
    both = sorted(n for n in set(ra) & set(rb) if ra[n].get(key) and rb[n].get(key))
    if not both:
        return None
    n = prefer_n if prefer_n in both else both[-1]
    return n, ra[n][key] / rb[n][key]


def summarize_attention(rec: dict[str, Any]) -> dict[str, Any]:
    """The ratios a record measured, and the largest n each method reached.

    triton_vs_sdpa_flash: Triton's TFLOP/s over SDPA flash's (at n = 8192 where measured);
    naive_vs_sdpa_flash / naive_vs_flash: naive's time over SDPA flash's / our
    flash_attention's, at the largest n both ran. `lines` says it all in sentences.
    """
    env = rec["environment"]
    methods = sorted({r["method"] for r in rec["rows"]})
    out: dict[str, Any] = {
        "device_name": env.get("device_name"),
        "device": env.get("device"),
        "file": rec.get("file"),
        "triton_vs_sdpa_flash": {},
        "naive_vs_sdpa_flash": {},
        "naive_vs_flash": {},
        "largest_n": {},
    }
    lines = [f"{env.get('device_name')} ({env.get('date', '?')}, torch {env.get('torch')}, "
             f"{rec.get('config', {}).get('dtype', '?')}):"]
    for causal in (False, True):
        kind = "causal" if causal else "non-causal"
        t = _ratio_at(rec, "triton", "sdpa_flash", causal, "tflops", prefer_n=8192)
        nv = _ratio_at(rec, "naive", "sdpa_flash", causal, "median_ms")
        nf = _ratio_at(rec, "naive", "flash", causal, "median_ms")
        out["triton_vs_sdpa_flash"][kind] = t
        out["naive_vs_sdpa_flash"][kind] = nv
        out["naive_vs_flash"][kind] = nf
        if t is not None:
            lines.append(f"  {kind}: Triton reaches {t[1]:.2f}x SDPA flash's TFLOP/s at n={t[0]}")
        if nv is not None:
            lines.append(f"  {kind}: naive takes {nv[1]:.1f}x SDPA flash's time at n={nv[0]}")
        if nf is not None:
            lines.append(f"  {kind}: naive takes {nf[1]:.2f}x flash_attention's time at "
                         f"n={nf[0]}")
        for m in methods:
            ran = _ok(rec, m, causal)
            out["largest_n"].setdefault(m, {})[kind] = max(ran) if ran else None
    reached = ", ".join(
        f"{m} {v['non-causal'] or '-'}" for m, v in out["largest_n"].items()
    )
    lines.append(f"  largest n reached (non-causal): {reached}")
    out["lines"] = lines
    return out
