"""Associative recall in Markov filler: a retrieval task a tiny model learns in minutes.

Filler comes from a fixed order-2 Markov chain over a small alphabet (so local order matters
and the loss on filler is a meaningful *local* loss), with several key→value facts at random
depths — one token per fact, so one attention lookup retrieves it — and queries for them at
the end: multi-query associative recall (Arora et al., 2023, "Zoology", MQAR) in the spirit
of passkey retrieval (Mohtashami & Jaggi, 2023). Everything is generated from seeds.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass

import torch

from lcedu import _checks as chk

__all__ = ["RecallTask", "RecallBatch", "make_batch"]


def _positive_int(name: str, value: object) -> int:
    return chk.positive_int(name, value)


@dataclass(frozen=True)
class RecallTask:
    """The task's definition. Token ids, in order: filler ``F``, facts ``K*V``, query keys
    ``K``, answer values ``V``.

    A sequence of ``length`` tokens is Markov filler with ``facts`` fact tokens "key k has
    value v" (distinct keys, distinct values) inserted at uniformly random depths, and ends with
    ``queries`` pairs ``(ask k) v`` for distinct facts of the sequence. The model is scored on
    predicting each answer v after its question.
    """

    filler_vocab: int = 8
    num_keys: int = 8
    num_values: int = 8
    facts: int = 6
    queries: int = 4
    order: int = 2
    sharpness: float = 2.5
    chain_seed: int = 0

    def __post_init__(self) -> None:
        for name in ("filler_vocab", "num_keys", "num_values", "facts", "queries", "order"):
            _positive_int(name, getattr(self, name))
        if self.facts > min(self.num_keys, self.num_values):
            raise ValueError(
                f"facts ({self.facts}) cannot exceed num_keys ({self.num_keys}) or num_values "
                f"({self.num_values}): every fact in a sequence has its own key and value"
            )
        if self.queries > self.facts:
            raise ValueError(
                f"queries ({self.queries}) cannot exceed facts ({self.facts}): each query asks "
                "for a different fact"
            )
        if self.filler_vocab ** self.order > 1_000_000:
            raise ValueError(
                f"filler_vocab ** order = {self.filler_vocab ** self.order} Markov states is "
                "too many; use a smaller alphabet or order"
            )
        if not (isinstance(self.sharpness, (int, float)) and math.isfinite(self.sharpness)
                and self.sharpness >= 0):
            raise ValueError(f"sharpness must be a finite number >= 0, got {self.sharpness!r}")

    # ------------------------------------------------------------------ vocabulary
    @property
    def vocab_size(self) -> int:
        return self.filler_vocab + self.num_keys * self.num_values + self.num_keys + self.num_values

    @property
    def fact_offset(self) -> int:
        return self.filler_vocab

    @property
    def query_offset(self) -> int:
        return self.filler_vocab + self.num_keys * self.num_values

    @property
    def value_offset(self) -> int:
        return self.query_offset + self.num_keys

    def fact_token(self, key: int, value: int) -> int:
        """The token id of the fact "key ``key`` has value ``value``"."""
        if not (0 <= key < self.num_keys and 0 <= value < self.num_values):
            raise ValueError(
                f"key must be in 0 … {self.num_keys - 1} and value in 0 … {self.num_values - 1}, "
                f"got key={key}, value={value}"
            )
        return self.fact_offset + key * self.num_values + value

    @property
    def min_length(self) -> int:
        """The shortest sequence that holds the facts, the queries and ``order`` filler tokens."""
        return self.facts + 2 * self.queries + self.order + 1

    @property
    def chance(self) -> float:
        """A blind guess among the value tokens: 1 / num_values."""
        return 1.0 / self.num_values

    @property
    def in_context_chance(self) -> float:
        """Guessing among the values present in the sequence (what a model that saw the facts
        but cannot tell which key each value belongs to gets): 1 / facts."""
        return 1.0 / self.facts

    # ------------------------------------------------------------------ the chain
    def transition(self) -> torch.Tensor:
        """The (F**order, F) transition matrix; row s is p(next | last ``order`` tokens = s)."""
        g = torch.Generator().manual_seed(self.chain_seed)
        logits = torch.randn(self.filler_vocab ** self.order, self.filler_vocab, generator=g)
        return torch.softmax(logits.double() * self.sharpness, dim=-1).float()

    def entropy_rate(self) -> float:
        """The chain's entropy rate in nats/token: the best possible local loss on filler."""
        p = self.transition().double()
        # stationary distribution over states by power iteration of the state chain
        F, n = self.filler_vocab, self.filler_vocab ** self.order
        pi = torch.full((n,), 1.0 / n, dtype=torch.float64)
        for _ in range(500):
            nxt = torch.zeros(n, dtype=torch.float64)
            for tok in range(F):
                nxt.index_add_(0, (torch.arange(n) * F + tok) % n, pi * p[:, tok])
            pi = nxt
        h = -(p * torch.log(p.clamp_min(1e-300))).sum(-1)
        return float((pi * h).sum())

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RecallTask:
        return cls(**d)

    def fingerprint(self) -> str:
        """SHA-256 of the task definition and its transition matrix (the task's "hash")."""
        h = hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True).encode())
        h.update(self.transition().numpy().tobytes())
        return h.hexdigest()


