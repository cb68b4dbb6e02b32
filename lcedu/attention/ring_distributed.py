"""Ring Attention over torch.distributed: each process holds one shard, K/V travel the ring.

Liu, Zaharia & Abbeel (2023), with the backward of ring-flash-attention (Zhu 2024): the
forward posts each hop with `batch_isend_irecv` before computing on the block at hand (so
communication overlaps compute) and folds blocks with `ring.py`'s step; the backward runs a
second ring in which dK and dV travel home with their block. Works with gloo and NCCL.
"""

from __future__ import annotations

import math

import torch

from lcedu.attention.reference import check_qkv
from lcedu.attention.ring import BlockPlan, apply_plan, check_scale, empty_state, plan_block
from lcedu.attention.ring_layouts import check_layout, token_positions

__all__ = ["ring_attention"]


def _dist():
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_initialized():
        raise ValueError(
            "ring_attention needs an initialised process group: call "
            "torch.distributed.init_process_group(...) first (see `lcedu ring-demo`)"
        )
    return dist


def _check_same_shapes(dist, group, q, k, v) -> None:
    """Every rank must hold blocks of one shape; compare them all (one small all_gather)."""
    dtypes = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    code = dtypes.index(q.dtype) if q.dtype in dtypes else len(dtypes)
    mine = torch.tensor([*q.shape, *k.shape, *v.shape, code], dtype=torch.int64, device=q.device)
    world = dist.get_world_size(group)
    everyone = [torch.empty_like(mine) for _ in range(world)]
    dist.all_gather(everyone, mine, group=group)
    shapes = [tuple(int(x) for x in t.cpu()) for t in everyone]
    if any(s != shapes[0] for s in shapes):
        desc = "; ".join(
            f"rank {r}: q {s[0:4]}, k {s[4:8]}, v {s[8:12]}, dtype #{s[12]}"
            for r, s in enumerate(shapes)
        )
        raise ValueError(
            f"ring_attention: every rank must pass q, k, v of the same shapes and dtype, got {desc}"
        )


def ring_attention(
    q_local: torch.Tensor,
    k_local: torch.Tensor,
    v_local: torch.Tensor,
    *,
    group=None,
    causal: bool = False,
    layout: str = "contiguous",
    scale: float | None = None,
    stats: dict | None = None,
) -> torch.Tensor:
    """Ring attention over `torch.distributed`: each rank passes its shard, gets its output.

    q_local, k_local, v_local are this rank's (B, H, L/W, D) shards, cut with
    `shard_sequence(x, W, rank, layout)`. K and V travel together as one buffer: at each
    step the transfer to the right neighbour and from the left one is posted with
    `batch_isend_irecv` *before* computing on the block at hand, so communication overlaps
    compute; partials are merged in fp32 (or fp64) with `merge_partials`. Causal: blocks
    from the future are skipped, only diagonal blocks are masked. Works with gloo (CPU) and
    NCCL (CUDA). Differentiable: the backward pass runs a second ring in which dK and dV
    travel home with their K/V block. If `stats` is a dict, it receives "bytes_sent",
    "steps" and per-step "kinds" for this rank.
    """
    check_qkv(q_local, k_local, v_local, name="ring_attention")
    check_layout(layout)
    scale = check_scale(scale)
    dist = _dist()
    _check_same_shapes(dist, group, q_local, k_local, v_local)
    if q_local.shape[2] != k_local.shape[2]:
        raise ValueError(
            f"ring_attention: q_local and k_local must hold the same tokens, got local lengths "
            f"{q_local.shape[2]} and {k_local.shape[2]}"
        )
    world = dist.get_world_size(group)
    if layout == "zigzag" and q_local.shape[2] % 2:
        raise ValueError(
            f"ring_attention: the zigzag layout gives each rank two chunks, so the local "
            f"length must be even, got {q_local.shape[2]} (total {q_local.shape[2] * world}, "
            f"which is not divisible by 2·world_size = {2 * world})"
        )
    if scale is None:
        scale = 1.0 / math.sqrt(q_local.shape[-1])
    return _RingAttention.apply(
        q_local, k_local, v_local, group, bool(causal), layout, float(scale), stats
    )


class _Ring:
    """The ring: this rank, its neighbours (as global ranks), and double-buffered transfers."""

    def __init__(self, group):
        import torch.distributed as dist

        self.dist = dist
        self.group = group
        self.world = dist.get_world_size(group)
        self.rank = dist.get_rank(group)

        def glob(r: int) -> int:
            return r if group is None else dist.get_global_rank(group, r)

        self.next = glob((self.rank + 1) % self.world)
        self.prev = glob((self.rank - 1) % self.world)

    def start(self, send: torch.Tensor, recv: torch.Tensor):
        """Post send-to-next and receive-from-previous together; return the pending requests."""
        d = self.dist
        ops = [
            d.P2POp(d.isend, send, self.next, group=self.group),
            d.P2POp(d.irecv, recv, self.prev, group=self.group),
        ]
        return d.batch_isend_irecv(ops)

    @staticmethod
    def wait(reqs) -> None:
        for r in reqs:
            r.wait()


