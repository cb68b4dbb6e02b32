"""Mamba's selective scan: a recurrence with input-dependent parameters, computed in chunks.

Gu & Dao (2023), "Mamba: Linear-Time Sequence Modeling with Selective State Spaces":
h_t = exp(Δ_t·A) ⊙ h_{t-1} + Δ_t·B_t·x_t and y_t = C_t·h_t + D·x_t, per channel, with a
state of N numbers per channel. `selective_scan_reference` is the plain loop (as
mamba_ssm's ``selective_scan_ref``); `selective_scan` splits the sequence into chunks, runs
a parallel prefix scan (Hillis & Steele doubling) inside each and carries the state across
chunks. Layout: (batch, seq, channels) for x and Δ, (batch, seq, state) for B and C.
"""

from __future__ import annotations

import torch

from lcedu import _checks as chk

__all__ = [
    "selective_scan",
    "selective_scan_reference",
    "selective_scan_step",
    "scan_state_bytes",
]


def _check(x, delta, A, B, C, D) -> tuple[int, int, int, int]:
    for name, t in (("x", x), ("delta", delta), ("A", A), ("B", B), ("C", C)):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point():
            raise ValueError(f"selective_scan: {name} must be a floating torch.Tensor")
    if x.dim() != 3:
        raise ValueError(
            f"selective_scan: x must be (batch, seq, channels), got shape {tuple(x.shape)}"
        )
    b, L, d = x.shape
    if L < 1:
        raise ValueError(
            f"selective_scan: the sequence must hold at least one step, got x of shape "
            f"{tuple(x.shape)} (batch, seq=0, channels)"
        )
    if delta.shape != x.shape:
        raise ValueError(
            f"selective_scan: delta must have x's shape {tuple(x.shape)}, got {tuple(delta.shape)}"
        )
    if A.dim() != 2 or A.shape[0] != d:
        raise ValueError(
            f"selective_scan: A must be (channels={d}, state), got shape {tuple(A.shape)}"
        )
    n = A.shape[1]
    for name, t in (("B", B), ("C", C)):
        if tuple(t.shape) != (b, L, n):
            raise ValueError(
                f"selective_scan: {name} must be (batch, seq, state) = {(b, L, n)}, "
                f"got {tuple(t.shape)}"
            )
    if D is not None and (not isinstance(D, torch.Tensor) or tuple(D.shape) != (d,)):
        raise ValueError(f"selective_scan: D must be None or a ({d},) tensor")
    return b, L, d, n


def selective_scan_reference(
    x: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
) -> torch.Tensor:
    """The recurrence, one step at a time: O(L) sequential steps, O(1) state per channel."""
    b, L, d, n = _check(x, delta, A, B, C, D)
    h = x.new_zeros(b, d, n)
    ys = []
    for t in range(L):
        h, y = selective_scan_step(h, x[:, t], delta[:, t], A, B[:, t], C[:, t], D)
        ys.append(y)
    return torch.stack(ys, dim=1)


def selective_scan_step(
    h: torch.Tensor,
    x_t: torch.Tensor,
    delta_t: torch.Tensor,
    A: torch.Tensor,
    B_t: torch.Tensor,
    C_t: torch.Tensor,
    D: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One recurrent step (decoding): state h (batch, channels, state) -> (new h, y_t).

    The state is the SSM's whole "cache": its size does not grow with the sequence.
    """
    if h.dim() != 3 or x_t.dim() != 2 or h.shape[:2] != x_t.shape:
        raise ValueError(
            "selective_scan_step: h must be (batch, channels, state), x_t (batch, channels)"
        )
    decay = torch.exp(delta_t[..., None] * A)  # (b, d, n)
    h = decay * h + (delta_t * x_t)[..., None] * B_t[:, None, :]
    y = (h * C_t[:, None, :]).sum(-1)
    if D is not None:
        y = y + D * x_t
    return h, y


def _prefix_scan(a: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Inclusive scan of h_t = a_t·h_{t-1} + u_t along dim 1 (h_{-1} = 0), log2(T) steps.

    Returns (prod of a up to t, h_t). Combining (a1, u1) then (a2, u2) gives
    (a1·a2, a2·u1 + u2), which is associative.
    """
    T = a.shape[1]
    step = 1
    while step < T:
        a_prev, u_prev = a[:, :-step], u[:, :-step]
        u = torch.cat([u[:, :step], a[:, step:] * u_prev + u[:, step:]], dim=1)
        a = torch.cat([a[:, :step], a[:, step:] * a_prev], dim=1)
        step *= 2
    return a, u


def selective_scan(
    x: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    *,
    chunk_size: int = 64,
) -> torch.Tensor:
    """The selective scan in chunks: parallel inside a chunk, the state carried between them.

    x, delta: (batch, seq, channels); A: (channels, state), negative for a decaying state;
    B, C: (batch, seq, state); D: (channels,) or None. Returns y, (batch, seq, channels).
    Memory: batch·chunk_size·channels·state per chunk, linear in the sequence overall.
    """
    b, L, d, n = _check(x, delta, A, B, C, D)
    chk.positive_int("chunk_size", chunk_size)
    h = x.new_zeros(b, d, n)
    ys = []
    for lo in range(0, L, chunk_size):
        hi = min(L, lo + chunk_size)
        dl = delta[:, lo:hi]  # (b, T, d)
        a = torch.exp(dl[..., None] * A)  # (b, T, d, n)
        u = (dl * x[:, lo:hi])[..., None] * B[:, lo:hi, None, :]
        prod, hs = _prefix_scan(a, u)
        hs = hs + prod * h[:, None]  # the carried-in state, decayed to every step
        y = (hs * C[:, lo:hi, None, :]).sum(-1)
        ys.append(y)
        h = hs[:, -1]
    y = torch.cat(ys, dim=1)
    if D is not None:
        y = y + D * x
    return y


def scan_state_bytes(
    channels: int, state: int, *, batch_size: int = 1, bytes_per_element: int = 2
) -> int:
    """Bytes of one layer's recurrent state: batch · channels · state (independent of length)."""
    for name, v in (
        ("channels", channels),
        ("state", state),
        ("batch_size", batch_size),
        ("bytes_per_element", bytes_per_element),
    ):
        chk.positive_int(name, v, fn="scan_state_bytes")
    return batch_size * channels * state * bytes_per_element
