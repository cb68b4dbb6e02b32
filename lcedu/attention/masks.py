"""Sparse attention patterns as boolean masks (True = may attend), small enough to look at.

Local (sliding window), dilated, global, Longformer (local + symmetric global, Beltagy et
al., 2020) and BigBird (local + global + random blocks, Zaheer et al., 2020). Each mask is
what the dense reference `attention(..., mask=...)` needs to compute the same thing as a
sparse kernel, so every sparse kernel in the course is tested against one of these.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

__all__ = [
    "causal_mask",
    "sliding_window_mask",
    "dilated_window_mask",
    "global_mask",
    "longformer_mask",
    "bigbird_mask",
    "block_sparse_mask",
    "density",
    "receptive_field",
    "as_global_flags",
    "as_padding_flags",
]
from lcedu import _checks as chk


def _square(n: int, fn: str, device: torch.device | str | None, per_entry: int = 10) -> None:
    """Refuse an (n, n) mask whose construction needs more memory than the machine has."""
    chk.allocation(f"a {n}×{n} mask", per_entry * n * n, fn=fn, device=device)


def _offsets(n: int, device: torch.device | str | None = None) -> torch.Tensor:
    """(n, n) tensor of key index minus query index: entry [i, j] = j - i."""
    idx = torch.arange(n, device=device)
    return idx[None, :] - idx[:, None]


def causal_mask(n: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """(n, n) mask where query i may attend to keys j <= i (lower triangle, diagonal included).

    >>> causal_mask(3).int().tolist()
    [[1, 0, 0], [1, 1, 0], [1, 1, 1]]
    """
    chk.positive_int("n", n, fn="causal_mask")
    _square(n, "causal_mask", device)
    return _offsets(n, device) <= 0


def sliding_window_mask(
    n: int, window: int, *, causal: bool = False, device: torch.device | str | None = None
) -> torch.Tensor:
    """(n, n) local-attention mask with a one-sided window: |i - j| <= window.

    Each query sees 2·window + 1 keys (fewer at the edges). With ``causal=True`` it sees
    keys i - window … i (window + 1 keys). Longformer's ``attention_window`` is the
    two-sided width: ``attention_window = 2 * window``.

    >>> sliding_window_mask(4, 1).int().tolist()
    [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [0, 0, 1, 1]]
    """
    fn = "sliding_window_mask"
    chk.positive_int("n", n, fn=fn)
    chk.positive_int("window", window, fn=fn)
    chk.flag("causal", causal, fn=fn)
    _square(n, fn, device)
    off = _offsets(n, device)
    if causal:
        return (off <= 0) & (off >= -window)
    return off.abs() <= window


def dilated_window_mask(
    n: int,
    window: int,
    dilation: int,
    *,
    causal: bool = False,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """(n, n) dilated sliding window: keys j = i + k·dilation for |k| <= window.

    Longformer's dilated windows (Beltagy et al., 2020, §3.1): the same number of keys as a
    window of ``window`` but spread ``dilation`` apart, so the receptive field grows by the
    dilation factor. ``dilation=1`` is `sliding_window_mask`.
    """
    fn = "dilated_window_mask"
    chk.positive_int("n", n, fn=fn)
    chk.positive_int("window", window, fn=fn)
    chk.positive_int("dilation", dilation, fn=fn)
    chk.flag("causal", causal, fn=fn)
    _square(n, fn, device, per_entry=12)
    off = _offsets(n, device)
    band = (off.abs() <= window * dilation) & (off.remainder(dilation) == 0)
    if causal:
        band &= off <= 0
    return band


def as_global_flags(
    n: int,
    global_tokens: object,
    *,
    fn: str = "global_mask",
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Turn global tokens (indices, or a boolean (n,) / (batch, n) tensor) into boolean flags."""
    if isinstance(global_tokens, torch.Tensor):
        if global_tokens.dtype != torch.bool:
            if global_tokens.dim() == 1 and not global_tokens.is_floating_point():
                global_tokens = [int(i) for i in global_tokens.tolist()]
            else:
                raise ValueError(
                    f"{fn}: global_tokens must be a list of positions or a boolean tensor, "
                    f"got a tensor of dtype {global_tokens.dtype}"
                )
        else:
            if global_tokens.dim() not in (1, 2) or global_tokens.shape[-1] != n:
                raise ValueError(
                    f"{fn}: a boolean global_tokens tensor must have shape ({n},) or "
                    f"(batch, {n}), got {tuple(global_tokens.shape)}"
                )
            return global_tokens.to(device) if device is not None else global_tokens
    if global_tokens is None:
        global_tokens = []
    if not isinstance(global_tokens, Sequence) or isinstance(global_tokens, str):
        raise ValueError(
            f"{fn}: global_tokens must be a list of positions (e.g. [0, 5]) or a boolean "
            f"tensor, got {type(global_tokens).__name__}"
        )
    flags = torch.zeros(n, dtype=torch.bool, device=device)
    for g in global_tokens:
        if not chk.is_int(g):
            raise ValueError(f"{fn}: global token positions must be integers, got {g!r}")
        if not 0 <= g < n:
            raise ValueError(
                f"{fn}: global token position {g} is out of range for a sequence of "
                f"length {n} (valid: 0 … {n - 1})"
            )
        flags[g] = True
    return flags


