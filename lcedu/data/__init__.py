"""Small data files shipped with the package, and their loaders (no network, ever).

`context_lengths.csv` is the lesson's §1.2 table of context lengths by model and year;
`bench/` holds benchmark records, each with the machine that produced it.
"""

from __future__ import annotations

import csv
import json
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["data_path", "load_context_lengths", "load_bench_records"]


def data_path(name: str) -> Path:
    """Path of a file shipped in `lcedu/data/`."""
    path = Path(str(resources.files("lcedu.data").joinpath(name)))
    if not path.exists():
        raise ValueError(f"lcedu ships no data file named {name!r}")
    return path


def load_context_lengths() -> list[dict[str, Any]]:
    """The lesson's context-length table: model, variant, context_tokens (int), year (int)."""
    with open(data_path("context_lengths.csv"), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        row["context_tokens"] = int(row["context_tokens"])
        row["year"] = int(row["year"])
    return rows


def load_bench_records(pattern: str = "*.json") -> list[dict[str, Any]]:
    """Every JSON benchmark record under `lcedu/data/bench/` matching `pattern`."""
    folder = Path(str(resources.files("lcedu.data"))) / "bench"
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob(pattern))]
