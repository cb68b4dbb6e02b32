"""PyTorch's own context parallelism (``torch.distributed.tensor.experimental.context_parallel``)
tried on this machine, against the course's ring on the same inputs.

``context_parallel(mesh, buffers=..., buffer_seq_dims=...)`` shards the buffers along the
sequence and swaps SDPA for a ring (Liu et al., 2023, arXiv:2310.01889) with a head-tail
(zigzag) load balancer. In torch 2.13 the ring is registered only for the CUDA SDPA kernels
(flash, efficient, cuDNN); this module runs it in real processes and reports what happened.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from lcedu import _checks as chk

__all__ = ["ContextParallelResult", "try_torch_context_parallel"]


@dataclass(frozen=True)
class ContextParallelResult:
    """What PyTorch's context_parallel did: `ran`, else the error's type and first line."""

    world_size: int
    backend: str
    ran: bool
    error_type: str | None = None
    error: str | None = None
    max_err_vs_sdpa: float | None = None
    max_err_vs_course_ring: float | None = None


def _inputs(seq_len: int, heads: int, head_dim: int, seed: int, dev: str):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(1, heads, seq_len, head_dim, generator=g).to(dev) for _ in range(3)]


def _worker(rank: int, world: int, port: int, backend: str, cfg: tuple, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group(backend, rank=rank, world_size=world)
    dev = "cuda" if backend == "nccl" else "cpu"
    if dev == "cuda":
        torch.cuda.set_device(rank)
    seq_len, heads, head_dim, causal, seed = cfg
    try:
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.tensor.experimental import context_parallel
        from torch.distributed.tensor.experimental._attention import context_parallel_unshard

        from lcedu.attention.ring import simulate_ring_attention

        mesh = init_device_mesh(dev, (world,))
        q, k, v = _inputs(seq_len, heads, head_dim, seed, dev)
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        ring, _ = simulate_ring_attention(q, k, v, world, causal=causal, layout="zigzag")
        qs, ks, vs = (t.clone() for t in (q, k, v))
        with context_parallel(mesh, buffers=[qs, ks, vs], buffer_seq_dims=[2, 2, 2]):
            out = F.scaled_dot_product_attention(qs, ks, vs, is_causal=causal)
        (full,) = context_parallel_unshard(mesh, [out], [2])
        msg = (True, None, None, float((full - ref).abs().max()), float((full - ring).abs().max()))
    except Exception as e:  # reported to the caller, not raised: the result says what happened
        msg = (False, type(e).__name__, str(e).strip().splitlines()[0], None, None)
    finally:
        dist.destroy_process_group()
    if rank == 0:
        queue.put(msg)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def try_torch_context_parallel(
    world_size: int = 2,
    *,
    seq_len: int = 64,
    heads: int = 2,
    head_dim: int = 16,
    causal: bool = True,
    seed: int = 0,
    timeout_s: float = 120.0,
) -> ContextParallelResult:
    """Run PyTorch's context_parallel SDPA in `world_size` local processes and report.

    gloo on CPU processes, or NCCL when there are at least `world_size` CUDA GPUs. On
    success the unsharded output is compared with SDPA on the whole sequence and with the
    course's zigzag ring (``simulate_ring_attention``) on the same inputs.
    """
    sizes = dict(world_size=world_size, seq_len=seq_len, heads=heads, head_dim=head_dim)
    for name, n in sizes.items():
        chk.positive_int(name, n, what="a positive whole number")
    if world_size < 2 or seq_len % (2 * world_size):
        raise ValueError(
            f"need world_size >= 2 and seq_len divisible by 2·world_size (zigzag), "
            f"got world_size={world_size}, seq_len={seq_len}"
        )
    backend = "nccl" if torch.cuda.device_count() >= world_size else "gloo"
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    cfg = (seq_len, heads, head_dim, causal, seed)
    port = _free_port()
    procs = [
        ctx.Process(target=_worker, args=(r, world_size, port, backend, cfg, queue))
        for r in range(world_size)
    ]
    for p in procs:
        p.start()
    try:
        ran, etype, err, e_sdpa, e_ring = queue.get(timeout=timeout_s)
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return ContextParallelResult(world_size, backend, ran, etype, err, e_sdpa, e_ring)
