"""The capstone's recall task: sequences are what they claim, scores are counted right, shipped
checkpoints reproduce their recorded numbers, and bad input gets a clear ValueError."""

from __future__ import annotations

import importlib
import json
import math
import shlex

import pytest
import torch

from lcedu.models.recall import RecallTask, make_batch
from lcedu.models.recall_eval import recall_rope, recall_scores, spread, summarize
from lcedu.models.recall_train import RecallTrainConfig, load_recall, train_recall
from lcedu.models.tiny_lm import TinyLM, scaled_rope
from lcedu.positions import scaling
from lcedu.positions.rope import rope_inv_freq
from lcedu.testing import assert_close

train_cli = importlib.import_module("lcedu.models.train")
evaluate_cli = importlib.import_module("lcedu.models.evaluate")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _decode(task: RecallTask, tokens: torch.Tensor) -> list[tuple[int, int, int]]:
    """(position, key, value) of every fact token in one sequence, by reading the ids."""
    out = []
    for i, t in enumerate(tokens.tolist()):
        if task.fact_offset <= t < task.query_offset:
            k, v = divmod(t - task.fact_offset, task.num_values)
            out.append((i, k, v))
    return out


@pytest.mark.parametrize("length", [task_len for task_len in (23, 64, 301)])
def test_every_query_asks_a_fact_of_its_sequence_and_the_answer_is_its_value(length):
    task = RecallTask(facts=5, queries=3, num_keys=7, num_values=9)
    b = make_batch(task, 17, length, torch.Generator().manual_seed(length))
    assert b.tokens.shape == (17, length) and int(b.tokens.max()) < task.vocab_size
    for seq, kind, dist in zip(b.tokens, b.kind, b.distance):
        facts = _decode(task, seq)
        assert len(facts) == task.facts == int((kind == 1).sum())
        assert len({k for _, k, _ in facts}) == len({v for _, _, v in facts}) == task.facts
        tail = seq[-2 * task.queries:].tolist()
        asked = set()
        for q, a in zip(tail[0::2], tail[1::2]):
            key, value = q - task.query_offset, a - task.value_offset
            [(pos, _, v)] = [f for f in facts if f[1] == key]
            assert v == value
            asked.add(key)
        assert len(asked) == task.queries  # distinct facts are asked
        answers = torch.nonzero(kind == 3).flatten().tolist()
        assert answers == list(range(length - 2 * task.queries + 1, length, 2))
        for a in answers:  # distance = question position - fact position
            key = int(seq[a - 1]) - task.query_offset
            [(pos, _, _)] = [f for f in facts if f[1] == key]
            assert int(dist[a]) == a - 1 - pos


def test_same_generator_same_batch_and_local_mask_marks_filler_after_filler():
    task = RecallTask()
    a = make_batch(task, 4, 50, torch.Generator().manual_seed(3))
    b = make_batch(task, 4, 50, torch.Generator().manual_seed(3))
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.local, b.local)
    for seq, kind, local in zip(a.tokens, a.kind, a.local):
        for i in range(50):
            want = i >= task.order and all(int(kind[j]) == 0 for j in range(i - task.order, i + 1))
            assert bool(local[i]) == want
        assert all(int(t) < task.filler_vocab for t, k in zip(seq, kind) if k == 0)


def test_filler_follows_the_transition_matrix_and_its_entropy_rate():
    task = RecallTask(facts=1, queries=1)
    b = make_batch(task, 64, 400, torch.Generator().manual_seed(0))
    p = task.transition().double()
    F = task.filler_vocab
    # witness: the mean negative log-probability of every local target under the chain
    nll = []
    counts = torch.zeros_like(p)
    for seq, local in zip(b.tokens, b.local):
        for i in torch.nonzero(local).flatten().tolist():
            state = int(seq[i - 2]) * F + int(seq[i - 1])
            nll.append(-math.log(float(p[state, int(seq[i])])))
            counts[state, int(seq[i])] += 1
    assert sum(nll) / len(nll) == pytest.approx(task.entropy_rate(), rel=0.03)
    busy = counts.sum(1) > 300
    empirical = counts[busy] / counts[busy].sum(1, keepdim=True)
    assert (empirical - p[busy]).abs().max() < 0.1
    assert torch.allclose(p.sum(1), torch.ones(F ** 2, dtype=torch.float64))


