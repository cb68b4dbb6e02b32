"""The practical guide's tricks, measured: checkpointing and bf16 autocast, and cache memory.

One run trains the same small transformer stack four ways (checkpointing off/on × fp32 or
``torch.autocast(device, dtype=torch.bfloat16)``) and reports step time, peak memory and the
exact bytes saved for backward side by side (Chen et al., 2016; PyTorch AMP). It then feeds
each KV cache (full, sliding window, sinks, paged) a growing sequence and records its bytes.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import torch

from lcedu.bench import (
    BenchArgumentParser,
    device_name,
    environment_info,
    measure_peak_memory,
    positive_int,
    time_fn,
)
from lcedu.kvcache.full import KVCache
from lcedu.kvcache.memory import format_bytes
from lcedu.kvcache.paged import PagedKVCache
from lcedu.kvcache.sinks import SinkCache
from lcedu.kvcache.sliding import SlidingWindowCache
from lcedu.practice.memory_tricks import BlockStack, saved_activation_bytes, training_step

__all__ = ["measure_memory_tricks", "measure_cache_memory", "main"]

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "bench" / "practice_cpu.csv"
CONFIGS = [
    ("fp32", False, None),
    ("fp32 + checkpointing", True, None),
    ("bf16 autocast", False, torch.bfloat16),
    ("bf16 autocast + checkpointing", True, torch.bfloat16),
]


def _child_peak(
    config: int, layers: int, d_model: int, heads: int, batch: int, seq: int, seed: int
) -> int | None:
    """Run in a fresh process: peak memory of one training step of CONFIGS[config]."""
    _, ck, dt = CONFIGS[config]
    torch.manual_seed(seed)
    model = BlockStack(layers, d_model, heads, checkpointing=ck)
    x = torch.randn(batch, seq, d_model)
    training_step(model, x[:, :8], autocast_dtype=dt)  # kernels initialised, grads allocated
    return measure_peak_memory(lambda: training_step(model, x, autocast_dtype=dt))


def _peak_in_fresh_process(config: int, *args: int) -> int | None:
    """A new interpreter per configuration: the C allocator keeps memory it once held, so
    peaks measured one after another in one process hide each other."""
    code = (
        "import json, sys\n"
        "from lcedu.bench.practice import _child_peak\n"
        "print(json.dumps(_child_peak(*json.loads(sys.argv[1]))))"
    )
    # A fixed mmap threshold: glibc otherwise raises it after the first large free and then
    # serves big tensors from its heap, whose frees never unmap, so the kernel's high-water
    # mark (updated when memory is unmapped) misses the peak.
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"}
    out = subprocess.run(
        [sys.executable, "-c", code, json.dumps([config, *args])],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure_memory_tricks(
    *,
    layers: int = 4,
    d_model: int = 256,
    heads: int = 4,
    batch: int = 4,
    seq: int = 512,
    repeats: int = 3,
    seed: int = 0,
    fresh_process_peaks: bool = False,
) -> list[dict[str, Any]]:
    """Step time, peak memory and saved-activation bytes for the four configurations.

    Times are taken round-robin (one step of each configuration in turn, `repeats` rounds,
    median per configuration) so that a change in machine load hits all of them alike.
    With `fresh_process_peaks`, each peak is measured in a new Python process.
    """
    torch.manual_seed(seed)
    model = BlockStack(layers, d_model, heads)
    x = torch.randn(batch, seq, d_model)
    training_step(model, x[:, :8])  # allocate the gradients once, outside every peak

    def step(ck: bool, dt: torch.dtype | None) -> None:
        model.checkpointing = ck
        model.zero_grad(set_to_none=False)
        training_step(model, x, autocast_dtype=dt)

    times: dict[str, list[float]] = {name: [] for name, _, _ in CONFIGS}
    for _name, ck, dt in CONFIGS:  # warm-up
        step(ck, dt)
    for _ in range(repeats):
        for name, ck, dt in CONFIGS:
            times[name].append(
                time_fn(lambda ck=ck, dt=dt: step(ck, dt), warmup=0, repeats=1).median_s
            )
    rows = []
    for i, (name, ck, dt) in enumerate(CONFIGS):
        if fresh_process_peaks:
            peak = _peak_in_fresh_process(i, layers, d_model, heads, batch, seq, seed)
        else:
            peak = measure_peak_memory(lambda ck=ck, dt=dt: step(ck, dt))
        model.checkpointing = ck
        saved = saved_activation_bytes(model, x, autocast_dtype=dt)
        rows.append(
            {
                "config": name,
                "checkpointing": ck,
                "autocast": str(dt).replace("torch.", ""),
                "step_ms": statistics.median(times[name]) * 1e3,
                "peak_bytes": peak,
                "saved_bytes": saved,
            }
        )
    base = rows[0]
    for r in rows:
        r["time_ratio"] = r["step_ms"] / base["step_ms"]
        r["saved_ratio"] = r["saved_bytes"] / base["saved_bytes"]
        ok = r["peak_bytes"] is not None and base["peak_bytes"]
        r["peak_ratio"] = r["peak_bytes"] / base["peak_bytes"] if ok else None
    return rows


def measure_cache_memory(
    lengths: tuple[int, ...] = (128, 512, 2048, 8192),
    *,
    heads: int = 8,
    head_dim: int = 64,
    window: int = 1024,
    sinks: int = 4,
    block_size: int = 16,
    dtype: torch.dtype = torch.float16,
) -> list[dict[str, Any]]:
    """Bytes each cache holds after n tokens (one layer, one sequence)."""
    rows = []
    for n in lengths:
        caches = {
            "full": KVCache(),
            f"sliding (W={window})": SlidingWindowCache(window),
            f"sinks ({sinks} + {window - sinks})": SinkCache(sinks, window - sinks),
            f"paged (block {block_size})": PagedKVCache(block_size, -(-n // block_size) + 1),
        }
        k = torch.zeros(1, heads, n, head_dim, dtype=dtype)
        for name, c in caches.items():
            c.update(k, k)
            rows.append({"cache": name, "seq_len": n, "cache_bytes": c.nbytes(), "held": len(c)})
    return rows


def _mib(b: int | None) -> str:
    return "n/a" if b is None else f"{b / 2**20:.1f}"


def _ratio(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f}x"


def format_tricks_table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'configuration':<31}{'step ms':>9}{'ratio':>8}{'peak MiB':>10}{'ratio':>8}"
        f"{'saved MiB':>11}{'ratio':>8}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['config']:<31}{r['step_ms']:>9.1f}{_ratio(r['time_ratio']):>8}"
            f"{_mib(r['peak_bytes']):>10}{_ratio(r['peak_ratio']):>8}"
            f"{_mib(r['saved_bytes']):>11}{_ratio(r['saved_ratio']):>8}"
        )
    return "\n".join(lines)


def format_cache_table(rows: list[dict[str, Any]]) -> str:
    lengths = sorted({r["seq_len"] for r in rows})
    names = list(dict.fromkeys(r["cache"] for r in rows))
    head = f"{'cache':<22}" + "".join(f"{'n=' + str(n):>12}" for n in lengths)
    lines = [head, "-" * len(head)]
    for name in names:
        cells = {r["seq_len"]: r["cache_bytes"] for r in rows if r["cache"] == name}
        lines.append(f"{name:<22}" + "".join(f"{format_bytes(cells[n]):>12}" for n in lengths))
    return "\n".join(lines)


def write_csv(
    path: Path, tricks: list[dict[str, Any]], caches: list[dict[str, Any]], env: dict[str, Any]
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [
        "section",
        "name",
        "seq_len",
        "step_ms",
        "time_ratio",
        "peak_bytes",
        "peak_ratio",
        "saved_bytes",
        "saved_ratio",
        "cache_bytes",
        "device_name",
        "torch",
        "date",
    ]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        common = {"device_name": env["device_name"], "torch": env["torch"], "date": env["date"]}
        for r in tricks:
            w.writerow(
                {
                    "section": "memory_tricks",
                    "name": r["config"],
                    "seq_len": r["seq_len"],
                    "step_ms": round(r["step_ms"], 2),
                    "time_ratio": round(r["time_ratio"], 3),
                    "peak_bytes": r["peak_bytes"],
                    "peak_ratio": None if r["peak_ratio"] is None else round(r["peak_ratio"], 3),
                    "saved_bytes": r["saved_bytes"],
                    "saved_ratio": round(r["saved_ratio"], 3),
                    **common,
                }
            )
        for r in caches:
            w.writerow(
                {
                    "section": "cache_memory",
                    "name": r["cache"],
                    "seq_len": r["seq_len"],
                    "cache_bytes": r["cache_bytes"],
                    **common,
                }
            )
    return path


def main(argv: list[str] | None = None) -> int:
    p = BenchArgumentParser(
        prog="lcedu bench practice",
        description="Checkpointing on/off and fp32 vs bf16 autocast on one small transformer "
        "stack, side by side; KV-cache memory per cache type as the sequence grows.",
    )
    p.add_argument("--layers", type=positive_int, default=4)
    p.add_argument("--d-model", type=positive_int, default=256)
    p.add_argument("--heads", type=positive_int, default=4)
    p.add_argument("--batch", type=positive_int, default=4)
    p.add_argument("--seq", type=positive_int, default=512)
    p.add_argument("--repeats", type=positive_int, default=5)
    p.add_argument("--quick", action="store_true", help="a small, fast configuration")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="CSV to write")
    p.add_argument("--no-write", action="store_true", help="print only")
    p.add_argument(
        "--same-process",
        action="store_true",
        help="measure peaks in this process (faster, less trustworthy on CPU)",
    )
    a = p.parse_args(argv)
    if a.quick:
        a.layers, a.d_model, a.batch, a.seq, a.repeats = 2, 64, 2, 128, 2
    for name in ("layers", "d_model", "heads", "batch", "seq", "repeats"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    env = environment_info(torch.device("cpu"))
    print(f"device: {device_name(torch.device('cpu'))}; torch {env['torch']}")
    print(
        f"stack: {a.layers} blocks, d_model={a.d_model}, heads={a.heads}, batch={a.batch}, "
        f"seq={a.seq}; one training step (forward + backward); ratios vs fp32\n"
    )
    tricks = measure_memory_tricks(
        layers=a.layers,
        d_model=a.d_model,
        heads=a.heads,
        batch=a.batch,
        seq=a.seq,
        repeats=a.repeats,
        fresh_process_peaks=not a.same_process,
    )
    for r in tricks:
        r["seq_len"] = a.seq
    print(format_tricks_table(tricks))
    print(
        "\nstep ms: median of round-robin steps. saved: bytes autograd keeps for backward "
        "(exact, saved-tensor hooks).\npeak: peak RSS above the start of one step, each "
        "configuration in a fresh process (CPU), or the allocator's peak (CUDA).\n"
    )
    caches = measure_cache_memory()
    print("KV-cache bytes, one layer, 8 heads x 64 dims, fp16, one sequence:")
    print(format_cache_table(caches))
    if not a.no_write:
        path = write_csv(a.out, tricks, caches, env)
        print(f"\nwrote {path.name}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
