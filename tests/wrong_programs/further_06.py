"""Wrong programs for go-further 06 (`alibi_score_mod`), each with its diagnosis."""

import torch


def _ok(slopes):
    if not isinstance(slopes, torch.Tensor) or slopes.dim() != 1 or slopes.numel() < 1:
        raise ValueError("slopes")
    if not slopes.is_floating_point():
        raise ValueError("dtype")


def _make(*, sign=1, causal=True, diagonal=False, flip=False, slope=True, fill=float("-inf"),
          replace=False, check=True):
    def alibi_score_mod(slopes):
        if check:
            _ok(slopes)
        m = slopes.flip(0) if flip else slopes

        def score_mod(score, b, h, q_idx, kv_idx):
            dist = sign * (kv_idx - q_idx)
            bias = m[h] * dist if slope else dist.to(score.dtype)
            out = bias + (0 if replace else score)
            if not causal:
                return out
            keep = kv_idx < q_idx if diagonal else kv_idx <= q_idx
            return torch.where(keep, out, fill)

        return score_mod

    return alibi_score_mod


def scales_slopes_in_place(slopes):
    _ok(slopes)
    slopes.mul_(1.0)
    slopes.add_(0.0)
    slopes[0] = slopes[0] * 2

    def score_mod(score, b, h, q_idx, kv_idx):
        return torch.where(kv_idx <= q_idx, score + slopes[h] * (kv_idx - q_idx), float("-inf"))

    return score_mod


def returns_a_bias_tensor(slopes):
    _ok(slopes)
    return slopes[:, None, None] * torch.zeros(1, 4, 4)


def symmetric_unmasked(slopes):
    _ok(slopes)

    def score_mod(score, b, h, q_idx, kv_idx):
        return score - slopes[h] * (q_idx - kv_idx).abs()

    return score_mod


CORPUS = [
    (_make(sign=-1), "alf.sign"),
    (_make(causal=False), "alf.no_causal"),
    (_make(diagonal=True), "alf.diagonal"),
    (_make(flip=True), "alf.heads"),
    (_make(slope=False), "alf.no_slope"),
    (_make(fill=-1e9), "alf.finite"),
    (_make(replace=True), "alf.replaced"),
    (_make(check=False), "cmp.raise_none"),
    (scales_slopes_in_place, "alf.changed_slopes"),
    (returns_a_bias_tensor, "alf.not_mod"),
    (symmetric_unmasked, "alf.no_causal"),
]


def python_if(slopes):
    _ok(slopes)

    def score_mod(score, b, h, q_idx, kv_idx):
        if kv_idx > q_idx:
            return score - float("inf")
        return score + slopes[h] * (kv_idx - q_idx)

    return score_mod


CORPUS.append((python_if, "further.python_if"))


def scales_the_score(slopes):
    _ok(slopes)

    def score_mod(score, b, h, q_idx, kv_idx):
        biased = score / 8 + slopes[h] * (kv_idx - q_idx)  # scales again what SDPA scaled
        return torch.where(kv_idx <= q_idx, biased, float("-inf"))

    return score_mod


CORPUS.append((scales_the_score, "alf.replaced"))
