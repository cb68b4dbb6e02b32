"""The recorded GPU run beside the CPU runs: time, achieved TFLOP/s and peak memory against n.

The FlashAttention papers' comparison (Dao et al., 2022; Dao, 2023) drawn from the records in
`lcedu/data/bench/` (`lcedu gpu-report` writes the GPU ones, the GPU's name in the file
name). Where no GPU record exists the figure shows the CPU records and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lcedu.bench.records import GPU_REPORT_COMMAND, cpu_records, gpu_records, load_record
from lcedu.viz.flash import METHOD_STYLE

__all__ = ["GPU_METHOD_STYLE", "gpu_record_names", "load_records", "plot_gpu_bench"]

# method -> (label, colour, marker): a marker of its own per method, so equal lines still show.
GPU_METHOD_STYLE = {
    **METHOD_STYLE,
    "flash_b512": ("flash_attention (ours, 512)", "#64b5cd", "P"),  # "s" is flash's
}
RECORD_STYLES = ("-", ":", "-.", "--")
FONT = 9  # every text in the figure is at least 8 pt


def gpu_record_names(bench_dir: str | Path | None = None) -> list[str]:
    """File names of the GPU records shipped (each names its GPU); [] when none exists."""
    return [p.name for p in gpu_records(bench_dir)]


def load_records(bench_dir: str | Path | None = None) -> tuple[list[dict[str, Any]], bool]:
    """(records, any_gpu): the GPU records then the CPU ones, as `plot_gpu_bench` draws them."""
    gpu = [load_record(p) for p in gpu_records(bench_dir)]
    cpu = [load_record(p) for p in cpu_records(bench_dir)]
    return gpu + cpu, bool(gpu)


def _series(rec: dict[str, Any], method: str, key: str, scale: float = 1.0):
    pts = sorted(
        (r["n"], r[key] * scale)
        for r in rec["rows"]
        if r["method"] == method and not r["causal"] and r["status"] == "ok" and r.get(key)
    )
    return [p[0] for p in pts], [p[1] for p in pts]


def _record_label(rec: dict[str, Any]) -> str:
    env = rec["environment"]
    name = env.get("device_name", "?").split(" (")[0]
    dtype = rec.get("config", {}).get("dtype", "?")
    return f"{name}, {dtype} ({rec.get('file', '?')})"


def plot_gpu_bench(
    records: list[dict[str, Any]] | None = None, *, bench_dir: str | Path | None = None
) -> Figure:
    """Median time, achieved TFLOP/s and peak extra memory vs n (non-causal), per method.

    records: attention records (default: the GPU records shipped, then the CPU ones). One
    colour and marker per method, one line style per record. With no GPU record among them
    the figure says so and names the command that makes one.
    """
    any_gpu = None
    if records is None:
        records, any_gpu = load_records(bench_dir)
    if not records:
        raise ValueError("no attention records to plot; run `lcedu bench attention` first")
    if any_gpu is None:
        any_gpu = any(r["environment"].get("device") == "cuda" for r in records)
    fig = Figure(figsize=(13, 4.6), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = (
        ("median_ms", 1.0, "median time, non-causal", "ms"),
        ("tflops", 1.0, "achieved TFLOP/s, non-causal", "TFLOP/s"),
        ("peak_bytes", 1 / 2**20, "peak extra memory, non-causal", "MiB"),
    )
    used: list[str] = []
    for i, rec in enumerate(records):
        style = RECORD_STYLES[i % len(RECORD_STYLES)]
        for method, (_, colour, marker) in GPU_METHOD_STYLE.items():
            for ax, (key, scale, _, _) in zip(axes, panels):
                xs, ys = _series(rec, method, key, scale)
                if xs:
                    ax.plot(xs, ys, linestyle=style, marker=marker, color=colour, markersize=5)
                    if method not in used:
                        used.append(method)
    for ax, (_, _, title, unit) in zip(axes, panels):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(title, fontsize=FONT + 1)
        ax.set_xlabel("sequence length n", fontsize=FONT)
        ax.set_ylabel(unit, fontsize=FONT)
        ax.tick_params(labelsize=FONT)
        ax.grid(True, which="major", alpha=0.3)
    handles = [
        Line2D([], [], color=GPU_METHOD_STYLE[m][1], marker=GPU_METHOD_STYLE[m][2],
               label=GPU_METHOD_STYLE[m][0])
        for m in GPU_METHOD_STYLE
        if m in used
    ]
    handles += [
        Line2D([], [], color="0.35", linestyle=RECORD_STYLES[i % len(RECORD_STYLES)],
               label=_record_label(rec))
        for i, rec in enumerate(records)
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=FONT,
               frameon=False)
    if any_gpu:
        fig.suptitle("Attention timed on a GPU beside the CPU records", fontsize=FONT + 2)
    else:
        fig.suptitle(
            "No GPU run is recorded yet: these are the CPU records. On a CUDA machine:  "
            f"{GPU_REPORT_COMMAND}",
            fontsize=FONT + 1,
        )
    return fig
