"""Naive (materialised) attention vs tiled flash attention vs PyTorch's SDPA backends (vs Triton
on CUDA), timed and memory-measured side by side in one run on any device.

Follows the FlashAttention papers' comparison (Dao et al., 2022; Dao, 2023): time and peak
memory against sequence length, causal and not, and achieved TFLOP/s (4·n²·d per head, half
of it when causal). Timing: CUDA events on a GPU, `time.perf_counter` on a CPU; warm-up, then
the median. Writes `lcedu/data/bench/attention_<device>.json` with device name, torch version
and date.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from lcedu.attention.flash import flash_attention
from lcedu.attention.sdpa import sdpa
from lcedu.bench import (
    BenchArgumentParser,
    environment_info,
    measure_peak_memory,
    name_slug,
    parse_run_args,
    positive_float,
    positive_int,
    positive_int_list,
    time_fn,
    write_record,
)
from lcedu.bench import device as pick_device
from lcedu.bench.peaks import add_peak_fraction, dense_bf16_peak_tflops
from lcedu.kvcache.memory import format_bytes

__all__ = [
    "METHODS",
    "naive_attention",
    "attention_flops",
    "naive_bytes",
    "run_attention_bench",
    "targets",
    "format_table",
    "default_path",
    "main",
]

BENCH_DIR = Path(__file__).resolve().parent.parent / "data" / "bench"
METHODS = (
    "naive",
    "flash",
    "flash_b512",
    "sdpa_flash",
    "sdpa_efficient",
    "sdpa_cudnn",
    "sdpa_math",
    "triton",
)
LABELS = {
    "naive": "naive (materialised)",
    "flash": "flash_attention (ours, 128)",
    "flash_b512": "flash_attention (ours, 512)",
    "sdpa_flash": "SDPA flash",
    "sdpa_efficient": "SDPA mem-efficient",
    "sdpa_cudnn": "SDPA cuDNN",
    "sdpa_math": "SDPA math",
    "triton": "Triton kernel (ours)",
}
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


def naive_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, causal: bool = False
) -> torch.Tensor:
    """softmax(q·kᵀ/√d)·v with the full (Lq × Lk) score matrix in memory: the baseline."""
    s = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
    if causal:
        lq, lk = s.shape[-2:]
        keep = torch.ones(lq, lk, dtype=torch.bool, device=s.device).tril()
        s = s.masked_fill(~keep, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v)


def attention_flops(n: int, heads: int, head_dim: int, causal: bool, batch: int = 1) -> float:
    """Useful matmul FLOPs of one forward: 2·n²·d for q·kᵀ plus 2·n²·d for P·v, halved if causal."""
    flops = 4.0 * batch * heads * n * n * head_dim
    return flops / 2 if causal else flops


def naive_bytes(n: int, heads: int, elem_bytes: int, batch: int = 1) -> int:
    """Memory the naive path needs at its peak: scores and probabilities (two n×n per head)
    plus the n×n boolean causal mask."""
    return 2 * batch * heads * n * n * elem_bytes + n * n


def _calls(q, k, v, causal: bool, dev: torch.device) -> dict[str, Callable[[], Any]]:
    calls: dict[str, Callable[[], Any]] = {
        "naive": lambda: naive_attention(q, k, v, causal),
        "flash": lambda: flash_attention(q, k, v, causal=causal),
        "flash_b512": lambda: flash_attention(q, k, v, causal=causal, block_q=512, block_k=512),
        "sdpa_flash": lambda: sdpa(q, k, v, backend="flash", causal=causal),
        "sdpa_efficient": lambda: sdpa(q, k, v, backend="efficient", causal=causal),
        "sdpa_cudnn": lambda: sdpa(q, k, v, backend="cudnn", causal=causal),
        "sdpa_math": lambda: sdpa(q, k, v, backend="math", causal=causal),
    }
    if dev.type == "cuda":
        from lcedu.attention.triton_flash import triton_flash_attention

        calls["triton"] = lambda: triton_flash_attention(q, k, v, causal=causal)
    return calls


def _unavailable(method: str, dev: torch.device, q: torch.Tensor) -> str | None:
    """Why a method cannot run here (None if it can)."""
    if method == "triton":
        if dev.type != "cuda":
            return "Triton kernel is timed on CUDA only (the CPU interpreter is for testing)"
        from lcedu.attention.triton_flash import triton_available

        return None if triton_available() else "Triton is not installed"
    if method.startswith("sdpa_"):
        small = q[:, :, :16]
        try:
            sdpa(small, small, small, backend=method[5:])
        except ValueError as err:
            return str(err).removeprefix("sdpa: ")
    return None


def _out_of_memory(err: BaseException) -> bool:
    """True for an allocation failure: CUDA's OutOfMemoryError, or the CPU allocator's."""
    if isinstance(err, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(err, RuntimeError) and (
        "can't allocate memory" in str(err) or "out of memory" in str(err).lower()
    )


def run_attention_bench(
    sizes: tuple[int, ...] = (512, 1024, 2048, 4096, 8192, 16384),
    *,
    dev: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    heads: int = 8,
    head_dim: int = 64,
    repeats: int = 3,
    max_bytes: int = 8 * 2**30,
    methods: tuple[str, ...] = METHODS,
    causal_modes: tuple[bool, ...] = (False, True),
    seed: int = 0,
    long_n: int = 16384,
    log: Callable[[str], None] = print,
    deadline: float | None = None,
    keep_going: bool = False,
) -> list[dict[str, Any]]:
    """Time and measure every method at every length, causal and not; one row per run.

    Each measurement: one call under the memory probe (also the warm-up), then the median
    of `repeats` timed calls (one timed call from n >= long_n on, to bound the run time).
    A method that runs out of memory (beyond the `max_bytes` forecast for the materialising
    ones) gets a row with status "oom" and is skipped at the larger lengths.
    `deadline` (a `time.monotonic()` value) bounds the run: a measurement that would end
    after it (forecast from the same method's last call, times (n / n_before)²) is skipped
    with that reason, and so is everything once it has passed. On a GPU, a long length
    (n >= long_n) gets one timed call only when its warm-up call took over 0.25 s.
    `keep_going`: an error other than running out of memory becomes a row with status
    "error" (and that method is skipped at larger n) instead of stopping the run.
    """
    if not sizes or any(isinstance(n, bool) or not isinstance(n, int) or n < 1 for n in sizes):
        raise ValueError(f"sizes must be positive integers, got {sizes!r}")
    unknown = set(methods) - set(METHODS)
    if unknown:
        raise ValueError(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    dev = pick_device(None if dev is None else str(dev))
    elem = torch.tensor([], dtype=dtype).element_size()
    gen = torch.Generator(device=dev).manual_seed(seed)
    rows: list[dict[str, Any]] = []
    oom_at: dict[tuple[str, bool], int] = {}  # (method, causal) -> first n that ran out
    failed_at: dict[tuple[str, bool], int] = {}  # keep_going: first n that raised an error
    last_call: dict[tuple[str, bool], tuple[int, float]] = {}  # -> (n, seconds per call)
    for n in sizes:
        q, k, v = (
            torch.randn(1, heads, n, head_dim, generator=gen, device=dev, dtype=dtype)
            for _ in range(3)
        )
        for causal in causal_modes:
            calls = _calls(q, k, v, causal, dev)
            for method in methods:
                row: dict[str, Any] = {"n": n, "causal": causal, "method": method}
                why = _unavailable(method, dev, q)
                need = naive_bytes(n, heads, elem)
                if why is None and method in ("naive", "sdpa_math") and need > max_bytes:
                    why = (
                        f"would need ~{format_bytes(need)} for the n×n scores "
                        f"(> {format_bytes(max_bytes)} limit)"
                    )
                if why is None and (method, causal) in oom_at:
                    why = f"ran out of memory at n={oom_at[method, causal]}"
                if why is None and (method, causal) in failed_at:
                    why = f"failed with an error at n={failed_at[method, causal]}"
                reps = 1 if n >= long_n else repeats
                if why is None and deadline is not None:
                    why = _over_budget(last_call.get((method, causal)), n, reps, deadline)
                if why is not None:
                    row.update(status="skipped", note=why)
                    rows.append(row)
                    log(f"n={n:>6} causal={causal!s:<5} {method:<15} skipped: {why}")
                    continue
                fn = calls[method]
                timing = None
                failure = None
                try:
                    with torch.no_grad():
                        # The memory run doubles as the warm-up; one timed run at long lengths.
                        t0 = time.perf_counter()
                        peak = measure_peak_memory(fn, device=dev)  # synchronises a GPU
                        if dev.type == "cuda" and n >= long_n and time.perf_counter() - t0 < 0.25:
                            reps = repeats  # fast kernels: a median, not one call
                        timing = time_fn(fn, warmup=0, repeats=reps, device=dev)
                except Exception as err:  # only allocation failures are recorded, not raised
                    if not _out_of_memory(err):
                        if not keep_going:
                            raise
                        failure = f"{type(err).__name__}: {err}".splitlines()[0][:300]
                if failure is not None:
                    failed_at[method, causal] = n
                    row.update(status="error", note=failure)
                    rows.append(row)
                    log(f"n={n:>6} causal={causal!s:<5} {method:<15} error: {failure}")
                    continue
                if timing is None:  # out of memory (freed here, once the traceback is gone)
                    oom_at[method, causal] = n
                    if dev.type == "cuda":
                        torch.cuda.empty_cache()
                    row.update(status="oom", note=f"out of memory at n={n}")
                    rows.append(row)
                    log(f"n={n:>6} causal={causal!s:<5} {method:<15} out of memory")
                    continue
                last_call[method, causal] = (n, timing.median_s)
                flops = attention_flops(n, heads, head_dim, causal)
                row.update(
                    status="ok",
                    median_ms=timing.median_s * 1e3,
                    min_ms=timing.min_s * 1e3,
                    repeats=reps,
                    peak_bytes=peak,
                    tflops=flops / timing.median_s / 1e12,
                )
                rows.append(row)
                log(
                    f"n={n:>6} causal={causal!s:<5} {method:<15} {row['median_ms']:>10.1f} ms "
                    f"{row['tflops']:>7.3f} TFLOP/s peak "
                    f"{format_bytes(peak) if peak is not None else 'n/a':>10}"
                )
        del q, k, v
    return rows


def _over_budget(last: tuple[int, float] | None, n: int, reps: int, deadline: float) -> str | None:
    """Why a measurement would not fit before `deadline` (None if it would)."""
    left = deadline - time.monotonic()
    if left <= 0:
        return "the run's time budget is spent"
    if last is not None:
        n0, seconds = last
        forecast = seconds * (n / n0) ** 2 * (reps + 1)
        if forecast > left:
            return (
                f"forecast {forecast:.0f} s ({reps + 1} calls, from {seconds:.2g} s at n={n0}) "
                f"exceeds the {left:.0f} s left in the time budget"
            )
    return None


def _get(rows: list[dict[str, Any]], n: int, method: str, causal: bool, key: str):
    for r in rows:
        if (r["n"], r["method"], r["causal"]) == (n, method, causal) and r["status"] == "ok":
            return r.get(key)
    return None


def _ratio(a, b):
    return a / b if a is not None and b else None


def targets(
    rows: list[dict[str, Any]], device_type: str = "cpu", heads: int = 8
) -> list[dict[str, Any]]:
    """The issue's targets, evaluated on measured rows (value None where not measured)."""
    out: list[dict[str, Any]] = []

    def add(name: str, value: float | None, ok: Callable[[float], bool], unit: str, note=""):
        met = None if value is None else bool(ok(value))
        out.append({"target": name, "value": value, "met": met, "unit": unit, "note": note})

    if device_type == "cpu":
        n = 4096
        for method in ("flash", "flash_b512"):
            for causal_pair, name, limit, unit in (
                (
                    (method, False, "sdpa_flash", False),
                    "within 2x of SDPA flash",
                    2.0,
                    "x SDPA time",
                ),
                ((method, True, method, False), "causal <= 0.6x non-causal", 0.6, "x non-causal"),
            ):
                m1, c1, m2, c2 = causal_pair
                r = _ratio(_get(rows, n, m1, c1, "median_ms"), _get(rows, n, m2, c2, "median_ms"))
                rmin = _ratio(_get(rows, n, m1, c1, "min_ms"), _get(rows, n, m2, c2, "min_ms"))
                add(
                    f"{LABELS[method]}: {name} at n={n}",
                    r,
                    lambda x, lim=limit: x <= lim,
                    unit,
                    "" if rmin is None else f"(fastest runs: {rmin:.2f}x)",
                )
        n = 16384
        flash_peak = _get(rows, n, "flash", False, "peak_bytes")
        naive_peak = _get(rows, n, "naive", False, "peak_bytes")
        note = "naive measured"
        if naive_peak is None and flash_peak is not None:
            naive_peak = naive_bytes(n, heads, 4)
            note = "naive skipped (memory limit): compared with its computed n×n need"
        if flash_peak is not None and naive_peak:
            # What flash must hold: the output and LSE plus a few (128 x 128) tiles per head.
            held = heads * n * (64 + 1) * 4 + 4 * heads * 128 * 128 * 4
            note += (
                f"; flash measured {format_bytes(flash_peak)} (CPU probe: reused memory "
                f"is not seen), its output+LSE+tiles are {format_bytes(held)} = "
                f"{held / naive_peak:.4f}x naive"
            )
        add(
            f"flash peak extra memory <= 1/16 of naive's at n={n}",
            _ratio(flash_peak, naive_peak),
            lambda x: x <= 1 / 16,
            "x naive",
            note,
        )
    else:
        n = 8192
        for causal in (False, True):
            r = _ratio(
                _get(rows, n, "triton", causal, "tflops"),
                _get(rows, n, "sdpa_flash", causal, "tflops"),
            )
            kind = "causal" if causal else "non-causal"
            for limit, extra in ((0.7, ""), (0.9, " (stretch)")):
                add(
                    f"Triton >= {limit}x SDPA flash throughput{extra}, {kind}, at n={n}",
                    r,
                    lambda x, lim=limit: x >= lim,
                    "x SDPA TFLOP/s",
                )
        for method in ("triton", "sdpa_flash", "flash"):
            pts = sorted(
                (r["n"], r["peak_bytes"])
                for r in rows
                if r["method"] == method
                and not r["causal"]
                and r["status"] == "ok"
                and r.get("peak_bytes")
                and r["n"] >= 2048
            )
            exponent = None
            if len(pts) >= 2:
                from lcedu.bench.quadratic_wall import fit_power_law

                exponent, _ = fit_power_law([p[0] for p in pts], [p[1] for p in pts])
            add(
                f"{LABELS[method]}: peak memory linear in n (fitted exponent <= 1.15)",
                exponent,
                lambda x: x <= 1.15,
                "(exponent of n)",
                "" if not pts else f"fitted over n={pts[0][0]}..{pts[-1][0]}, non-causal",
            )
    return out


def format_table(rows: list[dict[str, Any]]) -> str:
    """One line per (n, causal, method): median time, TFLOP/s, peak memory, ratio to SDPA."""
    lines = [
        f"{'n':>6} {'causal':<6} {'method':<28} {'median':>11} {'TFLOP/s':>8} {'peak mem':>10} "
        f"{'vs SDPA flash':>13}"
    ]
    for r in rows:
        label = LABELS[r["method"]]
        if r["status"] != "ok":
            lines.append(f"{r['n']:>6} {r['causal']!s:<6} {label:<28} {r['status']}: {r['note']}")
            continue
        ref = _get(rows, r["n"], "sdpa_flash", r["causal"], "median_ms")
        ratio = f"{r['median_ms'] / ref:.2f}x" if ref else "-"
        peak = format_bytes(r["peak_bytes"]) if r.get("peak_bytes") is not None else "n/a"
        ms = r["median_ms"]
        frac = r.get("peak_fraction")
        lines.append(
            f"{r['n']:>6} {r['causal']!s:<6} {label:<28} {ms:>9.{1 if ms >= 10 else 3}f}ms "
            f"{r['tflops']:>8.3f} {peak:>10} {ratio:>13}"
            + ("" if frac is None else f" {100 * frac:>5.1f}% of peak")
        )
    return "\n".join(lines)


def default_path(device_type: str, device_name: str | None = None) -> Path:
    """Where a run is recorded: lcedu/data/bench/attention_<type>.json on a CPU, and
    attention_cuda_<gpu-name>.json on a GPU (the GPU's name in the file name)."""
    if device_type != "cpu" and device_name:
        return BENCH_DIR / f"attention_{device_type}_{name_slug(device_name)}.json"
    return BENCH_DIR / f"attention_{device_type}.json"


def build_parser() -> BenchArgumentParser:
    """The command line of `lcedu bench attention` (bad values: one line, exit status 2)."""
    p = BenchArgumentParser(
        prog="lcedu bench attention",
        description="naive vs flash_attention vs SDPA backends (vs Triton on CUDA)",
    )
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: best available)")
    p.add_argument(
        "--sizes",
        type=positive_int_list,
        default=None,
        help="comma-separated lengths (default 512,...,16384 CPU; ...,32768 GPU)",
    )
    p.add_argument(
        "--dtype",
        choices=sorted(_DTYPES),
        default=None,
        help="default float32 on CPU, bfloat16 on GPU",
    )
    p.add_argument("--heads", type=positive_int, default=8)
    p.add_argument("--head-dim", type=positive_int, default=64)
    p.add_argument("--repeats", type=positive_int, default=5)
    p.add_argument(
        "--max-gib",
        type=positive_float,
        default=None,
        help="skip materialising methods that would need more (GiB; default 8 on a CPU, "
        "half the GPU's memory on a GPU)",
    )
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument(
        "--budget-s",
        type=positive_float,
        default=None,
        help="time budget in seconds: measurements forecast to end later are skipped",
    )
    p.add_argument(
        "--keep-going",
        action="store_true",
        help="record a method's error as a row and go on (default: stop on the error)",
    )
    p.add_argument("--out", default=None, help="JSON path (default lcedu/data/bench/...)")
    p.add_argument(
        "--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)"
    )
    p.add_argument("--no-write", action="store_true", help="print only")
    return p


