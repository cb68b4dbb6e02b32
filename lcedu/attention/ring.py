"""Ring Attention: the sequence is split across ranks and K/V blocks travel around a ring.

Follows Ring Attention (Liu, Zaharia & Abbeel, 2023) with the causal load balancing of
zigzag (ring-flash-attention, Zhu 2024) and striped attention (Brandon et al., 2023). Each
rank keeps its queries, receives one K/V block per step from its left neighbour while it
computes on the current block, and folds every block into an fp32 running (out, lse) with
the log-sum-exp merge of FlashAttention (`lcedu.attention.flash.merge_partials`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from lcedu.attention.flash import merge_partials
from lcedu.attention.reference import check_qkv

__all__ = [
    "LAYOUTS",
    "token_positions",
    "shard_sequence",
    "gather_sequence",
    "block_attention",
    "plan_block",
    "BlockPlan",
    "ring_step",
    "RingStep",
    "RingTrace",
    "ring_schedule",
    "simulate_ring_attention",
    "ring_attention",
    "ring_memory_per_rank",
    "lesson_ring_attention_forward",
    "lesson_ring_step",
]

LAYOUTS = ("contiguous", "zigzag", "striped")


# ----- layouts: which tokens live on which rank --------------------------------------------


def _check_world(world_size: int, rank: int | None = None) -> None:
    if not isinstance(world_size, int) or isinstance(world_size, bool) or world_size < 1:
        raise ValueError(f"world_size must be a positive integer, got {world_size!r}")
    if rank is not None and (
        not isinstance(rank, int) or isinstance(rank, bool) or not 0 <= rank < world_size
    ):
        raise ValueError(f"rank must be an integer in [0, {world_size - 1}], got {rank!r}")


def _check_layout(layout: str) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}; got {layout!r}")


def _check_divisible(seq_len: int, world_size: int, layout: str) -> None:
    parts = 2 * world_size if layout == "zigzag" else world_size
    if seq_len % parts:
        what = f"2·world_size = {parts}" if layout == "zigzag" else f"world_size = {parts}"
        raise ValueError(
            f"sequence length {seq_len} is not divisible by {what} (layout {layout!r}); "
            f"pad the sequence to a multiple of {parts}"
        )


def token_positions(
    seq_len: int, world_size: int, rank: int, layout: str = "contiguous"
) -> torch.Tensor:
    """Global positions (int64, in local order) of the tokens that `rank` holds.

    contiguous: rank r holds tokens [r·n, (r+1)·n) with n = seq_len / W.
    zigzag: the sequence is cut into 2W chunks; rank r holds chunks r and 2W−1−r.
    striped: rank r holds tokens r, r+W, r+2W, ...
    """
    _check_world(world_size, rank)
    _check_layout(layout)
    if not isinstance(seq_len, int) or isinstance(seq_len, bool) or seq_len < 1:
        raise ValueError(f"seq_len must be a positive integer, got {seq_len!r}")
    _check_divisible(seq_len, world_size, layout)
    if layout == "contiguous":
        n = seq_len // world_size
        return torch.arange(rank * n, (rank + 1) * n)
    if layout == "zigzag":
        c = seq_len // (2 * world_size)
        first = torch.arange(rank * c, (rank + 1) * c)
        j = 2 * world_size - 1 - rank
        return torch.cat([first, torch.arange(j * c, (j + 1) * c)])
    return torch.arange(rank, seq_len, world_size)


def shard_sequence(
    x: torch.Tensor, world_size: int, rank: int, layout: str = "contiguous", *, dim: int = 2
) -> torch.Tensor:
    """The part of `x` (split along `dim`, default the seq axis of (B, H, L, D)) on `rank`."""
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not -x.dim() <= dim < x.dim():
        raise ValueError(f"dim {dim} is out of range for a tensor with {x.dim()} dimensions")
    pos = token_positions(x.shape[dim], world_size, rank, layout)
    if layout == "contiguous":
        return x.narrow(dim, int(pos[0]), pos.numel())
    return x.index_select(dim, pos.to(x.device))


def gather_sequence(
    shards: Sequence[torch.Tensor],
    *args: int | str,
    layout: str | None = None,
    world_size: int | None = None,
    dim: int = 2,
) -> torch.Tensor:
    """Undo `shard_sequence`: put every rank's shard (listed in rank order) back in place.

    Call it as ``gather_sequence(shards, layout)`` or, mirroring `shard_sequence`, as
    ``gather_sequence(shards, world_size, layout)``; both may be keywords. The world size
    is ``len(shards)``; a `world_size` that disagrees raises ValueError.
    """
    if not isinstance(shards, (list, tuple)) or not shards:
        raise ValueError("shards must be a non-empty list of tensors, one per rank")
    if len(args) > 2:
        raise ValueError(
            "gather_sequence takes (shards, layout) or (shards, world_size, layout), "
            f"got {1 + len(args)} positional arguments"
        )
    if len(args) == 2:
        w_arg, l_arg = args
    elif len(args) == 1:
        w_arg, l_arg = (None, args[0]) if isinstance(args[0], str) else (args[0], None)
    else:
        w_arg, l_arg = None, None
    for given, name, kw in ((w_arg, "world_size", world_size), (l_arg, "layout", layout)):
        if given is not None and kw is not None:
            raise ValueError(f"gather_sequence: {name} was given twice")
    world_size = world_size if w_arg is None else w_arg
    layout = l_arg if l_arg is not None else (layout if layout is not None else "contiguous")
    _check_layout(layout)
    if world_size is not None:
        _check_world(world_size)
        if world_size != len(shards):
            raise ValueError(
                f"gather_sequence: world_size = {world_size} but {len(shards)} shards were "
                "given (one per rank)"
            )
    first = shards[0]
    for r, s in enumerate(shards):
        if not isinstance(s, torch.Tensor):
            raise ValueError(f"shard {r} must be a torch.Tensor, got {type(s).__name__}")
        if s.shape != first.shape:
            raise ValueError(
                f"all shards must have the same shape, got {tuple(first.shape)} on rank 0 "
                f"and {tuple(s.shape)} on rank {r}"
            )
    world_size = len(shards)
    seq_len = first.shape[dim] * world_size
    if layout == "contiguous":
        return torch.cat(list(shards), dim=dim)
    order = torch.cat([token_positions(seq_len, world_size, r, layout) for r in range(world_size)])
    stacked = torch.cat(list(shards), dim=dim)
    inverse = torch.empty_like(order)
    inverse[order] = torch.arange(seq_len)
    return stacked.index_select(dim, inverse.to(stacked.device))


# ----- one block: partial attention with its log-sum-exp ---------------------------------


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.promote_types(dtype, torch.float32)


def block_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    mask: torch.Tensor | None = None,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention of q over one K/V block, and the log-sum-exp of its scaled scores.

    Computed in fp32 or wider. `mask` (Lq, Lk) is boolean, True = may attend. A row that may
    attend to nothing gets out 0 and lse −inf (so `merge_partials` ignores it). Returns
    (out (B, H, Lq, Dv), lse (B, H, Lq)) in the compute dtype.
    """
    cdt = _compute_dtype(q.dtype)
    if scale is None:
        scale = 1.0 / math.sqrt(q.shape[-1])
    s = torch.matmul(q.to(cdt), k.to(cdt).transpose(-2, -1)) * scale
    if mask is not None:
        s = s.masked_fill(~mask, float("-inf"))
    m = s.amax(dim=-1, keepdim=True)
    empty = torch.isneginf(m)
    m = torch.where(empty, torch.zeros_like(m), m)
    p = torch.exp(s - m)
    denom = p.sum(dim=-1, keepdim=True)
    safe = torch.where(empty, torch.ones_like(denom), denom)
    out = torch.matmul(p / safe, v.to(cdt))
    lse = torch.where(empty, torch.full_like(m, float("-inf")), m + torch.log(safe))
    return out, lse.squeeze(-1)


