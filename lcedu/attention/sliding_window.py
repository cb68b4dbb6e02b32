"""Sliding-window (banded) attention in O(n·w) time and memory, and Longformer self-attention.

The kernel cuts the queries into blocks and lets each block attend to the one span of keys
its window can reach, so nothing n × n is ever built (the chunked idea of Longformer,
Beltagy et al., 2020). `LongformerSelfAttention` follows Hugging Face's
`modeling_longformer.py`; `lesson_sliding_window_attention` keeps the lesson's loop as a
labelled sketch so its errata (padded edges, off-by-one window, one step per token) can be run.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from lcedu import _checks as chk
from lcedu.attention.masks import as_global_flags, as_padding_flags
from lcedu.attention.reference import attention, check_qkv

__all__ = [
    "sliding_window_attention",
    "LongformerSelfAttention",
    "lesson_sliding_window_attention",
]


def _batch_flags(flags: torch.Tensor | None, batch: int, name: str, fn: str) -> torch.Tensor | None:
    """(n,) or (batch, n) boolean flags -> (batch, n)."""
    if flags is None:
        return None
    if flags.dim() == 1:
        return flags[None].expand(batch, -1)
    if flags.shape[0] != batch:
        raise ValueError(
            f"{fn}: {name} has batch size {flags.shape[0]}, but the inputs have batch {batch}"
        )
    return flags


# Scores computed per step (elements): 2**22 fp32 numbers = 16 MiB, few steps, bounded.
# The work goes one (batch, head) at a time, in runs of query blocks, so memory stays bounded
# at any length; each step is a few large tensor operations (never one per token).
CHUNK_ELEMENTS = 2**22


def _banded(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    *,
    causal: bool,
    key_valid: torch.Tensor | None,
    scale: float,
    block_size: int,
    extra_k: torch.Tensor | None = None,
    extra_v: torch.Tensor | None = None,
    extra_valid: torch.Tensor | None = None,
    chunk_elements: int | None = None,
) -> torch.Tensor:
    """Banded attention over blocks of queries; optional extra keys every query also sees.

    Query block c (positions c·b … c·b + b − 1) can only reach keys c·b − w … c·b + b − 1 + w
    (up to c·b + b − 1 when causal): one span of b + 2w keys, read from K padded by w on
    both sides with `unfold` (a strided view, no copy). Scores are (…, blocks, b, span):
    n·(b + 2w) numbers instead of n². Out-of-range and padded keys are masked out
    (the lesson's sketch forgets this: erratum 1).
    """
    B, H, n, D = q.shape
    b = block_size
    nb = -(-n // b)
    L = nb * b
    left, right = window, (0 if causal else window)
    span = b + left + right
    dev = q.device

    qb = F.pad(q * scale, (0, 0, 0, L - n)).view(B, H, nb, b, D)
    kwin = F.pad(k, (0, 0, left, L - n + right)).unfold(2, span, b)  # (B, H, nb, D, span)
    vwin = F.pad(v, (0, 0, left, L - n + right)).unfold(2, span, b).transpose(-1, -2)

    r = torch.arange(b, device=dev)[:, None]
    t = torch.arange(span, device=dev)[None, :]
    rel = t - left - r  # key index minus query index
    band = (rel >= -window) & (rel <= (0 if causal else window))  # (b, span)
    kv = torch.zeros(key_valid.shape[0] if key_valid is not None else 1, L + left + right,
                     dtype=torch.bool, device=dev)
    kv[:, left : left + n] = True if key_valid is None else key_valid
    blocked = ~(band & kv.unfold(1, span, b)[:, :, None, :])  # (B', nb, b, span), once
    neg = torch.finfo(q.dtype).min  # finite: a row with no key gives no NaN
    # The mask as an additive bias (0 or the lowest float), added inside the matmul
    # (`baddbmm`): one pass over the scores fewer than a separate masked_fill.
    bias = torch.zeros(blocked.shape, dtype=q.dtype, device=dev).masked_fill_(blocked, neg)

    G = extra_k.shape[2] if extra_k is not None else 0
    chunk_elements = chunk_elements or CHUNK_ELEMENTS
    per_block = b * (span + G)
    if nb * per_block * H <= chunk_elements:  # small: all heads in one step (fewest ops)
        gh, gc = H, nb
    else:  # large: one head at a time, runs of query blocks
        gh, gc = 1, max(1, min(nb, chunk_elements // per_block))

    grad = torch.is_grad_enabled() and any(x.requires_grad for x in (q, k, v))
    low = q.dtype in (torch.float16, torch.bfloat16)
    Dv = v.shape[-1]
    # With one head per step the 3-D batched matmuls read the strided key/value spans in
    # place, with no copy of K or V per block.
    direct = not grad and G == 0
    out = torch.empty(B, H, nb, b, Dv, dtype=q.dtype, device=dev) if direct else None
    pieces = []
    for bi in range(B):
        bias_b = bias[bi if bias.shape[0] > 1 else 0]
        for h0 in range(0, H, gh):
            hk = h0 if gh == 1 else slice(h0, h0 + gh)  # an int drops the head dimension
            for c0 in range(0, nb, gc):
                cs = slice(c0, min(nb, c0 + gc))
                qc = qb[bi, hk, cs]  # ([gh,] gc, b, D)
                if gh == 1:
                    scores = torch.baddbmm(bias_b[cs], qc, kwin[bi, hk, cs])  # (gc, b, span)
                else:
                    scores = torch.matmul(qc, kwin[bi, hk, cs]).add_(bias_b[cs])
                if G:
                    ekt = extra_k[bi, hk].transpose(-1, -2)  # ([gh,] D, G)
                    es = torch.matmul(qc, ekt if gh == 1 else ekt[:, None])
                    es.masked_fill_(~extra_valid[bi], neg)
                    scores = torch.cat([scores, es], dim=-1)
                if grad or low:
                    probs = torch.softmax(scores, dim=-1, dtype=torch.float32 if low else None)
                    probs = probs.to(q.dtype)
                else:  # in place: the score tensor stays the only large buffer
                    probs = torch.softmax(scores, dim=-1, out=scores)
                if direct:
                    torch.matmul(probs, vwin[bi, hk, cs], out=out[bi, hk, cs])
                    continue
                o = torch.matmul(probs[..., :span], vwin[bi, hk, cs])  # ([gh,] gc, b, Dv)
                if G:
                    ev = extra_v[bi, hk]
                    o = o + torch.matmul(probs[..., span:], ev if gh == 1 else ev[:, None])
                pieces.append(o if gh > 1 else o[None])
    if not direct:
        per_step = len(pieces) // B
        rows = [torch.cat(pieces[i * per_step:(i + 1) * per_step], dim=0 if gh > 1 else 1)
                for i in range(B)]
        out = torch.stack(rows)  # (B, H, nb, b, Dv)
    return out.reshape(B, H, L, Dv)[:, :, :n]


def sliding_window_attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    window: int,
    *,
    causal: bool = False,
    padding_mask: torch.Tensor | None = None,
    scale: float | None = None,
    block_size: int | None = None,
) -> torch.Tensor:
    """Local self-attention with a one-sided window, in O(n·w) time and memory.

    Query i attends to keys j with |i − j| <= window (2·window + 1 keys; with
    ``causal=True`` keys i − window … i). Equals ``attention(q, k, v,
    mask=sliding_window_mask(n, window, causal=causal))`` but never builds an n × n tensor.

    Args:
        q, k, v: (batch, heads, n, head_dim); one sequence (self-attention), so k and v have
            q's length.
        window: one-sided window (Hugging Face Longformer's ``attention_window // 2``).
        causal: only look back.
        padding_mask: boolean (n,) or (batch, n), True = real token. Padded keys are never
            attended; padded queries output zeros.
        scale: multiplies q·kᵀ; default 1/sqrt(head_dim).
        block_size: queries per block (default: min(window, 64)). Each block scores
            block_size + 2·window keys, computed a few blocks at a time (bounded memory).
    """
    fn = "sliding_window_attention"
    check_qkv(q, k, v, name=fn)
    B, H, n, D = q.shape
    if k.shape[2] != n:
        raise ValueError(
            f"{fn}: q and k must have the same length (self-attention over one sequence), "
            f"got {n} and {k.shape[2]}"
        )
    if n == 0:
        raise ValueError(f"{fn}: the sequence is empty (length 0); give at least one token")
    chk.positive_int("window", window, fn=fn)
    causal = chk.flag("causal", causal, fn=fn)
    if block_size is None:  # 64 queries a block: spans of 64 + 2w keys waste little
        block_size = max(1, min(window, n, 64))
    chk.positive_int("block_size", block_size, fn=fn)
    if scale is None:
        scale = 1.0 / math.sqrt(D)
    else:
        scale = chk.positive_real("scale", scale, fn=fn, what="a positive number")
    pad = _batch_flags(as_padding_flags(n, padding_mask, fn=fn, device=q.device), B,
                       "padding_mask", fn)
    out = _banded(q, k, v, window, causal=causal, key_valid=pad, scale=scale,
                  block_size=block_size)
    if pad is not None:
        out = out.masked_fill(~pad[:, None, :, None], 0.0)
    return out


class LongformerSelfAttention(nn.Module):
    """Longformer self-attention (Beltagy et al., 2020) with Hugging Face's semantics.

    - Local: every token attends to keys within w = attention_window / 2 on each side
      (2w + 1 keys), computed banded in O(n·w).
    - Global: a global token attends to every non-padded token, with its own projections
      (``query_global``, ``key_global``, ``value_global``), and *every* token attends to the
      global tokens (through the ordinary key/value projections).
    - Padding is never attended; padded positions output zeros.

    As in Hugging Face's ``LongformerSelfAttention``, the output projection is not part of
    this module (HF keeps it in ``LongformerSelfOutput``). Input/output: (batch, n, hidden).
    """

    def __init__(self, hidden_size: int, num_heads: int, attention_window: int):
        super().__init__()
        fn = "LongformerSelfAttention"
        chk.positive_int("hidden_size", hidden_size, fn=fn)
        chk.positive_int("num_heads", num_heads, fn=fn)
        if hidden_size % num_heads:
            raise ValueError(
                f"{fn}: hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})"
            )
        chk.positive_int(
            "attention_window",
            attention_window,
            fn=fn,
            multiple_of=2,
            what="a positive even number (the two-sided window; each side gets "
            "attention_window / 2)",
        )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.attention_window = attention_window
        self.one_sided_window = attention_window // 2
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.query_global = nn.Linear(hidden_size, hidden_size)
        self.key_global = nn.Linear(hidden_size, hidden_size)
        self.value_global = nn.Linear(hidden_size, hidden_size)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        B, n, _ = x.shape
        return x.view(B, n, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(
        self,
        hidden_states: torch.Tensor,
        padding_mask: torch.Tensor | None = None,
        global_mask: object = None,
    ) -> torch.Tensor:
        """Args: hidden_states (batch, n, hidden); padding_mask boolean (batch, n) or (n,),
        True = real token; global_mask: boolean (batch, n) / (n,), or positions like [0]."""
        fn = "LongformerSelfAttention"
        if not isinstance(hidden_states, torch.Tensor) or hidden_states.dim() != 3:
            raise ValueError(f"{fn}: hidden_states must be a (batch, seq, hidden) tensor")
        B, n, hidden = hidden_states.shape
        if hidden != self.hidden_size:
            raise ValueError(
                f"{fn}: hidden_states has hidden size {hidden}, expected {self.hidden_size}"
            )
        dev = hidden_states.device
        pad = _batch_flags(as_padding_flags(n, padding_mask, fn=fn, device=dev), B,
                           "padding_mask", fn)
        glob = _batch_flags(as_global_flags(n, global_mask, fn=fn, device=dev), B,
                            "global_mask", fn)
        real = pad if pad is not None else torch.ones(B, n, dtype=torch.bool, device=dev)
        if bool((glob & ~real).any()):
            raise ValueError(f"{fn}: a token cannot be both global and padding")
        scale = 1.0 / math.sqrt(self.head_dim)
        q = self._heads(self.query(hidden_states))
        k = self._heads(self.key(hidden_states))
        v = self._heads(self.value(hidden_states))

        num_g = glob.sum(dim=1)
        G = int(num_g.max()) if B else 0
        if G == 0:
            out = _banded(q, k, v, self.one_sided_window, causal=False, key_valid=real,
                          scale=scale, block_size=max(1, min(self.one_sided_window, n, 64)))
        else:
            # Global positions first (stable), padded to G slots per batch row.
            idx = torch.argsort((~glob).to(torch.int8), dim=1, stable=True)[:, :G]  # (B, G)
            slot_ok = torch.arange(G, device=dev)[None, :] < num_g[:, None]
            gather = idx[:, None, :, None]
            ek = torch.gather(k, 2, gather.expand(B, self.num_heads, G, self.head_dim))
            ev = torch.gather(v, 2, gather.expand(B, self.num_heads, G, self.head_dim))
            # Global keys are seen through the extra columns, so drop them from the band
            # (no double counting), exactly as Hugging Face does.
            out = _banded(q, k, v, self.one_sided_window, causal=False, key_valid=real & ~glob,
                          scale=scale, block_size=max(1, min(self.one_sided_window, n, 64)),
                          extra_k=ek, extra_v=ev, extra_valid=slot_ok)
            # Global rows: their own projections, attending to every real token. O(G·n).
            hg = torch.gather(hidden_states, 1, idx[:, :, None].expand(B, G, hidden))
            qg = self._heads(self.query_global(hg))
            kg = self._heads(self.key_global(hidden_states))
            vg = self._heads(self.value_global(hidden_states))
            gout = attention(qg, kg, vg, mask=real[:, None, None, :], scale=scale)
            b_idx, s_idx = slot_ok.nonzero(as_tuple=True)
            out = out.clone()
            out[b_idx, :, idx[b_idx, s_idx]] = gout[b_idx, :, s_idx]
        out = out.masked_fill(~real[:, None, :, None], 0.0)
        return out.transpose(1, 2).reshape(B, n, self.hidden_size)


def lesson_sliding_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window_size: int
) -> torch.Tensor:
    """THE LESSON'S SKETCH (§2.2), kept to be run and corrected: not a reference.

    The loop below is the lesson's ``_sliding_window_attention``, verbatim apart from taking
    the course's (batch, heads, seq, dim) layout (it transposes to the lesson's
    (batch, seq, heads, dim)) and ``window_size`` as an argument. What it gets wrong:
    zero-padded keys score 0 instead of −inf and take softmax weight at the edges
    (erratum 1); token i sees keys i − w … i + w − 1, 2w keys instead of 2w + 1 (erratum 2);
    and it takes one Python step per token (erratum 5).
    """
    fn = "lesson_sliding_window_attention"
    check_qkv(q, k, v, name=fn)
    chk.positive_int("window_size", window_size, fn=fn)
    Q, K, V = (t.transpose(1, 2) for t in (q, k, v))  # the lesson's (batch, seq, heads, dim)

    # ---- the lesson's code --------------------------------------------------------------
    batch_size, seq_len, num_heads, head_dim = Q.shape
    w = window_size // 2

    # 패딩 추가
    Q_padded = F.pad(Q, (0, 0, 0, 0, w, w), value=0)  # noqa: F841 (unused in the lesson too)
    K_padded = F.pad(K, (0, 0, 0, 0, w, w), value=0)
    V_padded = F.pad(V, (0, 0, 0, 0, w, w), value=0)

    output = torch.zeros_like(Q)

    for i in range(seq_len):
        # i번째 토큰의 윈도우: [i, i + window_size]
        start = i
        end = i + window_size

        q_i = Q[:, i : i + 1]  # (batch, 1, heads, dim)
        k_window = K_padded[:, start:end]  # (batch, window, heads, dim)
        v_window = V_padded[:, start:end]

        # Attention
        scores = torch.einsum("bihd,bjhd->bijh", q_i, k_window)
        scores = scores / math.sqrt(head_dim)
        weights = F.softmax(scores, dim=2)
        out_i = torch.einsum("bijh,bjhd->bihd", weights, v_window)

        output[:, i] = out_i[:, 0]
    # ---- end of the lesson's code -------------------------------------------------------

    return output.transpose(1, 2)
