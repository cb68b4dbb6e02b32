"""Gradient checkpointing and bf16 autocast on a small transformer stack, measured exactly.

Checkpointing (Chen et al., 2016, "Training Deep Nets with Sublinear Memory Cost"; PyTorch's
``torch.utils.checkpoint``) keeps only each block's input and recomputes the rest during
backward: less activation memory for one extra forward. Autocast runs matmuls in bf16
(``torch.autocast("cpu" | "cuda", dtype=torch.bfloat16)``; the lesson's
``torch.cuda.amp.autocast`` is deprecated, erratum 20). `saved_activation_bytes` counts the
bytes autograd keeps for backward, exactly, through saved-tensor hooks.
"""

from __future__ import annotations

from contextlib import nullcontext

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from lcedu import _checks as chk
from lcedu.attention.reference import attention

__all__ = ["Block", "BlockStack", "training_step", "saved_activation_bytes", "autocast_context"]


class Block(nn.Module):
    """A pre-norm transformer block: x + attention(norm(x)), then x + MLP(norm(x)).

    The attention is the dense reference (it materialises the n x n scores, like the
    attention most training code ran before FlashAttention), causal.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int | None = None) -> None:
        super().__init__()
        if d_model % num_heads:
            raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads})")
        self.h = num_heads
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)
        d_ff = d_ff or 4 * d_model
        self.mlp = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(self.norm1(x)).view(b, n, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        o = attention(q, k, v, causal=True).transpose(1, 2).reshape(b, n, d)
        x = x + self.out(o)
        return x + self.mlp(self.norm2(x))


class BlockStack(nn.Module):
    """`num_layers` blocks; with ``checkpointing=True`` each block's inside is recomputed."""

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        *,
        checkpointing: bool = False,
    ) -> None:
        super().__init__()
        for name, val in (
            ("num_layers", num_layers),
            ("d_model", d_model),
            ("num_heads", num_heads),
        ):
            chk.positive_int(name, val)
        self.blocks = nn.ModuleList(Block(d_model, num_heads) for _ in range(num_layers))
        self.checkpointing = checkpointing

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            if self.checkpointing and torch.is_grad_enabled():
                x = checkpoint(block, x, use_reentrant=False)
            else:
                x = block(x)
        return x


def autocast_context(dtype: torch.dtype | None, device: str | torch.device = "cpu"):
    """``torch.autocast(device_type, dtype=dtype)``, or a no-op context for dtype=None."""
    if dtype is None:
        return nullcontext()
    if dtype not in (torch.bfloat16, torch.float16):
        raise ValueError(f"autocast dtype must be torch.bfloat16 or torch.float16, got {dtype}")
    return torch.autocast(torch.device(device).type, dtype=dtype)


def training_step(
    model: nn.Module, x: torch.Tensor, *, autocast_dtype: torch.dtype | None = None
) -> torch.Tensor:
    """Forward (under autocast if asked), a scalar loss (mean square), backward. Returns loss.

    Gradients accumulate in the parameters' .grad (fp32 parameters stay fp32 under
    autocast: mixed precision, not half-precision training).
    """
    if not isinstance(x, torch.Tensor) or x.dim() != 3:
        raise ValueError("x must be a (batch, tokens, d_model) tensor")
    with autocast_context(autocast_dtype, x.device):
        y = model(x)
        loss = y.float().pow(2).mean()
    loss.backward()
    return loss.detach()


def saved_activation_bytes(
    model: nn.Module, x: torch.Tensor, *, autocast_dtype: torch.dtype | None = None
) -> int:
    """Bytes autograd stores for the backward pass of one forward, counted exactly.

    Every tensor saved for backward passes through a saved-tensor hook; distinct storages
    are counted once, parameters not at all (they exist anyway). With checkpointing the
    hooks see only each block's input; the rest is recomputed in backward.
    """
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    seen: dict[int, int] = {}

    def pack(t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        if s.data_ptr() not in params:
            seen[s.data_ptr()] = s.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with autocast_context(autocast_dtype, x.device):
            y = model(x)
    del y
    return sum(seen.values())
