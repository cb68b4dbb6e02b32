"""Sliding-window attention, measured side by side: masked dense SDPA, dense reference, banded,
and compiled FlexAttention.

The same (batch 1, 8 heads × 64 dims, one-sided window 256) inputs go through each method in
one run, so the ratios compare like with like. Dense methods pay for n² scores (or n²
mask entries); the banded kernel of `lcedu.attention.sliding_window` pays n·3w (Longformer,
Beltagy et al., 2020). Results go to `lcedu/data/bench/sparse_cpu.csv` for the notebook
(`--device cuda`: sparse_cuda_<gpu-name>.csv, timed with CUDA events).
"""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from lcedu import _checks as chk
from lcedu import bench
from lcedu.attention.masks import sliding_window_mask
from lcedu.attention.reference import attention
from lcedu.attention.sliding_window import sliding_window_attention
from lcedu.kvcache.memory import attention_matrix_bytes, format_bytes

__all__ = [
    "METHODS", "run_sparse_bench", "targets", "read_results", "main", "DEFAULT_CSV", "default_csv",
]

DEFAULT_CSV = Path(__file__).resolve().parent.parent / "data" / "bench" / "sparse_cpu.csv"
METHODS = ("sdpa_masked", "dense_reference", "banded", "flex_compiled")
LABELS = {
    "sdpa_masked": "SDPA + bool mask",
    "dense_reference": "dense reference",
    "banded": "banded (ours)",
    "flex_compiled": "FlexAttention (compiled)",
}
# The dense reference holds about this many score-sized tensors at once (scores, masked
# scores, exp, weights); used to skip lengths that would not fit.
DENSE_REFERENCE_COPIES = 4
FIELDS = [
    "n", "method", "status", "median_ms", "min_ms", "peak_bytes", "score_matrix_bytes",
    "max_abs_err", "compile_s", "note", "window", "heads", "head_dim", "device_name", "torch",
    "date",
]


def _flex_runner(window: int, dev: torch.device | str = "cpu"):
    from lcedu.attention.flex import flex_sliding_window_attention, flex_status

    ok, why = flex_status(dev)
    if not ok:
        return None, why

    def run(q, k, v):
        return flex_sliding_window_attention(q, k, v, window, compiled=True)

    return run, ""


def run_sparse_bench(
    sizes: tuple[int, ...] = (1024, 2048, 4096, 8192, 16384),
    *,
    window: int = 256,
    heads: int = 8,
    head_dim: int = 64,
    repeats: int = 3,
    max_dense_bytes: int = 8 * 2**30,
    methods: tuple[str, ...] = METHODS,
    seed: int = 0,
    log=print,
    dev: torch.device | str = "cpu",
    deadline: float | None = None,
) -> list[dict[str, Any]]:
    """Measure every method at every length; one row per (n, method).

    `dev`: where to run (fp32 everywhere). `deadline` (a `time.monotonic()` value): lengths
    that start after it are recorded as skipped, with that reason.
    """
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"sizes must be positive integers, got {sizes!r}")
    for name, value in (("window", window), ("heads", heads), ("head_dim", head_dim),
                        ("repeats", repeats)):
        chk.positive_int(name, value, what="a positive whole number")
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")
    dev = torch.device(dev)
    gen = torch.Generator(device=dev).manual_seed(seed)
    flex_run, flex_why = (None, "not requested")
    if "flex_compiled" in methods:
        flex_run, flex_why = _flex_runner(window, dev)
    rows = []
    last_length_s = 0.0  # how long the previous length took, to forecast the next (4x)
    for n in sizes:
        t_length = time.monotonic()
        if deadline is not None and time.monotonic() + 4 * last_length_s > deadline:
            for method in methods:
                rows.append({"n": n, "method": method, "status": "skipped", "window": window,
                             "heads": heads, "head_dim": head_dim,
                             "score_matrix_bytes": attention_matrix_bytes(n, heads, 4),
                             "note": "the run's time budget would be exceeded"})
            log(f"n={n:>6} skipped: the run's time budget would be exceeded")
            continue
        q, k, v = (torch.randn(1, heads, n, head_dim, generator=gen, device=dev)
                   for _ in range(3))
        score_bytes = attention_matrix_bytes(n, heads, bytes_per_element=4)
        with torch.no_grad():
            expected = sliding_window_attention(q, k, v, window)
            mask = sliding_window_mask(n, window, device=dev)
            calls = {
                "sdpa_masked": lambda q=q, k=k, v=v, m=mask: F.scaled_dot_product_attention(
                    q, k, v, attn_mask=m
                ),
                "dense_reference": lambda q=q, k=k, v=v, m=mask: attention(q, k, v, mask=m),
                "banded": lambda q=q, k=k, v=v: sliding_window_attention(q, k, v, window),
            }
            if flex_run is not None:
                calls["flex_compiled"] = lambda q=q, k=k, v=v: flex_run(q, k, v)
            measured: list[tuple[dict[str, Any], Callable[[], Any], float]] = []
            for method in methods:
                row: dict[str, Any] = {"n": n, "method": method, "score_matrix_bytes": score_bytes,
                                       "window": window, "heads": heads, "head_dim": head_dim}
                rows.append(row)
                if method == "dense_reference" and DENSE_REFERENCE_COPIES * score_bytes > (
                    max_dense_bytes
                ):
                    row.update(status="skipped", note=(
                        f"needs ~{format_bytes(DENSE_REFERENCE_COPIES * score_bytes)} "
                        f"(> {format_bytes(max_dense_bytes)} limit)"))
                    log(f"n={n:>6} {method:<16} skipped: {row['note']}")
                    continue
                if method not in calls:
                    row.update(status="unavailable", note=flex_why)
                    continue
                fn = calls[method]
                try:
                    first, out = _timed(fn, dev)  # first call: compiles FlexAttention here
                    row["max_abs_err"] = float((out - expected).abs().max())
                    del out
                    # the allocator is set inside
                    row["peak_bytes"] = bench.measure_peak_memory(fn, device=dev)
                except Exception as err:  # noqa: BLE001 - recorded; the other methods go on
                    oom = isinstance(err, (torch.OutOfMemoryError, MemoryError))
                    row.update(status="oom" if oom else "error",
                               note=f"{type(err).__name__}: {err}".splitlines()[0][:300])
                    log(f"n={n:>6} {method:<16} {row['status']}: {row['note']}")
                    if dev.type == "cuda":
                        torch.cuda.empty_cache()
                    continue
                measured.append((row, fn, first))
            # Round robin: repeat r of every method runs before repeat r + 1 of any, so a
            # change in the machine's load hits all methods alike.
            times: dict[str, list[float]] = {r["method"]: [] for r, _, _ in measured}
            for _ in range(repeats):
                for row, fn, _ in measured:
                    times[row["method"]].append(_timed(fn, dev)[0])
            for row, _, first in measured:
                ts = times[row["method"]]
                row.update(status="ok", median_ms=statistics.median(ts) * 1e3,
                           min_ms=min(ts) * 1e3)
                if row["method"] == "flex_compiled":
                    row["compile_s"] = max(0.0, first - statistics.median(ts))
                peak = row["peak_bytes"]
                log(f"n={n:>6} {row['method']:<16} {row['median_ms']:>10.1f} ms  peak "
                    f"{format_bytes(peak) if peak is not None else 'n/a':>10}  "
                    f"err {row['max_abs_err']:.1e}")
            del mask, calls, expected
        last_length_s = time.monotonic() - t_length
    return rows


