"""FlashAttention in plain PyTorch: online softmax over key tiles, never the full score matrix.

Follows FlashAttention-2 (Dao, 2023; Dao et al., 2022 for the IO analysis): a running max,
a running sum and a rescaled accumulator per query tile, the log-sum-exp (LSE) kept for the
backward pass, which recomputes each probability tile from the LSE instead of storing it.
"""

from __future__ import annotations

import math

import torch

from lcedu import _checks as chk
from lcedu.attention.partials import compute_dtype, merge_partials
from lcedu.attention.reference import check_qkv

__all__ = [
    "merge_partials",
    "online_softmax",
    "flash_attention",
    "FlashAttentionFunction",
    "visited_tiles",
    "hbm_bytes_naive",
    "hbm_bytes_flash",
    "TILE_SKIPPED",
    "TILE_FULL",
    "TILE_MASKED",
]

# What the tiled loop does with tile (query block i, key block j).
TILE_SKIPPED = 0  # causal: every key in the tile is after every query in it; never computed
TILE_FULL = 1  # computed, no mask needed
TILE_MASKED = 2  # computed with the causal mask (the tile straddles the diagonal)


def online_softmax(x: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Softmax of a 1-D score vector read one block at a time (Milakov & Gimelshein, 2018).

    Returns (probs, running_max, running_sum): probs equals torch.softmax(x, 0); the other
    two hold the running max m and the running sum l = Σ e^(x−m) after each block, which is
    all the state the tiled kernel carries between key blocks. Computed in float64.
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 1 or x.numel() == 0:
        raise ValueError("online_softmax: x must be a non-empty 1-D tensor of scores")
    block = chk.positive_int("block", block)
    xs = x.detach().double()
    m = torch.tensor(float("-inf"), dtype=torch.float64)
    l_sum = torch.tensor(0.0, dtype=torch.float64)
    ms, ls = [], []
    for start in range(0, xs.numel(), block):
        chunk = xs[start : start + block]
        m_new = torch.maximum(m, chunk.max())
        l_sum = l_sum * torch.exp(m - m_new) + torch.exp(chunk - m_new).sum()
        m = m_new
        ms.append(m)
        ls.append(l_sum)
    return torch.exp(xs - m) / l_sum, torch.stack(ms), torch.stack(ls)


# ----------------------------------------------------------------------------------------
# Validation shared by the forward, the tile map and the IO model.



def _check_scale(scale: object, head_dim: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(head_dim)
    return chk.positive_real("scale", scale, what="a positive number")


def _tile_kind(q0: int, q1: int, k0: int, k1: int, causal: bool) -> int:
    """Queries q0..q1-1 against keys k0..k1-1; causal means key j <= query i (top-left)."""
    if not causal:
        return TILE_FULL
    if k0 > q1 - 1:  # the first key comes after the last query: all masked
        return TILE_SKIPPED
    if k1 - 1 > q0:  # the last key comes after the first query: some entries masked
        return TILE_MASKED
    return TILE_FULL


def visited_tiles(
    n_q: int, n_k: int, block_q: int = 128, block_k: int = 128, causal: bool = False
) -> torch.Tensor:
    """Which (query block, key block) tiles the tiled forward computes, and how.

    Returns an int8 tensor of shape (ceil(n_q/block_q), ceil(n_k/block_k)) holding
    TILE_SKIPPED (0), TILE_FULL (1) or TILE_MASKED (2). `flash_attention` uses the very
    same rule, so `(visited_tiles(...) > 0).sum()` is the number of tiles it computes:
    T(T+1)/2 of T×T when causal, with only the T diagonal tiles masked (equal blocks).
    """
    chk.positive_int("n_q", n_q)
    chk.positive_int("n_k", n_k)
    chk.positive_int("block_q", block_q)
    chk.positive_int("block_k", block_k)
    tq, tk = -(-n_q // block_q), -(-n_k // block_k)
    grid = torch.empty(tq, tk, dtype=torch.int8)
    for i in range(tq):
        q0, q1 = i * block_q, min((i + 1) * block_q, n_q)
        for j in range(tk):
            k0, k1 = j * block_k, min((j + 1) * block_k, n_k)
            grid[i, j] = _tile_kind(q0, q1, k0, k1, bool(causal))
    return grid


# ----------------------------------------------------------------------------------------
# The IO model (Dao et al., 2022, Theorem 2): how many bytes cross HBM <-> SRAM.


def hbm_bytes_naive(
    n: int, head_dim: int = 64, *, batch_heads: int = 1, bytes_per_elem: int = 2
) -> int:
    """HBM traffic of standard attention (the paper's Algorithm 0), in bytes.

    Read Q, K (n·d each), write S (n²); read S, write P (n²); read P and V, write O:
    4·n·d + 4·n² elements in all, Θ(n·d + n²) per head.
    """
    chk.positive_int("n", n)
    chk.positive_int("head_dim", head_dim)
    chk.positive_int("batch_heads", batch_heads)
    chk.positive_int("bytes_per_elem", bytes_per_elem)
    elems = 4 * n * head_dim + 4 * n * n
    return batch_heads * elems * bytes_per_elem


def hbm_bytes_flash(
    n: int,
    head_dim: int = 64,
    *,
    sram_bytes: int = 192 * 1024,
    batch_heads: int = 1,
    bytes_per_elem: int = 2,
) -> int:
    """HBM traffic of FlashAttention's forward (the paper's Algorithm 1), in bytes.

    With SRAM of M elements the key/value blocks have B_c = ceil(M/(4d)) rows and the query
    blocks B_r = min(B_c, d) rows; K and V are read once (2·n·d), Q and O are read/written
    once per key block, T_c = ceil(n/B_c) times (4·n·d·T_c, plus the row statistics).
    That is Θ(n²·d²/M): for d² much smaller than M it is far below the naive n².
    """
    chk.positive_int("n", n)
    chk.positive_int("head_dim", head_dim)
    chk.positive_int("sram_bytes", sram_bytes)
    chk.positive_int("batch_heads", batch_heads)
    chk.positive_int("bytes_per_elem", bytes_per_elem)
    m_elems = sram_bytes // bytes_per_elem
    block_c = -(-m_elems // (4 * head_dim))
    t_c = -(-n // block_c)
    # K, V once; per key block: read Q and O, write O (and read/write l, m: 2·n each way).
    elems = 2 * n * head_dim + t_c * (3 * n * head_dim + 4 * n)
    return batch_heads * elems * bytes_per_elem


# ----------------------------------------------------------------------------------------
# The tiled forward and backward (FlashAttention-2, Algorithms 1 and 2).


def _forward(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    causal: bool,
    block_q: int,
    block_k: int,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Tiled forward on (N, L, D) tensors (N = batch·heads). Returns out (input dtype) and
    lse (compute dtype, fp32 or wider). Nothing of size Lq×Lk is ever allocated."""
    n, lq, _ = q.shape
    lk, dv = k.shape[1], v.shape[2]
    cdt = compute_dtype(q.dtype)
    out = torch.empty(n, lq, dv, dtype=q.dtype, device=q.device)
    lse = torch.empty(n, lq, dtype=cdt, device=q.device)
    kt = k.to(cdt).transpose(1, 2)  # (N, D, Lk): a view for fp32/fp64, a copy for halves
    vc = v.to(cdt)
    for q0 in range(0, lq, block_q):
        q1 = min(q0 + block_q, lq)
        qi = q[:, q0:q1].to(cdt) * scale
        rows = q1 - q0
        m = torch.full((n, rows, 1), float("-inf"), dtype=cdt, device=q.device)
        l_sum = torch.zeros(n, rows, 1, dtype=cdt, device=q.device)
        acc = torch.zeros(n, rows, dv, dtype=cdt, device=q.device)
        for k0 in range(0, lk, block_k):
            k1 = min(k0 + block_k, lk)
            kind = _tile_kind(q0, q1, k0, k1, causal)
            if kind == TILE_SKIPPED:
                break  # with causal, every later key block is skipped too
            s = torch.bmm(qi, kt[:, :, k0:k1])  # (N, rows, cols) scaled scores
            if kind == TILE_MASKED:
                qpos = torch.arange(q0, q1, device=q.device).unsqueeze(1)
                kpos = torch.arange(k0, k1, device=q.device).unsqueeze(0)
                s.masked_fill_(kpos > qpos, float("-inf"))
            m_new = torch.maximum(m, s.amax(dim=-1, keepdim=True))
            # Every row has seen key 0 by now (causal is top-left aligned), so m_new is finite.
            alpha = torch.exp(m - m_new)  # rescales what was accumulated under the old max
            p = torch.exp(s.sub_(m_new))
            l_sum.mul_(alpha).add_(p.sum(dim=-1, keepdim=True))
            acc.mul_(alpha).add_(torch.bmm(p, vc[:, k0:k1]))
            m = m_new
        out[:, q0:q1] = (acc / l_sum).to(q.dtype)
        lse[:, q0:q1] = (m + torch.log(l_sum)).squeeze(-1)
    return out, lse


def _backward(
    grad_out: torch.Tensor,
    grad_lse: torch.Tensor | None,
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    out: torch.Tensor,
    lse: torch.Tensor,
    causal: bool,
    block_q: int,
    block_k: int,
    scale: float,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """FA2 backward: recompute each probability tile P = exp(S - lse) from the saved LSE."""
    lq, lk = q.shape[1], k.shape[1]
    cdt = lse.dtype
    qc, kc, vc = q.to(cdt), k.to(cdt), v.to(cdt)
    do = grad_out.to(cdt)
    # D_i = rowsum(dO ∘ O) = Σ_j P_ij dP_ij: the softmax Jacobian's correction term.
    delta = (do * out.to(cdt)).sum(dim=-1, keepdim=True)
    if grad_lse is not None:  # d lse_i / d S_ij = P_ij, so it enters dS like -D_i
        delta = delta - grad_lse.to(cdt).unsqueeze(-1)
    dq = torch.zeros_like(qc)
    dk = torch.zeros_like(kc)
    dv = torch.zeros_like(vc)
    for q0 in range(0, lq, block_q):
        q1 = min(q0 + block_q, lq)
        qi, doi = qc[:, q0:q1], do[:, q0:q1]
        lse_i, delta_i = lse[:, q0:q1].unsqueeze(-1), delta[:, q0:q1]
        for k0 in range(0, lk, block_k):
            k1 = min(k0 + block_k, lk)
            kind = _tile_kind(q0, q1, k0, k1, causal)
            if kind == TILE_SKIPPED:
                break
            kj, vj = kc[:, k0:k1], vc[:, k0:k1]
            s = torch.bmm(qi, kj.transpose(1, 2)) * scale
            if kind == TILE_MASKED:
                qpos = torch.arange(q0, q1, device=q.device).unsqueeze(1)
                kpos = torch.arange(k0, k1, device=q.device).unsqueeze(0)
                s.masked_fill_(kpos > qpos, float("-inf"))
            p = torch.exp(s - lse_i)
            dv[:, k0:k1] += torch.bmm(p.transpose(1, 2), doi)
            dp = torch.bmm(doi, vj.transpose(1, 2))
            ds = p * (dp - delta_i)
            dq[:, q0:q1] += torch.bmm(ds, kj) * scale
            dk[:, k0:k1] += torch.bmm(ds.transpose(1, 2), qi) * scale
    return dq.to(q.dtype), dk.to(k.dtype), dv.to(v.dtype)


class FlashAttentionFunction(torch.autograd.Function):
    """Autograd wrapper: saves q, k, v, out and the LSE (all O(n)), recomputes P in backward.

    Inputs are (N, L, D) with N = batch·heads; use `flash_attention` for (B, H, L, D).
    `kernel` is the forward, ``kernel(q, k, v, causal, block_q, block_k, scale) -> (out,
    lse)``: this module's tiled loop by default, or another implementation of the same
    contract (the Triton kernel); the backward is always the FA2 backward above, fed by
    the forward's LSE.
    """

    @staticmethod
    def forward(ctx, q, k, v, causal, block_q, block_k, scale, kernel=None):  # noqa: D102
        out, lse = (kernel or _forward)(q, k, v, causal, block_q, block_k, scale)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.config = (causal, block_q, block_k, scale)
        return out, lse

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out, grad_lse):  # noqa: D102
        q, k, v, out, lse = ctx.saved_tensors
        if grad_out is None:
            grad_out = torch.zeros_like(out)
        dq, dk, dv = _backward(grad_out, grad_lse, q, k, v, out, lse, *ctx.config)
        return dq, dk, dv, None, None, None, None, None


def flash_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    *,
    causal: bool = False,
    block_q: int = 128,
    block_k: int = 128,
    scale: float | None = None,
    return_lse: bool = False,
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Exact softmax attention, computed tile by tile with an online softmax (FA2 forward).

    Args:
        q: (B, H, Lq, D); k: (B, H, Lk, D); v: (B, H, Lk, Dv). Any lengths, Lq may differ
            from Lk; one floating dtype.
        causal: query i attends to keys j <= i (top-left aligned, as SDPA's ``is_causal``);
            tiles wholly above the diagonal are skipped, only straddling tiles are masked.
        block_q, block_k: rows of Q and of K/V per tile.
        scale: multiplies q·kᵀ; default 1/sqrt(D).
        return_lse: also return the (B, H, Lq) log-sum-exp of the scaled scores (fp32 or
            wider), which `merge_partials` needs.

    Statistics and the accumulator are kept in fp32 (fp64 for fp64 inputs). Differentiable
    (also through the LSE); the backward recomputes probabilities from the LSE, so only
    O(n) tensors are kept between forward and backward.
    """
    check_qkv(q, k, v, name="flash_attention")
    block_q = chk.positive_int("block_q", block_q)
    block_k = chk.positive_int("block_k", block_k)
    B, H, lq, d = q.shape
    lk = k.shape[2]
    if lk == 0:
        raise ValueError("flash_attention: k and v must hold at least one key, got length 0")
    scale = _check_scale(scale, d)
    causal = bool(causal)
    dv = v.shape[-1]
    if lq == 0:
        out = q.new_zeros(B, H, 0, dv)
        lse = torch.zeros(B, H, 0, dtype=compute_dtype(q.dtype), device=q.device)
        return (out, lse) if return_lse else out
    out, lse = FlashAttentionFunction.apply(
        q.reshape(B * H, lq, d),
        k.reshape(B * H, lk, d),
        v.reshape(B * H, lk, dv),
        causal,
        block_q,
        block_k,
        scale,
    )
    out = out.reshape(B, H, lq, dv)
    if return_lse:
        return out, lse.reshape(B, H, lq)
    return out
