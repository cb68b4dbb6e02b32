"""Long natural texts made locally: single files of the Python standard library.

Each is real, long-range-structured text (a module's source) read from the running
interpreter's stdlib folder, as the capstone's corpus is, so nothing is downloaded. A
record stores each text's SHA-256 so another machine can tell whether it saw the same one.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch

from lcedu.models.data import stdlib_dir

__all__ = ["DEFAULT_FILES", "long_text_ids", "text_fingerprint"]

# Long stdlib modules (each well over 16K tokens in CPython 3.10–3.13).
DEFAULT_FILES = ("argparse.py", "inspect.py", "typing.py", "subprocess.py", "pathlib.py")


def text_fingerprint(text: str, ids: torch.Tensor) -> dict[str, Any]:
    """SHA-256 of the text's UTF-8 bytes and of the token ids used."""
    return {
        "text_sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        "ids_sha256": hashlib.sha256(ids.to(torch.int64).numpy().tobytes()).hexdigest(),
        "tokens": int(ids.numel()),
    }


def long_text_ids(tokenizer: Any, name: str, length: int) -> tuple[torch.Tensor, dict[str, Any]]:
    """The first `length` tokens of stdlib file `name` as (1, length) ids, and a fingerprint."""
    path = stdlib_dir() / name
    if not path.is_file():
        raise ValueError(f"{name} is not a file of this Python's standard library ({path})")
    if not isinstance(length, int) or length < 2:
        raise ValueError(f"length must be an integer >= 2, got {length!r}")
    text = path.read_text(encoding="utf-8")
    ids = tokenizer(text, return_tensors="pt").input_ids[:, :length]
    if ids.shape[1] < length:
        raise ValueError(
            f"{name} has only {ids.shape[1]} tokens, fewer than the {length} asked for"
        )
    fp = {"file": name, **text_fingerprint(text, ids)}
    return ids, fp