def test_chance_levels_and_fingerprint():
    task = RecallTask()
    assert task.chance == 1 / task.num_values and task.in_context_chance == 1 / task.facts
    assert task.fingerprint() == RecallTask().fingerprint()
    assert task.fingerprint() != RecallTask(chain_seed=1).fingerprint()
    assert task.vocab_size == 8 + 8 * 8 + 8 + 8


def test_bad_task_input_raises_clear_errors():
    with pytest.raises(ValueError, match="cannot exceed facts"):
        RecallTask(facts=2, queries=3)
    with pytest.raises(ValueError, match="cannot exceed num_keys"):
        RecallTask(facts=9, num_keys=8)
    with pytest.raises(ValueError, match="too short"):
        make_batch(RecallTask(), 2, 10, torch.Generator())
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        make_batch(RecallTask(), 0, 64, torch.Generator())
    with pytest.raises(ValueError, match="key must be in"):
        RecallTask().fact_token(8, 0)


def test_learned_table_too_large_is_refused_before_allocating():
    with pytest.raises(ValueError, match=r"max_len 1000000000 x dim 128 = 128,000,000,000"):
        TinyLM(pos="learned", max_len=10**9)
    TinyLM(pos="rope", max_len=10**9, dim=16, layers=1, heads=2)  # no table: fine


def test_sinusoidal_embeddings_are_scaled_by_sqrt_dim():
    torch.manual_seed(0)
    model = TinyLM(pos="sinusoidal", dim=16, layers=1, heads=2, max_len=8, vocab_size=11)
    plain = TinyLM(pos="sinusoidal", dim=16, layers=1, heads=2, max_len=8, vocab_size=11,
                   scale_embeddings=False)
    plain.load_state_dict(model.state_dict())
    assert model.config.embedding_scale == 4.0 and plain.config.embedding_scale == 1.0
    assert TinyLM(pos="learned", dim=16, layers=1, heads=2).config.embedding_scale == 1.0
    idx = torch.randint(0, 11, (2, 8))
    # witness: scaling the unscaled model's embedding table by 4 gives the same input sum
    # (head tied to it, so compare the first block's input through a hook)
    seen = {}
    model.blocks[0].register_forward_pre_hook(lambda m, a: seen.setdefault("s", a[0]))
    plain.blocks[0].register_forward_pre_hook(lambda m, a: seen.setdefault("p", a[0]))
    model(idx), plain(idx)
    assert_close(seen["s"] - seen["p"], 3 * plain.embed(idx))