@dataclass
class RecallBatch:
    """Token ids (B, L) with what each position is.

    ``kind``: 0 filler, 1 fact, 2 question (ask key k), 3 answer (its value).
    ``local``: targets scored by the local loss (filler whose last ``order`` tokens are filler).
    ``distance``: at answers, question position − fact position (else 0).
    """

    tokens: torch.Tensor
    kind: torch.Tensor
    local: torch.Tensor
    distance: torch.Tensor

    @property
    def answer(self) -> torch.Tensor:
        return self.kind == 3


def make_batch(
    task: RecallTask, batch_size: int, length: int, generator: torch.Generator
) -> RecallBatch:
    """``batch_size`` sequences of exactly ``length`` tokens, drawn from ``generator``."""
    if not isinstance(task, RecallTask):
        raise ValueError(f"task must be a RecallTask, got {type(task).__name__}")
    _positive_int("batch_size", batch_size)
    _positive_int("length", length)
    if length < task.min_length:
        raise ValueError(
            f"length {length} is too short for {task.facts} facts and {task.queries} queries; "
            f"use at least {task.min_length} tokens"
        )
    B, F, o = batch_size, task.filler_vocab, task.order
    n_fill = length - task.facts - 2 * task.queries
    # filler: a Markov chain of order o, first o tokens uniform
    trans = task.transition()
    filler = torch.empty(B, n_fill, dtype=torch.long)
    filler[:, :o] = torch.randint(0, F, (B, o), generator=generator)
    state = torch.zeros(B, dtype=torch.long)
    for j in range(o):
        state = state * F + filler[:, j]
    n_states = F ** o
    for t in range(o, n_fill):
        nxt = torch.multinomial(trans[state], 1, generator=generator).squeeze(1)
        filler[:, t] = nxt
        state = (state * F + nxt) % n_states
    # facts: distinct keys and values; insertion slots among the filler (after >= o tokens)
    keys = torch.argsort(torch.rand(B, task.num_keys, generator=generator), dim=1)[:, : task.facts]
    values = torch.argsort(torch.rand(B, task.num_values, generator=generator), dim=1)
    values = values[:, : task.facts]
    slots = torch.rand(B, task.facts, generator=generator) * (n_fill - o + 1)
    slots = torch.sort(slots.long().clamp_max(n_fill - o) + o, dim=1).values  # insert before
    asked = torch.argsort(torch.rand(B, task.facts, generator=generator), dim=1)
    asked = asked[:, : task.queries]

    tokens = torch.empty(B, length, dtype=torch.long)
    kind = torch.zeros(B, length, dtype=torch.long)
    distance = torch.zeros(B, length, dtype=torch.long)
    # the position of filler token j after inserting the facts before it
    j = torch.arange(n_fill)
    shift = (slots[:, None, :] <= j[None, :, None]).sum(-1)  # (B, n_fill)
    tokens.scatter_(1, j[None, :] + shift, filler)
    fact_pos = slots + torch.arange(task.facts)[None, :]  # (B, facts)
    tokens.scatter_(1, fact_pos, task.fact_offset + keys * task.num_values + values)
    kind.scatter_(1, fact_pos, 1)
    q0 = n_fill + task.facts
    q_pos = q0 + 2 * torch.arange(task.queries)[None, :].expand(B, -1)
    tokens.scatter_(1, q_pos, torch.gather(keys, 1, asked) + task.query_offset)
    tokens.scatter_(1, q_pos + 1, torch.gather(values, 1, asked) + task.value_offset)
    kind.scatter_(1, q_pos, 2)
    kind.scatter_(1, q_pos + 1, 3)
    distance.scatter_(1, q_pos + 1, q_pos - torch.gather(fact_pos, 1, asked))
    # local targets: filler tokens whose previous o tokens are all filler
    is_fill = kind == 0
    local = is_fill.clone()
    for back in range(1, o + 1):
        local[:, back:] &= is_fill[:, :-back]
    local[:, :o] = False
    return RecallBatch(tokens=tokens, kind=kind, local=local, distance=distance)
