"""Score recall models beyond their training length: accuracy split by distance, local loss.

For each evaluation length the model reads fresh sequences of exactly that length (facts at
uniform depths) and is scored on every query's answer, split by the distance from the query
back to its fact: *near* (within the training length, which the model has seen) or *far*.
RoPE models can be rescaled zero-shot with any method in ``lcedu.positions.scaling``
(factor = length / training length), as in the PI, NTK and YaRN papers.
"""

from __future__ import annotations

import statistics

import torch
import torch.nn.functional as F

from lcedu import _checks as chk
from lcedu.models.recall import RecallTask, make_batch
from lcedu.models.tiny_lm import RopeOverride, TinyLM, scaled_rope
from lcedu.positions import scaling as rope_scaling

__all__ = [
    "EVAL_SEED",
    "original_length",
    "recall_rope",
    "recall_scores",
    "summarize",
    "spread",
]

#: The evaluation sequences' seed: never one of the training batches' seeds (those are
#: seed * 1_000_003 + step for small seeds and steps).
EVAL_SEED = 987_654_321


def original_length(model: TinyLM) -> int:
    """The length the model was first trained at (before any fine-tune with scaling built in)."""
    cfg = model.config
    return cfg.rope_original_len if cfg.rope_scaling != "none" else cfg.max_len


def recall_rope(model: TinyLM, method: str, length: int) -> RopeOverride | None:
    """The RoPE frequencies ``method`` gives at ``length``, or None for the trained ones.

    The factor is length / (first training length); a model fine-tuned with a scaling built
    in keeps at least its built-in factor. "none" = the trained frequencies unchanged.
    """
    if method != "none" and method not in rope_scaling.SCALINGS:
        raise ValueError(
            f"unknown RoPE scaling {method!r}; choose 'none' or one of "
            f"{', '.join(rope_scaling.SCALINGS)}"
        )
    cfg = model.config
    if method == "none":
        return None
    if cfg.pos != "rope":
        raise ValueError(f"RoPE scaling {method!r} needs a RoPE model; this one uses {cfg.pos!r}")
    if cfg.rope_scaling not in ("none", method):
        raise ValueError(
            f"this model was fine-tuned with {cfg.rope_scaling!r} built in; evaluate it with "
            f"{cfg.rope_scaling!r} or 'none'"
        )
    original = original_length(model)
    built_in = cfg.max_len / original if cfg.rope_scaling != "none" else 1.0
    factor = max(length / original, built_in)
    if factor == built_in:
        return None  # the model's own frequencies already are this scaling
    inv, att = scaled_rope(method, cfg.head_dim, cfg.rope_base, factor, original, length)
    return RopeOverride(inv_freq=inv, attention_factor=att)


@torch.no_grad()
def recall_scores(
    model: TinyLM,
    task: RecallTask,
    length: int,
    *,
    scaling: str = "none",
    sequences: int = 256,
    seed: int = EVAL_SEED,
    batch_size: int = 64,
) -> dict:
    """Answer accuracy (all, near, far), with counts, and the local loss at ``length``.

    near = the fact's key lies at most ``original_length(model)`` tokens before the query.
    The same ``seed`` gives the same sequences to every model, so models are compared on the
    same queries.
    """
    if not isinstance(length, int) or isinstance(length, bool) or length < task.min_length:
        raise ValueError(
            f"length must be an integer of at least {task.min_length} tokens, got {length!r}"
        )
    chk.positive_int("sequences", sequences)
    if model.config.vocab_size != task.vocab_size:
        raise ValueError(
            f"the model's vocabulary ({model.config.vocab_size}) is not the task's "
            f"({task.vocab_size}): it was trained on another task"
        )
    if model.config.pos == "learned" and length > model.config.max_len:
        raise ValueError(
            f"a learned position table has {model.config.max_len} rows; it cannot read "
            f"{length} tokens"
        )
    rope = recall_rope(model, scaling, length)
    horizon = original_length(model)
    gen = torch.Generator().manual_seed(seed + length)
    model.eval()
    counts = {"near": [0, 0], "far": [0, 0]}
    local_sum, local_n = 0.0, 0
    left = sequences
    while left > 0:
        n = min(batch_size, left)
        left -= n
        batch = make_batch(task, n, length, gen)
        logits = model(batch.tokens[:, :-1], rope=rope)
        targets = batch.tokens[:, 1:]
        answer = batch.answer[:, 1:]
        local = batch.local[:, 1:]
        right = logits.argmax(-1) == targets
        dist = batch.distance[:, 1:]
        near, far = answer & (dist <= horizon), answer & (dist > horizon)
        for name, where in (("near", near), ("far", far)):
            counts[name][0] += int(right[where].sum())
            counts[name][1] += int(where.sum())
        ce = F.cross_entropy(logits[local], targets[local], reduction="sum")
        local_sum += float(ce)
        local_n += int(local.sum())
    correct = counts["near"][0] + counts["far"][0]
    total = counts["near"][1] + counts["far"][1]

    def acc(c: int, n: int) -> float | None:
        return None if n == 0 else c / n

    return {
        "length": length,
        "scaling": scaling,
        "queries": total,
        "accuracy": acc(correct, total),
        "near_accuracy": acc(*counts["near"]),
        "far_accuracy": acc(*counts["far"]),
        "near_queries": counts["near"][1],
        "far_queries": counts["far"][1],
        "local_loss": local_sum / local_n,
    }


def spread(values: list[float]) -> tuple[float, float]:
    """(mean, sample standard deviation) of per-seed values (sd 0 for a single value)."""
    if not values:
        raise ValueError("spread needs at least one value")
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return mean, sd


def summarize(rows: list[dict], key: str) -> dict:
    """Mean ± sd over seeds of ``key`` per (model, scaling, length) of recorded score rows.

    ``rows`` carry "model", "seed" and the fields of ``recall_scores``. Returns
    ``{(model, scaling, length): (mean, sd, n_seeds)}``; cells where ``key`` is None for
    every seed (e.g. no far queries at the training length) are left out.
    """
    cells: dict[tuple, list[float]] = {}
    for r in rows:
        if r.get(key) is None:
            continue
        cells.setdefault((r["model"], r["scaling"], r["length"]), []).append(r[key])
    return {cell: (*spread(v), len(v)) for cell, v in cells.items()}
