"""RoPE context-extension scalings: each returns `(inv_freq, attention_factor)`.

Position Interpolation (Chen et al. 2023, "linear"), NTK-aware base change (bloc97 2023),
dynamic NTK (emozilla 2023), YaRN = NTK-by-parts ramp + temperature (Peng et al. 2023) and
Llama 3.1's smoothed variant. The arithmetic follows Hugging Face transformers'
`modeling_rope_utils.py` operation for operation (float32), which the tests use as witness.
The lesson's own sketches are kept at the bottom, labelled, so notebooks can show where they
differ from the real methods (ERRATA 9–14).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import torch

from lcedu import _checks as chk
from lcedu.positions.rope import rope_inv_freq

__all__ = [
    "linear",
    "ntk_aware",
    "ntk_aware_base",
    "dynamic_ntk",
    "yarn",
    "yarn_correction_dim",
    "yarn_correction_range",
    "yarn_ramp",
    "yarn_mscale",
    "llama3",
    "SCALINGS",
    "normalize_scaling",
    "rope_frequencies",
    "lesson_position_interpolation",
    "lesson_yarn_correction_range",
    "lesson_yarn_inv_freq",
    "LessonRoPEWithInterpolation",
    "LessonYaRNRoPE",
]


# --------------------------------------------------------------------------- validation
# Each public method checks its arguments once, here; the private arithmetic below trusts them.
def _dim(dim: Any, *, at_least: int = 2, method: str = "") -> int:
    dim = chk.positive_int("dim", dim, multiple_of=2, what="a positive even integer")
    if dim < at_least:
        raise ValueError(
            f"{method} scaling needs dim >= {at_least} (it divides by dim − 2), got {dim}"
        )
    return dim


def _base(base: Any) -> float:
    base = chk.positive_real("base", base)
    if base <= 1:
        raise ValueError(f"base must be greater than 1, got {base}")
    return base


def _factor(factor: Any) -> float:
    factor = chk.real("factor", factor)
    if factor < 1:
        raise ValueError(
            f"factor must be >= 1 (the context is extended by this factor), got {factor}"
        )
    return factor


def _tokens(name: str, value: Any) -> int:
    return chk.positive_int(name, value, what="a positive integer number of tokens")


def _betas(beta_fast: Any, beta_slow: Any) -> tuple[float, float]:
    beta_fast, beta_slow = chk.real("beta_fast", beta_fast), chk.real("beta_slow", beta_slow)
    if beta_slow <= 0:
        raise ValueError(f"beta_slow must be positive, got {beta_slow}")
    if beta_fast <= beta_slow:
        raise ValueError(
            f"beta_fast must be greater than beta_slow (fast dims turn more often), "
            f"got beta_fast={beta_fast}, beta_slow={beta_slow}"
        )
    return beta_fast, beta_slow


# --------------------------------------------------------------------------- PI
def linear(dim: int, base: float, factor: float) -> tuple[torch.Tensor, float]:
    """Position Interpolation: every frequency divided by `factor`.

    Dividing θ_i by s is the same as feeding positions m/s (the lesson's PI): the extended
    context is squeezed into the trained range. Attention factor 1.
    """
    dim, base, factor = _dim(dim), _base(base), _factor(factor)
    inv_freq = rope_inv_freq(dim, base)
    inv_freq /= factor
    return inv_freq, 1.0


# --------------------------------------------------------------------------- NTK
def _ntk_base(dim: int, base: float, factor: float) -> float:
    return base * factor ** (dim / (dim - 2))


def ntk_aware_base(dim: int, base: float, factor: float) -> float:
    """The NTK-aware base b·s^(d/(d−2)): the slowest frequency is interpolated by exactly s,
    the fastest is left unchanged, and everything between is spread geometrically."""
    return _ntk_base(_dim(dim, at_least=4, method="NTK-aware"), _base(base), _factor(factor))


def ntk_aware(dim: int, base: float, factor: float) -> tuple[torch.Tensor, float]:
    """Static NTK-aware scaling: plain RoPE with the base changed to b·s^(d/(d−2))."""
    return rope_inv_freq(dim, ntk_aware_base(dim, base, factor)), 1.0


def dynamic_ntk(
    dim: int, base: float, factor: float, original_max_position: int, seq_len: int
) -> tuple[torch.Tensor, float]:
    """Dynamic NTK: the NTK base change, recomputed for the current sequence length.

    Up to `original_max_position` tokens this is plain RoPE; beyond it the base becomes
    b·(s·L/L_orig − (s − 1))^(d/(d−2)) (Hugging Face's "dynamic" rope type), so the
    stretch grows with the text instead of being paid up front.
    """
    dim = _dim(dim, at_least=4, method="dynamic NTK")
    base, factor = _base(base), _factor(factor)
    original = _tokens("original_max_position", original_max_position)
    seq_len = max(_tokens("seq_len", seq_len), original)
    new_base = base * ((factor * seq_len / original) - (factor - 1)) ** (dim / (dim - 2))
    return rope_inv_freq(dim, new_base), 1.0


# --------------------------------------------------------------------------- YaRN
def _correction_dim(num_rotations: float, dim: int, base: float, original: int) -> float:
    return (dim * math.log(original / (num_rotations * 2 * math.pi))) / (2 * math.log(base))


def _correction_range(
    dim: int, base: float, original: int, beta_fast: float, beta_slow: float, truncate: bool
) -> tuple[float, float]:
    low = _correction_dim(beta_fast, dim, base, original)
    high = _correction_dim(beta_slow, dim, base, original)
    if truncate:
        low, high = math.floor(low), math.ceil(high)
    return max(low, 0), min(high, dim - 1)


def _ramp(low: float, high: float, n: int) -> torch.Tensor:
    if low == high:
        high += 0.001
    linear_func = (torch.arange(n, dtype=torch.float32) - low) / (high - low)
    return torch.clamp(linear_func, 0, 1)


def _mscale(factor: float, mscale: float = 1.0) -> float:
    if factor <= 1:
        return 1.0
    return 0.1 * mscale * math.log(factor) + 1.0


def yarn_correction_dim(
    num_rotations: float, dim: int, base: float, original_max_position: int
) -> float:
    """The (fractional) dim-pair index whose wavelength fits `num_rotations` times into the
    original context: d·ln(L_orig / (2π·r)) / (2·ln base)."""
    num_rotations = chk.real("num_rotations", num_rotations)
    if num_rotations <= 0:
        raise ValueError(f"num_rotations must be positive, got {num_rotations}")
    original = _tokens("original_max_position", original_max_position)
    return _correction_dim(num_rotations, _dim(dim), _base(base), original)


def yarn_correction_range(
    dim: int,
    base: float,
    original_max_position: int,
    *,
    beta_fast: float = 32,
    beta_slow: float = 1,
    truncate: bool = True,
) -> tuple[float, float]:
    """(low, high): pair indices below `low` turn more than β_fast times within the original
    context (extrapolated, untouched); above `high` fewer than β_slow times (interpolated).

    low = floor(dim(β_fast)), high = ceil(dim(β_slow)) when `truncate`, clamped to
    [0, dim − 1] as in Hugging Face and the YaRN authors' code.
    """
    beta_fast, beta_slow = _betas(beta_fast, beta_slow)
    truncate = chk.flag("truncate", truncate)
    dim, base = _dim(dim), _base(base)
    original = _tokens("original_max_position", original_max_position)
    return _correction_range(dim, base, original, beta_fast, beta_slow, truncate)


def yarn_ramp(low: float, high: float, n: int) -> torch.Tensor:
    """clamp((i − low) / (high − low), 0, 1) for pair indices i = 0 … n−1 (float32).

    0 = extrapolate (keep the frequency), 1 = interpolate (divide by the factor). When
    low == high the denominator gets 0.001 added, as in Hugging Face, to avoid 0/0.
    """
    low, high = chk.real("low", low), chk.real("high", high)
    if high < low:
        raise ValueError(f"high must be >= low, got low={low}, high={high}")
    return _ramp(low, high, _tokens("n", n))


def yarn_mscale(factor: float, mscale: float = 1.0) -> float:
    """YaRN's temperature 0.1·mscale·ln(s) + 1 for s > 1, and exactly 1 for s ≤ 1."""
    factor, mscale = chk.real("factor", factor), chk.real("mscale", mscale)
    if factor <= 0:
        raise ValueError(f"factor must be a positive number, got {factor!r}")
    return _mscale(factor, mscale)


def yarn(
    dim: int,
    base: float,
    factor: float,
    original_max_position: int,
    *,
    beta_fast: float = 32,
    beta_slow: float = 1,
    mscale: float | None = None,
    mscale_all_dim: float | None = None,
    attention_factor: float | None = None,
    truncate: bool = True,
) -> tuple[torch.Tensor, float]:
    """YaRN: extrapolate the fast pairs, interpolate the slow ones, ramp between; plus a
    temperature on the attention logits.

    inv_freq = θ·(1 − ramp) + (θ/s)·ramp with `yarn_ramp` over `yarn_correction_range`.
    The attention factor is `attention_factor` if given, else
    yarn_mscale(s, mscale) / yarn_mscale(s, mscale_all_dim) when both are given and non-zero
    (DeepSeek style), else yarn_mscale(s) — so, as in Hugging Face, an `mscale` without an
    `mscale_all_dim` (or the reverse) leaves the factor at yarn_mscale(s). The base is NOT
    changed (that is NTK-aware scaling).
    """
    dim, base, factor = _dim(dim), _base(base), _factor(factor)
    original = _tokens("original_max_position", original_max_position)
    if mscale is not None:
        mscale = chk.real("mscale", mscale)
    if mscale_all_dim is not None:
        mscale_all_dim = chk.real("mscale_all_dim", mscale_all_dim)
    if attention_factor is None:
        if mscale and mscale_all_dim:
            attention_factor = _mscale(factor, mscale) / _mscale(factor, mscale_all_dim)
        else:
            attention_factor = _mscale(factor)
    else:
        attention_factor = chk.positive_real("attention_factor", attention_factor)
    beta_fast, beta_slow = _betas(beta_fast, beta_slow)
    truncate = chk.flag("truncate", truncate)
    low, high = _correction_range(dim, base, original, beta_fast, beta_slow, truncate)
    pos_freqs = base ** (torch.arange(0, dim, 2).to(dtype=torch.float) / dim)
    inv_freq_extrapolation = 1.0 / pos_freqs
    inv_freq_interpolation = 1.0 / (factor * pos_freqs)
    ramp = _ramp(low, high, dim // 2)
    inv_freq = inv_freq_extrapolation * (1 - ramp) + inv_freq_interpolation * ramp
    return inv_freq, float(attention_factor)


# --------------------------------------------------------------------------- Llama 3
def llama3(
    dim: int,
    base: float,
    factor: float,
    original_max_position: int,
    *,
    low_freq_factor: float = 1.0,
    high_freq_factor: float = 4.0,
) -> tuple[torch.Tensor, float]:
    """Llama 3.1's scaling: wavelengths shorter than L_orig/high_freq_factor are kept,
    longer than L_orig/low_freq_factor are divided by s, and a linear blend in
    L_orig/wavelength joins the two. Attention factor 1. (Meta used s=8, 1, 4, L_orig=8192.)
    """
    dim, base, factor = _dim(dim), _base(base), _factor(factor)
    old_context_len = _tokens("original_max_position", original_max_position)
    low_freq_factor = chk.positive_real("low_freq_factor", low_freq_factor)
    high_freq_factor = chk.positive_real("high_freq_factor", high_freq_factor)
    if high_freq_factor <= low_freq_factor:
        raise ValueError(
            "high_freq_factor must be greater than low_freq_factor, got "
            f"low_freq_factor={low_freq_factor}, high_freq_factor={high_freq_factor}"
        )
    inv_freq = rope_inv_freq(dim, base)
    low_freq_wavelen = old_context_len / low_freq_factor
    high_freq_wavelen = old_context_len / high_freq_factor
    wavelen = 2 * math.pi / inv_freq
    inv_freq_llama = torch.where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
    smooth = (old_context_len / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
    smoothed = (1 - smooth) * inv_freq_llama / factor + smooth * inv_freq_llama
    is_medium = ~(wavelen < high_freq_wavelen) * ~(wavelen > low_freq_wavelen)
    return torch.where(is_medium, smoothed, inv_freq_llama), 1.0


# --------------------------------------------------------------------------- the registry
# One name → one pure function (dim, base, **parameters) -> (inv_freq, attention_factor), as
# Hugging Face's ROPE_INIT_FUNCTIONS. Plain RoPE ("default") is `rope_inv_freq` itself.
SCALINGS: dict[str, Callable[..., tuple[torch.Tensor, float]]] = {
    "linear": linear,
    "ntk_aware": ntk_aware,
    "dynamic_ntk": dynamic_ntk,
    "yarn": yarn,
    "llama3": llama3,
}

# Hugging Face `rope_parameters` names → ours (both are accepted)
_HF_TYPES = {"dynamic": "dynamic_ntk"}
_HF_KEYS = {"original_max_position_embeddings": "original_max_position"}


def normalize_scaling(
    scaling: Mapping[str, Any] | None, base: float | None = None
) -> dict[str, Any] | None:
    """A scaling dict in our names, ``{"type": name, **parameters}``, or None (plain RoPE).

    Accepts ``{"type": "yarn", "factor": 8, "original_max_position": 4096}`` and Hugging
    Face's ``rope_parameters`` ("rope_type", "default", "dynamic",
    "original_max_position_embeddings", a "rope_theta" equal to `base`).
    """
    if scaling is None:
        return None
    if not isinstance(scaling, Mapping) or not ({"type", "rope_type"} & set(scaling)):
        raise ValueError(
            "scaling must be None or a dict with a 'type' key, e.g. "
            "{'type': 'linear', 'factor': 4}"
        )
    kwargs = dict(scaling)
    kind = kwargs.pop("type", None)
    hf_kind = kwargs.pop("rope_type", None)
    if kind is not None and hf_kind is not None and kind != hf_kind:
        raise ValueError(f"'type' ({kind!r}) and 'rope_type' ({hf_kind!r}) disagree")
    kind = kind if kind is not None else hf_kind
    if not isinstance(kind, str):
        raise ValueError(f"the scaling type must be a string such as 'yarn', got {kind!r}")
    kind = _HF_TYPES.get(kind, kind)
    if kind == "default":
        return None
    if kind not in SCALINGS:
        raise ValueError(f"unknown scaling type {kind!r}; choose one of {sorted(SCALINGS)}")
    for hf_key, key in _HF_KEYS.items():
        if hf_key in kwargs:
            if key in kwargs:
                raise ValueError(f"give {key!r} or {hf_key!r}, not both")
            kwargs[key] = kwargs.pop(hf_key)
    if "rope_theta" in kwargs:
        theta = kwargs.pop("rope_theta")
        if theta is not None and theta != base:
            raise ValueError(
                f"rope_theta in the scaling dict ({theta}) differs from base ({base}); "
                "give the base to RotaryEmbedding itself"
            )
    for reserved in ("dim", "base"):
        if reserved in kwargs:
            raise ValueError(
                f"give {reserved!r} to RotaryEmbedding itself, not inside the scaling dict"
            )
    if kind == "dynamic_ntk" and "seq_len" in kwargs:
        raise ValueError("dynamic_ntk takes seq_len from the positions at each call; drop it")
    return {"type": kind, **kwargs}


def rope_frequencies(
    dim: int,
    base: float = 10000.0,
    scaling: Mapping[str, Any] | None = None,
    *,
    seq_len: int | None = None,
) -> tuple[torch.Tensor, float]:
    """(inv_freq, attention_factor) of RoPE with `scaling` (None: plain RoPE, factor 1).

    The one entry point from a scaling's name to its frequencies: `scaling` is a dict as
    `normalize_scaling` accepts. `seq_len` is the current length, used only by
    "dynamic_ntk" (default: its original_max_position, i.e. no stretch yet).

    >>> inv, factor = rope_frequencies(8, 10000.0, {"type": "linear", "factor": 2})
    >>> tuple(inv.shape), factor
    ((4,), 1.0)
    """
    spec = normalize_scaling(scaling, base)
    if spec is None:
        return rope_inv_freq(dim, base), 1.0
    kwargs = {k: v for k, v in spec.items() if k != "type"}
    if spec["type"] == "dynamic_ntk":
        kwargs["seq_len"] = seq_len or kwargs.get("original_max_position", 1)
    try:
        return SCALINGS[spec["type"]](dim, base, **kwargs)
    except TypeError as err:
        raise ValueError(f"bad arguments for scaling {spec['type']!r}: {err}") from None


# --------------------------------------------------------------------------- the lesson
# The lesson's sketches (§3.2–3.3), kept verbatim in substance so the course can run them.
# PI is right (ERRATUM 9). The YaRN sketch is NOT: its correction range ignores β and the
# base (ERRATUM 10), its "ramp" is a step over even numbers (11), and it applies
# mscale = 0.1·ln(s) + 1 even for s ≤ 1 (14). Do not use it as a reference.
def lesson_position_interpolation(
    position_ids: torch.Tensor, original_max_length: int, extended_max_length: int
) -> torch.Tensor:
    """The lesson's `linear_position_interpolation`: positions · L_orig / L_ext (float)."""
    _tokens("original_max_length", original_max_length)
    _tokens("extended_max_length", extended_max_length)
    if not isinstance(position_ids, torch.Tensor):
        raise ValueError("position_ids must be a torch.Tensor")
    scale = original_max_length / extended_max_length
    return position_ids.float() * scale


def lesson_yarn_correction_range(
    dim: int, original_max_length: int, extended_max_length: int
) -> tuple[int, int]:
    """The lesson's (wrong) YaRN range: one expression, floored and ceiled (ERRATUM 10)."""
    dim = _dim(dim)
    _tokens("original_max_length", original_max_length)
    _tokens("extended_max_length", extended_max_length)
    if original_max_length < 2:
        raise ValueError(
            "the sketch divides by ln(original_max_length), so it must be at least 2, "
            f"got {original_max_length}"
        )
    scale = extended_max_length / original_max_length
    x = dim * math.log(scale) / (2 * math.log(original_max_length))
    return max(0, math.floor(x)), min(dim // 2 - 1, math.ceil(x))


def lesson_yarn_inv_freq(
    dim: int,
    original_max_length: int = 4096,
    extended_max_length: int = 32768,
    base: float = 10000.0,
    beta_fast: float = 32,
    beta_slow: float = 1,
) -> tuple[torch.Tensor, float]:
    """The lesson's `YaRNRoPE.__init__`: returns its (inv_freq, mscale). Wrong — see above.

    Same parameters as the sketch. Like the sketch, it accepts `beta_fast`/`beta_slow` and
    never uses them (ERRATUM 10): changing them changes nothing.
    """
    del beta_fast, beta_slow  # accepted and ignored, exactly as in the lesson
    dim = _dim(dim)
    _tokens("original_max_length", original_max_length)
    _tokens("extended_max_length", extended_max_length)
    base = _base(base)
    scale = extended_max_length / original_max_length
    dims = torch.arange(0, dim, 2)
    low, high = lesson_yarn_correction_range(dim, original_max_length, extended_max_length)
    ramp = torch.zeros(dim // 2)
    ramp[:low] = 0.0
    ramp[high:] = 1.0
    if high > low:
        ramp[low:high] = (dims[low:high] - low) / (high - low)
    inv_freq = 1.0 / (base ** (dims.float() / dim))
    inv_freq_inter = inv_freq / scale
    mscale = 0.1 * math.log(scale) + 1.0
    return (1 - ramp) * inv_freq + ramp * inv_freq_inter, mscale


class LessonRoPEWithInterpolation(torch.nn.Module):
    """The lesson's §3.2 module, kept as written (x is (batch, seq, heads, dim) there).

    It is right (ERRATUM 9): equal to `RotaryEmbedding(dim, base, {"type": "linear",
    "factor": extended / original})` after moving the heads axis.
    """

    def __init__(
        self,
        dim: int,
        original_max_length: int = 4096,
        extended_max_length: int = 16384,
        base: float = 10000.0,
    ):
        super().__init__()
        self.dim = dim
        self.original_max_length = original_max_length
        self.extended_max_length = extended_max_length
        self.base = base
        inv_freq = 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))
        self.register_buffer("inv_freq", inv_freq)
        self.scale = original_max_length / extended_max_length

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        scaled_positions = position_ids.float() * self.scale
        freqs = torch.einsum("bi,d->bid", scaled_positions, self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos = emb.cos().unsqueeze(2)  # (batch, seq, 1, dim)
        sin = emb.sin().unsqueeze(2)
        return self._apply_rope(x, cos, sin)

    def _apply_rope(self, x, cos, sin):
        x1 = x[..., : self.dim // 2]
        x2 = x[..., self.dim // 2 :]
        rotated = torch.cat([-x2, x1], dim=-1)
        return x * cos + rotated * sin


class LessonYaRNRoPE(torch.nn.Module):
    """The lesson's §3.3 module, kept as written — and broken: `forward` calls
    `self._apply_rope`, which this class never defines (ERRATUM 13), and its frequencies are
    `lesson_yarn_inv_freq`'s (ERRATA 10–11, 14)."""

    def __init__(
        self,
        dim: int,
        original_max_length: int = 4096,
        extended_max_length: int = 32768,
        base: float = 10000.0,
        beta_fast: float = 32,
        beta_slow: float = 1,
    ):
        super().__init__()
        self.dim = dim
        self.original_max_length = original_max_length
        self.extended_max_length = extended_max_length
        inv_freq, self.mscale = lesson_yarn_inv_freq(
            dim, original_max_length, extended_max_length, base
        )
        self.register_buffer("inv_freq", inv_freq)

    def forward(self, x: torch.Tensor, position_ids: torch.Tensor):
        freqs = torch.einsum("bi,d->bid", position_ids.float(), self.inv_freq)
        emb = torch.cat([freqs, freqs], dim=-1)
        cos = emb.cos().unsqueeze(2) * self.mscale
        sin = emb.sin().unsqueeze(2) * self.mscale
        return self._apply_rope(x, cos, sin)  # AttributeError: never defined (ERRATUM 13)
