"""A tiny decoder-only transformer whose position scheme is a parameter.

Pre-norm blocks (GPT-2 / Llama layout) over bytes, with one of five position schemes: none
(NoPE, Kazemnejad et al., 2023), learned absolute (GPT-2), sinusoidal (Vaswani et al., 2017),
RoPE (Su et al., 2021) and ALiBi (Press et al., 2022). Attention runs through PyTorch SDPA by
default, or through the course's dense reference (``attention="reference"``, same result); the
rotation and the bias come from the course's own ``lcedu.positions`` code, and at evaluation
RoPE can be rescaled with any method from ``lcedu.positions.scaling``.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn

from lcedu import _checks as chk
from lcedu.attention.reference import attention as reference_attention
from lcedu.models.data import VOCAB_SIZE
from lcedu.models.positional import (
    LearnedPositions,
    SinusoidalPositions,
    check_scheme,
)
from lcedu.positions import scaling
from lcedu.positions.alibi import alibi_bias, alibi_slopes
from lcedu.positions.rope import apply_rope, rope_cos_sin, rope_inv_freq

__all__ = [
    "TinyLMConfig",
    "TinyLM",
    "CausalSelfAttention",
    "RopeOverride",
    "ATTENTION_KERNELS",
    "MAX_LEARNED_TABLE",
    "scaled_rope",
]

#: How attention is computed: PyTorch SDPA (fast; the default) or the course's dense reference
#: ``lcedu.attention.reference.attention`` (materialises the score matrix; same result).
ATTENTION_KERNELS = ("sdpa", "reference")


def _check_kernel(attention: str) -> str:
    if attention not in ATTENTION_KERNELS:
        raise ValueError(
            f"unknown attention kernel {attention!r}; choose one of {', '.join(ATTENTION_KERNELS)}"
        )
    return attention


@dataclass(frozen=True)
class TinyLMConfig:
    """Shape of the model. ``max_len`` is the training length (the learned table's size)."""

    pos: str = "rope"
    dim: int = 128
    layers: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    max_len: int = 256
    rope_base: float = 10000.0
    vocab_size: int = VOCAB_SIZE
    #: a RoPE scaling built into the model (for fine-tuning at a longer length): "none",
    #: "linear" (PI) or "yarn", stretching ``rope_original_len`` by ``max_len / it``.
    rope_scaling: str = "none"
    rope_original_len: int = 0
    #: multiply token embeddings by sqrt(dim) before adding absolute positions, as the
    #: original Transformer does (§3.4); None = on for "sinusoidal", off otherwise.
    scale_embeddings: bool | None = None
    #: std of the normal init of every weight (GPT-2's 0.02 suits dim ~768; a small model
    #: learns attention far faster from ~1/sqrt(dim)); residual projections get
    #: init_std / sqrt(2 * layers), as in GPT-2.
    init_std: float = 0.02

    def __post_init__(self) -> None:
        check_scheme(self.pos)
        for name in ("dim", "layers", "heads", "mlp_ratio", "max_len", "vocab_size"):
            chk.positive_int(name, getattr(self, name))
        if self.dim % self.heads:
            raise ValueError(f"dim ({self.dim}) must be divisible by heads ({self.heads})")
        if (self.dim // self.heads) % 2:
            raise ValueError(
                f"head_dim = dim/heads = {self.dim // self.heads} must be even (RoPE rotates pairs)"
            )
        if self.pos == "learned" and self.max_len * self.dim > MAX_LEARNED_TABLE:
            size = self.max_len * self.dim
            raise ValueError(
                f"a learned position table of max_len {self.max_len} x dim {self.dim} = "
                f"{size:,} parameters ({size * 4 / 2**30:.1f} GiB in float32) is too large "
                f"(the limit is {MAX_LEARNED_TABLE:,}); use a smaller max_len, or a scheme "
                "without a table (rope, alibi, sinusoidal, none)"
            )
        if self.scale_embeddings not in (None, True, False):
            raise ValueError(
                f"scale_embeddings must be True, False or None, got {self.scale_embeddings!r}"
            )
        if not (isinstance(self.init_std, (int, float)) and 0 < self.init_std < 10):
            raise ValueError(f"init_std must be a positive number below 10, got {self.init_std!r}")
        if not self.rope_base > 1:
            raise ValueError(f"rope_base must be larger than 1, got {self.rope_base!r}")
        if self.rope_scaling != "none" and self.rope_scaling not in scaling.SCALINGS:
            raise ValueError(
                f"rope_scaling must be 'none' or one of {', '.join(scaling.SCALINGS)}, "
                f"got {self.rope_scaling!r}"
            )
        if self.rope_scaling != "none":
            if self.pos != "rope":
                raise ValueError(f"rope_scaling needs pos='rope', got pos={self.pos!r}")
            if not 0 < self.rope_original_len < self.max_len:
                raise ValueError(
                    "rope_original_len must be a positive length shorter than max_len "
                    f"({self.max_len}), got {self.rope_original_len}"
                )

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    @property
    def embedding_scale(self) -> float:
        """The factor on token embeddings: sqrt(dim) when they are scaled, else 1."""
        on = self.pos == "sinusoidal" if self.scale_embeddings is None else self.scale_embeddings
        return math.sqrt(self.dim) if on else 1.0

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TinyLMConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}")
        return cls(**d)


@dataclass(frozen=True)
class RopeOverride:
    """RoPE frequencies to use instead of the trained ones (an evaluation-time scaling).

    ``inv_freq`` has head_dim/2 entries; ``attention_factor`` multiplies cos and sin (so q·k
    by its square), as YaRN's temperature does.
    """

    inv_freq: torch.Tensor
    attention_factor: float = 1.0


#: The largest learned position table (max_len x dim entries) a TinyLM will allocate.
MAX_LEARNED_TABLE = 1 << 26


def scaled_rope(
    method: str, head_dim: int, base: float, factor: float, original_len: int, seq_len: int
) -> tuple[torch.Tensor, float]:
    """(inv_freq, attention_factor) of RoPE scaling ``method`` from ``scaling.SCALINGS``.

    Every method gets the arguments its signature names among ``dim``, ``base``, ``factor``,
    ``original_max_position`` (= ``original_len``) and ``seq_len``, so a method added to the
    registry works here without a new branch.
    """
    if method not in scaling.SCALINGS:
        raise ValueError(
            f"unknown RoPE scaling {method!r}; choose one of {', '.join(scaling.SCALINGS)}"
        )
    fn = scaling.SCALINGS[method]
    offered = {"dim": head_dim, "base": base, "factor": factor,
               "original_max_position": original_len, "seq_len": seq_len}
    params = inspect.signature(fn).parameters
    args = {k: v for k, v in offered.items() if k in params}
    return fn(**args)


def _rope_tables(
    length: int, inv_freq: torch.Tensor, attention_factor: float, device, dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    positions = torch.arange(length, device=device)
    cos, sin = rope_cos_sin(positions, inv_freq.to(device), attention_scaling=attention_factor)
    return cos.to(dtype), sin.to(dtype)


class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention; RoPE rotates q/k, ALiBi adds its bias, via SDPA."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.config = config
        self.heads = config.heads
        self.head_dim = config.head_dim
        self.qkv = nn.Linear(config.dim, 3 * config.dim, bias=False)
        self.out = nn.Linear(config.dim, config.dim, bias=False)

    def project(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Unrotated q, k, v as (B, H, L, head_dim)."""
        B, L, _ = x.shape
        q, k, v = self.qkv(x).view(B, L, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return q, k, v

    def merge(self, y: torch.Tensor) -> torch.Tensor:
        """(B, H, L, head_dim) → (B, L, dim), then the output projection."""
        B, H, L, D = y.shape
        return self.out(y.transpose(1, 2).reshape(B, L, H * D))

    def forward(
        self,
        x: torch.Tensor,
        *,
        rope: tuple[torch.Tensor, torch.Tensor] | None = None,
        bias: torch.Tensor | None = None,
        attention: str = "sdpa",
    ) -> torch.Tensor:
        _check_kernel(attention)
        q, k, v = self.project(x)
        if rope is not None:
            cos, sin = rope
            q = apply_rope(q, cos, sin)
            k = apply_rope(k, cos, sin)
        if attention == "reference":
            if bias is not None:  # ALiBi's bias already holds -inf above the diagonal
                y = reference_attention(q, k, v, bias=bias)
            else:
                y = reference_attention(q, k, v, causal=True)
        elif bias is not None:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.merge(y)


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(config.dim)
        self.attn = CausalSelfAttention(config)
        self.norm2 = nn.LayerNorm(config.dim)
        hidden = config.mlp_ratio * config.dim
        self.mlp = nn.Sequential(
            nn.Linear(config.dim, hidden), nn.GELU(), nn.Linear(hidden, config.dim)
        )

    def forward(self, x: torch.Tensor, *, rope=None, bias=None, attention="sdpa") -> torch.Tensor:
        x = x + self.attn(self.norm1(x), rope=rope, bias=bias, attention=attention)
        return x + self.mlp(self.norm2(x))


class TinyLM(nn.Module):
    """Byte-level decoder-only LM; ``config.pos`` picks the position scheme.

    Built from a config, or from its fields as keywords (``TinyLM(pos="alibi")``); keywords
    given next to a config override its fields.

    >>> model = TinyLM(TinyLMConfig(pos="alibi", dim=32, layers=1, heads=2, max_len=16))
    >>> model(torch.zeros(1, 40, dtype=torch.long)).shape  # ALiBi runs past max_len
    torch.Size([1, 40, 256])
    """

    def __init__(self, config: TinyLMConfig | None = None, **fields_: object) -> None:
        super().__init__()
        if config is None:
            config = TinyLMConfig()
        elif not isinstance(config, TinyLMConfig):
            raise ValueError(f"config must be a TinyLMConfig, got {type(config).__name__}")
        if fields_:
            names = {f.name for f in fields(TinyLMConfig)}
            unknown = sorted(set(fields_) - names)
            if unknown:
                raise ValueError(
                    f"unknown model setting(s) {unknown}; TinyLMConfig has {sorted(names)}"
                )
            config = replace(config, **fields_)
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.dim)
        self.positions: nn.Module | None = None
        if config.pos == "learned":
            self.positions = LearnedPositions(config.max_len, config.dim)
        elif config.pos == "sinusoidal":
            self.positions = SinusoidalPositions(config.dim)
        if config.pos == "rope":
            inv_freq = rope_inv_freq(config.head_dim, config.rope_base)
            self.rope_attention_factor = 1.0
            if config.rope_scaling != "none":
                factor = config.max_len / config.rope_original_len
                inv_freq, self.rope_attention_factor = scaled_rope(
                    config.rope_scaling, config.head_dim, config.rope_base, factor,
                    config.rope_original_len, config.max_len,
                )
            self.register_buffer("rope_inv_freq", inv_freq, persistent=False)
        if config.pos == "alibi":
            self.register_buffer("alibi_slopes", alibi_slopes(config.heads), persistent=False)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, config.vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied input/output embedding
        self.apply(self._init)
        residual_std = config.init_std / math.sqrt(2 * config.layers)
        for block in self.blocks:  # GPT-2's scaled init of residual projections
            nn.init.normal_(block.attn.out.weight, std=residual_std)
            nn.init.normal_(block.mlp[2].weight, std=residual_std)

    def _init(self, module: nn.Module) -> None:
        std = self.config.init_std
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, std=std)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def attention_inputs(
        self, length: int, *, rope: RopeOverride | None = None, dtype=torch.float32
    ) -> dict:
        """What every attention layer gets for a sequence of ``length``: rope cos/sin or bias."""
        device = self.embed.weight.device
        if rope is not None and self.config.pos != "rope":
            raise ValueError(
                f"a RoPE scaling only applies to a RoPE model; this model uses {self.config.pos!r}"
            )
        if self.config.pos == "rope":
            inv_freq, factor = self.rope_inv_freq, self.rope_attention_factor
            if rope is not None:
                if rope.inv_freq.shape != self.rope_inv_freq.shape:
                    raise ValueError(
                        f"rope override needs {self.rope_inv_freq.numel()} frequencies "
                        f"(head_dim/2), got shape {tuple(rope.inv_freq.shape)}"
                    )
                inv_freq, factor = rope.inv_freq, float(rope.attention_factor)
            return {"rope": _rope_tables(length, inv_freq, factor, device, dtype)}
        if self.config.pos == "alibi":
            bias = alibi_bias(self.config.heads, length, causal=True, device=device, dtype=dtype)
            return {"bias": bias}
        return {}

    def forward(
        self, idx: torch.Tensor, *, rope: RopeOverride | None = None, attention: str = "sdpa"
    ) -> torch.Tensor:
        """Logits (B, L, vocab) for byte ids ``idx`` (B, L).

        ``rope``: evaluation-time RoPE frequencies (RoPE models only). ``attention``: "sdpa"
        (PyTorch's fused kernel) or "reference" (the course's dense reference attention).
        """
        _check_kernel(attention)
        if not isinstance(idx, torch.Tensor) or idx.dim() != 2:
            raise ValueError("idx must be a (batch, length) tensor of byte ids")
        if idx.dtype not in (torch.int64, torch.int32, torch.uint8):
            raise ValueError(f"idx must hold integer byte ids, got dtype {idx.dtype}")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= self.config.vocab_size):
            raise ValueError(
                f"idx must hold ids in 0 … {self.config.vocab_size - 1}, "
                f"got values from {int(idx.min())} to {int(idx.max())}"
            )
        B, L = idx.shape
        x = self.embed(idx.long())
        if self.config.embedding_scale != 1.0:
            x = x * self.config.embedding_scale
        if self.positions is not None:
            if isinstance(self.positions, LearnedPositions):
                x = x + self.positions(L)
            else:
                x = x + self.positions(L, device=x.device, dtype=x.dtype)
        extra = self.attention_inputs(L, rope=rope, dtype=x.dtype)
        for block in self.blocks:
            x = block(x, **extra, attention=attention)
        return self.head(self.norm(x))

    def loss(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor,
        *,
        rope: RopeOverride | None = None,
        attention: str = "sdpa",
    ) -> torch.Tensor:
        """Mean next-byte cross-entropy in nats."""
        logits = self(idx, rope=rope, attention=attention)
        if not isinstance(targets, torch.Tensor) or targets.shape != logits.shape[:2]:
            raise ValueError(
                f"targets must be a tensor shaped like idx {tuple(logits.shape[:2])}, "
                f"got {tuple(targets.shape) if isinstance(targets, torch.Tensor) else targets!r}"
            )
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))

