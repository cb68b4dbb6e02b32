"""Measurement: which device, how long, how much memory, and a record of where it ran.

Timing takes a warm-up and the median of several runs (CUDA events on a GPU,
`time.perf_counter` on a CPU). Peak memory is measured, not computed: CUDA allocator
statistics on a GPU, the process's peak resident set (Linux `/proc/self/clear_refs` + VmHWM,
with the C allocator told to map large buffers and hand freed ones back) on a CPU. Every
benchmark writes its numbers with `environment_info()` beside them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import gc
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import torch

from lcedu._checks import OneLineParser

__all__ = [
    "device",
    "device_name",
    "Timing",
    "time_fn",
    "measure_peak_memory",
    "environment_info",
    "write_record",
    "name_slug",
    "BenchArgumentParser",
    "parse_run_args",
    "positive_int",
    "positive_float",
    "positive_int_list",
]


def device(prefer: str | None = None) -> torch.device:
    """The best available device: CUDA, then Apple MPS, then CPU (or `prefer` if given)."""
    if prefer is not None:
        dev = torch.device(prefer)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("CUDA was requested but no CUDA GPU is available on this machine")
        if dev.type == "mps" and not _mps_available():
            raise ValueError("MPS was requested but Apple's Metal backend is not available")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def device_name(dev: torch.device | str | None = None) -> str:
    """A human-readable name: the GPU's name, 'Apple MPS', or the CPU model and core count."""
    dev = torch.device(dev) if dev is not None else device()
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    if dev.type == "mps":
        return "Apple MPS"
    return f"{_cpu_model()} ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"


@dataclass
class Timing:
    """Seconds per call: median and minimum of `times` (warm-up runs excluded)."""

    median_s: float
    min_s: float
    times: list[float] = field(default_factory=list)

    @property
    def median_ms(self) -> float:
        return self.median_s * 1e3


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
    elif dev.type == "mps":
        torch.mps.synchronize()


def time_fn(
    fn: Callable[[], Any],
    *,
    warmup: int = 1,
    repeats: int = 5,
    device: torch.device | str | None = None,
) -> Timing:
    """Time `fn()`: `warmup` untimed calls, then the median of `repeats` timed calls."""
    if not callable(fn):
        raise ValueError("time_fn needs a function to call, e.g. time_fn(lambda: f(x))")
    if warmup < 0 or repeats < 1:
        raise ValueError(f"warmup must be >= 0 and repeats >= 1, got {warmup} and {repeats}")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    for _ in range(warmup):
        fn()
    _sync(dev)
    times: list[float] = []
    for _ in range(repeats):
        if dev.type == "cuda":
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize(dev)
            times.append(start.elapsed_time(end) / 1e3)
        else:
            t0 = time.perf_counter()
            fn()
            _sync(dev)
            times.append(time.perf_counter() - t0)
    return Timing(statistics.median(times), min(times), times)


def _read_status_kib(key: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _glibc_mmap_threshold(nbytes: int) -> bool:
    """Set glibc's mmap threshold and trim the heap (Linux; False elsewhere).

    Buffers above the threshold get pages of their own and go back to the system when freed;
    trimming hands back free heap pages, so memory the process already holds cannot hide a
    peak. Low while measuring, 32 MiB (glibc's own ceiling) otherwise.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        m_mmap_threshold = -3
        ok = bool(libc.mallopt(m_mmap_threshold, int(nbytes)))
        libc.malloc_trim(0)
        return ok
    except (OSError, AttributeError):
        return False


def _reset_peak_rss() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="utf-8") as f:
            f.write("5")
        return True
    except OSError:
        return False


def measure_peak_memory(
    fn: Callable[[], Any], device: torch.device | str | None = None
) -> int | None:
    """Run `fn()` once and return the peak memory it added, in bytes (None if unmeasurable).

    CUDA: `max_memory_allocated` above what was allocated before. CPU on Linux: the peak
    resident set size above the resident size before (the kernel's high-water mark, reset
    through /proc/self/clear_refs). While measuring, glibc maps every buffer above 64 KiB
    separately and the heap is trimmed first, so buffers the process frees and reuses still
    count. Elsewhere: None, never a guess.
    """
    dev = torch.device(device) if device is not None else torch.device("cpu")
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        base = torch.cuda.memory_allocated(dev)
        fn()
        torch.cuda.synchronize(dev)
        return int(torch.cuda.max_memory_allocated(dev) - base)
    if dev.type == "cpu" and sys.platform.startswith("linux"):
        _glibc_mmap_threshold(64 * 1024)
        try:
            base = _read_status_kib("VmRSS")
            if base is None or not _reset_peak_rss():
                return None
            fn()
            peak = _read_status_kib("VmHWM")
        finally:
            _glibc_mmap_threshold(32 * 2**20)
        if peak is None:
            return None
        return max(0, (peak - base) * 1024)
    return None


def _package_version(*names: str) -> str | None:
    """The installed version of the first of `names` found (None if none is installed)."""
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def nvidia_driver_version() -> str:
    """The NVIDIA kernel driver's version ('unknown' if neither /proc nor nvidia-smi says)."""
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8") as f:
            found = re.search(r"Kernel Module\s+(?:for \S+\s+)?([0-9][0-9.]+)", f.read())
            if found:
                return found.group(1)
    except OSError:
        pass
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
            check=True,
        ).stdout.strip()
        if out:
            return out.splitlines()[0].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def environment_info(dev: torch.device | str | None = None) -> dict[str, Any]:
    """Where a measurement ran: device and its name, torch/Triton/python versions, date, cores.

    On a CUDA device also the CUDA version torch was built with, the NVIDIA driver, cuDNN,
    the GPU's compute capability and memory.
    """
    dev = torch.device(dev) if dev is not None else device()
    info: dict[str, Any] = {
        "device": dev.type,
        "device_name": device_name(dev),
        "torch": torch.__version__,
        "triton": _package_version("triton", "pytorch-triton"),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        info.update(
            cuda=torch.version.cuda,
            driver=nvidia_driver_version(),
            cudnn=torch.backends.cudnn.version(),
            compute_capability=f"{props.major}.{props.minor}",
            gpu_memory_bytes=int(props.total_memory),
        )
    return info


def name_slug(name: str) -> str:
    """A device name as a file-name part: 'NVIDIA H100 80GB HBM3' -> 'nvidia-h100-80gb-hbm3'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug or "unknown"


class BenchArgumentParser(OneLineParser):
    """argparse for the bench commands: a bad argument is one line on stderr and exit status 2
    (`OneLineParser`'s), pointing at --help."""

    def error(self, message: str) -> NoReturn:
        super().error(f"error: {message} (see --help)")


def parse_run_args(
    parser: argparse.ArgumentParser, argv: list[str] | None
) -> tuple[argparse.Namespace, float]:
    """Parse a bench command's argv and apply its `--threads`; also returns when the run
    began (a `time.monotonic()` value: its `--budget-s` counts from here)."""
    args = parser.parse_args(argv)
    start = time.monotonic()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    return args, start


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text!r}")
    return value


def positive_int_list(text: str) -> tuple[int, ...]:
    """argparse type: comma-separated whole numbers >= 1, e.g. '512,1024'."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError("expected comma-separated lengths, e.g. 512,1024")
    return tuple(positive_int(p) for p in parts)


def write_record(path: str | Path, record: dict[str, Any]) -> Path:
    """Write a JSON record (creating folders); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path