def as_padding_flags(
    n: int, padding_mask: torch.Tensor | None, *, fn: str, device: torch.device | str | None = None
) -> torch.Tensor | None:
    """Validate a padding mask: boolean, shape (n,) or (batch, n), True = real token."""
    if padding_mask is None:
        return None
    if not isinstance(padding_mask, torch.Tensor) or padding_mask.dtype != torch.bool:
        raise ValueError(
            f"{fn}: padding_mask must be a boolean tensor (True = real token, False = padding)"
        )
    if padding_mask.dim() not in (1, 2) or padding_mask.shape[-1] != n:
        raise ValueError(
            f"{fn}: padding_mask must have shape ({n},) or (batch, {n}), "
            f"got {tuple(padding_mask.shape)}"
        )
    return padding_mask.to(device) if device is not None else padding_mask


def global_mask(
    n: int, global_tokens: object, *, device: torch.device | str | None = None
) -> torch.Tensor:
    """(n, n) mask of global attention: full rows *and* full columns at the global tokens.

    A global token attends to every position (its row) and every position attends to it
    (its column). The lesson's §2.1 drawing leaves the global row empty: that is erratum 4.
    ``global_tokens``: positions such as ``[0, 5]``, or a boolean (n,) tensor.
    """
    fn = "global_mask"
    chk.positive_int("n", n, fn=fn)
    _square(n, fn, device, per_entry=1)
    g = as_global_flags(n, global_tokens, fn=fn, device=device)
    if g.dim() != 1:
        raise ValueError(f"{fn}: pass one (n,) set of global tokens, got shape {tuple(g.shape)}")
    return g[:, None] | g[None, :]


