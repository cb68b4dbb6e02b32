"""ALiBi: attention with linear biases instead of position embeddings.

Press, Smith & Lewis, "Train Short, Test Long" (ICLR 2022): head h adds −m_h·(i−j) to the
score of query i and key j, with geometric slopes m_h = 2^(−8h/H) (h = 1..H) and the authors'
interleaving rule for head counts that are not powers of two (fairseq ``get_slopes``). The
bias is built for the lengths at hand, so nothing limits the length; the lesson's module,
which precomputes an L×L buffer, is kept as ``LessonALiBiAttention`` to show why (erratum 17).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from lcedu import _checks as chk
from lcedu.attention.reference import check_qkv

__all__ = [
    "alibi_slopes",
    "alibi_bias",
    "alibi_bias_bytes",
    "alibi_effective_span",
    "alibi_attention",
    "alibi_score_mod",
    "alibi_flex_attention",
    "ALiBiAttention",
    "LessonALiBiAttention",
    "lesson_buffer_bytes",
]


# ----- validation ----------------------------------------------------------------------


# ----- slopes --------------------------------------------------------------------------


def _power_of_two_slopes(n: int, h: range) -> list[float]:
    # m_h = 2^(-8h/n), h = 1..n: a geometric sequence from 2^(-8/n) down to 2^(-8). Python
    # floats: the correctly rounded pow of the C library, the formula exactly as written.
    return [2.0 ** (-8.0 * i / n) for i in h]


def alibi_slopes(
    num_heads: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The per-head slopes m_h of ALiBi, shape (num_heads,), largest first.

    For a power of two H: m_h = 2^(−8h/H), h = 1..H. Otherwise, with n the largest power of
    two below H, the paper takes the n slopes for n heads and then the first H−n of the
    *odd-numbered* slopes for 2n heads (2^(−4/n), 2^(−12/n), …), which fall between the
    first ones: the extra heads interleave with the others instead of continuing the
    sequence toward ever smaller slopes.

    >>> alibi_slopes(8).tolist()
    [0.5, 0.25, 0.125, 0.0625, 0.03125, 0.015625, 0.0078125, 0.00390625]
    """
    fn = "alibi_slopes"
    chk.positive_int("num_heads", num_heads, fn=fn)
    dtype = chk.float_dtype("dtype", dtype, fn=fn)
    # two Python lists of floats (32 bytes an entry) and the tensor: refuse what cannot fit
    chk.allocation(f"{num_heads} slopes", 100 * num_heads, fn=fn, device=device)
    n = 1 << (num_heads.bit_length() - 1)  # the largest power of two <= num_heads
    slopes = _power_of_two_slopes(n, range(1, n + 1))
    if n < num_heads:  # the odd-numbered slopes of 2n heads: h = 1, 3, 5, …
        slopes += _power_of_two_slopes(2 * n, range(1, 2 * (num_heads - n), 2))
    return torch.tensor(slopes, dtype=torch.float64, device=device).to(dtype)


# ----- bias ----------------------------------------------------------------------------