@dataclass(frozen=True)
class BlockPlan:
    """What one rank does with one K/V block.

    kind: "full" (every pair allowed, no mask), "masked" (the diagonal-like block: a mask
    is needed), or "skip" (causal: every key is in every query's future).
    rows/cols: the query rows and key columns that take part (None = all of them), so the
    zigzag layout computes half a block instead of masking half of it away.
    """

    kind: str
    rows: torch.Tensor | None
    cols: torch.Tensor | None
    mask: torch.Tensor | None
    computed: int  # score entries actually computed (rows × cols)
    attended: int  # (query, key) pairs allowed


def plan_block(q_pos: torch.Tensor, k_pos: torch.Tensor, causal: bool) -> BlockPlan:
    """Decide how to compute one block from the global positions of its queries and keys."""
    lq, lk = q_pos.numel(), k_pos.numel()
    if not causal:
        return BlockPlan("full", None, None, None, lq * lk, lq * lk)
    allowed = k_pos.view(1, -1) <= q_pos.view(-1, 1)
    attended = int(allowed.sum())
    if attended == 0:
        return BlockPlan("skip", None, None, None, 0, 0)
    row_any, col_any = allowed.any(dim=1), allowed.any(dim=0)
    rows = None if bool(row_any.all()) else row_any.nonzero().view(-1)
    cols = None if bool(col_any.all()) else col_any.nonzero().view(-1)
    sub = allowed
    if rows is not None:
        sub = sub.index_select(0, rows)
    if cols is not None:
        sub = sub.index_select(1, cols)
    computed = sub.numel()
    if bool(sub.all()):
        return BlockPlan("full", rows, cols, None, computed, attended)
    return BlockPlan("masked", rows, cols, sub, computed, attended)


