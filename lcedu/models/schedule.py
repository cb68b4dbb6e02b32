"""What every tiny-LM training run shares: AdamW with decoupled weight decay on matrices only,
a linear warmup then cosine decay of the learning rate, and the checks of those settings.

The schedule and optimizer follow nanoGPT (Karpathy, 2022) and Loshchilov & Hutter (2019);
`lcedu train` (bytes) and the recall capstone both use exactly these, so one run's settings
mean the same in both.
"""

from __future__ import annotations

import math
import platform
from pathlib import Path
from typing import Any, Protocol

import torch

from lcedu import _checks as chk

__all__ = [
    "ScheduleSettings",
    "check_schedule",
    "learning_rate",
    "adamw",
    "init_from",
    "environment",
]


class ScheduleSettings(Protocol):
    """The fields a training config needs for the optimizer and the schedule."""

    steps: int
    lr: float
    warmup: int
    min_lr_ratio: float
    weight_decay: float
    seed: int


def check_schedule(cfg: ScheduleSettings, counts: tuple[str, ...] = ("steps",)) -> None:
    """Raise ValueError with one sentence for the first setting out of range.

    `counts` names the fields that must be positive integers (steps, batch size, ...)."""
    for name in counts:
        chk.positive_int(name, getattr(cfg, name))
    chk.nonneg_int("warmup", cfg.warmup)
    chk.positive_real("lr", cfg.lr)
    if not chk.is_int(cfg.seed):
        raise ValueError(f"seed must be an integer, got {cfg.seed!r}")
    if not 0.0 <= cfg.min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio must be between 0 and 1, got {cfg.min_lr_ratio!r}")
    if not cfg.weight_decay >= 0:
        raise ValueError(f"weight_decay must be >= 0, got {cfg.weight_decay!r}")


def learning_rate(step: int, cfg: ScheduleSettings) -> float:
    """The learning rate at 0-based `step`: linear warmup, then cosine down to min_lr_ratio·lr."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    progress = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * cosine)


def adamw(model: torch.nn.Module, cfg: ScheduleSettings) -> torch.optim.Optimizer:
    """AdamW (β = 0.9, 0.95) decaying matrices only; biases, norms and gains are not decayed."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr, betas=(0.9, 0.95),
    )


def init_from(model: torch.nn.Module, base: torch.nn.Module, source: str | Path) -> None:
    """Copy `base`'s weights into `model` (a fine-tune's start), or say why they do not fit."""
    try:
        model.load_state_dict(base.state_dict())
    except RuntimeError as err:
        raise ValueError(
            f"cannot start from {Path(source).name}: its weights do not fit this model "
            f"(dim/layers/heads and a learned table's length must match): {err}"
        ) from None


def environment() -> dict[str, Any]:
    """Where a run happened: versions, threads, CPU."""
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor() or platform.machine(),
    }
