"""`lcedu ring-demo`: ring attention for real, in N local processes talking through gloo.

Starts N processes (or joins the ones `torchrun` started), gives each its shard of one
random sequence, runs `lcedu.attention.ring_distributed.ring_attention` (Liu et al., 2023),
and checks
the gathered result against PyTorch SDPA over the whole, unsplit sequence. Prints per-rank
time, bytes sent and error. The launcher is reused by the tests and the notebook.
"""

from __future__ import annotations

import os
import queue as queue_mod
import socket
import sys
import time
import traceback
from dataclasses import dataclass, field, fields
from datetime import timedelta
from typing import Any

import torch

from lcedu import _checks as chk
from lcedu._checks import OneLineParser, usage_error
from lcedu.attention import ring_layouts as layouts
from lcedu.testing import close_enough, max_abs_error, tolerance

__all__ = [
    "DemoConfig",
    "RankResult",
    "DemoResult",
    "free_port",
    "run_local",
    "run_ring_demo",
    "format_results",
    "probe_mismatched_shapes",
    "probe_subgroup",
    "main",
]

_DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "bfloat16": torch.bfloat16,
    "float16": torch.float16,
}


_KINDS = ("full", "masked", "skip")


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """One ring-attention run: the sequence, the layout, and whether to check gradients."""

    seq_len: int = 1024
    batch: int = 1
    heads: int = 4
    head_dim: int = 32
    causal: bool = False
    layout: str = "contiguous"
    dtype: str = "float32"
    seed: int = 0
    backward: bool = False


@dataclass
class RankResult:
    """What one rank reports for one config."""

    rank: int
    seconds: float
    bytes_sent: int
    kinds: list[str]
    max_error: float  # this rank's output shard vs the same shard of SDPA on the whole sequence
    grad_error: float | None = None  # max over dq, dk, dv (when backward=True)


@dataclass
class DemoResult:
    """All ranks' results for one config, plus the whole-sequence comparison made on rank 0."""

    config: DemoConfig
    world_size: int
    backend: str
    ranks: list[RankResult] = field(default_factory=list)
    max_error: float = float("nan")
    grad_error: float | None = None
    tolerance: object = None  # lcedu.testing.Tolerance used for `ok`
    ok: bool = False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ----- the work one rank does ----------------------------------------------------------


def _inputs(cfg: DemoConfig, device: torch.device):
    g = torch.Generator().manual_seed(cfg.seed)
    dt = _DTYPES[cfg.dtype]
    shape = (cfg.batch, cfg.heads, cfg.seq_len, cfg.head_dim)
    q, k, v = (torch.randn(shape, generator=g, dtype=torch.float32).to(dt) for _ in range(3))
    dout = torch.randn(shape, generator=g, dtype=torch.float32).to(dt)
    return q.to(device), k.to(device), v.to(device), dout.to(device)