def _timed(fn: Callable[[], Any], dev: torch.device) -> tuple[float, Any]:
    """Seconds one call of fn takes (CUDA events on a GPU), and its result."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        out = fn()
        end.record()
        torch.cuda.synchronize(dev)
        return start.elapsed_time(end) / 1e3, out
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _get(rows, n, method, key):
    for r in rows:
        if r["n"] == n and r["method"] == method and r.get("status") == "ok":
            return r.get(key)
    return None


def targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's three targets, evaluated on measured rows (None where not measured)."""
    ns = sorted({r["n"] for r in rows})
    big = max(ns)
    out = []
    sdpa, band = _get(rows, big, "sdpa_masked", "median_ms"), _get(rows, big, "banded",
                                                                    "median_ms")
    speed = sdpa / band if sdpa and band else None
    out.append({"target": f"banded >= 8x faster than masked SDPA at n={big}", "value": speed,
                "met": None if speed is None else speed >= 8, "unit": "x"})
    small = big // 4
    b_small = _get(rows, small, "banded", "median_ms")
    growth = band / b_small if band and b_small else None
    out.append({"target": f"banded time grows <= 5x from n={small} to n={big}", "value": growth,
                "met": None if growth is None else growth <= 5, "unit": "x"})
    peak = _get(rows, big, "banded", "peak_bytes")
    scores = attention_matrix_bytes(big, rows[0]["heads"], bytes_per_element=4)
    frac = peak / scores if peak is not None else None
    out.append({"target": f"banded peak memory at n={big} <= 1/10 of the dense score matrix",
                "value": frac, "met": None if frac is None else frac <= 0.1, "unit": "of scores"})
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    """Median time, peak memory and speed-up over masked SDPA, one line per (n, method)."""
    lines = [f"{'n':>6}  {'method':<25} {'median':>10} {'peak mem':>10} {'vs SDPA':>8} "
             f"{'max err':>8}  note"]
    for r in rows:
        if r.get("status") != "ok":
            lines.append(f"{r['n']:>6}  {LABELS[r['method']]:<25} {'-':>10} {'-':>10} {'-':>8} "
                         f"{'-':>8}  {r.get('status')}: {r.get('note', '')}")
            continue
        sdpa = _get(rows, r["n"], "sdpa_masked", "median_ms")
        ratio = f"{sdpa / r['median_ms']:.1f}x" if sdpa else "-"
        peak = format_bytes(r["peak_bytes"]) if r.get("peak_bytes") is not None else "n/a"
        note = f"compile {r['compile_s']:.0f} s" if r.get("compile_s") else ""
        lines.append(f"{r['n']:>6}  {LABELS[r['method']]:<25} {r['median_ms']:>8.1f}ms "
                     f"{peak:>10} {ratio:>8} {r['max_abs_err']:>8.1e}  {note}")
    return "\n".join(lines)


