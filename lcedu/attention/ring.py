"""Ring Attention in one process: the block step every rank repeats, its trace, a simulation.

Follows Ring Attention (Liu, Zaharia & Abbeel, 2023) with the causal load balancing of
zigzag (ring-flash-attention, Zhu 2024) and striped attention (Brandon et al., 2023). Each
rank keeps its queries, receives one K/V block per step from its left neighbour, and folds
every block into an fp32 running (out, lse) with FlashAttention's log-sum-exp merge
(`lcedu.attention.partials`). The layouts are in `ring_layouts.py`, the torch.distributed
ring in `ring_distributed.py`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from lcedu import _checks as chk
from lcedu.attention.partials import block_attention, compute_dtype, merge_partials
from lcedu.attention.reference import check_qkv
from lcedu.attention.ring_layouts import (
    LAYOUTS,
    check_divisible,
    check_layout,
    check_world,
    gather_sequence,
    shard_sequence,
    token_positions,
)

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
    "ring_memory_per_rank",
    "lesson_ring_attention_forward",
    "lesson_ring_step",
]


# ----- one block: what to compute of it ---------------------------------------------------


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
    return apply_plan(q, k_block, v_block, out, lse, plan, scale)


def apply_plan(q, k, v, out, lse, plan: BlockPlan, scale):
    """Fold one planned block into (out, lse); inputs already checked by the caller."""
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


def empty_state(q: torch.Tensor, dv: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The running state before any block: out 0 and lse −inf, in the compute dtype."""
    cdt = compute_dtype(q.dtype)
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
        if not chk.is_int(key) or not -n <= key < n:
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
    check_world(world_size)
    check_layout(layout)
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


def check_scale(scale: object) -> float | None:
    """None, or a positive finite number as a float."""
    if scale is None:
        return None
    return chk.positive_real("scale", scale, what="a positive number")


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
    check_world(world_size)
    check_layout(layout)
    scale = check_scale(scale)
    if q.shape[2] != k.shape[2]:
        raise ValueError(
            f"simulate_ring_attention: q and k must have the same sequence length (self-"
            f"attention over one sequence), got {q.shape[2]} and {k.shape[2]}"
        )
    L = q.shape[2]
    check_divisible(L, world_size, layout)
    W = world_size
    pos = [token_positions(L, W, r, layout) for r in range(W)]
    qs = [shard_sequence(q, W, r, layout) for r in range(W)]
    ks = [shard_sequence(k, W, r, layout) for r in range(W)]
    vs = [shard_sequence(v, W, r, layout) for r in range(W)]
    state = [empty_state(qs[r], v.shape[-1]) for r in range(W)]
    kv_bytes = (ks[0].numel() * ks[0].element_size()) + (vs[0].numel() * vs[0].element_size())
    trace = RingTrace(W, layout, bool(causal), L)
    n = L // W
    for step in range(W):
        for rank in range(W):
            src = (rank - step) % W  # after `step` hops, rank holds its left neighbours' block
            plan = plan_block(pos[rank], pos[src], causal)
            state[rank] = apply_plan(qs[rank], ks[src], vs[src], *state[rank], plan, scale)
            sent = 0 if step == W - 1 else kv_bytes
            trace.steps.append(
                RingStep(step, rank, src, plan.kind, plan.computed, plan.attended, n * n, sent)
            )
    out = gather_sequence([s[0] for s in state], layout).to(q.dtype)
    return out, trace


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
    check_world(world_size)
    for name, val in (
        ("seq_len", seq_len),
        ("heads", heads),
        ("head_dim", head_dim),
        ("batch", batch),
        ("bytes_per_element", bytes_per_element),
        ("score_bytes", score_bytes),
    ):
        chk.positive_int(name, val)
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


def lesson_ring_step(  # the signature of ring_step, tensors all torch.Tensor
    q, k_block, v_block, out, lse, *, q_pos, k_pos, causal: bool = False, scale=None
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