def _check_positions(q: torch.Tensor, k: torch.Tensor, q_pos, k_pos) -> None:
    for label, pos, n in (("q_pos", q_pos, q.shape[2]), ("k_pos", k_pos, k.shape[2])):
        if not isinstance(pos, torch.Tensor) or pos.dtype not in (
            torch.int64,
            torch.int32,
        ):
            raise ValueError(f"ring_step: {label} must be an integer tensor of token positions")
        if pos.dim() != 1 or pos.numel() != n:
            raise ValueError(
                f"ring_step: {label} must be 1-D with one position per token ({n}), "
                f"got shape {tuple(pos.shape)}"
            )


def ring_step(
    q: torch.Tensor,
    k_block: torch.Tensor,
    v_block: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    *,
    q_pos: torch.Tensor,
    k_pos: torch.Tensor,
    causal: bool = False,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold one K/V block into a rank's running (out, lse); what every rank does every step.

    `out` (B, H, Lq, Dv) and `lse` (B, H, Lq) are the attention over the keys seen so far
    (start from zeros and −inf). `q_pos`/`k_pos` are the tokens' global positions. Causal: a
    block entirely in the queries' future is skipped (state returned unchanged), a block
    entirely in the past is computed without a mask, and only a block that straddles the
    diagonal is masked. Returns the new (out, lse) in the dtypes of `out` and `lse`.
    """
    check_qkv(q, k_block, v_block, name="ring_step")
    _check_positions(q, k_block, q_pos, k_pos)
    want_out = (*q.shape[:3], v_block.shape[-1])
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != want_out:
        got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise ValueError(f"ring_step: out must have shape {want_out}, got {got}")
    if not isinstance(lse, torch.Tensor) or tuple(lse.shape) != want_out[:3]:
        got = tuple(lse.shape) if isinstance(lse, torch.Tensor) else type(lse).__name__
        raise ValueError(f"ring_step: lse must have shape {want_out[:3]}, got {got}")
    plan = plan_block(q_pos.cpu(), k_pos.cpu(), causal)
    return _apply_plan(q, k_block, v_block, out, lse, plan, scale)


def _apply_plan(q, k, v, out, lse, plan: BlockPlan, scale):
    if plan.kind == "skip":
        return out, lse
    qs = q if plan.rows is None else q.index_select(2, plan.rows.to(q.device))
    if plan.cols is not None:
        cols = plan.cols.to(k.device)
        k, v = k.index_select(2, cols), v.index_select(2, cols)
    mask = None if plan.mask is None else plan.mask.to(q.device)
    bo, bl = block_attention(qs, k, v, mask=mask, scale=scale)
    if plan.rows is not None:  # rows that took no part: an empty partial (out 0, lse -inf)
        rows = plan.rows.to(q.device)
        full_o = bo.new_zeros(*q.shape[:3], v.shape[-1])
        full_l = bl.new_full(q.shape[:3], float("-inf"))
        bo = full_o.index_copy(2, rows, bo)
        bl = full_l.index_copy(2, rows, bl)
    return merge_partials(out, lse, bo.to(out.dtype), bl.to(lse.dtype))


def _empty_state(q: torch.Tensor, dv: int) -> tuple[torch.Tensor, torch.Tensor]:
    cdt = _compute_dtype(q.dtype)
    out = torch.zeros(*q.shape[:3], dv, dtype=cdt, device=q.device)
    lse = torch.full(q.shape[:3], float("-inf"), dtype=cdt, device=q.device)
    return out, lse


# ----- the trace: who holds what, who worked, who waited --------------------------------


@dataclass(frozen=True)
class RingStep:
    """One rank at one step: which rank's K/V block it holds and what it did with it."""

    step: int
    rank: int
    kv_rank: int  # the rank the K/V block came from (its owner)
    kind: str  # "full", "masked" or "skip"
    computed: int  # score entries computed
    attended: int  # (query, key) pairs allowed
    block: int  # Lq × Lk, the block's size
    bytes_sent: int  # K and V bytes this rank sends on after the step (0 at the last step)


@dataclass
class RingTrace:
    """Every rank's view of every step of one ring pass (see `simulate_ring_attention`)."""

    world_size: int
    layout: str
    causal: bool
    seq_len: int
    steps: list[RingStep] = field(default_factory=list)

    def at(self, step: int, rank: int) -> RingStep:
        return self.steps[step * self.world_size + rank]

    def __len__(self) -> int:
        """The number of ring steps (world_size)."""
        return len(self.steps) // self.world_size

    def __getitem__(self, key: int | tuple[int, int]) -> list[RingStep] | RingStep:
        """trace[step] is that step's RingStep for every rank; trace[step, rank] one of them."""
        n = len(self)
        if isinstance(key, tuple):
            if len(key) != 2:
                raise ValueError(f"index a RingTrace with [step] or [step, rank], got {key!r}")
            step, rank = key
            return self[step][rank]
        if isinstance(key, bool) or not isinstance(key, int) or not -n <= key < n:
            raise IndexError(f"step must be an integer in [0, {n - 1}], got {key!r}")
        key %= n
        return self.steps[key * self.world_size : (key + 1) * self.world_size]

    def grid(self, attr: str) -> list[list]:
        """[step][rank] table of one field, e.g. grid("kv_rank") is the ring schedule."""
        W = self.world_size
        return [[getattr(self.at(s, r), attr) for r in range(W)] for s in range(W)]

    def work_per_rank(self, attr: str = "attended") -> list[int]:
        return [
            sum(getattr(self.at(s, r), attr) for s in range(self.world_size))
            for r in range(self.world_size)
        ]

    def critical_path(self, attr: str = "attended") -> int:
        """Work on the slowest path: ranks move in lockstep (a step ends when the block has
        arrived everywhere), so each step costs its busiest rank's work."""
        return sum(max(row) for row in self.grid(attr))

    def balance(self, attr: str = "attended") -> float:
        """Ideal time (total work / W) over the critical path: 1.0 is perfectly balanced."""
        total = sum(self.work_per_rank(attr))
        cp = self.critical_path(attr)
        return 1.0 if cp == 0 else total / (self.world_size * cp)


def ring_schedule(
    seq_len: int,
    world_size: int,
    *,
    causal: bool = False,
    layout: str = "contiguous",
    bytes_per_token: int = 0,
) -> RingTrace:
    """The trace of a ring pass from positions alone (no tensors): schedule and work."""
    _check_world(world_size)
    _check_layout(layout)
    pos = [token_positions(seq_len, world_size, r, layout) for r in range(world_size)]
    trace = RingTrace(world_size, layout, bool(causal), seq_len)
    n = seq_len // world_size
    for step in range(world_size):
        for rank in range(world_size):
            src = (rank - step) % world_size
            plan = plan_block(pos[rank], pos[src], causal)
            sent = 0 if step == world_size - 1 else n * bytes_per_token
            trace.steps.append(
                RingStep(step, rank, src, plan.kind, plan.computed, plan.attended, n * n, sent)
            )
    return trace


def _check_scale(scale) -> None:
    if scale is not None and (
        not isinstance(scale, (int, float)) or not math.isfinite(scale) or scale <= 0
    ):
        raise ValueError(f"scale must be a positive number, got {scale!r}")


def simulate_ring_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    world_size: int,
    *,
    causal: bool = False,
    layout: str = "contiguous",
    scale: float | None = None,
) -> tuple[torch.Tensor, RingTrace]:
    """Ring attention with every rank simulated in one process, step by step.

    q, k, v are the whole (B, H, L, D) sequence; they are sharded with `layout`, every rank
    folds in one K/V block per step with `ring_step`, and the outputs are gathered back.
    Returns (out, trace); `out` equals attention over the whole sequence and is
    differentiable. `trace` says, per step and rank, which block was held and the work done.
    """
    check_qkv(q, k, v, name="simulate_ring_attention")
    _check_world(world_size)
    _check_layout(layout)
    _check_scale(scale)
    if q.shape[2] != k.shape[2]:
        raise ValueError(
            f"simulate_ring_attention: q and k must have the same sequence length (self-"
            f"attention over one sequence), got {q.shape[2]} and {k.shape[2]}"
        )
    L = q.shape[2]
    _check_divisible(L, world_size, layout)
    W = world_size
    pos = [token_positions(L, W, r, layout) for r in range(W)]
    qs = [shard_sequence(q, W, r, layout) for r in range(W)]
    ks = [shard_sequence(k, W, r, layout) for r in range(W)]
    vs = [shard_sequence(v, W, r, layout) for r in range(W)]
    state = [_empty_state(qs[r], v.shape[-1]) for r in range(W)]
    kv_bytes = (ks[0].numel() * ks[0].element_size()) + (vs[0].numel() * vs[0].element_size())
    trace = RingTrace(W, layout, bool(causal), L)
    n = L // W
    for step in range(W):
        for rank in range(W):
            src = (rank - step) % W  # after `step` hops, rank holds its left neighbours' block
            plan = plan_block(pos[rank], pos[src], causal)
            state[rank] = _apply_plan(qs[rank], ks[src], vs[src], *state[rank], plan, scale)
            sent = 0 if step == W - 1 else kv_bytes
            trace.steps.append(
                RingStep(step, rank, src, plan.kind, plan.computed, plan.attended, n * n, sent)
            )
    out = gather_sequence([s[0] for s in state], layout).to(q.dtype)
    return out, trace