def test_scaled_rope_calls_the_registry_with_what_each_method_names(monkeypatch):
    d, b = 16, 10000.0
    assert_close(scaled_rope("linear", d, b, 4.0, 64, 256)[0], rope_inv_freq(d, b) / 4)
    assert_close(scaled_rope("yarn", d, b, 4.0, 64, 256)[0], scaling.yarn(d, b, 4.0, 64)[0])
    assert_close(scaled_rope("dynamic_ntk", d, b, 4.0, 64, 256)[0],
                 scaling.dynamic_ntk(d, b, 4.0, 64, 256)[0])
    seen = {}

    def mine(dim, factor, seq_len):
        seen.update(dim=dim, factor=factor, seq_len=seq_len)
        return torch.ones(dim // 2), 1.5

    monkeypatch.setitem(scaling.SCALINGS, "mine", mine)
    inv, att = scaled_rope("mine", d, b, 2.0, 64, 128)
    assert seen == {"dim": 16, "factor": 2.0, "seq_len": 128} and att == 1.5
    with pytest.raises(ValueError, match="unknown RoPE scaling 'xpos'"):
        scaled_rope("xpos", d, b, 2.0, 64, 128)


@pytest.mark.timeout(120)
def test_training_is_reproducible_and_fine_tune_keeps_its_factor(tmp_path):
    cfg = RecallTrainConfig(pos="rope", steps=3, batch_size=4, dim=16, layers=1, heads=2,
                            log_every=3)
    m1, r1 = train_recall(cfg)
    m2, r2 = train_recall(cfg)
    assert r1["history"] == r2["history"]
    assert r1["task_sha256"] == RecallTask().fingerprint()
    out = tmp_path / "base.pt"
    assert train_cli.main(["--task", "recall", "--pos", "rope", "--steps", "3", "--batch-size",
                           "4", "--dim", "16", "--layers", "1", "--heads", "2",
                           "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text())
    args = train_cli.build_recall_parser().parse_args(shlex.split(record["command"])[2:])
    assert args.steps == 3 and args.dim == 16 and args.out == out.as_posix()
    ft = RecallTrainConfig(pos="rope", seq_len=128, steps=2, batch_size=2, dim=16, layers=1,
                           heads=2, init=str(out), rope_scaling="linear", rope_original_len=64)
    tuned, _ = train_recall(ft)
    assert_close(tuned.rope_inv_freq, rope_inv_freq(8) / 2)  # PI 64 -> 128
    assert recall_rope(tuned, "linear", 128) is None  # its own factor 2
    assert_close(recall_rope(tuned, "linear", 512).inv_freq, rope_inv_freq(8) / 8)
    with pytest.raises(ValueError, match="fine-tuned with 'linear' built in"):
        recall_rope(tuned, "yarn", 512)
    base, _ = load_recall(out)
    assert recall_rope(base, "yarn", 64) is None
    assert_close(recall_rope(base, "linear", 256).inv_freq, rope_inv_freq(8) / 4)
    with pytest.raises(ValueError, match="not a recall checkpoint"):
        torch.save({"format": "x"}, tmp_path / "bad.pt")
        load_recall(tmp_path / "bad.pt")


def test_scores_split_queries_by_distance_and_count_them():
    torch.manual_seed(0)
    task = RecallTask()
    model = TinyLM(pos="alibi", dim=16, layers=1, heads=2, max_len=64,
                   vocab_size=task.vocab_size)
    at64 = recall_scores(model, task, 64, sequences=10)
    assert at64["queries"] == 40 and at64["far_queries"] == 0 and at64["far_accuracy"] is None
    at256 = recall_scores(model, task, 256, sequences=10)
    assert at256["near_queries"] + at256["far_queries"] == 40 and at256["far_queries"] > 0
    assert 0 <= at256["accuracy"] <= 1 and at256["local_loss"] > 0
    with pytest.raises(ValueError, match="trained on another task"):
        recall_scores(model, RecallTask(num_keys=9), 64)
    learned = TinyLM(pos="learned", dim=16, layers=1, heads=2, max_len=64,
                     vocab_size=task.vocab_size)
    with pytest.raises(ValueError, match="cannot read 128 tokens"):
        recall_scores(learned, task, 128)


def test_spread_and_summary():
    assert spread([1.0, 2.0, 3.0]) == (2.0, 1.0)
    rows = [{"model": "m", "scaling": "none", "length": 64, "accuracy": a, "far": None}
            for a in (0.5, 0.7)]
    assert summarize(rows, "accuracy") == {("m", "none", 64): (pytest.approx(0.6),
                                                               pytest.approx(0.1414, abs=1e-4), 2)}
    assert summarize(rows, "far") == {}


# ----------------------------------------------------------------- the shipped grid
def _shipped():
    from lcedu.models.recall_records import recall_dir

    return recall_dir()


@pytest.mark.parametrize("name,length,method", [
    ("alibi_s0", 128, "none"),
    ("rope_s1", 256, "yarn"),
    ("rope_ft128_linear_s2", 64, "linear"),
    ("none_s2", 64, "none"),
])
def test_shipped_checkpoints_reproduce_their_recorded_scores(name, length, method):
    from lcedu.models.recall_records import rescore

    live, recorded = rescore(name, length, method)
    assert recorded is not None
    for key in ("queries", "near_queries", "far_queries", "accuracy", "near_accuracy",
                "far_accuracy"):
        assert live[key] == recorded[key], key
    assert live["local_loss"] == pytest.approx(recorded["local_loss"], abs=1e-5)


def test_every_shipped_run_records_how_it_was_made_and_what_it_scored():
    from lcedu.models.recall_grid import EVAL_LENGTHS, grid_rows
    from lcedu.models.recall_records import load_records

    records = load_records()
    expected = {name for seed in (0, 1, 2) for name, _, _ in grid_rows(seed)}
    assert set(records) == expected
    task_hash = RecallTask().fingerprint()
    for name, rec in records.items():
        train, ev = rec["train"], rec["eval"]
        assert train["task_sha256"] == ev["task_sha256"] == task_hash
        assert train["command"].startswith("lcedu train --task recall")
        assert ev["command"].startswith("lcedu evaluate --task recall")
        assert {"python", "torch", "threads"} <= set(train["environment"])
        assert (_shipped() / f"{name}.pt").stat().st_size < 300_000
        lengths = {r["length"] for r in ev["scores"]}
        assert lengths == ({64} if rec["model"].startswith("learned") else set(EVAL_LENGTHS))
        assert all(r["queries"] >= 1000 for r in ev["scores"])
        # notebook 09 states: these reach 95 % at the training length in every seed; learned
        # and sinusoidal do not after 300 steps, but do after 600
        if rec["model"] in ("none", "rope", "alibi", "learned600", "sinusoidal600"):
            assert train["at_training_length"]["accuracy"] >= 0.95, name
        # the score at the training length is the same as the evaluation's (a fine-tune's own
        # scaling at its own length is its built-in one, recorded under that name)
        same = next(r for r in ev["scores"] if r["length"] == train["train_config"]["seq_len"]
                    and r["scaling"] in ("none", train["train_config"]["rope_scaling"]))
        assert {**train["at_training_length"], "scaling": same["scaling"]} == same, name


def test_recorded_commands_parse_back_to_the_recorded_configs():
    from lcedu.models.recall_records import load_records

    for rec in load_records().values():
        argv = shlex.split(rec["train"]["command"])[2:]
        args = train_cli.build_recall_parser().parse_args(argv)
        cfg = rec["train"]["train_config"]
        assert (args.pos, args.steps, args.seed, args.seq_len, args.init) == (
            cfg["pos"], cfg["steps"], cfg["seed"], cfg["seq_len"], cfg["init"])


def _fake_rows():
    rows = []
    for seed in range(3):
        for model, scalings in (("none", ["none"]), ("rope", ["none", "yarn"]),
                                ("alibi", ["none"]), ("rope_ft128_yarn", ["yarn"])):
            for sc in scalings:
                for n in (64, 128, 256, 512):
                    rows.append({"model": model, "seed": seed, "scaling": sc, "length": n,
                                 "accuracy": 0.9 - n / 1000 + seed / 100,
                                 "near_accuracy": 0.95 - seed / 100,
                                 "far_accuracy": None if n == 64 else 0.5 + seed / 50,
                                 "local_loss": 1.2 + n / 1000 + seed / 100})
    return rows


def test_recall_figures_draw_error_bars_per_curve_with_the_legend_outside():
    from matplotlib.figure import Figure

    from lcedu.viz.capstone import (
        recall_local_loss_figure,
        recall_rope_figure,
        recall_schemes_figure,
    )

    rows = _fake_rows()
    fig = recall_schemes_figure(rows)
    assert isinstance(fig, Figure) and len(fig.legends) == 1 and not fig.axes[0].get_legend()
    near, far = fig.axes[:2]
    assert len(near.containers) == 3 and len(far.containers) == 3  # none, rope, alibi
    xs = [tuple(c.lines[0].get_xdata()) for c in far.containers]
    assert all(x == (128, 256, 512) for x in xs)  # no far questions at 64
    rope = recall_rope_figure(rows)
    assert len(rope.axes[0].containers) == 3  # rope, rope + YaRN, fine-tuned with YaRN
    styles = [(c.lines[0].get_linestyle(), c.lines[0].get_marker())
              for c in rope.axes[0].containers]
    assert len(set(styles)) == len(styles)  # curves that coincide stay distinguishable
    assert len(recall_local_loss_figure(rows).axes[0].containers) == 5
    with pytest.raises(ValueError, match="none of the requested curves"):
        recall_schemes_figure([{**r, "model": "x"} for r in rows])
