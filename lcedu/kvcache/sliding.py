"""A sliding-window KV cache as a rolling buffer: memory stays fixed however long the text.

Mistral 7B (Jiang et al., 2023; mistral-inference's ``RotatingBufferCache``) keeps the keys
and values of the last W tokens in W slots and writes position p into slot ``p mod W``,
overwriting the token that just left the window.

**Convention: a window of W holds W keys, the current token included.** After writing the
token at position i, the cache holds positions max(0, i-W+1) ... i, and the matching mask
is ``i - W < j <= i``. (Some texts say "W previous tokens plus itself", W+1 keys; not here.)
"""

from __future__ import annotations

import torch

from lcedu import _checks as chk
from lcedu.kvcache.full import KVCacheBase, check_new_kv, kv_pair_bytes

__all__ = ["SlidingWindowCache"]


class SlidingWindowCache(KVCacheBase):
    """Rolling buffer of `window` slots; position p lives in slot ``p % window``.

    State: ``k_buf`` and ``v_buf`` (batch, heads, slots, head_dim), allocated on the first
    update with ``window`` slots; ``seen_tokens``, the number of tokens written so far.
    `keys_values()` reads the held positions back in order (oldest first).

    >>> c = SlidingWindowCache(window=3)
    >>> for _ in range(5):
    ...     c.update(torch.zeros(1, 1, 1, 2), torch.zeros(1, 1, 1, 2))
    >>> c.positions().tolist(), len(c)
    ([2, 3, 4], 3)
    """

    def __init__(self, window: int) -> None:
        chk.positive_int("window", window)
        # the smallest buffers (one head, head_dim 1, 2-byte floats, K and V) must fit
        chk.allocation(f"a window of {window} tokens", 4 * window, fn="SlidingWindowCache")
        self.window = window
        self.k_buf: torch.Tensor | None = None
        self.v_buf: torch.Tensor | None = None
        self.seen_tokens = 0

    def allocate(self, k: torch.Tensor) -> None:
        """Create empty buffers with `window` slots, shaped and typed like the new keys `k`."""
        b, h, _, d = k.shape
        need = 2 * b * h * self.window * d * k.element_size()
        chk.allocation(f"K/V buffers of {self.window} slots", need, fn="SlidingWindowCache",
                       device=k.device)
        self.k_buf = k.new_zeros(b, h, self.window, d)
        self.v_buf = k.new_zeros(b, h, self.window, d)

    def check_new(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Raise ValueError unless k, v are valid new entries for this cache."""
        check_new_kv(k, v, like=self.k_buf, name="SlidingWindowCache.update")

    def update(self, k: torch.Tensor, v: torch.Tensor) -> None:
        """Write the T new tokens (positions seen_tokens ... seen_tokens+T-1) into their slots.

        Only the last `window` of them can survive, so only those are written; each goes to
        slot ``position % window``.
        """
        self.check_new(k, v)
        if self.k_buf is None:
            self.allocate(k)
        t = k.shape[2]
        keep = min(t, self.window)
        pos = torch.arange(self.seen_tokens + t - keep, self.seen_tokens + t, device=k.device)
        slots = pos % self.window
        self.k_buf[:, :, slots] = k[:, :, t - keep :]
        self.v_buf[:, :, slots] = v[:, :, t - keep :]
        self.seen_tokens += t

    # Reading back relies only on the buffer and seen_tokens (the exercise's contract).
    def _capacity(self) -> int:
        return 0 if self.k_buf is None else self.k_buf.shape[2]

    def __len__(self) -> int:
        return min(self.seen_tokens, self._capacity())

    def positions(self) -> torch.Tensor:
        return torch.arange(self.seen_tokens - len(self), self.seen_tokens)

    def keys_values(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.k_buf is None or self.seen_tokens == 0:
            raise ValueError(
                "SlidingWindowCache.keys_values: the cache is empty; call update(k, v) first"
            )
        slots = (self.positions() % self._capacity()).to(self.k_buf.device)
        return self.k_buf[:, :, slots], self.v_buf[:, :, slots]

    def slot_positions(self) -> list[int | None]:
        """Which position each slot holds now (None for a slot never written)."""
        cap = self._capacity() or self.window
        slots: list[int | None] = [None] * cap
        for p in self.positions().tolist():
            slots[p % cap] = p
        return slots

    def nbytes(self) -> int:
        return kv_pair_bytes(self.k_buf)

    def __repr__(self) -> str:
        return f"SlidingWindowCache(window={self.window}, len={len(self)})"