# ----- the real thing: torch.distributed -------------------------------------------------


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
    _check_layout(layout)
    _check_scale(scale)
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
        out, lse = _empty_state(q, v.shape[-1])
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
            out, lse = _apply_plan(q, cur[..., :dk], cur[..., dk:], out, lse, plan, scale)
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


# ----- memory per rank -------------------------------------------------------------------


def ring_memory_per_rank(
    seq_len: int,
    world_size: int,
    *,
    heads: int = 32,
    head_dim: int = 128,
    batch: int = 1,
    bytes_per_element: int = 2,
    score_bytes: int = 4,
) -> dict[str, int]:
    """Bytes one rank holds during a ring pass for one attention layer (forward).

    "qkvo": the local Q, K, V and output shards; "kv_buffers": two K/V blocks in flight
    (one being computed on, one arriving); "scores": one fp32 score block (L/W)² per head if
    the block is materialised (a flash kernel avoids it); "single_device_scores": the full
    L² score matrix one device would need without any of this. Sizes only, no allocation.
    """
    _check_world(world_size)
    for name, val in (
        ("seq_len", seq_len),
        ("heads", heads),
        ("head_dim", head_dim),
        ("batch", batch),
        ("bytes_per_element", bytes_per_element),
        ("score_bytes", score_bytes),
    ):
        if not isinstance(val, int) or isinstance(val, bool) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")
    if seq_len % world_size:
        raise ValueError(f"sequence length {seq_len} is not divisible by world_size = {world_size}")
    n = seq_len // world_size
    per_token = batch * heads * head_dim * bytes_per_element
    qkvo = 4 * n * per_token
    kv_buffers = 2 * 2 * n * per_token
    scores = batch * heads * n * n * score_bytes
    return {
        "qkvo": qkvo,
        "kv_buffers": kv_buffers,
        "scores": scores,
        "total": qkvo + kv_buffers + scores,
        "single_device_scores": batch * heads * seq_len * seq_len * score_bytes,
    }