def alibi_bias(
    num_heads: int,
    q_len: int,
    k_len: int | None = None,
    *,
    causal: bool = True,
    symmetric: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """ALiBi's additive bias, shape (num_heads, q_len, k_len), built for these lengths.

    Entry (h, i, j) is −m_h·(i − j): zero on the diagonal, more negative the further back
    key j lies. Query i sits at position i + (k_len − q_len): the queries are the *last*
    q_len of the k_len positions, as when decoding with a KV cache (k_len defaults to q_len).

    Args:
        causal: keys after the query (j > i) get −inf, so the bias is the whole mask and can
            be passed alone as SDPA's float ``attn_mask``. Needs k_len ≥ q_len.
        symmetric: use −m_h·|i − j|, the bidirectional variant for encoders. Under the
            causal mask it changes nothing (erratum 16). With causal=False and
            symmetric=False the result is the signed bias −m_h·(i − j) *unmasked*: what a
            separate causal mask (a FlexAttention block mask, say) completes. Used alone it
            would *reward* keys after the query, so an encoder wants symmetric=True.
        device, dtype: of the result (dtype default: torch's default float dtype).

    Nothing is precomputed: the cost is one (q_len × k_len) distance matrix per call, so it
    works at any length, which is the point of ALiBi (erratum 17). The bias is computed in
    float32 (float64 if asked) and then rounded to ``dtype``: in bfloat16 an entry of size
    m·d carries an error up to ~m·d/256 (0.125 at −32), so keep long-range biases in float32
    where you can (FlexAttention's score_mod adds them to float32 scores).
    """
    fn = "alibi_bias"
    chk.positive_int("num_heads", num_heads, fn=fn)
    chk.positive_int("q_len", q_len, fn=fn)
    if k_len is None:
        k_len = q_len
    chk.positive_int("k_len", k_len, fn=fn)
    chk.flag("causal", causal, fn=fn)
    chk.flag("symmetric", symmetric, fn=fn)
    dtype = chk.float_dtype("dtype", dtype, fn=fn)
    if causal and k_len < q_len:
        raise ValueError(
            f"{fn}: with causal=True there must be at least as many keys as queries "
            f"(the queries are the last q_len positions), got q_len={q_len}, k_len={k_len}"
        )
    work = torch.float64 if dtype == torch.float64 else torch.float32
    size = torch.empty((), dtype=dtype).element_size()
    need = num_heads * q_len * k_len * (8 + size) + q_len * k_len * 8
    chk.allocation(f"a ({num_heads}, {q_len}, {k_len}) bias", need, fn=fn, device=device)
    slopes = alibi_slopes(num_heads, device=device, dtype=work)
    q_pos = torch.arange(q_len, device=device, dtype=work) + (k_len - q_len)
    k_pos = torch.arange(k_len, device=device, dtype=work)
    distance = q_pos[:, None] - k_pos[None, :]  # i − j: positive for keys in the past
    if symmetric:
        distance = distance.abs()
    bias = -slopes[:, None, None] * distance
    if causal:
        bias = bias.masked_fill(k_pos[None, None, :] > q_pos[None, :, None], float("-inf"))
    return bias.to(dtype)


def alibi_effective_span(num_heads: int, threshold: float = 10.0) -> torch.Tensor:
    """Per head, the distance at which the bias reaches −threshold: threshold / m_h.

    A bias of −10 multiplies a key's softmax weight by e^−10 ≈ 4.5e−5 relative to an equal
    score at distance 0, so beyond this span a head all but ignores a key: steep heads
    look locally, shallow heads far back. Shape (num_heads,), float64.
    """
    fn = "alibi_effective_span"
    chk.positive_int("num_heads", num_heads, fn=fn)
    threshold = chk.positive_real("threshold", threshold, fn=fn, what="a positive number")
    return threshold / alibi_slopes(num_heads, dtype=torch.float64)


def alibi_bias_bytes(
    num_heads: int, q_len: int, k_len: int | None = None, *, bytes_per_element: int = 4
) -> int:
    """Bytes of the (num_heads, q_len, k_len) tensor that ``alibi_bias`` returns.

    Built per call and freed after it: H·L² for a whole sequence (what SDPA's ``attn_mask``
    needs), only H·L for one decoding step; a fused FlexAttention kernel needs none.
    """
    fn = "alibi_bias_bytes"
    for name, value in (
        ("num_heads", num_heads),
        ("q_len", q_len),
        ("bytes_per_element", bytes_per_element),
    ):
        chk.positive_int(name, value, fn=fn)
    if k_len is None:
        k_len = q_len
    chk.positive_int("k_len", k_len, fn=fn)
    return num_heads * q_len * k_len * bytes_per_element


# ----- attention -------------------------------------------------------------------------


def _check_attention_inputs(q, k, v, causal: bool, fn: str) -> tuple[int, int, int]:
    """(heads, q_len, k_len) of valid q, k, v; causal queries are the last q_len positions."""
    check_qkv(q, k, v, name=fn)
    chk.flag("causal", causal, fn=fn)
    H, Lq, Lk = q.shape[1], q.shape[2], k.shape[2]
    if causal and Lk < Lq:
        raise ValueError(
            f"{fn}: with causal=True k must have at least as many positions as q, "
            f"got {Lq} queries and {Lk} keys"
        )
    return H, Lq, Lk


def alibi_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = True
) -> torch.Tensor:
    """Attention with ALiBi through ``F.scaled_dot_product_attention`` (bias as ``attn_mask``).

    q: (B, H, Lq, D); k, v: (B, H, Lk, D). The slopes follow the head count H. With
    causal=True the queries are the last Lq positions (Lk ≥ Lq); without it the symmetric
    bias −m·|i−j| is used. No maximum length: the bias is built for (Lq, Lk).
    """
    fn = "alibi_attention"
    H, Lq, Lk = _check_attention_inputs(q, k, v, causal, fn)
    bias = alibi_bias(
        H, Lq, Lk, causal=causal, symmetric=not causal, device=q.device, dtype=q.dtype
    )
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


