"""The recorded memory-tricks run (``lcedu bench practice``), read back for notebook 08's figure.

A committed figure must show a recorded, named run, not whatever a loaded machine measured
while the notebook executed. This reads ``lcedu/data/bench/practice_cpu.csv`` into the rows
``lcedu.viz.practice.plot_memory_tricks`` draws, and titles the figure with the machine.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from lcedu.viz.practice import plot_memory_tricks

__all__ = [
    "PRACTICE_CSV",
    "recorded_memory_tricks",
    "memory_tricks_figure",
    "causal_time_ratios",
]

PRACTICE_CSV = Path(__file__).resolve().parents[1] / "data" / "bench" / "practice_cpu.csv"


def _num(s: str) -> float | None:
    return float(s) if s not in ("", None) else None


def recorded_memory_tricks(path: str | Path = PRACTICE_CSV) -> list[dict[str, Any]]:
    """The four configurations of the recorded run, fp32 first, with their ratios to fp32."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"no recorded bench at {path}: run `lcedu bench practice` to write it")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["section"] == "memory_tricks"]
    if not rows:
        raise ValueError(f"{path} holds no memory_tricks rows")
    keys = ("step_ms", "time_ratio", "peak_bytes", "peak_ratio", "saved_bytes", "saved_ratio")
    return [
        {
            "config": r["name"],
            "seq_len": int(r["seq_len"]),
            "device_name": r["device_name"],
            "torch": r["torch"],
            "date": r["date"],
            **{k: _num(r[k]) for k in keys},
        }
        for r in rows
    ]


def memory_tricks_figure(rows: list[dict[str, Any]], title: str) -> Figure:
    """``plot_memory_tricks`` with a title that says which run it shows, legend below the axes."""
    if not title:
        raise ValueError("say which run the figure shows, e.g. 'recorded: <machine>, <date>'")
    fig = plot_memory_tricks(rows)
    ax = fig.axes[0]
    ax.set_title(title, fontsize=9)
    handles, labels = ax.get_legend_handles_labels()
    if ax.get_legend() is not None:  # move the legend off the bars, below the axes
        ax.get_legend().remove()
        fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=8, frameon=False)
    return fig


def causal_time_ratios(rows: list[dict[str, Any]]) -> dict[tuple[str, int], float]:
    """Causal median time / non-causal median time, per (method, n), from a bench record's rows.

    Only pairs where both runs have status ``ok`` appear. Rows are those of
    ``lcedu bench attention`` records (keys ``method``, ``n``, ``causal``, ``status``,
    ``median_ms``).
    """
    need = {"method", "n", "causal"}
    if any(not need <= set(r) for r in rows):
        raise ValueError(f"every row needs the keys {sorted(need)} of an attention bench record")
    times = {
        (r["method"], r["n"], bool(r["causal"])): r["median_ms"]
        for r in rows
        if r.get("status") == "ok" and r.get("median_ms")
    }
    return {
        (m, n): times[(m, n, True)] / times[(m, n, False)]
        for (m, n, c) in times
        if c and (m, n, False) in times
    }