class _RingAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, q, k, v, group, causal, layout, scale, stats):
        ring = _Ring(group)
        W, rank = ring.world, ring.rank
        n, dk = q.shape[2], k.shape[-1]
        L = n * W
        pos = [token_positions(L, W, r, layout) for r in range(W)]
        out, lse = empty_state(q, v.shape[-1])
        # K and V travel together: one message per hop, ping-pong between two buffers.
        bufs = [torch.cat([k, v], dim=-1).contiguous(), None]
        if W > 1:
            bufs[1] = torch.empty_like(bufs[0])
        sent, kinds = 0, []
        for step in range(W):
            cur = bufs[step % 2]
            reqs = None
            if step < W - 1:  # post the next transfer before computing on this block
                reqs = ring.start(cur, bufs[(step + 1) % 2])
                sent += cur.numel() * cur.element_size()
            src = (rank - step) % W
            plan = plan_block(pos[rank], pos[src], causal)
            kinds.append(plan.kind)
            out, lse = apply_plan(q, cur[..., :dk], cur[..., dk:], out, lse, plan, scale)
            if reqs is not None:
                ring.wait(reqs)
        if stats is not None:
            stats.update(bytes_sent=sent, steps=W, kinds=kinds)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.group, ctx.causal, ctx.layout, ctx.scale = group, causal, layout, scale
        return out.to(q.dtype)

    @staticmethod
    def backward(ctx, dout):
        q, k, v, out, lse = ctx.saved_tensors
        ring = _Ring(ctx.group)
        W, rank = ring.world, ring.rank
        n, dk, dv = q.shape[2], k.shape[-1], v.shape[-1]
        pos = [token_positions(n * W, W, r, ctx.layout) for r in range(W)]
        cdt = out.dtype
        do = dout.to(cdt)
        delta = (do * out).sum(dim=-1, keepdim=True)  # rowsum(dO ∘ O), FlashAttention-2
        qc, lsec = q.to(cdt), lse.unsqueeze(-1)
        dq = torch.zeros_like(qc)
        kv = torch.cat([k, v], dim=-1).contiguous()
        # The gradient buffer for the block at hand travels with it and ends at its owner.
        dkv = torch.zeros(*k.shape[:3], dk + dv, dtype=cdt, device=q.device)
        for step in range(W):
            reqs = None
            if step < W - 1:
                kv_next = torch.empty_like(kv)
                reqs = ring.start(kv, kv_next)
            src = (rank - step) % W
            plan = plan_block(pos[rank], pos[src], ctx.causal)
            if plan.kind != "skip":
                dq, dkv = _block_backward(qc, kv, do, delta, lsec, dq, dkv, plan, dk, ctx.scale)
            if reqs is not None:
                ring.wait(reqs)
                kv = kv_next
            # Hand the block's gradient to the right neighbour, who holds that block next
            # (after the last step, that neighbour is the block's owner).
            if W > 1:
                dkv_next = torch.empty_like(dkv)
                ring.wait(ring.start(dkv, dkv_next))
                dkv = dkv_next
        dkg = dkv[..., :dk].to(k.dtype)
        dvg = dkv[..., dk:].to(v.dtype)
        return dq.to(q.dtype), dkg, dvg, None, None, None, None, None


def _block_backward(q, kv, do, delta, lse, dq, dkv, plan: BlockPlan, dk: int, scale: float):
    """Gradients of one block, recomputing its probabilities from the saved global LSE."""
    cdt = q.dtype
    k, v = kv[..., :dk].to(cdt), kv[..., dk:].to(cdt)
    rows = None if plan.rows is None else plan.rows.to(q.device)
    cols = None if plan.cols is None else plan.cols.to(q.device)
    qs, dos, dls, ls = q, do, delta, lse
    if rows is not None:
        qs, dos = q.index_select(2, rows), do.index_select(2, rows)
        dls, ls = delta.index_select(2, rows), lse.index_select(2, rows)
    ks, vs = (k, v) if cols is None else (k.index_select(2, cols), v.index_select(2, cols))
    p = torch.exp(torch.matmul(qs, ks.transpose(-2, -1)) * scale - ls)
    if plan.mask is not None:
        p = p.masked_fill(~plan.mask.to(q.device), 0.0)
    dv_b = torch.matmul(p.transpose(-2, -1), dos)
    ds = p * (torch.matmul(dos, vs.transpose(-2, -1)) - dls)
    dq_b = torch.matmul(ds, ks) * scale
    dk_b = torch.matmul(ds.transpose(-2, -1), qs) * scale
    dq = dq + dq_b if rows is None else dq.index_add(2, rows, dq_b)
    g = torch.cat([dk_b, dv_b], dim=-1)
    dkv = dkv + g if cols is None else dkv.index_add(2, cols, g)
    return dq, dkv


