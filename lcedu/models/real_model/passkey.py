"""The pass-key retrieval test: a 5-digit key hidden at some depth of repetitive filler.

From Mohtashami & Jaggi (2023), "Landmark Attention", used by the PI and YaRN papers to
check that a long context is really usable. The model passes a trial when greedy decoding
after "The pass key is" produces the key. A 135M model is an unreliable retriever even
inside its native context, so the rate is a measurement, not a benchmark of the method.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import torch

__all__ = ["PasskeyTrial", "passkey_prompt", "run_passkey"]

INTRO = (
    "There is an important info hidden inside a lot of irrelevant text. Find it and "
    "memorize it. I will quiz you about the important information there.\n"
)
FILLER = (
    "The grass is green. The sky is blue. The sun is yellow. Here we go. There and back again. "
)
QUESTION = "\nWhat is the pass key? The pass key is"


@dataclass
class PasskeyTrial:
    """One trial: context length in tokens, where the key sat (0–1), the key, the answer."""

    length: int
    depth: float
    key: str
    answer: str

    @property
    def passed(self) -> bool:
        return self.key in self.answer.replace(" ", "")


def passkey_prompt(tokenizer: Any, length: int, depth: float, key: str) -> torch.Tensor:
    """Token ids (1, ≈length) of intro + filler + "The pass key is KEY." at `depth` + question."""
    if not isinstance(length, int) or length < 128:
        raise ValueError(f"length must be an integer >= 128 tokens, got {length!r}")
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must lie between 0 and 1, got {depth!r}")
    needle = f"The pass key is {key}. Remember it. {key} is the pass key. "
    fixed = len(tokenizer(INTRO + needle + QUESTION).input_ids)
    per = len(tokenizer(FILLER * 8).input_ids) / 8
    n_fill = max(0, int((length - fixed) / per))
    before = int(round(n_fill * depth))
    text = INTRO + FILLER * before + needle + FILLER * (n_fill - before) + QUESTION
    return tokenizer(text, return_tensors="pt").input_ids


@torch.no_grad()
def run_passkey(
    model: Any, tokenizer: Any, length: int, trials: int, *, seed: int = 0,
    new_tokens: int = 7, progress: Any = None,
) -> list[PasskeyTrial]:
    """`trials` prompts at `length` tokens, depths evenly spread over (0, 1), random keys."""
    if not isinstance(trials, int) or trials < 1:
        raise ValueError(f"trials must be a positive integer, got {trials!r}")
    rng = random.Random(seed * 100_003 + length)
    out = []
    for i in range(trials):
        depth = (i + 0.5) / trials
        key = str(rng.randint(10_000, 99_999))
        ids = passkey_prompt(tokenizer, length, depth, key)
        gen = model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
            do_sample=False, pad_token_id=tokenizer.eos_token_id,
        )
        answer = tokenizer.decode(gen[0, ids.shape[1] :], skip_special_tokens=True)
        out.append(PasskeyTrial(int(ids.shape[1]), depth, key, answer))
        if progress is not None:
            progress(out[-1])
    return out