def write_results(rows: list[dict[str, Any]], path: str | Path, info: dict[str, Any]) -> Path:
    """CSV (one row per measurement, environment on every row) and a JSON record beside it
    (environment, targets and the same rows)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=FIELDS)
        w.writeheader()
        for r in rows:
            full = {**r, "device_name": info["device_name"], "torch": info["torch"],
                    "date": info["date"]}
            w.writerow({k: full.get(k, "") for k in FIELDS})
    summary = {"environment": info, "targets": targets(rows), "rows": rows}
    path.with_suffix(".json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return path


def read_results(path: str | Path | None = None) -> list[dict[str, Any]]:
    """Read a CSV written by `lcedu bench sparse` (default: the one shipped with the course)."""
    path = Path(path) if path is not None else DEFAULT_CSV
    if not path.exists():
        raise ValueError(f"no benchmark results at {path}; run `lcedu bench sparse` first")
    rows = []
    with path.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            row: dict[str, Any] = dict(r)
            for key in ("n", "peak_bytes", "score_matrix_bytes", "window", "heads", "head_dim"):
                row[key] = int(r[key]) if r.get(key) else None
            for key in ("median_ms", "min_ms", "max_abs_err", "compile_s"):
                row[key] = float(r[key]) if r.get(key) else None
            rows.append(row)
    return rows


def default_csv(device_type: str = "cpu", device_name: str | None = None) -> Path:
    """sparse_cpu.csv on a CPU; sparse_cuda_<gpu-name>.csv on a GPU."""
    if device_type != "cpu" and device_name:
        return DEFAULT_CSV.with_name(f"sparse_{device_type}_{bench.name_slug(device_name)}.csv")
    return DEFAULT_CSV


def build_parser() -> bench.BenchArgumentParser:
    """The command line of `lcedu bench sparse` (bad values: one line, exit status 2)."""
    parser = bench.BenchArgumentParser(
        prog="lcedu bench sparse",
        description="Sliding-window attention: masked SDPA vs dense reference vs banded vs "
        "compiled FlexAttention, side by side (fp32).",
    )
    parser.add_argument("--sizes", type=bench.positive_int, nargs="+",
                        default=[1024, 2048, 4096, 8192, 16384])
    parser.add_argument("--window", type=bench.positive_int, default=256,
                        help="one-sided window (default 256)")
    parser.add_argument("--heads", type=bench.positive_int, default=8)
    parser.add_argument("--head-dim", type=bench.positive_int, default=64)
    parser.add_argument("--repeats", type=bench.positive_int, default=3)
    parser.add_argument("--max-dense-gib", type=bench.positive_float, default=8.0,
                        help="skip the dense reference where it would need more than this")
    parser.add_argument("--no-flex", action="store_true", help="skip compiled FlexAttention")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--budget-s", type=bench.positive_float, default=None,
                        help="time budget in seconds: lengths starting later are skipped")
    parser.add_argument("--out", default=None,
                        help="CSV path, JSON summary beside (default lcedu/data/bench/...)")
    parser.add_argument("--threads", type=bench.positive_int, default=None,
                        help="torch CPU threads (default: torch's own choice)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, start = bench.parse_run_args(parser, argv)
    try:
        dev = bench.device(args.device)
    except (ValueError, RuntimeError) as err:
        parser.error(f"--device: {err}")
    methods = tuple(m for m in METHODS if not (args.no_flex and m == "flex_compiled"))
    info = bench.environment_info(dev)
    print(f"# {info['device_name']}, torch {info['torch']}, {info['date']}")
    if dev.type == "cuda":
        print(f"# driver {info['driver']}, CUDA {info['cuda']}, Triton {info['triton']}; "
              "CUDA-event timing")
    print(f"# fp32, batch 1, {args.heads} heads x {args.head_dim} dims, one-sided window "
          f"{args.window}, median of {args.repeats}")
    print("# masks are built once, outside the timings: SDPA's dense n x n boolean mask, "
          "FlexAttention's BlockMask")
    try:
        rows = run_sparse_bench(
            tuple(args.sizes), window=args.window, heads=args.heads, head_dim=args.head_dim,
            repeats=args.repeats, max_dense_bytes=int(args.max_dense_gib * 2**30),
            methods=methods, dev=dev,
            deadline=None if args.budget_s is None else start + args.budget_s,
        )
    except ValueError as err:
        parser.error(str(err))
    print()
    print(format_table(rows))
    print()
    for t in targets(rows):
        v = "not measured" if t["value"] is None else f"{t['value']:.3g} {t['unit']}"
        verdict = {True: "MET", False: "NOT MET", None: "n/a"}[t["met"]]
        print(f"[{verdict}] {t['target']}: {v}")
    path = write_results(rows, args.out or default_csv(dev.type, info["device_name"]), info)
    print(f"wrote {path} and {path.with_suffix('.json').name}")
    return 0