def longformer_mask(
    n: int,
    window: int,
    global_tokens: object = (),
    padding_mask: torch.Tensor | None = None,
    *,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Longformer's pattern: one-sided sliding window ∪ symmetric global attention, no padding.

    ``window`` is one-sided (|i - j| <= window), i.e. Hugging Face's
    ``attention_window / 2``. ``global_tokens``: positions or a boolean (n,) / (batch, n)
    tensor. ``padding_mask``: boolean (n,) or (batch, n), True = real token. Padded tokens are
    never attended, and their own rows are empty (Hugging Face zeroes their outputs).

    Returns (n, n), or (batch, 1, n, n) when a batched global or padding mask is given.
    """
    fn = "longformer_mask"
    chk.positive_int("n", n, fn=fn)
    chk.positive_int("window", window, fn=fn)
    _square(n, fn, device, per_entry=12)
    g = as_global_flags(n, global_tokens, fn=fn, device=device)
    pad = as_padding_flags(n, padding_mask, fn=fn, device=g.device)
    if pad is not None and bool((g & ~pad).any()):
        raise ValueError(f"{fn}: a token cannot be both global and padding")
    allowed = sliding_window_mask(n, window, device=g.device)
    allowed = allowed | g[..., :, None] | g[..., None, :]
    if pad is not None:
        allowed = allowed & pad[..., :, None] & pad[..., None, :]
    if allowed.dim() == 3:
        allowed = allowed[:, None]
    return allowed


def block_sparse_mask(
    layout: torch.Tensor, block_size: int, *, n: int | None = None
) -> torch.Tensor:
    """Expand a (query blocks, key blocks) boolean layout to a token-level mask.

    Entry [i, j] is ``layout[i // block_size, j // block_size]``. ``n`` crops a square result
    to n tokens (the last block may be partial).
    """
    fn = "block_sparse_mask"
    if not isinstance(layout, torch.Tensor) or layout.dtype != torch.bool or layout.dim() != 2:
        raise ValueError(f"{fn}: layout must be a 2-D boolean tensor (query blocks, key blocks)")
    chk.positive_int("block_size", block_size, fn=fn)
    rows, cols = layout.shape[0] * block_size, layout.shape[1] * block_size
    chk.allocation(f"a {rows}×{cols} mask", 2 * rows * cols, fn=fn, device=layout.device)
    out = layout.repeat_interleave(block_size, 0).repeat_interleave(block_size, 1)
    if n is not None:
        chk.positive_int("n", n, fn=fn)
        if n > out.shape[0] or n > out.shape[1]:
            raise ValueError(
                f"{fn}: n={n} is larger than the layout covers "
                f"({out.shape[0]} × {out.shape[1]} tokens)"
            )
        out = out[:n, :n]
    return out


def bigbird_layout(
    num_blocks: int, *, num_random_blocks: int, num_global_blocks: int, seed: int
) -> torch.Tensor:
    """BigBird's block layout: 3 sliding blocks, global blocks, random blocks per row."""
    fn = "bigbird_layout"
    chk.positive_int("num_blocks", num_blocks, fn=fn)
    chk.positive_int("num_random_blocks", num_random_blocks, fn=fn, minimum=0)
    chk.positive_int("num_global_blocks", num_global_blocks, fn=fn, minimum=0)
    chk.nonneg_int("seed", seed, fn=fn)
    chk.allocation(f"a {num_blocks}×{num_blocks} block layout", 10 * num_blocks**2, fn=fn)
    if num_global_blocks > num_blocks:
        raise ValueError(
            f"{fn}: num_global_blocks={num_global_blocks} exceeds the {num_blocks} blocks"
        )
    idx = torch.arange(num_blocks)
    layout = (idx[None, :] - idx[:, None]).abs() <= 1
    # Global blocks alternate from the start and the end: 2 -> first and last (as HF BigBird).
    order = [i // 2 if i % 2 == 0 else num_blocks - 1 - i // 2 for i in range(num_global_blocks)]
    glob = torch.zeros(num_blocks, dtype=torch.bool)
    glob[order] = True
    layout |= glob[:, None] | glob[None, :]
    gen = torch.Generator().manual_seed(seed)
    for row in range(num_blocks):
        if glob[row]:
            continue
        free = (~layout[row]).nonzero().flatten()
        take = min(num_random_blocks, free.numel())
        if take:
            pick = free[torch.randperm(free.numel(), generator=gen)[:take]]
            layout[row, pick] = True
    return layout


def bigbird_mask(
    n: int,
    block_size: int,
    *,
    num_random_blocks: int = 1,
    num_global_blocks: int = 2,
    seed: int = 0,
) -> torch.Tensor:
    """(n, n) BigBird pattern (Zaheer et al., 2020) at block granularity.

    Sliding: each query block sees its own and the two neighbouring key blocks. Global: the
    first and last blocks (alternating from the ends when ``num_global_blocks`` > 2) see
    everything and are seen by everything. Random: each other query block sees
    ``num_random_blocks`` further key blocks, drawn with ``seed`` (same seed, same mask).
    """
    fn = "bigbird_mask"
    chk.positive_int("n", n, fn=fn)
    chk.positive_int("block_size", block_size, fn=fn)
    _square(n, fn, None, per_entry=2)
    num_blocks = -(-n // block_size)
    layout = bigbird_layout(
        num_blocks,
        num_random_blocks=num_random_blocks,
        num_global_blocks=num_global_blocks,
        seed=seed,
    )
    return block_sparse_mask(layout, block_size, n=n)


def density(mask: torch.Tensor) -> float:
    """Fraction of (query, key) pairs a mask allows: 1.0 for dense attention."""
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise ValueError("density: mask must be a boolean tensor (True = may attend)")
    if mask.numel() == 0:
        raise ValueError("density: the mask is empty")
    return float(mask.sum()) / mask.numel()


def receptive_field(mask: torch.Tensor, layers: int) -> torch.Tensor:
    """Which keys each query can draw information from after stacking ``layers`` layers.

    Layer 1 is the mask itself; each further layer composes it once more (a boolean matrix
    product, with each token seeing itself through the residual stream). A window of w per
    layer reaches about w·layers tokens: how Longformer's stacked local layers see far.
    """
    fn = "receptive_field"
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool or mask.dim() != 2:
        raise ValueError(f"{fn}: mask must be a 2-D boolean tensor (queries, keys)")
    if mask.shape[0] != mask.shape[1]:
        raise ValueError(f"{fn}: mask must be square (self-attention), got {tuple(mask.shape)}")
    chk.positive_int("layers", layers, fn=fn)
    step = (mask | torch.eye(mask.shape[0], dtype=torch.bool, device=mask.device)).float()
    reach = mask.float()
    for _ in range(layers - 1):
        reach = ((step @ reach) > 0).float()
    return reach > 0
