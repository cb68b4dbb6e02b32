"""The lesson's §2.2 Longformer module as written, and a probe of which tokens reach which.

THE LESSON'S SKETCH, kept to be run and corrected, not a reference: it accepts an
``attention_mask`` and never uses it, so padding is attended (erratum 3), and its global tokens
are the first ``global_tokens`` positions, attending to everything while nobody outside their
window attends to them (erratum 4). Longformer (Beltagy et al., 2020, arXiv:2004.05150) masks
padding and makes global attention symmetric; ``lcedu.attention.sliding_window`` does that.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from lcedu import _checks as chk
from lcedu.attention.sliding_window import lesson_sliding_window_attention

__all__ = ["LessonLongformerAttention", "influence_matrix", "pattern_text"]


class LessonLongformerAttention(nn.Module):
    """The lesson's ``LongformerAttention`` (§2.2), its forward and global part as written.

    Input and output are (batch, seq, hidden). The local part is the lesson's own loop
    (``lesson_sliding_window_attention``); ``attention_mask`` is accepted and ignored.
    """

    def __init__(
        self, hidden_size: int, num_heads: int, window_size: int = 256, global_tokens: int = 2
    ) -> None:
        super().__init__()
        for name, n in (
            ("hidden_size", hidden_size),
            ("num_heads", num_heads),
            ("window_size", window_size),
        ):
            chk.positive_int(name, n, what="a positive whole number")
        if hidden_size % num_heads:
            raise ValueError(
                f"hidden_size ({hidden_size}) must be divisible by num_heads ({num_heads})"
            )
        chk.nonneg_int("global_tokens", global_tokens)
        self.hidden_size, self.num_heads = hidden_size, num_heads
        self.head_dim = hidden_size // num_heads
        self.window_size, self.global_tokens = window_size, global_tokens
        self.query, self.key, self.value = (nn.Linear(hidden_size, hidden_size) for _ in range(3))
        self.global_query, self.global_key, self.global_value = (
            nn.Linear(hidden_size, hidden_size) for _ in range(3)
        )
        self.output = nn.Linear(hidden_size, hidden_size)

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        if not isinstance(hidden_states, torch.Tensor) or hidden_states.dim() != 3:
            raise ValueError("hidden_states must be a (batch, seq, hidden) tensor")
        b, n, _ = hidden_states.shape
        heads = (b, n, self.num_heads, self.head_dim)
        Q, K, V = (p(hidden_states).view(heads) for p in (self.query, self.key, self.value))
        # the lesson's loop works on (batch, seq, heads, dim); ours takes (batch, heads, seq, dim)
        local = lesson_sliding_window_attention(
            *(t.transpose(1, 2) for t in (Q, K, V)), window_size=self.window_size
        ).transpose(1, 2)
        g = self.global_tokens
        gq = self.global_query(hidden_states[:, :g]).view(b, g, self.num_heads, self.head_dim)
        gk = self.global_key(hidden_states).view(heads)
        gv = self.global_value(hidden_states).view(heads)
        scores = torch.einsum("bghd,bshd->bghs", gq, gk) / math.sqrt(self.head_dim)
        glob = torch.einsum("bghs,bshd->bghd", F.softmax(scores, dim=-1), gv)
        output = local.clone()
        output[:, :g] = glob[:, :g]  # attention_mask is never used: padding is attended
        return self.output(output.reshape(b, n, self.hidden_size))


def influence_matrix(
    fn: Callable[[torch.Tensor], torch.Tensor], hidden: torch.Tensor, *, tol: float = 1e-9
) -> torch.Tensor:
    """Which input tokens change which output rows: a (seq, seq) bool matrix [query, key].

    Perturbs one token of `hidden` (batch 1, (1, seq, hidden), float64 recommended) at a time
    and records the output rows that move by more than `tol`. One call of `fn` per token.
    """
    if not isinstance(hidden, torch.Tensor) or hidden.dim() != 3 or hidden.shape[0] != 1:
        raise ValueError("hidden must be a (1, seq, hidden) tensor: one sequence")
    with torch.no_grad():
        base = fn(hidden)
        n = hidden.shape[1]
        out = torch.zeros(n, n, dtype=torch.bool)
        for j in range(n):
            h = hidden.clone()
            h[:, j] += 1.0
            out[:, j] = (fn(h) - base).abs().amax(dim=(0, 2)) > tol
    return out


def pattern_text(*masks: torch.Tensor, titles: tuple[str, ...] = ()) -> str:
    """Boolean (n, n) matrices side by side as text: ■ = True, · = False, rows = queries."""
    if not masks or any(not isinstance(m, torch.Tensor) or m.dim() != 2 for m in masks):
        raise ValueError("pattern_text needs one or more 2-D boolean tensors")
    if titles and len(titles) != len(masks):
        raise ValueError("give one title per matrix, or none")
    width = [2 * m.shape[1] - 1 for m in masks]
    lines = ["   ".join(t.ljust(w) for t, w in zip(titles, width)).rstrip()] if titles else []
    for i in range(max(m.shape[0] for m in masks)):
        rows = []
        for m, w in zip(masks, width):
            row = " ".join("■" if x else "·" for x in m[i].tolist()) if i < m.shape[0] else ""
            rows.append(row.ljust(w))
        lines.append("   ".join(rows).rstrip())
    return "\n".join(lines)
