"""The course's sparse patterns as FlexAttention ``mask_mod`` functions, and a compiled path.

FlexAttention (PyTorch ≥ 2.5, `torch.nn.attention.flex_attention`) takes a
``mask_mod(b, h, q_idx, kv_idx) -> bool`` and a block mask that lets the compiled kernel skip
empty tiles, so a sliding window costs O(n·w). Compiling needs Triton on a GPU or a C++
compiler on a CPU (tens of seconds per shape); `flex_status()` says which is available.
"""

from __future__ import annotations

import functools
import math
import shutil
import warnings
from collections.abc import Callable

import torch

from lcedu import _checks as chk
from lcedu.attention.masks import as_global_flags, as_padding_flags
from lcedu.attention.reference import check_qkv

__all__ = [
    "flex_available",
    "flex_status",
    "causal_mod",
    "sliding_window_mod",
    "dilated_window_mod",
    "global_mod",
    "longformer_mod",
    "block_sparse_mod",
    "flex_mask",
    "sliding_window_block_mask",
    "flex_sliding_window_attention",
]

MaskMod = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def flex_available() -> bool:
    """True when this torch has FlexAttention (the eager path works; compiling may not)."""
    try:
        from torch.nn.attention import flex_attention  # noqa: F401
    except ImportError:
        return False
    return True


def _cxx_compiler() -> str | None:
    try:
        from torch._inductor import config

        cxx = config.cpp.cxx
        names = [c for c in (cxx if isinstance(cxx, (list, tuple)) else [cxx]) if c]
    except Exception:  # noqa: BLE001 - private config; fall back to the usual names
        names = []
    for name in [*names, "g++", "c++", "clang++"]:
        if shutil.which(name):
            return name
    return None


def flex_status(device: torch.device | str = "cpu") -> tuple[bool, str]:
    """Whether compiled FlexAttention can run on ``device``, and why (a sentence)."""
    dev = torch.device(device)
    if not flex_available():
        return False, f"FlexAttention needs torch >= 2.5; this is torch {torch.__version__}"
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            return False, "no CUDA GPU is available"
        try:
            import triton  # noqa: F401
        except ImportError:
            return False, "compiling FlexAttention on a GPU needs Triton, which is not installed"
        return True, "compiled FlexAttention runs through Triton on this GPU"
    if dev.type == "cpu":
        cxx = _cxx_compiler()
        if cxx is None:
            return False, "compiling FlexAttention on a CPU needs a C++ compiler (none found)"
        return True, (
            f"compiled FlexAttention runs on this CPU (C++ compiler: {cxx}); "
            "each new sequence length compiles for tens of seconds first"
        )
    return False, f"compiled FlexAttention is not supported on {dev.type}"


# ----- mask_mods: the same patterns as lcedu.attention.masks -----------------------------


def causal_mod(b, h, q_idx, kv_idx):  # noqa: ANN001 - FlexAttention's signature
    """Key at or before the query."""
    return kv_idx <= q_idx


def sliding_window_mod(window: int, *, causal: bool = False) -> MaskMod:
    """|q − kv| <= window (one-sided), or q − window <= kv <= q when causal."""
    chk.positive_int("window", window, fn="sliding_window_mod")

    if causal:

        def mod(b, h, q_idx, kv_idx):
            return (kv_idx <= q_idx) & (q_idx - kv_idx <= window)

    else:

        def mod(b, h, q_idx, kv_idx):
            return (q_idx - kv_idx <= window) & (kv_idx - q_idx <= window)

    mod.__name__ = f"sliding_window_{window}{'_causal' if causal else ''}"
    return mod


def dilated_window_mod(window: int, dilation: int, *, causal: bool = False) -> MaskMod:
    """kv = q + k·dilation for |k| <= window (k <= 0 when causal), as `dilated_window_mask`."""
    chk.positive_int("window", window, fn="dilated_window_mod")
    chk.positive_int("dilation", dilation, fn="dilated_window_mod")

    def mod(b, h, q_idx, kv_idx):
        d = q_idx - kv_idx
        keep = (d.abs() <= window * dilation) & (d.remainder(dilation) == 0)
        return keep & (d >= 0) if causal else keep

    return mod


def _flags_2d(flags: torch.Tensor) -> torch.Tensor:
    return flags[None] if flags.dim() == 1 else flags


def global_mod(global_flags: torch.Tensor) -> MaskMod:
    """Full rows and columns at the global tokens (boolean (n,) or (batch, n) flags)."""
    if not isinstance(global_flags, torch.Tensor) or global_flags.dtype != torch.bool:
        raise ValueError("global_mod: global_flags must be a boolean tensor, shape (n,) or (B, n)")
    g = _flags_2d(global_flags)
    batched = g.shape[0] > 1

    def mod(b, h, q_idx, kv_idx):
        row = b if batched else 0
        return g[row, q_idx] | g[row, kv_idx]

    return mod


def longformer_mod(
    window: int, global_flags: torch.Tensor, padding_mask: torch.Tensor | None = None
) -> MaskMod:
    """Longformer: (|q − kv| <= window or q or kv global) and neither q nor kv padding."""
    if not isinstance(global_flags, torch.Tensor) or global_flags.dtype != torch.bool:
        raise ValueError("longformer_mod: global_flags must be a boolean tensor")
    n = global_flags.shape[-1]
    local = sliding_window_mod(window)
    g = _flags_2d(global_flags)
    pad = as_padding_flags(n, padding_mask, fn="longformer_mod")
    p = _flags_2d(pad) if pad is not None else torch.ones(1, n, dtype=torch.bool)
    p = p.to(g.device)
    gb, pb = g.shape[0] > 1, p.shape[0] > 1

    def mod(b, h, q_idx, kv_idx):
        gr = b if gb else 0
        pr = b if pb else 0
        keep = local(b, h, q_idx, kv_idx) | g[gr, q_idx] | g[gr, kv_idx]
        return keep & p[pr, q_idx] & p[pr, kv_idx]

    return mod


