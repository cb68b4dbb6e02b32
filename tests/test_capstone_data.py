"""The capstone corpus: stdlib source, split by file, deterministic, byte-level."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest
import torch

from lcedu.models.data import (
    FILE_SEPARATOR,
    VOCAB_SIZE,
    eval_windows,
    load_corpus,
    random_batch,
    stdlib_files,
)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(max_train_bytes=300_000, max_val_bytes=60_000)


def test_files_come_from_this_interpreter_in_sorted_order():
    files = stdlib_files()
    root = Path(sysconfig.get_paths()["stdlib"])
    assert files == sorted(files)
    assert all(f.parent == root and f.suffix == ".py" for f in files)
    assert any(f.name == "os.py" for f in files)


def test_split_is_by_file_and_deterministic(corpus):
    names = [f.name for f in stdlib_files()]
    assert set(corpus.val_files).isdisjoint(corpus.train_files)
    assert sorted(corpus.val_files + corpus.train_files) == sorted(names)
    assert list(corpus.val_files) == names[::10]
    again = load_corpus(max_train_bytes=300_000, max_val_bytes=60_000)
    assert torch.equal(again.train, corpus.train) and torch.equal(again.val, corpus.val)
    assert again.fingerprint() == corpus.fingerprint()


def test_corpus_is_the_files_bytes_capped(corpus):
    assert corpus.train.dtype == torch.uint8 and corpus.train.numel() == 300_000
    assert corpus.val.numel() == 60_000
    first_val = (Path(sysconfig.get_paths()["stdlib"]) / corpus.val_files[0]).read_bytes()
    head = first_val + FILE_SEPARATOR
    n = min(len(head), 60_000)
    assert bytes(corpus.val[:n].tolist()) == head[:n]
    assert int(corpus.train.max()) < VOCAB_SIZE


def test_random_batch_targets_are_next_bytes(corpus):
    g1, g2 = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    x, y = random_batch(corpus.train, 5, 37, g1)
    x2, _ = random_batch(corpus.train, 5, 37, g2)
    assert x.shape == y.shape == (5, 37) and x.dtype == torch.int64
    assert torch.equal(x, x2)
    assert torch.equal(x[:, 1:], y[:, :-1])
    # every row is a contiguous stretch of the training bytes
    data = bytes(corpus.train.tolist())
    row = bytes(x[0].tolist()) + bytes(y[0, -1:].tolist())
    assert row in data


def test_eval_windows_tile_the_data(corpus):
    w = eval_windows(corpus.val, 64, 7)
    assert w.shape == (7, 65)
    assert torch.equal(w[1:, 0], w[:-1, -1])  # consecutive windows share one byte
    assert torch.equal(w[:, :-1].reshape(-1), corpus.val[: 7 * 64].long())


def test_bad_input_raises_clear_errors(corpus, tmp_path):
    with pytest.raises(ValueError, match="positive"):
        eval_windows(corpus.val, 0, 3)
    with pytest.raises(ValueError, match="need"):
        eval_windows(corpus.val, 1000, 1000)
    with pytest.raises(ValueError, match="positive"):
        random_batch(corpus.train, 0, 8, torch.Generator())
    with pytest.raises(ValueError, match="no .py files"):
        stdlib_files(tmp_path)
    with pytest.raises(ValueError, match="val_every"):
        load_corpus(val_every=1)