def _run_config(cfg: DemoConfig, device: torch.device) -> DemoResult | RankResult:
    """Run one config on this rank; rank 0 returns the DemoResult, the others a RankResult."""
    import torch.distributed as dist
    import torch.nn.functional as F

    from lcedu.attention.ring_distributed import ring_attention

    W, rank = dist.get_world_size(), dist.get_rank()
    q, k, v, dout = _inputs(cfg, device)
    ql, kl, vl, dl = (
        layouts.shard_sequence(t, W, rank, cfg.layout).contiguous() for t in (q, k, v, dout)
    )
    if cfg.backward:
        ql, kl, vl = (t.requires_grad_() for t in (ql, kl, vl))
    stats: dict = {}
    dist.barrier()
    t0 = time.perf_counter()
    out = ring_attention(ql, kl, vl, causal=cfg.causal, layout=cfg.layout, stats=stats)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - t0
    grads = None
    if cfg.backward:
        grads = torch.autograd.grad(out, (ql, kl, vl), dl)
    out = out.detach()

    # Rank 0 gathers every shard and compares with SDPA over the whole sequence.
    def gather(t: torch.Tensor) -> list[torch.Tensor] | None:
        parts = [torch.empty_like(t) for _ in range(W)]
        dist.all_gather(parts, t.contiguous())
        return parts if rank == 0 else None

    outs = gather(out)
    gparts = [gather(gr) for gr in grads] if grads is not None else None
    mine = RankResult(rank, seconds, int(stats["bytes_sent"]), list(stats["kinds"]), 0.0)
    codes = [_KINDS.index(kd) for kd in stats["kinds"]]
    row = torch.tensor([seconds, stats["bytes_sent"], *codes], dtype=torch.float64, device=device)
    rows = [torch.empty_like(row) for _ in range(W)]
    dist.all_gather(rows, row)  # every rank's time, bytes and block kinds, for rank 0 to print
    if rank != 0:
        return mine

    ref_in = [t.detach().clone().requires_grad_(cfg.backward) for t in (q, k, v)]
    ref = F.scaled_dot_product_attention(*ref_in, is_causal=cfg.causal)
    result = DemoResult(cfg, W, dist.get_backend())
    full = layouts.gather_sequence(outs, cfg.layout)
    result.max_error = max_abs_error(full, ref)
    for r in range(W):
        shard_err = max_abs_error(outs[r], layouts.shard_sequence(ref.detach(), W, r, cfg.layout))
        sent, kinds = int(rows[r][1]), [_KINDS[int(c)] for c in rows[r][2:]]
        result.ranks.append(RankResult(r, float(rows[r][0]), sent, kinds, shard_err))
    if cfg.backward:
        ref_grads = torch.autograd.grad(ref, ref_in, dout)
        result.grad_error = max(
            max_abs_error(layouts.gather_sequence(parts, cfg.layout), rg)
            for parts, rg in zip(gparts, ref_grads)
        )
    dtype = _DTYPES[cfg.dtype]
    result.tolerance = tolerance(dtype, device)
    ok = close_enough(full, ref.detach(), dtype, device)
    if cfg.backward:
        ok = ok and all(
            close_enough(layouts.gather_sequence(parts, cfg.layout), rg, dtype, device)
            for parts, rg in zip(gparts, ref_grads)
        )
    result.ok = bool(ok)
    return result


def _pick_device(backend: str, rank: int) -> torch.device:
    if backend == "nccl":
        n = torch.cuda.device_count()
        torch.cuda.set_device(rank % n)
        return torch.device("cuda", rank % n)
    return torch.device("cpu")


def probe_mismatched_shapes(cfg: DemoConfig, device: torch.device) -> str:
    """Every rank passes a different local length on purpose; returns the ValueError text.

    Used by the tests to show that bad input fails on every rank (no rank waits forever).
    """
    import torch.distributed as dist

    from lcedu.attention.ring_distributed import ring_attention

    n = 2 + dist.get_rank()
    x = torch.zeros(cfg.batch, cfg.heads, n, cfg.head_dim, device=device)
    try:
        ring_attention(x, x, x, layout=cfg.layout)
    except ValueError as e:
        return str(e)
    return "no error"


def probe_subgroup(cfg: DemoConfig, device: torch.device) -> list[float]:
    """Ring attention inside a sub-group (global ranks 1..W-1), checked against SDPA.

    The neighbours' group ranks differ from their global ranks here, so this proves that
    `ring_attention(group=...)` addresses its peers correctly. Returns, on every rank, each
    global rank's max error (−1 for rank 0, which is not in the group).
    """
    import torch.distributed as dist
    import torch.nn.functional as F

    from lcedu.attention.ring_distributed import ring_attention

    W, rank = dist.get_world_size(), dist.get_rank()
    members = list(range(1, W))
    group = dist.new_group(ranks=members)
    err = -1.0
    if rank in members:
        g, gw = dist.get_rank(group), len(members)
        q, k, v, _ = _inputs(cfg, device)
        parts = [layouts.shard_sequence(t, gw, g, cfg.layout).contiguous() for t in (q, k, v)]
        out = ring_attention(*parts, group=group, causal=cfg.causal, layout=cfg.layout)
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=cfg.causal)
        err = max_abs_error(out, layouts.shard_sequence(ref, gw, g, cfg.layout))
    errs = [torch.zeros(1, dtype=torch.float64, device=device) for _ in range(W)]
    dist.all_gather(errs, torch.tensor([err], dtype=torch.float64, device=device))
    dist.destroy_process_group(group)
    return [float(e[0]) for e in errs]


def _child(rank, world_size, port, backend, configs, timeout, q, task=None):
    """Entry point of one spawned process: join the group, run every config, report."""
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    import torch.distributed as dist

    try:
        dist.init_process_group(
            backend,
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world_size,
            timeout=timedelta(seconds=timeout),
        )
        try:
            device = _pick_device(backend, rank)
            results = [(task or _run_config)(cfg, device) for cfg in configs]
        finally:
            dist.destroy_process_group()
        q.put((rank, "ok", results if rank == 0 else None))
    except BaseException as e:  # noqa: BLE001 - report to the parent instead of hanging it
        q.put((rank, "error", f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=4)}"))


