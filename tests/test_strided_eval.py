"""Strided perplexity and the per-position loss, against plain recomputations.

Witnesses: every scored byte's loss recomputed from one forward of its own window (a loop),
and `evaluate.perplexity`'s non-overlapping tiling (stride = length). Models are tiny random
TinyLMs on random bytes: the arithmetic is what is tested, not the training.
"""

from __future__ import annotations

import importlib
import json
import math

import pytest
import torch
import torch.nn.functional as F

from lcedu.models import byte_grid, evaluate
from lcedu.models.recall_eval import recall_rope
from lcedu.models.strided_eval import length_sweep, position_loss, strided_loss, strided_starts
from lcedu.models.tiny_lm import TinyLM, TinyLMConfig

train = importlib.import_module("lcedu.models.train")  # the module, not lcedu.models.train()


def _model(pos="rope", max_len=16, seed=0, **kw):
    torch.manual_seed(seed)
    return TinyLM(TinyLMConfig(pos=pos, dim=16, layers=1, heads=2, max_len=max_len, **kw)).eval()


def _data(n, seed=1):
    return torch.randint(0, 256, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("length,stride,tokens", [(16, 8, 40), (13, 5, 23), (16, 16, 32),
                                                  (9, 1, 7)])
def test_strided_loss_matches_a_loop_over_the_scored_bytes(length, stride, tokens):
    model, data = _model(seed=length), _data(400, seed=stride)
    got = strided_loss(model, data, length, stride=stride, tokens=tokens, batch_size=3)
    losses = []
    for s in strided_starts(data.numel(), length, stride, tokens):
        w = data[s : s + length + 1].long()
        with torch.no_grad():
            logits = model(w[None, :-1])[0]
        for t in range(length - stride, length):  # target w[t+1] sees t+1 bytes of context
            losses.append(float(F.cross_entropy(logits[t][None], w[t + 1][None])))
            assert t + 1 >= length - stride + 1
    assert got["tokens"] == len(losses) >= tokens
    assert got["loss"] == pytest.approx(sum(losses) / len(losses), rel=1e-5)
    assert got["min_context"] == length - stride
    assert got["ppl"] == pytest.approx(math.exp(got["loss"]))


def test_stride_equal_to_length_is_the_non_overlapping_tiling():
    model, data = _model(pos="alibi"), _data(600)
    got = strided_loss(model, data, 16, stride=16, tokens=16 * 12)
    want = evaluate.perplexity(model, data, 16, total_tokens=16 * 12)
    assert got["loss"] == pytest.approx(want["loss"], rel=1e-5)


def test_position_curve_averages_to_the_tiled_loss_and_rises_where_context_is_short():
    model, data = _model(pos="none", max_len=32), _data(2000)
    curve = position_loss(model, data, 32, windows=10, bucket=8)
    assert len(curve) == 4
    want = evaluate.perplexity(model, data, 32, total_tokens=320)["loss"]
    assert sum(curve) / 4 == pytest.approx(want, rel=1e-5)


def test_bad_arguments_say_what_is_wrong():
    model, data = _model(), _data(100)
    with pytest.raises(ValueError, match="stride .* must not be larger than the length"):
        strided_loss(model, data, 8, stride=9, tokens=8)
    with pytest.raises(ValueError, match="needs .* bytes of data, there are 100"):
        strided_loss(model, data, 16, stride=8, tokens=200)
    with pytest.raises(ValueError, match="tokens must be a positive integer"):
        strided_loss(model, data, 16, stride=8, tokens=0)
    with pytest.raises(ValueError, match="bucket .* must divide the length"):
        position_loss(model, data, 16, windows=2, bucket=5)
    with pytest.raises(ValueError, match="stride_fraction must be at most 1"):
        length_sweep(model, data, lengths=[8], scalings=["none"], tokens=8, stride_fraction=2)


def test_sweep_skips_a_learned_table_beyond_its_length_and_uses_the_factor_rule():
    data = _data(3000)
    learned = _model(pos="learned", max_len=16)
    out = length_sweep(learned, data, lengths=[16, 32], scalings=["none"], tokens=64,
                       position_length=32)
    assert out["loss"]["none"][1] is None and out["positions"] == {}
    rope = _model(pos="rope", max_len=16)
    out = length_sweep(rope, data, lengths=[16, 32], scalings=["none", "yarn"], tokens=64,
                       position_length=32, position_bucket=8)
    # at 1x every scaling is the identity (factor 1); at 2x YaRN changes the loss
    assert out["loss"]["yarn"][0] == pytest.approx(out["loss"]["none"][0], rel=1e-6)
    override = recall_rope(rope, "yarn", 32)
    assert override is not None and override.attention_factor > 1  # YaRN at factor 2
    want = strided_loss(rope, data, 32, stride=16, tokens=64, rope=override)["loss"]
    assert out["loss"]["yarn"][1] == want
    assert len(out["positions"]["yarn"]) == 4 and out["train_len"] == 16
    ft = _model(pos="rope", max_len=32, rope_scaling="linear", rope_original_len=16)
    out = length_sweep(ft, data, lengths=[32, 64], scalings=["linear"], tokens=64)
    assert out["train_len"] == 16 and out["max_len"] == 32  # factor = max(2, L / 16)
    with pytest.raises(ValueError, match="fine-tuned with 'linear' built in"):
        length_sweep(ft, data, lengths=[32], scalings=["yarn"], tokens=32)


def test_evaluate_cli_writes_a_strided_record(tmp_path):
    ckpt = tmp_path / "m.pt"
    train.save_checkpoint(ckpt, _model(pos="rope", max_len=16), step=0, train_config={})
    out = tmp_path / "m.eval.json"
    argv = ["--checkpoint", str(ckpt), "--lengths", "16", "32", "--scalings", "none", "linear",
            "--stride-fraction", "0.5", "--tokens", "256", "--position-length", "32",
            "--position-windows", "4", "--out", str(out)]
    assert evaluate.main(argv) == 0
    rec = json.loads(out.read_text())
    assert rec["lengths"] == [16, 32] and set(rec["loss"]) == {"none", "linear"}
    assert len(rec["positions"]["linear"]) == 16 and rec["stride_fraction"] == 0.5
    assert evaluate.main(argv[:-2] + ["--stride-fraction", "1.5"]) == 2


def test_grid_rows_name_their_commands_in_dependency_order(tmp_path):
    rows = byte_grid.grid_rows(0, tmp_path)
    names = [r[0] for r in rows]
    assert names.index("rope_s0") < names.index("rope_ft256_yarn_s0")
    parsed = {n: train_argv for n, train_argv, _ in rows}
    args = train.build_parser().parse_args(parsed["rope_ft256_linear_s0"])
    assert args.init.endswith("rope_s0.pt") and args.rope_scaling == "linear"
    assert args.rope_original_len == byte_grid.TRAIN_LEN and args.seq_len == 256
    ev = evaluate.build_parser().parse_args(rows[0][2])
    assert ev.stride_fraction == 0.5 and ev.tokens >= 256 * 1024
