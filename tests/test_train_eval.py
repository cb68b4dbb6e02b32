"""Training lowers the loss, resumes exactly; shipped checkpoints reproduce their metrics."""

from __future__ import annotations

import importlib
import json

import pytest
import torch

from lcedu.models import evaluate
from lcedu.models.data import load_corpus
from lcedu.models.positional import SCHEMES
from lcedu.models.train import (
    TrainConfig,
    load_checkpoint,
    shipped_checkpoint,
    subset_from_metrics,
    subset_loss,
)
from lcedu.positions.rope import rope_inv_freq
from lcedu.testing import assert_close

# the module itself (the package attribute `lcedu.models.train` is the function `train`)
train = importlib.import_module("lcedu.models.train")


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run faster on one thread when the CPU is shared (no effect on results'
    correctness; restored afterwards)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)

# Tiny enough to train in a couple of seconds on 2 cores.
QUICK = dict(seq_len=64, dim=32, layers=1, heads=2, batch_size=8, eval_windows=4,
             max_train_bytes=200_000)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus(max_train_bytes=200_000, max_val_bytes=40_000)


@pytest.mark.timeout(60)
def test_quick_training_lowers_validation_loss(corpus):
    cfg = TrainConfig(pos="alibi", steps=40, eval_every=40, **QUICK)
    result = train.train(cfg, corpus=corpus, progress=False)
    history = result.metrics["history"]
    assert [h["step"] for h in history] == [0, 40]
    assert history[0]["val_loss"] == pytest.approx(5.545, abs=0.3)  # ≈ ln 256: uniform guess
    assert history[-1]["val_loss"] < history[0]["val_loss"] - 1.0


@pytest.mark.timeout(60)
def test_resume_continues_exactly_and_refuses_another_scheme(corpus, tmp_path):
    out = tmp_path / "run.pt"
    cfg = TrainConfig(pos="rope", steps=12, eval_every=6, **QUICK)

    class Interrupt(Exception):
        pass

    def stop_at_12(line: str) -> None:
        if line.startswith("step    12"):
            raise Interrupt

    with pytest.raises(Interrupt):  # dies at step 12, after the save at step 8
        train.train(cfg, out, corpus=corpus, progress=False, save_every=8, log=stop_at_12)
    ckpt_path, metrics_path, resume_path = train.checkpoint_paths(out)
    assert resume_path.is_file() and json.loads(metrics_path.read_text())["step"] == 8
    resumed = train.train(cfg, out, corpus=corpus, progress=False).model
    straight = train.train(cfg, corpus=corpus, progress=False).model
    for (name, a), b in zip(resumed.state_dict().items(), straight.state_dict().values()):
        assert torch.equal(a, b), name
    with pytest.raises(ValueError, match="position scheme 'rope', not 'alibi'"):
        train.train(TrainConfig(pos="alibi", steps=12, **QUICK), out, corpus=corpus,
                    progress=False)
    with pytest.raises(ValueError, match="trained with position scheme 'rope', not 'alibi'"):
        load_checkpoint(ckpt_path, pos="alibi")


FINE_TUNES = ["rope_none_ft1024", "rope_linear_ft1024", "rope_yarn_ft1024"]


@pytest.mark.parametrize("name", list(SCHEMES) + FINE_TUNES)
def test_shipped_checkpoint_reproduces_recorded_validation_loss(name):
    pos = name.split("_")[0]
    path = shipped_checkpoint(pos).with_name(f"{name}.pt")
    model, ckpt = load_checkpoint(path, pos=pos)
    metrics = json.loads(path.with_suffix(".json").read_text())
    assert ckpt["step"] == metrics["step"] and metrics["pos"] == pos
    windows = subset_from_metrics(metrics)
    assert windows.shape == (metrics["eval_subset"]["windows"], model.config.max_len + 1)
    got = subset_loss(model, windows)
    # float32 tolerance of the course's table: the sum order may differ across thread counts
    assert_close(torch.tensor(got), torch.tensor(metrics["val_loss_subset"]), dtype=torch.float32)
    assert path.stat().st_size < 5_000_000


@pytest.mark.parametrize("name", list(SCHEMES) + FINE_TUNES)
def test_evaluation_at_training_length_matches_recorded_metrics(name):
    pos = name.split("_")[0]
    model, _ = load_checkpoint(shipped_checkpoint(pos).with_name(f"{name}.pt"), pos=pos)
    _, recorded = evaluate.shipped_metrics(name)
    corpus = load_corpus(max_train_bytes=1)
    if corpus.fingerprint()["val_sha256"] != recorded["val_sha256"]:
        pytest.skip("this interpreter's stdlib differs from the one the metrics were made on")
    assert recorded["train_len"] == model.config.max_len
    [row] = [r for r in recorded["perplexity"]["none"] if r["length"] == model.config.max_len]
    got = evaluate.perplexity(model, corpus.val, row["length"],
                              total_tokens=recorded["tokens_per_length"])
    assert got["tokens"] == row["tokens"]
    assert_close(torch.tensor(got["loss"]), torch.tensor(row["loss"]), dtype=torch.float32)


