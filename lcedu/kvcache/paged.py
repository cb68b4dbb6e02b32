"""A paged KV cache: fixed-size blocks from one pool, a block table per sequence (vLLM).

Kwon et al. (2023), "Efficient Memory Management for Large Language Model Serving with
PagedAttention", store each sequence's keys and values in blocks of `block_size` tokens
taken from a shared pool, like virtual-memory pages. A sequence wastes at most one
partly-filled block, and sequences that share a prefix (parallel samples, beam search) share
its blocks by reference count, copying a shared block only when one of them writes to it.
"""

from __future__ import annotations

import torch

from lcedu import _checks as chk
from lcedu.kvcache.full import KVCacheBase, check_new_kv

__all__ = ["PagedKVCache", "OutOfBlocksError"]


class OutOfBlocksError(RuntimeError, ValueError):
    """The pool has no free block left for a write.

    A RuntimeError (the pool is exhausted) and a ValueError (the request is too large for
    the cache as configured, like every other bad request in lcedu), so either catches it.
    """


class PagedKVCache(KVCacheBase):
    """A pool of `num_blocks` blocks of `block_size` tokens shared by many sequences.

    The pool (``k_pool``, ``v_pool``: num_blocks × heads × block_size × head_dim) is
    allocated on the first update, shaped like the new keys. Each sequence (an integer id)
    owns a block table, the list of pool blocks holding its tokens in order.

    Through the common interface, batch row b of ``update(k, v)`` is sequence b; pass
    ``seq_ids`` to address other sequences. ``keys_values(seq_ids)`` gathers the blocks
    into contiguous (batch, heads, len, head_dim) tensors. ``len(cache)`` is the length of
    the longest live sequence; ``nbytes()`` counts the blocks in use (a shared block once).

    >>> c = PagedKVCache(block_size=4, num_blocks=8)
    >>> c.update(torch.zeros(1, 2, 6, 8), torch.zeros(1, 2, 6, 8))
    >>> c.block_table(0), c.num_free_blocks
    ([0, 1], 6)
    """

    def __init__(self, block_size: int, num_blocks: int) -> None:
        self.block_size = chk.positive_int("block_size", block_size)
        self.num_blocks = chk.positive_int("num_blocks", num_blocks)
        # block tables cost ~44 bytes a block in Python; the smallest pool (one head,
        # head_dim 1, 2-byte floats, K and V) 4 bytes a token
        need = num_blocks * (44 + 4 * block_size)
        chk.allocation(
            f"a pool of {num_blocks} blocks of {block_size} tokens", need, fn="PagedKVCache"
        )
        self.k_pool: torch.Tensor | None = None
        self.v_pool: torch.Tensor | None = None
        self._free: list[int] = list(range(num_blocks))
        self._refcount: list[int] = [0] * num_blocks
        self._tables: dict[int, list[int]] = {}
        self._lens: dict[int, int] = {}
        self._next_id = 0

    # ----- bookkeeping ----------------------------------------------------------------
    @property
    def num_free_blocks(self) -> int:
        return len(self._free)

    @property
    def sequences(self) -> list[int]:
        """Ids of the live sequences, in increasing order."""
        return sorted(self._tables)

    def block_table(self, seq_id: int) -> list[int]:
        """The pool blocks holding sequence `seq_id`'s tokens, in order."""
        self._check_seq(seq_id)
        return list(self._tables[seq_id])

    def seq_len(self, seq_id: int) -> int:
        self._check_seq(seq_id)
        return self._lens[seq_id]

    def refcount(self, block: int) -> int:
        """How many sequences share pool block `block` (0 = free)."""
        if not chk.is_int(block) or not 0 <= block < self.num_blocks:
            raise ValueError(f"block must be an integer in [0, {self.num_blocks}), got {block!r}")
        return self._refcount[block]

    def _check_seq(self, seq_id: object) -> None:
        if seq_id not in self._tables:
            raise ValueError(
                f"there is no live sequence {seq_id!r}; live sequences are {self.sequences}"
            )

    def add_sequence(self, seq_id: int | None = None) -> int:
        """Start an empty sequence (no blocks yet) and return its id."""
        if seq_id is None:
            seq_id = self._next_id
        chk.nonneg_int("a sequence id", seq_id)
        if seq_id in self._tables:
            raise ValueError(f"sequence {seq_id} already exists")
        self._tables[seq_id] = []
        self._lens[seq_id] = 0
        self._next_id = max(self._next_id, seq_id + 1)
        return seq_id

    def fork(self, seq_id: int, new_id: int | None = None) -> int:
        """A new sequence sharing every block of `seq_id` (reference counts go up by one).

        The shared prefix is stored once; a later write into a shared, partly-filled last
        block copies that block first (copy on write).
        """
        self._check_seq(seq_id)
        child = self.add_sequence(new_id)
        self._tables[child] = list(self._tables[seq_id])
        self._lens[child] = self._lens[seq_id]
        for b in self._tables[child]:
            self._refcount[b] += 1
        return child

    def free(self, seq_id: int) -> None:
        """Drop a sequence; blocks no other sequence shares go back to the pool."""
        self._check_seq(seq_id)
        for b in self._tables.pop(seq_id):
            self._refcount[b] -= 1
            if self._refcount[b] == 0:
                self._free.append(b)
        del self._lens[seq_id]

    def _take_block(self) -> int:
        if not self._free:  # guarded by the count in update(); kept as a last line of defence
            raise OutOfBlocksError(self._out_of_blocks_message(1))
        b = self._free.pop(0)
        self._refcount[b] = 1
        return b

    def _out_of_blocks_message(self, needed: int) -> str:
        return (
            f"the paged cache is out of blocks: this update needs {needed} more block(s) of "
            f"{self.block_size} tokens but only {len(self._free)} of {self.num_blocks} are "
            f"free (live sequences: {self.sequences}); free a sequence with free(seq_id) or "
            "create the cache with more num_blocks"
        )

    def _blocks_needed(self, seq_ids: list[int], t: int) -> int:
        """Blocks an update of t tokens to each of seq_ids takes, copies on write included."""
        refs, bs, needed = list(self._refcount), self.block_size, 0
        for s in seq_ids:
            n, table = self._lens.get(s, 0), self._tables.get(s, [])
            needed += -(-(n + t) // bs) - (-(-n // bs))
            if n % bs and refs[table[-1]] > 1:
                refs[table[-1]] -= 1
                needed += 1
        return needed

    # ----- the common interface ---------------------------------------------------------
    def update(
        self, k: torch.Tensor, v: torch.Tensor, seq_ids: list[int] | None = None
    ) -> None:
        """Append k, v (batch, heads, T, head_dim): row b goes to sequence seq_ids[b].

        Unknown sequence ids are created. Raises OutOfBlocksError, before writing
        anything, when the pool cannot hold the new tokens.
        """
        check_new_kv(k, v, name="PagedKVCache.update")
        bsz, h, t, d = k.shape
        if self.k_pool is not None:
            _, ph, _, pd = self.k_pool.shape
            if (h, d) != (ph, pd) or k.dtype != self.k_pool.dtype or k.device != self.k_pool.device:
                raise ValueError(
                    f"PagedKVCache.update: the pool holds (heads={ph}, head_dim={pd}) "
                    f"{self.k_pool.dtype} entries, got shape {tuple(k.shape)} {k.dtype}"
                )
        if seq_ids is None:
            seq_ids = list(range(bsz))
        seq_ids = list(seq_ids)
        if len(seq_ids) != bsz or len(set(seq_ids)) != bsz:
            raise ValueError(
                f"PagedKVCache.update: seq_ids must name {bsz} different sequences (one per "
                f"batch row), got {seq_ids}"
            )
        needed = self._blocks_needed(seq_ids, t)
        if needed > len(self._free):
            raise OutOfBlocksError(self._out_of_blocks_message(needed))
        if self.k_pool is None:
            need = 2 * self.num_blocks * h * self.block_size * d * k.element_size()
            chk.allocation("the K/V pool", need, fn="PagedKVCache", device=k.device)
            self.k_pool = k.new_zeros(self.num_blocks, h, self.block_size, d)
            self.v_pool = k.new_zeros(self.num_blocks, h, self.block_size, d)
        for row, s in enumerate(seq_ids):
            if s not in self._tables:
                self.add_sequence(s)
            self._append(s, k[row], v[row])

    def _append(self, s: int, k: torch.Tensor, v: torch.Tensor) -> None:
        table, bs = self._tables[s], self.block_size
        n, t, done = self._lens[s], k.shape[1], 0
        if n % bs and self._refcount[table[-1]] > 1:  # copy on write
            old = table[-1]
            new = self._take_block()
            self.k_pool[new] = self.k_pool[old]
            self.v_pool[new] = self.v_pool[old]
            self._refcount[old] -= 1
            table[-1] = new
        while done < t:
            offset = n % bs
            if offset == 0:
                table.append(self._take_block())
            take = min(bs - offset, t - done)
            blk = table[-1]
            self.k_pool[blk, :, offset : offset + take] = k[:, done : done + take]
            self.v_pool[blk, :, offset : offset + take] = v[:, done : done + take]
            n += take
            done += take
        self._lens[s] = n

    def keys_values(
        self, seq_ids: list[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Gather sequences' blocks into contiguous (batch, heads, len, head_dim) tensors.

        Default: every live sequence, in id order; they must all have the same length.
        """
        if seq_ids is None:
            seq_ids = self.sequences
        seq_ids = list(seq_ids)
        if not seq_ids or self.k_pool is None:
            raise ValueError("PagedKVCache.keys_values: the cache is empty; call update first")
        for s in seq_ids:
            self._check_seq(s)
        lens = {self._lens[s] for s in seq_ids}
        if len(lens) != 1:
            raise ValueError(
                "PagedKVCache.keys_values: sequences of different lengths cannot be stacked "
                f"({ {s: self._lens[s] for s in seq_ids} }); ask for one sequence at a time"
            )
        n = lens.pop()
        if n == 0:
            raise ValueError("PagedKVCache.keys_values: the sequences hold no tokens yet")
        ks, vs = [], []
        for s in seq_ids:
            idx = torch.tensor(self._tables[s], device=self.k_pool.device)
            # (blocks, H, bs, D) -> (H, blocks*bs, D), then drop the unused tail.
            _, h, _, d = self.k_pool.shape
            kb = self.k_pool[idx].permute(1, 0, 2, 3).reshape(h, -1, d)
            vb = self.v_pool[idx].permute(1, 0, 2, 3).reshape(h, -1, d)
            ks.append(kb[:, :n])
            vs.append(vb[:, :n])
        return torch.stack(ks), torch.stack(vs)

    def positions(self, seq_id: int | None = None) -> torch.Tensor:
        n = len(self) if seq_id is None else self.seq_len(seq_id)
        return torch.arange(n)

    @property
    def seen_tokens(self) -> int:  # type: ignore[override]
        return len(self)

    def __len__(self) -> int:
        return max(self._lens.values(), default=0)

    def block_nbytes(self) -> int:
        """Bytes of one block (keys and values); 0 before the pool exists."""
        if self.k_pool is None:
            return 0
        return 2 * self.k_pool[0].numel() * self.k_pool.element_size()

    def nbytes(self) -> int:
        """Bytes of the blocks in use; a block shared by several sequences counts once."""
        in_use = self.num_blocks - len(self._free)
        return in_use * self.block_nbytes()

    def pool_nbytes(self) -> int:
        """Bytes of the whole pool, free blocks included (what the server reserved)."""
        return self.num_blocks * self.block_nbytes()

    def __repr__(self) -> str:
        return (
            f"PagedKVCache(block_size={self.block_size}, num_blocks={self.num_blocks}, "
            f"free={self.num_free_blocks}, sequences={self.sequences})"
        )