def run_local(
    world_size: int,
    configs: list[DemoConfig],
    *,
    backend: str = "gloo",
    timeout: float = 60.0,
    start_method: str | None = None,
    task=None,
) -> list:
    """Start `world_size` local processes, run every config in each, return rank 0's results.

    Never hangs: processes that have not finished after `timeout` seconds are terminated and
    a RuntimeError says so; an exception in any rank is re-raised here as a RuntimeError.
    The default start method is "forkserver" (torch is imported once, in the server, so a
    second launch starts in a fraction of a second), or "spawn" where there is no forkserver.
    Like every spawning launcher, a script calling this needs an `if __name__ == "__main__":`
    guard. `task(cfg, device)` (a module-level function) replaces the default run.
    """
    import multiprocessing as mp

    world_size = layouts.check_world(world_size)
    timeout = chk.positive_real("timeout", timeout)
    if not configs:
        raise ValueError("configs must list at least one DemoConfig")
    for cfg in configs:
        _validate_config(cfg, world_size)
    if backend == "nccl" and torch.cuda.device_count() < world_size:
        raise ValueError(
            f"backend 'nccl' needs one GPU per process: {world_size} processes, "
            f"{torch.cuda.device_count()} GPUs; use backend 'gloo' on CPU"
        )
    if start_method is None:
        start_method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(start_method)
    if start_method == "forkserver":  # takes effect when the server starts (first launch)
        ctx.set_forkserver_preload(
            ["torch", "lcedu.attention.ring_distributed", "lcedu.tools.ring_demo"]
        )
    q = ctx.Queue()
    port = free_port()
    procs = [
        ctx.Process(
            target=_child,
            args=(r, world_size, port, backend, list(configs), timeout, q, task),
            daemon=True,
        )
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    deadline = time.monotonic() + timeout
    reports: dict[int, tuple[str, object]] = {}
    try:
        while len(reports) < world_size:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                rank, status, payload = q.get(timeout=min(left, 0.5))
                reports[rank] = (status, payload)
                if status == "error":
                    break
            except queue_mod.Empty:
                if any(p.exitcode not in (None, 0) for p in procs):
                    break
    finally:
        for p in procs:
            p.join(timeout=max(0.0, min(5.0, deadline - time.monotonic())))
        for p in procs:
            if p.is_alive():
                p.terminate()
                p.join(timeout=5)
            if p.is_alive():
                p.kill()
                p.join(timeout=5)
        q.close()
    errors = [f"rank {r}: {payload}" for r, (s, payload) in sorted(reports.items()) if s == "error"]
    if errors:
        raise RuntimeError("ring attention failed in a worker process:\n" + "\n".join(errors))
    if len(reports) < world_size:
        missing = sorted(set(range(world_size)) - set(reports))
        codes = {r: procs[r].exitcode for r in missing}
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"ranks {missing} did not finish within {timeout:g} s; they were stopped"
            )
        raise RuntimeError(
            f"ranks {missing} died without reporting (exit codes {codes}); a script that "
            "launches processes needs an `if __name__ == '__main__':` guard"
        )
    return reports[0][1]  # type: ignore[return-value]


def _validate_config(cfg: DemoConfig, world_size: int) -> None:
    if not isinstance(cfg, DemoConfig):
        raise ValueError(f"configs must hold DemoConfig objects, got {type(cfg).__name__}")
    layouts.check_layout(cfg.layout)
    chk.one_of("dtype", cfg.dtype, _DTYPES)
    for name in ("seq_len", "batch", "heads", "head_dim"):
        chk.positive_int(name, getattr(cfg, name))
    chk.nonneg_int("seed", cfg.seed)
    layouts.check_divisible(cfg.seq_len, world_size, cfg.layout)


def run_ring_demo(world_size: int = 4, *, timeout: float = 60.0, **settings: Any) -> DemoResult:
    """One config in `world_size` local gloo processes (what `lcedu ring-demo` runs).

    `settings` are `DemoConfig`'s fields (seq_len, batch, heads, head_dim, causal, layout,
    dtype, seed, backward), with its defaults for those not given.
    """
    known = {f.name for f in fields(DemoConfig)}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise ValueError(
            f"run_ring_demo: unknown setting {', '.join(unknown)}; "
            f"the settings are {', '.join(sorted(known))}"
        )
    for name in ("causal", "backward"):
        if name in settings:
            settings[name] = bool(settings[name])
    return run_local(world_size, [DemoConfig(**settings)], timeout=timeout)[0]


