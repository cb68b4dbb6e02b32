"""The shipped byte-LM grid: complete, reproducible from its commands, and re-scored live to
the recorded numbers (a subset: strided scoring of 256 KB takes seconds per cell)."""

from __future__ import annotations

import importlib
import shlex

import pytest
import torch

from lcedu.models import byte_grid, evaluate
from lcedu.models.byte_records import (
    byte_rows,
    byte_training_table,
    load_byte_records,
    position_curves,
    rescore_bytes,
)
from lcedu.models.data import load_corpus
from lcedu.models.recall_records import compare, results_table

train = importlib.import_module("lcedu.models.train")
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def records():
    return load_byte_records()


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_every_row_of_every_seed_ships_with_its_records(records):
    for seed in SEEDS:
        for name, train_argv, eval_argv in byte_grid.grid_rows(seed):
            assert name in records, f"{name} is missing from the shipped grid"
            rec = records[name]
            ev = rec["eval"]
            assert ev["lengths"] == list(byte_grid.EVAL_LENGTHS)
            assert ev["tokens"] >= 256 * 1024 and ev["stride_fraction"] == 0.5
            ev_args = evaluate.build_parser().parse_args(eval_argv)
            assert set(ev["loss"]) == set(ev_args.scalings)
            assert rec["train"]["step"] == int(train_argv[train_argv.index("--steps") + 1])


def _same_corpus_here(records) -> bool:
    """The corpus is this Python's own stdlib: another Python version reads other text."""
    here = load_corpus(max_train_bytes=2_000_000).fingerprint()
    rec = next(iter(records.values()))
    return (rec["train"]["corpus"]["train_sha256"] == here["train_sha256"]
            and rec["eval"]["val_sha256"] == here["val_sha256"])


def test_recorded_commands_parse_and_every_run_read_one_corpus(records):
    hashes = set()
    for rec in records.values():
        argv = shlex.split(rec["train"]["command"])
        assert argv[:2] == ["lcedu", "train"]
        args = train.build_parser().parse_args(argv[2:])
        assert args.seq_len in (byte_grid.TRAIN_LEN, 2 * byte_grid.TRAIN_LEN)
        hashes.add((rec["train"]["corpus"]["train_sha256"], rec["eval"]["val_sha256"]))
        argv = shlex.split(rec["eval"]["command"])
        assert argv[:2] == ["lcedu", "evaluate"]
        ev = evaluate.build_parser().parse_args(argv[2:])
        assert ev.stride_fraction == rec["eval"]["stride_fraction"]
        assert ev.tokens == rec["eval"]["tokens"]
    assert len(hashes) == 1  # every run trained and was scored on the same bytes


def test_base_models_stopped_improving_before_the_end(records):
    """The notebook says the models were trained to a plateau: over the last quarter of the
    steps the validation loss fell by less than 3 % (mean over seeds)."""
    table = byte_training_table(records)
    for model in ("none", "learned", "sinusoidal", "rope", "alibi"):
        drops = []
        for seed in SEEDS:
            hist = records[f"{model}_s{seed}"]["train"]["history"]
            end = hist[-1]
            quarter = min(hist, key=lambda h: abs(h["step"] - 0.75 * end["step"]))
            drops.append((quarter["val_loss"] - end["val_loss"]) / end["val_loss"])
        assert sum(drops) / len(drops) < 0.03, (model, drops)
    assert "last-quarter drop" in table


@pytest.mark.parametrize("name,length,scaling", [("alibi_s1", 256, "none"),
                                                 ("rope_s2", 256, "yarn"),
                                                 ("rope_ft256_linear_s0", 128, "linear")])
def test_shipped_checkpoint_rescores_to_its_record(records, name, length, scaling):
    if not _same_corpus_here(records):
        pytest.skip("this Python's stdlib differs from the one the grid was scored on")
    live, recorded = rescore_bytes(name, length, scaling)
    assert recorded is not None
    assert live == pytest.approx(recorded, rel=1e-4)


def test_tables_and_curves_carry_three_seeds(records):
    rows = byte_rows(records)
    text = results_table(rows, "loss", percent=False)
    assert "(mean ± sd over 3 seeds per cell)" in text
    c = compare(rows, ("rope", "yarn"), ("rope", "none"), 1024, "loss")
    assert set(c) == {"difference", "uncertainty", "clear"} and c["uncertainty"] > 0
    curves = position_curves(records)
    assert curves[("rope", "none")]["n"] == 3 and len(curves[("rope", "none")]["mean"]) == 16
    assert ("learned", "none") not in curves  # no positions past its table


def test_rescore_names_the_runs_when_one_is_missing():
    with pytest.raises(ValueError, match="no shipped byte-LM run 'rope_s9'; there are"):
        rescore_bytes("rope_s9", 128)
