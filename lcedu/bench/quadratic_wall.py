"""The quadratic wall, measured: time and peak memory of materialised attention vs length.

Naive attention builds a (heads × n × n) score matrix, so memory and time grow as n²
(Vaswani et al., 2017; the motivation of every method in this course). This measures it on
the machine at hand and fits y = c·nᵖ on log-log axes, so the learner sees p ≈ 2 themselves.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from lcedu.attention.reference import attention
from lcedu.bench import (
    BenchArgumentParser,
    environment_info,
    measure_peak_memory,
    positive_int,
    time_fn,
)
from lcedu.kvcache.memory import attention_matrix_bytes, format_bytes

__all__ = ["measure_quadratic_wall", "fit_power_law", "main"]


def fit_power_law(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares fit of log y = log c + p·log x; returns (p, c)."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(pts) < 2:
        raise ValueError("fit_power_law needs at least two points with positive values")
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        raise ValueError("fit_power_law needs at least two different x values")
    p = sum((a - mx) * (b - my) for a, b in pts) / sxx
    return p, math.exp(my - p * mx)


def measure_quadratic_wall(
    lengths: tuple[int, ...] = (256, 512, 1024, 2048, 4096),
    *,
    heads: int = 4,
    head_dim: int = 64,
    repeats: int = 3,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Time and peak memory of `lcedu.attention.attention` (materialised) for each length."""
    if not lengths or any((not isinstance(n, int)) or n < 1 for n in lengths):
        raise ValueError(f"lengths must be positive integers, got {lengths!r}")
    if heads < 1 or head_dim < 1 or repeats < 1:
        raise ValueError("heads, head_dim and repeats must all be at least 1")
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for n in lengths:
        q, k, v = (torch.randn(1, heads, n, head_dim, generator=gen, dtype=dtype) for _ in range(3))
        timing = time_fn(lambda q=q, k=k, v=v: attention(q, k, v), warmup=1, repeats=repeats)
        peak = measure_peak_memory(lambda q=q, k=k, v=v: attention(q, k, v))
        itemsize = torch.empty((), dtype=dtype).element_size()
        rows.append(
            {
                "n": n,
                "seconds": timing.median_s,
                "peak_bytes": peak,
                "score_matrix_bytes": attention_matrix_bytes(n, heads, bytes_per_element=itemsize),
            }
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = BenchArgumentParser(
        prog="lcedu bench quadratic", description="Materialised attention: time and memory vs n."
    )
    parser.add_argument(
        "--lengths", type=positive_int, nargs="+", default=[256, 512, 1024, 2048, 4096]
    )
    parser.add_argument("--heads", type=positive_int, default=4)
    parser.add_argument("--head-dim", type=positive_int, default=64)
    parser.add_argument("--repeats", type=positive_int, default=3)
    args = parser.parse_args(argv)
    rows = measure_quadratic_wall(
        tuple(args.lengths), heads=args.heads, head_dim=args.head_dim, repeats=args.repeats
    )
    info = environment_info("cpu")
    print(f"# {info['device_name']}, torch {info['torch']}, {info['date']}")
    print(f"{'n':>7} {'time (ms)':>10} {'peak memory':>12} {'scores (n²·h)':>14}")
    for r in rows:
        peak = format_bytes(r["peak_bytes"]) if r["peak_bytes"] is not None else "n/a"
        print(
            f"{r['n']:>7} {r['seconds'] * 1e3:>10.2f} {peak:>12} "
            f"{format_bytes(r['score_matrix_bytes']):>14}"
        )
    p_time, _ = fit_power_law([r["n"] for r in rows], [r["seconds"] for r in rows])
    print(f"time grows as n^{p_time:.2f}")
    mems = [(r["n"], r["peak_bytes"]) for r in rows if r["peak_bytes"]]
    if len(mems) >= 2:
        p_mem, _ = fit_power_law([m[0] for m in mems], [m[1] for m in mems])
        print(f"peak memory grows as n^{p_mem:.2f}")
    return 0