def format_results(res: DemoResult, *, timings: bool = True) -> str:
    """A table a person can read: one line per rank, then the whole-sequence verdict."""
    c = res.config
    lines = [
        f"ring attention: world_size={res.world_size} layout={c.layout} causal={c.causal} "
        f"seq_len={c.seq_len} (B={c.batch}, H={c.heads}, D={c.head_dim}, {c.dtype}), "
        f"backend {res.backend}",
        f"{'rank':>4}  {'time (ms)':>9}  {'bytes sent':>10}  {'max error':>9}  blocks per step",
    ]
    for r in res.ranks:
        t = f"{r.seconds * 1e3:9.1f}" if timings else f"{'-':>9}"
        lines.append(
            f"{r.rank:>4}  {t}  {r.bytes_sent:>10}  {r.max_error:9.1e}  " + " ".join(r.kinds)
        )
    verdict = "OK" if res.ok else "MISMATCH"
    lines.append(
        f"whole sequence vs SDPA: max error {res.max_error:.1e} "
        f"(rtol {res.tolerance.rtol:.0e}, atol {res.tolerance.atol:.0e}): {verdict}"
    )
    if res.grad_error is not None:
        lines.append(f"gradients (dq, dk, dv) vs SDPA: max error {res.grad_error:.1e}")
    return "\n".join(lines)


# ----- command line ------------------------------------------------------------------------


PER_RANK = 1024  # default tokens per process: the default length suits every world size


def _parser() -> OneLineParser:
    p = OneLineParser(
        prog="lcedu ring-demo",
        description="Run ring attention across N local processes (gloo on CPU) and check it "
        "against SDPA on the whole sequence. Under torchrun (RANK/WORLD_SIZE set), joins the "
        "launched processes instead of starting its own.",
    )
    p.add_argument("--world-size", type=int, default=4, help="number of processes (default 4)")
    p.add_argument("--causal", action="store_true", help="causal attention")
    p.add_argument("--layout", choices=layouts.LAYOUTS, default="contiguous")
    p.add_argument(
        "--seq-len",
        type=int,
        default=None,
        help=f"total sequence length (default {PER_RANK} per process: 4096 for 4)",
    )
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--head-dim", type=int, default=64)
    p.add_argument("--dtype", choices=sorted(_DTYPES), default="float32")
    p.add_argument("--backward", action="store_true", help="also check the gradients")
    p.add_argument(
        "--backend",
        choices=["gloo", "nccl"],
        default=None,
        help="default: nccl under torchrun with CUDA, else gloo",
    )
    p.add_argument("--timeout", type=float, default=120.0, help="seconds before giving up")
    p.add_argument("--seed", type=int, default=0)
    return p


def _main_torchrun(cfg: DemoConfig, backend: str, timeout: float) -> int:
    import torch.distributed as dist

    dist.init_process_group(backend, timeout=timedelta(seconds=timeout))
    try:
        rank = dist.get_rank()
        local = int(os.environ.get("LOCAL_RANK", rank))
        device = _pick_device(backend, local)
        _validate_config(cfg, dist.get_world_size())
        res = _run_config(cfg, device)
    finally:
        dist.destroy_process_group()
    if rank == 0:
        print(format_results(res))
        return 0 if res.ok else 1
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    under_torchrun = "RANK" in os.environ and "WORLD_SIZE" in os.environ
    try:
        world = int(os.environ["WORLD_SIZE"]) if under_torchrun else args.world_size
        if world < 1:
            raise ValueError(f"--world-size must be at least 1, got {world}")
        given = {f.name: getattr(args, f.name) for f in fields(DemoConfig)}  # flag per field
        if given["seq_len"] is None:
            given["seq_len"] = PER_RANK * world
        cfg = DemoConfig(**given)
        _validate_config(cfg, world)
        chk.positive_real("timeout", args.timeout)
        if under_torchrun:
            backend = args.backend or ("nccl" if torch.cuda.is_available() else "gloo")
            return _main_torchrun(cfg, backend, args.timeout)
        res = run_local(world, [cfg], backend=args.backend or "gloo", timeout=args.timeout)[0]
    except ValueError as e:  # a bad argument: one line
        return usage_error("lcedu ring-demo", str(e))
    except RuntimeError as e:  # a worker failed: its report, as it came
        print(f"lcedu ring-demo: {e}", file=sys.stderr)
        return 2
    print(format_results(res))
    return 0 if res.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