def alibi_score_mod(
    slopes: torch.Tensor, *, causal: bool = True, q_offset: int = 0, symmetric: bool = False
) -> Callable:
    """A FlexAttention ``score_mod`` adding ALiBi's bias: score − m_h·(i − j).

    ``slopes`` is a (H,) float tensor on the device of q (e.g. ``alibi_slopes(H)``); query
    index q_idx sits at position i = q_idx + q_offset. As ``alibi_bias`` (causal=True by
    default), keys after the query (j > i) get −inf, so
    ``flex_attention(q, k, v, score_mod=alibi_score_mod(slopes))`` alone is causal ALiBi.
    A causal ``block_mask`` on top (see ``alibi_flex_attention``) lets a fused kernel skip
    the blocks above the diagonal; with one, ``causal=False`` leaves the masking to it and
    the score_mod is the one line ``score + m_h·(j − i)``. symmetric=True gives −m_h·|i − j|
    (with causal=False: the bidirectional encoder variant).
    """
    fn = "alibi_score_mod"
    if not isinstance(slopes, torch.Tensor) or slopes.dim() != 1 or slopes.numel() < 1:
        raise ValueError(f"{fn}: slopes must be a 1-D tensor with one slope per head")
    if not slopes.is_floating_point():
        raise ValueError(f"{fn}: slopes must be a floating tensor, got dtype {slopes.dtype}")
    chk.nonneg_int("q_offset", q_offset, fn=fn)
    chk.flag("causal", causal, fn=fn)
    chk.flag("symmetric", symmetric, fn=fn)

    if symmetric:

        def biased(score, h, q_idx, kv_idx):
            return score - slopes[h] * (q_idx + q_offset - kv_idx).abs()

    else:

        def biased(score, h, q_idx, kv_idx):
            return score + slopes[h] * (kv_idx - q_idx - q_offset)

    if not causal:

        def score_mod(score, b, h, q_idx, kv_idx):
            return biased(score, h, q_idx, kv_idx)

    else:

        def score_mod(score, b, h, q_idx, kv_idx):
            keep = kv_idx <= q_idx + q_offset
            return torch.where(keep, biased(score, h, q_idx, kv_idx), float("-inf"))

    return score_mod


def alibi_flex_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, *, causal: bool = True
) -> torch.Tensor:
    """ALiBi through ``torch.nn.attention.flex_attention``: same contract as alibi_attention.

    Called eagerly (as here) FlexAttention materialises the scores and warns that it is not
    compiled; ``torch.compile(flex_attention)`` generates the fused kernel that is the fast
    path on GPU. The causal mask is a ``block_mask``, so a fused kernel skips masked blocks.
    """
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    fn = "alibi_flex_attention"
    H, Lq, Lk = _check_attention_inputs(q, k, v, causal, fn)
    offset = Lk - Lq
    slopes = alibi_slopes(H, device=q.device, dtype=torch.float32)
    # The causal mask is the block_mask below, so the score_mod only adds the bias.
    score_mod = alibi_score_mod(slopes, causal=False, q_offset=offset, symmetric=not causal)
    block_mask = None
    if causal:

        def causal_mask(b, h, q_idx, kv_idx):
            return kv_idx <= q_idx + offset

        block_mask = create_block_mask(causal_mask, None, None, Lq, Lk, device=q.device)
    return flex_attention(q, k, v, score_mod=score_mod, block_mask=block_mask)


class ALiBiAttention(nn.Module):
    """Multi-head self-attention with ALiBi, the bias built per call (no buffer, no max length).

    Same projections and (batch, seq, hidden) interface as the lesson's module, so the two
    can share weights; nothing but the four Linear layers is in the state_dict.
    """

    def __init__(self, hidden_size: int, num_heads: int, *, causal: bool = True):
        super().__init__()
        fn = "ALiBiAttention"
        chk.positive_int("hidden_size", hidden_size, fn=fn)
        chk.positive_int("num_heads", num_heads, fn=fn)
        if hidden_size % num_heads:
            raise ValueError(
                f"{fn}: hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})"
            )
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.causal = chk.flag("causal", causal, fn=fn)
        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, hidden_size)

    def forward(self, hidden_states: torch.Tensor) -> torch.Tensor:
        if hidden_states.dim() != 3 or hidden_states.shape[-1] != self.hidden_size:
            raise ValueError(
                f"ALiBiAttention: expected (batch, seq, {self.hidden_size}), "
                f"got shape {tuple(hidden_states.shape)}"
            )
        B, L, _ = hidden_states.shape

        def heads(x: torch.Tensor) -> torch.Tensor:
            return x.view(B, L, self.num_heads, self.head_dim).transpose(1, 2)

        q = heads(self.query(hidden_states))
        k = heads(self.key(hidden_states))
        v = heads(self.value(hidden_states))
        out = alibi_attention(q, k, v, causal=self.causal)
        return self.output(out.transpose(1, 2).reshape(B, L, self.hidden_size))