def test_rope_scalings_at_evaluation_follow_the_factor():
    model, _ = load_checkpoint(shipped_checkpoint("rope"), pos="rope")
    d = model.config.head_dim
    assert evaluate.rope_override(model, "linear", 256) is None  # factor 1: unchanged
    pi = evaluate.rope_override(model, "linear", 1024)
    assert_close(pi.inv_freq, rope_inv_freq(d) / 4)
    ntk = evaluate.rope_override(model, "ntk_aware", 1024)
    base = 10000.0 * 4 ** (d / (d - 2))
    assert_close(ntk.inv_freq, 1.0 / base ** (torch.arange(0, d, 2).float() / d))
    yarn = evaluate.rope_override(model, "yarn", 1024)
    assert yarn.attention_factor == pytest.approx(0.1 * torch.log(torch.tensor(4.0)).item() + 1)
    assert yarn.inv_freq[0] == rope_inv_freq(d)[0]  # fastest pair is extrapolated, untouched
    assert_close(yarn.inv_freq[-1], rope_inv_freq(d)[-1] / 4)  # slowest pair interpolated


def test_fine_tune_starts_from_a_checkpoint_with_scaling_built_in(corpus, tmp_path):
    out = tmp_path / "short.pt"
    train.train(TrainConfig(pos="rope", steps=2, eval_every=2, **QUICK), out, corpus=corpus,
                progress=False)
    quick = {**QUICK, "seq_len": 128}
    cfg = TrainConfig(pos="rope", steps=2, eval_every=2, init=str(out), rope_scaling="linear",
                      rope_original_len=64, **quick)
    tuned = train.train(cfg, corpus=corpus, progress=False).model
    assert_close(tuned.rope_inv_freq, rope_inv_freq(16) / 2)  # PI: 64 -> 128 is a factor 2
    with pytest.raises(ValueError, match="scaling built in"):
        evaluate.rope_override(tuned, "yarn", 512)
    with pytest.raises(ValueError, match="trained with position scheme 'rope', not 'alibi'"):
        train.train(TrainConfig(pos="alibi", steps=2, init=str(out), **QUICK), corpus=corpus,
                    progress=False)
    with pytest.raises(ValueError, match="rope_scaling needs pos='rope'"):
        TrainConfig(pos="alibi", rope_scaling="yarn", rope_original_len=64, **QUICK)


def test_passkey_prompt_hides_the_key_and_asks_for_it(corpus):
    prompt, start = evaluate.passkey_example(corpus.val, 300, 0.5, "40213")
    text = bytes(prompt.tolist())
    assert len(text) == 300 and start == 295
    assert text.endswith(b"\nPASSKEY = 40213")
    assert text.count(b"PASSKEY = 40213") == 2
    assert b"\nPASSKEY = 40213\n" in text
    assert 134 - 80 <= text.index(b"PASSKEY") - 1 <= 134 + 80  # depth 0.5 of 267 filler bytes
    early, _ = evaluate.passkey_example(corpus.val, 300, 0.0, "40213")
    assert bytes(early.tolist()).startswith(b"\nPASSKEY = 40213\n")


def test_bad_input_raises_clear_errors(capsys):
    model, _ = load_checkpoint(shipped_checkpoint("learned"), pos="learned")
    data = load_corpus(max_train_bytes=1).val
    with pytest.raises(ValueError, match="larger than the learned position table"):
        evaluate.perplexity(model, data, 512)
    with pytest.raises(ValueError, match="needs a RoPE model"):
        evaluate.rope_override(model, "yarn", 1024)
    with pytest.raises(ValueError, match="unknown RoPE scaling"):
        evaluate.rope_override(model, "xpos", 1024)
    with pytest.raises(ValueError, match="unknown position scheme"):
        TrainConfig(pos="t5")
    with pytest.raises(ValueError, match="trained with position scheme 'learned', not 'rope'"):
        load_checkpoint(shipped_checkpoint("learned"), pos="rope")
    assert train.main(["--pos", "t5", "--steps", "1", "--out", "x.pt"]) == 2
    assert "unknown position scheme 't5'" in capsys.readouterr().err
    assert evaluate.main(["--checkpoint", str(shipped_checkpoint("rope")),
                          "--expect-pos", "alibi"]) == 2
    assert "trained with position scheme 'rope'" in capsys.readouterr().err
    assert evaluate.main(["--pos", "rope", "--scalings", "xpos"]) == 2
    with pytest.raises(ValueError, match="no shipped checkpoint named 'xpos'"):
        evaluate.shipped_metrics("xpos")
    with pytest.raises(ValueError, match=r"\.pt file"):
        train.checkpoint_paths("run.ckpt")


