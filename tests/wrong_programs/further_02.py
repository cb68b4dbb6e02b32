"""Wrong programs for go-further 02 (`dilated_window_mod`), each with its diagnosis."""

import torch


def _ok(window, dilation):
    for v in (window, dilation):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError("bad")


def _make(*, span=True, every=False, strict=False, future=False, ignore_causal=False,
          absolute=False, check=True, as_int=False):
    def dilated_window_mod(window, dilation, *, causal=False):
        if check:
            _ok(window, dilation)

        def mod(b, h, q_idx, kv_idx):
            d = q_idx - kv_idx
            reach = window * dilation if span else window
            keep = (d.abs() < reach) if strict else (d.abs() <= reach)
            if not every:
                keep = keep & ((kv_idx if absolute else d) % dilation == 0)
            if causal and not ignore_causal:
                keep = keep & ((d <= 0) if future else (d >= 0))
            return keep.int() if as_int else keep

        return mod

    return dilated_window_mod


def python_if(window, dilation, *, causal=False):
    _ok(window, dilation)

    def mod(b, h, q_idx, kv_idx):
        if abs(q_idx - kv_idx) <= window * dilation:  # data-dependent control flow
            return (q_idx - kv_idx) % dilation == 0
        return q_idx < 0

    return mod


def returns_the_mask(window, dilation, *, causal=False):
    _ok(window, dilation)
    i = torch.arange(64)
    d = i[:, None] - i[None, :]
    return (d.abs() <= window * dilation) & (d % dilation == 0)


def checks_inside_the_mod(window, dilation, *, causal=False):
    def mod(b, h, q_idx, kv_idx):
        _ok(window, dilation)
        d = q_idx - kv_idx
        keep = (d.abs() <= window * dilation) & (d % dilation == 0)
        return keep & (d >= 0) if causal else keep

    return mod


CORPUS = [
    (_make(span=False), "dil.span"),
    (_make(every=True), "dil.every_key"),
    (_make(strict=True), "dil.off_by_one"),
    (_make(future=True), "dil.future"),
    (_make(ignore_causal=True), "dil.causal_ignored"),
    (_make(absolute=True), "dil.absolute"),
    (_make(check=False), "cmp.raise_none"),
    (_make(as_int=True), "cmp.not_bool"),
    (python_if, "further.python_if"),
    (returns_the_mask, "dil.not_mod"),
    (checks_inside_the_mod, "cmp.raise_none"),
]


def item_inside(window, dilation, *, causal=False):
    _ok(window, dilation)

    def mod(b, h, q_idx, kv_idx):
        d = int((q_idx - kv_idx).item())
        return torch.tensor(abs(d) <= window * dilation and d % dilation == 0)

    return mod


CORPUS.append((item_inside, "further.python_if"))
