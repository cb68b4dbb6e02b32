"""Which context-extension method when: the lesson's §6.1 decision table as a function.

The lesson's table: 4K→8K Position Interpolation (Chen et al., 2023) with light
fine-tuning; 4K→32K YaRN (Peng et al., 2023), or ALiBi (Press et al., 2021) when training
from scratch; 32K→100K+ FlashAttention (Dao, 2022) required, Ring Attention (Liu et al.,
2023) across GPUs, sparse attention worth considering; 1M+ special architectures such as
Mamba (Gu & Dao, 2023). The rows are read as a scale factor (×2, ×8) and an absolute
target length; where the lesson is silent, notes say so. Beyond the lesson's rows (a stretch
above ×8, a target of 1M+) it gives the advice practitioners follow: extend in stages with
continued pre-training on long data (LongRoPE, Ding et al., 2024; Llama 3.1's six stages), shard
the sequence, and treat SSMs and very sparse attention as alternatives for a new model.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lcedu import _checks as chk

__all__ = ["Recommendation", "choose_method"]

K = 1024
STAGED = 8  # the lesson's largest position row is 4K → 32K: a ×8 stretch
LONG = 32 * K  # the lesson's "32K → 100K+" row starts above 32K
HUGE = 1_000_000  # "1M+"


@dataclass(frozen=True)
class Recommendation:
    """What to use (`methods`), why (`reasons`, one per method) and the lesson's row(s)."""

    methods: tuple[str, ...]
    reasons: tuple[str, ...]
    rows: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())

    def __str__(self) -> str:
        lines = [f"lesson row(s): {', '.join(self.rows)}"]
        lines += [f"- {m}: {r}" for m, r in zip(self.methods, self.reasons)]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _factor_text(factor: float) -> str:
    """x8 for a whole factor, 'about x15.3' otherwise (never six significant digits)."""
    return f"x{factor:g}" if float(factor).is_integer() else f"about x{factor:.1f}"


def _kv_note(target_len: int) -> str:
    from lcedu.kvcache.memory import MODEL_PRESETS, format_bytes

    llama3 = [s for name, s in MODEL_PRESETS.items() if name.startswith("Llama 3 8B")]
    shape = llama3[0] if llama3 else next(iter(MODEL_PRESETS.values()))
    size = format_bytes(shape.kv_cache_bytes(target_len))
    return (
        f"the KV cache alone is {size} at {target_len:,} tokens for {shape.name} in 16 bits: "
        "shard it with the sequence, or quantise/offload it"
    )


def _pos_int(name: str, v: object) -> int:
    return chk.positive_int(name, v)


def choose_method(
    original_len: int,
    target_len: int,
    *,
    gpus: int = 1,
    can_finetune: bool = True,
    from_scratch: bool = False,
) -> Recommendation:
    """Recommend methods to go from `original_len` to `target_len` tokens (lesson §6.1).

    Positions: a factor up to 2 → PI (+ light fine-tuning); beyond → YaRN; training from
    scratch → ALiBi. Compute: a target above 32K → FlashAttention, plus Ring
    Attention with more than one GPU and sparse attention to consider; 1M or more →
    state-space models (Mamba) or extremely sparse attention.

    >>> choose_method(4096, 8192).methods
    ('Position Interpolation', 'light fine-tuning')
    """
    original_len = _pos_int("original_len", original_len)
    target_len = _pos_int("target_len", target_len)
    gpus = _pos_int("gpus", gpus)
    for name, flag in (("can_finetune", can_finetune), ("from_scratch", from_scratch)):
        if not isinstance(flag, bool):
            raise ValueError(f"{name} must be True or False, got {flag!r}")
    methods: list[str] = []
    reasons: list[str] = []
    rows: list[str] = []
    notes: list[str] = []

    def add(method: str, reason: str) -> None:
        methods.append(method)
        reasons.append(reason)

    factor = target_len / original_len
    if target_len <= original_len and not from_scratch:
        return Recommendation(
            ("nothing",),
            (f"the model already handles {original_len} tokens >= {target_len}",),
            ("none",),
        )
    if from_scratch:
        rows.append("4K → 32K (from scratch)")
        add("ALiBi", "trained from scratch, linear biases extrapolate beyond the training length")
    elif factor <= 2:
        rows.append("4K → 8K")
        add(
            "Position Interpolation",
            f"a small factor (x{factor:g}): squeeze positions into "
            "the trained range; simple and good",
        )
        if can_finetune:
            add("light fine-tuning", "a short fine-tune at the new length is recommended")
        else:
            notes.append(
                "without fine-tuning PI loses some quality; dynamic NTK or YaRN "
                "degrade less without training (beyond the lesson's table)"
            )
    elif factor <= STAGED:
        rows.append("4K → 32K")
        add(
            "YaRN",
            f"a larger factor ({_factor_text(factor)}): interpolate low frequencies, keep high "
            "ones; better than PI",
        )
        if can_finetune:
            add("fine-tuning", "YaRN reaches its quality after a short fine-tune")
        else:
            notes.append("without fine-tuning, YaRN (or dynamic NTK) still beats PI, with a loss")
    else:
        rows.append("4K → 32K")
        add(
            "YaRN, in stages",
            f"{_factor_text(factor)} is beyond the lesson's largest stretch (x{STAGED}): extend in "
            "steps of x2-x8 (LongRoPE reached 2M via 256K; Llama 3.1 went 8K → 128K in six "
            "stages), checking quality at each",
        )
        if can_finetune:
            add(
                "continued pre-training on long documents",
                "at every stage, on real long texts mixed with short ones; the data matters "
                "as much as the position method",
            )
        else:
            notes.append(
                f"a {_factor_text(factor)} stretch without training degrades badly; "
                "plan for continued pre-training or a shorter target"
            )
    if target_len > LONG:
        rows.append("32K → 100K+")
        add("FlashAttention", "required: the n x n score matrix no longer fits in memory")
        if gpus > 1:
            add(
                "Ring Attention",
                f"split the sequence over the {gpus} GPUs; K/V blocks rotate around the ring",
            )
        else:
            notes.append(
                "with one GPU Ring Attention does not apply; memory per device bounds the length"
            )
        if target_len < HUGE:
            add(
                "sparse attention",
                "worth considering: attend to a window plus global tokens (for a pretrained "
                "dense model, a new pattern needs retraining)",
            )
    if target_len >= HUGE:
        rows.append("1M+")
        add(
            "Mamba / state-space models",
            "an alternative for a new model, not an add-on: linear-time scan, constant-size "
            "state instead of a growing KV cache (hybrids keep a few attention layers)",
        )
        add(
            "extremely sparse attention",
            "the other alternative for a new model, if attention must stay",
        )
        notes.append(_kv_note(target_len))
        notes.append(
            "judge the result on long-context tasks (needle-in-a-haystack, RULER), "
            "not on perplexity alone"
        )
    return Recommendation(tuple(methods), tuple(reasons), tuple(rows), tuple(notes))