def test_figures_draw_one_line_per_scheme_and_scaling():
    from matplotlib.figure import Figure

    from lcedu.viz.capstone import length_figure, passkey_figure

    rows = [{"length": n, "loss": 2.0 + n / 4096} for n in (256, 512)]
    grid = {"lengths": [256, 512], "depths": [0.0, 1.0],
            "digit_accuracy": [[0.1, 0.2], [None, 0.3]],
            "exact_accuracy": [[0.0, 0.0], [None, 0.0]]}
    evals = {
        "rope": {"train_len": 256, "perplexity": {"none": rows, "yarn": rows},
                 "passkey": {"none": grid}},
        "learned": {"train_len": 256, "perplexity": {"none": rows[:1] + [
            {"length": 512, "loss": None}]}, "passkey": {"none": grid}},
    }
    fig = length_figure(evals)
    assert isinstance(fig, Figure)
    lines = fig.axes[0].get_lines()
    assert [len(line.get_xdata()) for line in lines if line.get_label()[0] != "_"] == [2, 2, 1]
    assert len([ax for ax in passkey_figure(evals).axes if ax.get_visible()]) == 3  # 2 + colorbar
    with pytest.raises(ValueError, match="empty"):
        length_figure({})


def test_every_scaling_of_the_course_runs_at_evaluation(corpus):
    from lcedu.positions.scaling import SCALINGS

    assert evaluate.ROPE_SCALINGS == ("none", *SCALINGS)  # PI, NTK-aware, dynamic NTK, YaRN, …
    model, _ = load_checkpoint(shipped_checkpoint("rope"), pos="rope")
    losses = {m: evaluate.perplexity(model, corpus.val, 512, total_tokens=512, scaling=m)["loss"]
              for m in evaluate.ROPE_SCALINGS}
    assert all(0 < v < 6 for v in losses.values())
    assert losses["linear"] != losses["none"]
    # dynamic NTK configured with factor s = L / 256 and run on a window of L (Hugging Face's
    # formula) stretches the base like NTK-aware at s * L / 256 - (s - 1) = s^2 - s + 1
    dyn = evaluate.rope_override(model, "dynamic_ntk", 1024)
    d = model.config.head_dim
    base = 10000.0 * (4 * 4 - 4 + 1) ** (d / (d - 2))
    assert_close(dyn.inv_freq, 1.0 / base ** (torch.arange(0, d, 2).float() / d))
    assert losses["dynamic_ntk"] != losses["ntk_aware"]


@pytest.mark.timeout(120)
def test_cli_trains_with_a_progress_bar_writes_checkpoint_and_metrics_and_resumes(
    tmp_path, capsys
):
    out = tmp_path / "runs" / "rope.pt"
    small = ["--pos", "rope", "--seq-len", "64", "--dim", "32", "--layers", "1", "--heads", "2",
             "--batch-size", "4", "--eval-every", "2", "--out", str(out), "--threads", "1"]
    assert train.main([*small, "--steps", "3"]) == 0
    captured = capsys.readouterr()
    assert "train rope" in captured.err  # the progress bar (tqdm, on stderr)
    ckpt, metrics_path, resume_path = train.checkpoint_paths(out)
    assert ckpt.is_file() and resume_path.is_file()
    metrics = json.loads(metrics_path.read_text())
    assert metrics["step"] == 3 and [h["step"] for h in metrics["history"]] == [0, 2, 3]
    assert train.main([*small, "--steps", "5", "--no-progress", "--drop-resume-state"]) == 0
    assert "resuming rope.pt from step 3" in capsys.readouterr().out
    assert not resume_path.exists()
    model, ckpt_dict = load_checkpoint(ckpt, pos="rope")
    assert ckpt_dict["step"] == 5 and model.config.max_len == 64
    # the recorded command reproduces the run's settings
    metrics = json.loads(metrics_path.read_text())
    args = train.build_parser().parse_args(metrics["command"].split()[2:])
    assert args.pos == "rope" and args.steps == 5 and args.seq_len == 64
    assert (args.dim, args.layers, args.heads, args.batch_size, args.eval_every) == (32, 1, 2, 4, 2)
    # seeded: the same command from scratch gives the same weights
    again = tmp_path / "again.pt"
    assert train.main([*small[:-4], "--out", str(again), "--steps", "5", "--no-progress"]) == 0
    for (name, a), b in zip(model.state_dict().items(),
                            load_checkpoint(again)[0].state_dict().values()):
        assert torch.equal(a, b), name


def test_more_bad_input_raises_clear_errors(corpus):
    model, _ = load_checkpoint(shipped_checkpoint("learned"), pos="learned")
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        evaluate.perplexity(model, corpus.val, 256, batch_size=0)
    with pytest.raises(ValueError, match="unknown RoPE scaling"):
        evaluate.passkey_accuracy(model, corpus.val, [512], [0.5], scaling="xpos")
    with pytest.raises(ValueError, match="depth must be between 0 and 1"):
        evaluate.passkey_accuracy(model, corpus.val, [256], [1.5])
    res = evaluate.passkey_accuracy(model, corpus.val, [512], [0.5], trials=1)
    assert res["digit_accuracy"] == [[None]]  # no table rows past 256: not scored
    with pytest.raises(ValueError, match="grad_clip"):
        TrainConfig(grad_clip=0)
    with pytest.raises(ValueError, match="save_every"):
        train.train(TrainConfig(pos="rope", steps=1, **QUICK), corpus=corpus, progress=False,
                    save_every=0)
