"""Wrong `apply_rope` and `linear` (exercise 04)."""

import torch

WRONG = []


def wrong(check, key, **opts):
    def deco(fn):
        WRONG.append((check, key, fn, opts))
        return fn

    return deco


AR, LI = "check_apply_rope", "check_linear"


def _halves(x):
    half = x.shape[-1] // 2
    return x[..., :half], x[..., half:]


@wrong(AR, "rope.m01")  # GPT-J interleaved pairs
def rope_interleaved(x, cos, sin):
    x1, x2 = x[..., 0::2], x[..., 1::2]
    rot = torch.stack((-x2, x1), dim=-1).flatten(-2)
    c = torch.cat((cos[..., : cos.shape[-1] // 2].repeat_interleave(2, -1),), -1)
    s = torch.cat((sin[..., : sin.shape[-1] // 2].repeat_interleave(2, -1),), -1)
    return x * c + rot * s


@wrong(AR, "rope.m02")
def rope_wrong_sign(x, cos, sin):
    x1, x2 = _halves(x)
    return x * cos + torch.cat((x2, -x1), -1) * sin


@wrong(AR, "rope.m03")
def rope_sin_times_x(x, cos, sin):
    return x * cos + x * sin


@wrong(AR, "rope.m04")
def rope_no_sin(x, cos, sin):
    return x * cos


@wrong(AR, "rope.m05")
def rope_identity(x, cos, sin):
    return x.clone()


@wrong(AR, "engine.changed_input")  # negates sin in place, then undoes the sign in the formula
def rope_negates_sin(x, cos, sin):
    x1, x2 = _halves(x)
    sin.neg_()
    return x * cos - torch.cat((-x2, x1), -1) * sin


@wrong(AR, "cmp.dtype")
def rope_float64(x, cos, sin):
    x1, x2 = _halves(x.double())
    return x.double() * cos.double() + torch.cat((-x2, x1), -1) * sin.double()


@wrong(AR, "cmp.not_tensor")
def rope_numpy(x, cos, sin):
    x1, x2 = _halves(x)
    return (x * cos + torch.cat((-x2, x1), -1) * sin).numpy()


def _inv(dim, base):
    return 1.0 / (base ** (torch.arange(0, dim, 2).float() / dim))


def _check(dim, factor):
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0 or dim % 2:
        raise ValueError("dim must be a positive even integer")
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 1:
        raise ValueError("factor must be >= 1")


@wrong(LI, "rope.m06")
def linear_multiplies(dim, base, factor):
    _check(dim, factor)
    return _inv(dim, base) * factor, 1.0


@wrong(LI, "rope.m07")
def linear_unscaled(dim, base, factor):
    _check(dim, factor)
    return _inv(dim, base), 1.0


@wrong(LI, "rope.pi_scale")
def linear_scales_attention(dim, base, factor):
    _check(dim, factor)
    return _inv(dim, base) / factor, float(factor)


@wrong(LI, "cmp.raise_wrong")  # factor="2": TypeError from `<`, not ValueError
def linear_type_error(dim, base, factor):
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0 or dim % 2:
        raise ValueError("dim must be a positive even integer")
    if factor < 1:
        raise ValueError("factor must be >= 1")
    return _inv(dim, base) / factor, 1.0


@wrong(LI, "cmp.raise_none")  # odd dim accepted
def linear_odd_dim(dim, base, factor):
    if isinstance(factor, bool) or not isinstance(factor, (int, float)) or not factor >= 1:
        raise ValueError("factor must be >= 1")
    return _inv(dim, base) / factor, 1.0


@wrong(LI, "cmp.dtype")
def linear_float64(dim, base, factor):
    _check(dim, factor)
    return _inv(dim, base).double() / factor, 1.0


@wrong(LI, "rope.not_pair")
def linear_returns_list(dim, base, factor):
    _check(dim, factor)
    return [_inv(dim, base) / factor, 1.0]