# ----- the lesson's sketch (erratum 18-19): kept verbatim to show where it breaks --------


def lesson_ring_attention_forward(
    Q: torch.Tensor, K: torch.Tensor, V: torch.Tensor, world_size: int, rank: int
) -> torch.Tensor:
    """The lesson's §5.2 `ring_attention_forward`, as written (do not use).

    Erratum 18: `Q.shape[1]` is read as the sequence length (a (B, S, H, D) layout) while the
    matmuls treat dim 2 as the sequence ((B, H, S, D)), so the running state has the wrong
    shape unless H == S; the state is made on the default device, not Q's. Erratum 19: no
    causal handling, and each transfer is waited for before computing (no overlap), with K
    and V in separate round trips.
    """
    import torch.distributed as dist

    def ring_pass(tensor, send_rank, recv_rank):
        recv_tensor = torch.empty_like(tensor)
        send_op = dist.isend(tensor, send_rank)
        recv_op = dist.irecv(recv_tensor, recv_rank)
        send_op.wait()
        recv_op.wait()
        return recv_tensor

    local_seq_len = Q.shape[1]
    output = torch.zeros_like(Q)
    max_scores = torch.full((Q.shape[0], Q.shape[2], local_seq_len), float("-inf"))
    sum_exp = torch.zeros_like(max_scores)
    current_K = K.clone()
    current_V = V.clone()
    for step in range(world_size):
        scores = torch.matmul(Q, current_K.transpose(-2, -1))
        scores = scores / math.sqrt(Q.shape[-1])
        new_max = torch.max(scores.max(dim=-1).values, max_scores)
        exp_scores = torch.exp(scores - new_max.unsqueeze(-1))
        scale = torch.exp(max_scores - new_max)
        output = output * scale.unsqueeze(-1) + torch.matmul(exp_scores, current_V)
        sum_exp = sum_exp * scale + exp_scores.sum(dim=-1)
        max_scores = new_max
        if step < world_size - 1:
            send_rank = (rank + 1) % world_size
            recv_rank = (rank - 1) % world_size
            current_K = ring_pass(current_K, send_rank, recv_rank)
            current_V = ring_pass(current_V, send_rank, recv_rank)
    output = output / sum_exp.unsqueeze(-1)
    return output