def main(argv: list[str] | None = None) -> int:
    """`lcedu bench attention`: run, print the table and the targets, write the JSON record."""
    p = build_parser()
    args, start = parse_run_args(p, argv)
    methods = tuple(m for m in args.methods.split(",") if m)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        p.error(f"--methods: unknown {unknown or 'none given'}; choose from {','.join(METHODS)}")
    try:
        dev = pick_device(args.device)
    except (ValueError, RuntimeError) as err:
        p.error(f"--device: {err}")
    dtype = _DTYPES[args.dtype or ("float32" if dev.type == "cpu" else "bfloat16")]
    default_sizes = (512, 1024, 2048, 4096, 8192, 16384) + (() if dev.type == "cpu" else (32768,))
    sizes = args.sizes or default_sizes
    info = environment_info(dev)
    try:
        info["load_average"] = os.getloadavg()
    except OSError:
        pass
    max_gib = args.max_gib
    if max_gib is None:
        max_gib = 8.0 if dev.type != "cuda" else info["gpu_memory_bytes"] / 2 / 2**30
    peak_tflops = dense_bf16_peak_tflops(info["device_name"]) if dev.type == "cuda" else None
    print(
        f"device: {info['device_name']} | torch {info['torch']} | {dtype} | {args.heads} "
        f"heads x {args.head_dim} | batch 1"
    )
    if dev.type == "cuda":
        print(
            f"driver {info['driver']} | CUDA {info['cuda']} | Triton {info['triton']} | dense "
            f"bf16 peak {peak_tflops if peak_tflops else 'unknown'} TFLOP/s (datasheet)"
        )
    deadline = None if args.budget_s is None else start + args.budget_s
    try:
        rows = run_attention_bench(
            tuple(sizes),
            dev=dev,
            dtype=dtype,
            heads=args.heads,
            head_dim=args.head_dim,
            repeats=args.repeats,
            max_bytes=int(max_gib * 2**30),
            methods=methods,
            deadline=deadline,
            keep_going=args.keep_going,
        )
    except ValueError as err:
        p.error(str(err))
    if dev.type == "cuda":
        add_peak_fraction(rows, peak_tflops)
    print()
    print(format_table(rows))
    tg = targets(rows, dev.type, heads=args.heads)
    print()
    for t in tg:
        value = "not measured" if t["value"] is None else f"{t['value']:.3f} {t['unit']}"
        verdict = {True: "MET", False: "NOT MET", None: "-"}[t["met"]]
        print(f"[{verdict:>7}] {t['target']}: {value} {t['note']}")
    if not args.no_write:
        record = {
            "environment": info,
            "config": {
                "dtype": str(dtype).removeprefix("torch."),
                "heads": args.heads,
                "head_dim": args.head_dim,
                "batch": 1,
                "repeats": args.repeats,
                "sizes": list(sizes),
                "max_gib": max_gib,
                "timing": "CUDA events" if dev.type == "cuda" else "time.perf_counter",
                "dense_bf16_peak_tflops": peak_tflops if dev.type == "cuda" else None,
                "budget_s": args.budget_s,
                "keep_going": args.keep_going,
            },
            "rows": rows,
            "targets": tg,
        }
        path = write_record(args.out or default_path(dev.type, info["device_name"]), record)
        print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