def block_sparse_mod(layout: torch.Tensor, block_size: int) -> MaskMod:
    """layout[q // block_size, kv // block_size] (a boolean block layout)."""
    if not isinstance(layout, torch.Tensor) or layout.dtype != torch.bool or layout.dim() != 2:
        raise ValueError("block_sparse_mod: layout must be a 2-D boolean tensor")
    chk.positive_int("block_size", block_size, fn="block_sparse_mod")

    def mod(b, h, q_idx, kv_idx):
        return layout[q_idx // block_size, kv_idx // block_size]

    return mod


def flex_mask(mod: MaskMod, n: int, *, batch: int | None = None) -> torch.Tensor:
    """Evaluate a mask_mod at every (query, key) pair: (n, n), or (batch, n, n)."""
    if not flex_available():
        raise ValueError("flex_mask: FlexAttention is not available in this torch")
    from torch.nn.attention.flex_attention import create_mask

    m = create_mask(mod, batch or 1, 1, n, n, device="cpu")
    return m[:, 0] if batch else m[0, 0]


@functools.lru_cache(maxsize=16)
def sliding_window_block_mask(
    n: int, window: int, *, causal: bool = False, device: str = "cpu", block_size: int = 128
):
    """FlexAttention's BlockMask for a sliding window over n tokens (cached per shape).

    It lists, per block of queries, the key blocks that hold any allowed pair, so the
    compiled kernel visits about (2·window / block_size + 2) tiles per query block, not n /
    block_size. Building it evaluates the mask_mod, so it is made once and reused.
    """
    from torch.nn.attention.flex_attention import create_block_mask

    bs = max(1, min(block_size, n))
    mod = sliding_window_mod(window, causal=causal)
    return create_block_mask(mod, None, None, n, n, device=device, BLOCK_SIZE=bs)


@functools.lru_cache(maxsize=1)
def _compiled_flex() -> Callable:
    from torch.nn.attention.flex_attention import flex_attention

    return torch.compile(flex_attention, dynamic=False)


def flex_sliding_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int, *, causal: bool = False,
    padding_mask: torch.Tensor | None = None, compiled: bool = True, block_size: int = 128,
    global_tokens: object = None,
) -> torch.Tensor:
    """Sliding-window (optionally + global) attention through FlexAttention.

    Same contract as `sliding_window_attention`: one-sided ``window`` (|i − j| <= window, or
    i − window … i when causal); ``padding_mask`` boolean (n,) or (batch, n), True = real
    token, padded keys never attended and padded rows zero; ``global_tokens`` (positions, or
    boolean (n,) / (batch, n) flags) adds Longformer's symmetric global rows and columns.

    ``compiled=True`` runs ``torch.compile(flex_attention)`` with a block mask, so only the
    tiles near the diagonal are computed (first call per shape compiles: slow on a CPU).
    ``compiled=False`` runs FlexAttention eagerly, which materialises all n × n scores: fine
    for small checks only.
    """
    fn = "flex_sliding_window_attention"
    check_qkv(q, k, v, name=fn)
    ok, why = flex_status(q.device)
    if not flex_available() or (compiled and not ok):
        raise ValueError(f"{fn}: {why}")
    B, n = q.shape[0], q.shape[2]
    if k.shape[2] != n:
        raise ValueError(f"{fn}: q and k must have the same length, got {n} and {k.shape[2]}")
    mod = sliding_window_mod(window, causal=causal)
    pad = as_padding_flags(n, padding_mask, fn=fn, device=q.device)
    flags = None
    if global_tokens is not None:
        if causal:
            raise ValueError(f"{fn}: global tokens are only defined without causal masking")
        flags = as_global_flags(n, global_tokens, fn=fn, device=q.device)
    for name, f in (("padding_mask", pad), ("global_tokens", flags)):
        if f is not None and f.dim() == 2 and f.shape[0] != B:
            raise ValueError(f"{fn}: {name} has batch size {f.shape[0]}, but the inputs have "
                             f"batch {B}")
    from torch.nn.attention.flex_attention import flex_attention

    if flags is None and pad is None:  # reused across calls, like a precomputed dense mask
        block_mask = sliding_window_block_mask(n, window, causal=causal, device=str(q.device),
                                               block_size=block_size)
    else:
        from torch.nn.attention.flex_attention import create_block_mask

        if flags is not None:
            mod = longformer_mod(window, flags, pad)
        else:
            p = _flags_2d(pad)
            local, pb = mod, p.shape[0] > 1

            def mod(b, h, q_idx, kv_idx):
                row = b if pb else 0
                return local(b, h, q_idx, kv_idx) & p[row, q_idx] & p[row, kv_idx]

        batched = any(f is not None and f.dim() == 2 and f.shape[0] > 1 for f in (pad, flags))
        bs = max(1, min(block_size, n))
        block_mask = create_block_mask(mod, B if batched else None, None, n, n,
                                       device=q.device, BLOCK_SIZE=bs)
    scale = 1.0 / math.sqrt(q.shape[-1])
    if compiled:
        out = _compiled_flex()(q, k, v, block_mask=block_mask, scale=scale)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "unfused implementation": expected in eager mode
            out = flex_attention(q, k, v, block_mask=block_mask, scale=scale)
    if pad is not None:  # a padded row attends to nothing: zero, as the dense reference
        out = out.masked_fill(~_flags_2d(pad)[:, None, :, None], 0.0)
    return out