def lesson_ring_step(
    q: torch.Tensor,
    k_block: torch.Tensor,
    v_block: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    *,
    q_pos: torch.Tensor,
    k_pos: torch.Tensor,
    causal: bool = False,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the lesson's loop, written against `ring_step`'s signature (do not use).

    The running (output, max, sum) of the sketch is rebuilt from (out, lse): max = lse,
    sum = 1. The update is the lesson's (with the layout fixed), which ignores `causal`,
    `q_pos` and `k_pos`: every query attends to every key of every block (erratum 19).
    """
    del q_pos, k_pos, causal  # the sketch has no causal handling
    d = q.shape[-1]
    max_scores = lse
    sum_exp = torch.ones_like(lse)
    output = out
    scores = torch.matmul(q, k_block.transpose(-2, -1))
    scores = scores / math.sqrt(d) if scale is None else scores * scale
    new_max = torch.max(scores.max(dim=-1).values, max_scores)
    exp_scores = torch.exp(scores - new_max.unsqueeze(-1))
    factor = torch.exp(max_scores - new_max)
    output = output * factor.unsqueeze(-1) + torch.matmul(exp_scores, v_block)
    sum_exp = sum_exp * factor + exp_scores.sum(dim=-1)
    return output / sum_exp.unsqueeze(-1), new_max + torch.log(sum_exp)
