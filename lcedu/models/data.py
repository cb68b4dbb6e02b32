"""The capstone's corpus: the Python standard library's own source, read as bytes.

Every machine that runs the course has it, so nothing is downloaded. Files are read in sorted
order from the running interpreter's stdlib folder (``sysconfig.get_paths()["stdlib"]``),
split into train/validation *by file* (every ``val_every``-th file is held out), and fed to a
byte-level model (vocabulary 256), as in byte-level LMs such as ByT5 (Xue et al., 2022).
"""

from __future__ import annotations

import hashlib
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import torch

__all__ = [
    "VOCAB_SIZE",
    "Corpus",
    "stdlib_dir",
    "stdlib_files",
    "load_corpus",
    "random_batch",
    "eval_windows",
]

VOCAB_SIZE = 256
FILE_SEPARATOR = b"\n\n"


def stdlib_dir() -> Path:
    """The running interpreter's standard-library folder."""
    return Path(sysconfig.get_paths()["stdlib"])


def stdlib_files(root: str | Path | None = None) -> list[Path]:
    """The top-level ``.py`` files of the standard library, in sorted (deterministic) order."""
    root = stdlib_dir() if root is None else Path(root)
    if not root.is_dir():
        raise ValueError(f"stdlib folder {root} does not exist or is not a folder")
    files = sorted(p for p in root.glob("*.py") if p.is_file())
    if not files:
        raise ValueError(f"no .py files found in {root}")
    return files


@dataclass(frozen=True)
class Corpus:
    """Train and validation bytes as uint8 tensors, with what was read to make them."""

    train: torch.Tensor
    val: torch.Tensor
    train_files: tuple[str, ...]
    val_files: tuple[str, ...]

    def fingerprint(self) -> dict:
        """Sizes and SHA-256 of both splits, so a metrics file can say which data it saw."""
        return {
            "train_bytes": int(self.train.numel()),
            "val_bytes": int(self.val.numel()),
            "train_sha256": hashlib.sha256(bytes(self.train.tolist())).hexdigest(),
            "val_sha256": hashlib.sha256(bytes(self.val.tolist())).hexdigest(),
            "num_train_files": len(self.train_files),
            "num_val_files": len(self.val_files),
        }


def _join(paths: list[Path], cap: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    for p in paths:
        if total >= cap:
            break
        data = p.read_bytes() + FILE_SEPARATOR
        chunks.append(data)
        total += len(data)
    return b"".join(chunks)[:cap]


def load_corpus(
    *,
    max_train_bytes: int = 2_000_000,
    max_val_bytes: int = 300_000,
    val_every: int = 10,
    root: str | Path | None = None,
) -> Corpus:
    """Read the stdlib corpus: file i goes to validation when ``i % val_every == 0``.

    The caps keep the corpus small enough for a 2-core CPU; files are concatenated with a
    blank line between them and cut at the cap.
    """
    for name, value in (("max_train_bytes", max_train_bytes), ("max_val_bytes", max_val_bytes)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not isinstance(val_every, int) or val_every < 2:
        raise ValueError(f"val_every must be an integer >= 2, got {val_every!r}")
    files = stdlib_files(root)
    val_paths = [p for i, p in enumerate(files) if i % val_every == 0]
    train_paths = [p for i, p in enumerate(files) if i % val_every != 0]
    train = _join(train_paths, max_train_bytes)
    val = _join(val_paths, max_val_bytes)
    used_train = tuple(p.name for p in train_paths)
    used_val = tuple(p.name for p in val_paths)
    return Corpus(
        train=torch.frombuffer(bytearray(train), dtype=torch.uint8),
        val=torch.frombuffer(bytearray(val), dtype=torch.uint8),
        train_files=used_train,
        val_files=used_val,
    )


def random_batch(
    data: torch.Tensor, batch_size: int, seq_len: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows: inputs (B, L) and next-byte targets (B, L), int64."""
    if batch_size < 1 or seq_len < 1:
        raise ValueError(
            f"batch_size and seq_len must be positive, got {batch_size} and {seq_len}"
        )
    if data.numel() < seq_len + 2:
        raise ValueError(f"the data has {data.numel()} bytes, too few for seq_len {seq_len}")
    starts = torch.randint(0, data.numel() - seq_len - 1, (batch_size,), generator=generator)
    idx = starts[:, None] + torch.arange(seq_len + 1)[None, :]
    chunk = data[idx].long()
    return chunk[:, :-1], chunk[:, 1:]


def eval_windows(data: torch.Tensor, seq_len: int, num_windows: int) -> torch.Tensor:
    """The first ``num_windows`` non-overlapping windows of ``seq_len + 1`` bytes, (N, L+1).

    Deterministic: the same data gives the same windows, so every scheme is scored on the
    same text. Consecutive windows share one byte (the last target is the next input).
    """
    if seq_len < 1 or num_windows < 1:
        raise ValueError(
            f"seq_len and num_windows must be positive, got {seq_len} and {num_windows}"
        )
    need = num_windows * seq_len + 1
    if data.numel() < need:
        raise ValueError(
            f"{num_windows} windows of {seq_len} bytes need {need} bytes of data, "
            f"only {data.numel()} are available"
        )
    idx = torch.arange(num_windows)[:, None] * seq_len + torch.arange(seq_len + 1)[None, :]
    return data[idx].long()
