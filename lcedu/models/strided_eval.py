"""Perplexity vs length that can carry a conclusion: sliding-window (strided) scoring, and
the loss at each position of a long window.

Strided scoring follows the Hugging Face perplexity guide and Press et al. (2022, §B,
"sliding window evaluation"): windows of `length` bytes start every `stride` bytes and only
their last `stride` targets are scored, so every scored byte sees at least length − stride
bytes of context — non-overlapping windows instead score many bytes with almost none, and
"better at long length" becomes partly "fewer early bytes". The position curve scores every
position of whole windows, to show *where* in a window a scheme starts to fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from lcedu import _checks as chk
from lcedu.models.data import eval_windows
from lcedu.models.recall_eval import original_length, recall_rope
from lcedu.models.tiny_lm import RopeOverride, TinyLM

__all__ = ["strided_starts", "strided_loss", "position_loss", "length_sweep"]


def strided_starts(n_bytes: int, length: int, stride: int, tokens: int) -> list[int]:
    """Window starts 0, stride, 2·stride, ... until `tokens` bytes are scored (each window
    scores its last `stride` targets), within `n_bytes` of data."""
    chk.positive_int("length", length)
    chk.positive_int("stride", stride)
    chk.positive_int("tokens", tokens)
    if stride > length:
        raise ValueError(f"stride ({stride}) must not be larger than the length ({length})")
    count = math.ceil(tokens / stride)
    need = (count - 1) * stride + length + 1
    if need > n_bytes:
        raise ValueError(
            f"scoring {tokens} bytes at length {length}, stride {stride} needs {need} bytes "
            f"of data, there are {n_bytes}"
        )
    return [i * stride for i in range(count)]


def _window_nll(model: TinyLM, windows: torch.Tensor, rope: RopeOverride | None) -> torch.Tensor:
    logits = model(windows[:, :-1], rope=rope)
    return F.cross_entropy(logits.transpose(1, 2), windows[:, 1:], reduction="none")


@torch.no_grad()
def strided_loss(
    model: TinyLM,
    data: torch.Tensor,
    length: int,
    *,
    stride: int,
    tokens: int,
    rope: RopeOverride | None = None,
    batch_size: int = 8,
) -> dict:
    """Mean loss (nats/byte) over `tokens` bytes, each scored with ≥ length − stride context."""
    starts = strided_starts(data.numel(), length, stride, tokens)
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(starts), batch_size):
        windows = torch.stack([data[s : s + length + 1] for s in starts[i : i + batch_size]])
        nll = _window_nll(model, windows.long(), rope)[:, length - stride :]
        total += float(nll.sum())
        count += nll.numel()
    loss = total / count
    return {"length": length, "stride": stride, "loss": loss, "ppl": math.exp(loss),
            "tokens": count, "min_context": length - stride}


@torch.no_grad()
def position_loss(
    model: TinyLM, data: torch.Tensor, length: int, *, windows: int, bucket: int,
    rope: RopeOverride | None = None, batch_size: int = 8,
) -> list[float]:
    """Mean loss at each `bucket` of positions over the first `windows` windows of `length`
    (those `evaluate.perplexity` tiles): entry j is the loss of the targets at positions
    j·bucket … (j+1)·bucket − 1 of a window, i.e. predicted from that much context."""
    chk.positive_int("length", length)
    chk.positive_int("windows", windows)
    chk.positive_int("bucket", bucket)
    if length % bucket:
        raise ValueError(f"bucket ({bucket}) must divide the length ({length})")
    tiles = eval_windows(data, length, windows)  # the windows `evaluate.perplexity` scores
    model.eval()
    sums = torch.zeros(length, dtype=torch.float64)
    for i in range(0, windows, batch_size):
        sums += _window_nll(model, tiles[i : i + batch_size], rope).double().sum(0)
    per_position = sums / windows
    return [float(x) for x in per_position.view(-1, bucket).mean(1)]


def length_sweep(
    model: TinyLM,
    data: torch.Tensor,
    *,
    lengths: list[int],
    scalings: list[str],
    tokens: int,
    stride_fraction: float = 0.5,
    position_length: int | None = None,
    position_windows: int = 32,
    position_bucket: int | None = None,
    log: Callable[[str], None] | None = None,
) -> dict:
    """Strided loss per (scaling, length), and the position curve at `position_length`.

    The RoPE factor is length / first training length (`recall_eval.recall_rope`): a model
    fine-tuned with a scaling built in keeps at least its own factor, and is evaluated with
    that scaling (pass it in `scalings`) or "none" (its built-in factor at every length).
    A learned table cannot go past its length: those cells are None.
    """
    chk.positive_real("stride_fraction", stride_fraction)
    if stride_fraction > 1:
        raise ValueError(f"stride_fraction must be at most 1, got {stride_fraction}")
    cfg = model.config
    out: dict = {"pos": cfg.pos, "train_len": original_length(model), "max_len": cfg.max_len,
                 "rope_scaling": cfg.rope_scaling, "stride_fraction": stride_fraction,
                 "tokens": tokens, "loss": {}, "positions": {}}
    for method in scalings:
        rows = []
        for length in lengths:
            if cfg.pos == "learned" and length > cfg.max_len:
                rows.append(None)
                continue
            rope = recall_rope(model, method, length)
            stride = max(1, int(length * stride_fraction))
            rows.append(strided_loss(model, data, length, stride=stride, tokens=tokens,
                                     rope=rope)["loss"])
            if log:
                log(f"{cfg.pos:10s} {method:11s} L={length:5d}  loss {rows[-1]:.4f}")
        out["loss"][method] = rows
        if position_length and not (cfg.pos == "learned" and position_length > cfg.max_len):
            bucket = position_bucket or max(1, position_length // 16)
            out["positions"][method] = position_loss(
                model, data, position_length, windows=position_windows, bucket=bucket,
                rope=recall_rope(model, method, position_length),
            )
            out["position_length"], out["position_bucket"] = position_length, bucket
    out["lengths"] = list(lengths)
    return out