# ----- the lesson's sketch (kept to show erratum 17) ------------------------------------


class LessonALiBiAttention(nn.Module):
    """THE LESSON'S SKETCH (§4.2), kept verbatim — not a reference implementation.

    Its slopes are right (erratum 15) and |i−j| under its causal mask equals the paper's
    i−j (erratum 16), but it precomputes an int64 (max_seq_len × max_seq_len) distance
    buffer: 512 MiB at 8192, saved in the state_dict, and any input longer than max_seq_len
    crashes with a size mismatch (erratum 17) — the opposite of ALiBi's extrapolation.
    """

    def __init__(self, hidden_size: int, num_heads: int, max_seq_len: int = 8192):
        super().__init__()
        self.hidden_size = hidden_size
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads

        self.query = nn.Linear(hidden_size, hidden_size)
        self.key = nn.Linear(hidden_size, hidden_size)
        self.value = nn.Linear(hidden_size, hidden_size)
        self.output = nn.Linear(hidden_size, hidden_size)

        # ALiBi slopes: 기하급수적으로 감소
        # 2^(-8/n), 2^(-8*2/n), ..., 2^(-8)
        slopes = self._get_alibi_slopes(num_heads)
        self.register_buffer("slopes", slopes)

        # 거리 행렬 사전 계산  (the precomputed L×L int64 buffer of erratum 17)
        positions = torch.arange(max_seq_len)
        distance_matrix = positions.unsqueeze(0) - positions.unsqueeze(1)
        distance_matrix = distance_matrix.abs()
        self.register_buffer("distance_matrix", distance_matrix)

    def _get_alibi_slopes(self, num_heads: int) -> torch.Tensor:
        """Head별 ALiBi slope 계산"""

        def get_slopes_power_of_2(n):
            start = 2 ** (-(2 ** -(math.log2(n) - 3)))
            ratio = start
            return [start * ratio**i for i in range(n)]

        if math.log2(num_heads).is_integer():
            slopes = get_slopes_power_of_2(num_heads)
        else:
            # 가장 가까운 2의 거듭제곱으로 보간
            closest_power_of_2 = 2 ** math.floor(math.log2(num_heads))
            slopes = get_slopes_power_of_2(closest_power_of_2)

            extra_slopes = get_slopes_power_of_2(2 * closest_power_of_2)
            extra_slopes = extra_slopes[0::2][: num_heads - closest_power_of_2]
            slopes = slopes + extra_slopes

        return torch.tensor(slopes).view(1, num_heads, 1, 1)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor = None
    ) -> torch.Tensor:
        batch_size, seq_len, _ = hidden_states.shape

        Q = self.query(hidden_states)
        K = self.key(hidden_states)
        V = self.value(hidden_states)

        Q = Q.view(batch_size, seq_len, self.num_heads, self.head_dim)
        K = K.view(batch_size, seq_len, self.num_heads, self.head_dim)
        V = V.view(batch_size, seq_len, self.num_heads, self.head_dim)

        Q = Q.transpose(1, 2)
        K = K.transpose(1, 2)
        V = V.transpose(1, 2)

        scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(self.head_dim)

        # ALiBi bias: -m × |i - j|   (the slice stops at max_seq_len: erratum 17)
        alibi_bias = -self.slopes * self.distance_matrix[:seq_len, :seq_len]
        scores = scores + alibi_bias

        causal_mask = torch.triu(
            torch.ones(seq_len, seq_len, device=scores.device) * float("-inf"), diagonal=1
        )
        scores = scores + causal_mask

        weights = F.softmax(scores, dim=-1)

        output = torch.matmul(weights, V)
        output = output.transpose(1, 2).contiguous()
        output = output.view(batch_size, seq_len, self.hidden_size)
        output = self.output(output)

        return output


def lesson_buffer_bytes(max_seq_len: int, *, hidden_size: int = 64, num_heads: int = 8) -> int:
    """Bytes of the lesson module's ``distance_matrix`` buffer, measured without allocating.

    Builds ``LessonALiBiAttention`` on PyTorch's ``meta`` device (shapes and dtypes, no
    storage) and reads the buffer's size: max_seq_len² int64 entries, 512 MiB at 8192.
    """
    fn = "lesson_buffer_bytes"
    chk.positive_int("max_seq_len", max_seq_len, fn=fn)
    chk.positive_int("hidden_size", hidden_size, fn=fn)
    chk.positive_int("num_heads", num_heads, fn=fn)
    with torch.device("meta"):
        module = LessonALiBiAttention(hidden_size, num_heads, max_seq_len=max_seq_len)
    buf = module.state_dict()["distance_matrix"]
    return buf.numel() * buf.element_size()
