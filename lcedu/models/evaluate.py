"""Train short, test long: perplexity vs evaluation length, and a passkey test, per scheme.

Follows the evaluation of ALiBi (Press et al., "Train Short, Test Long", 2022): score
non-overlapping windows of each length on the same held-out text, every position counted.
RoPE models can be rescaled at evaluation with PI, NTK-aware, dynamic NTK, YaRN or Llama 3
(``lcedu.positions.scaling``, factor = eval length / training length). The passkey test
(Mohtashami & Jaggi, "Landmark Attention", 2023) hides a number in filler code and asks for it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from lcedu import _checks as chk
from lcedu._checks import OneLineParser
from lcedu.models._cli import dispatch_task, parse_args
from lcedu.models.data import eval_windows, load_corpus
from lcedu.models.positional import SCHEMES
from lcedu.models.tiny_lm import RopeOverride, TinyLM, scaled_rope
from lcedu.models.train import SHIPPED_DIR, load_checkpoint, shipped_checkpoint
from lcedu.positions import scaling as rope_scaling

__all__ = [
    "ROPE_SCALINGS",
    "rope_override",
    "perplexity",
    "passkey_example",
    "passkey_accuracy",
    "evaluate_model",
    "shipped_metrics",
    "length_table",
    "main",
]

#: Names accepted for evaluation-time RoPE scaling ("none" = the trained frequencies).
ROPE_SCALINGS = ("none", *rope_scaling.SCALINGS)
NEEDLE = b"\nPASSKEY = "


def rope_override(model: TinyLM, method: str, eval_len: int) -> RopeOverride | None:
    """The RoPE frequencies for ``method`` at ``eval_len``, factor = eval_len / training length.

    Returns None for "none", or when eval_len is not longer than the training length (every
    method is the identity at factor 1, so the trained frequencies are used unchanged).
    """
    if method not in ROPE_SCALINGS:
        raise ValueError(
            f"unknown RoPE scaling {method!r}; choose one of {', '.join(ROPE_SCALINGS)}"
        )
    cfg = model.config
    if method != "none" and cfg.pos != "rope":
        raise ValueError(
            f"RoPE scaling {method!r} needs a RoPE model; this checkpoint uses {cfg.pos!r}"
        )
    if method != "none" and cfg.rope_scaling != "none":
        raise ValueError(
            f"this model was fine-tuned with {cfg.rope_scaling!r} scaling built in; "
            "evaluate it with scaling 'none'"
        )
    train_len = cfg.max_len
    if method == "none" or eval_len <= train_len:
        return None
    inv, att = scaled_rope(
        method, cfg.head_dim, cfg.rope_base, eval_len / train_len, train_len, eval_len
    )
    return RopeOverride(inv_freq=inv, attention_factor=att)


@torch.no_grad()
def perplexity(
    model: TinyLM,
    data: torch.Tensor,
    length: int,
    *,
    total_tokens: int = 8192,
    scaling: str = "none",
    batch_size: int = 4,
) -> dict:
    """Mean loss (nats/byte) and perplexity over ``total_tokens // length`` windows of ``length``.

    The windows tile the same first ``total_tokens`` bytes of ``data`` at every length, so
    lengths are compared on the same text.
    """
    chk.positive_int("length", length)
    if not isinstance(total_tokens, int) or isinstance(total_tokens, bool):
        raise ValueError(f"total_tokens must be an integer, got {total_tokens!r}")
    if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if total_tokens < length:
        raise ValueError(f"total_tokens ({total_tokens}) must be at least the length ({length})")
    if model.config.pos == "learned" and length > model.config.max_len:
        raise ValueError(
            f"length {length} is larger than the learned position table "
            f"({model.config.max_len} positions); a learned model cannot be evaluated there"
        )
    model.eval()
    windows = eval_windows(data, length, total_tokens // length)
    rope = rope_override(model, scaling, length)
    total = 0.0
    for i in range(0, windows.shape[0], batch_size):
        w = windows[i : i + batch_size]
        logits = model(w[:, :-1], rope=rope)
        total += float(
            F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1),
                            reduction="sum")
        )
    count = windows.shape[0] * length
    loss = total / count
    return {"length": length, "loss": loss, "ppl": math.exp(loss), "tokens": count}


def passkey_example(
    filler: torch.Tensor, length: int, depth: float, key: str
) -> tuple[torch.Tensor, int]:
    """A prompt of exactly ``length`` bytes and the index where the answer's digits start.

    The line ``PASSKEY = <key>`` sits at fraction ``depth`` of the filler (0 = start, 1 = just
    before the question), moved to the nearest line break; the prompt ends ``PASSKEY = <key>``
    so the model is scored, teacher-forced, on predicting each digit of the key.
    """
    if not 0.0 <= depth <= 1.0:
        raise ValueError(f"depth must be between 0 and 1, got {depth!r}")
    if not key.isdigit():
        raise ValueError(f"key must be a string of digits, got {key!r}")
    needle = NEEDLE + key.encode() + b"\n"
    question = NEEDLE
    n_fill = length - len(needle) - len(question) - len(key)
    if n_fill < 1:
        raise ValueError(f"length {length} is too short for a passkey prompt")
    if filler.numel() < n_fill:
        raise ValueError(f"filler has {filler.numel()} bytes, {n_fill} are needed")
    text = bytes(filler[:n_fill].tolist())
    cut = int(round(depth * n_fill))
    # move to the nearest line break (within 80 bytes) so the needle is a line of its own
    before, after = text.rfind(b"\n", 0, cut), text.find(b"\n", cut)
    near = [i for i in (before, after) if i >= 0 and abs(i - cut) <= 80]
    if cut in (0, n_fill):  # the very start, or right before the question: keep it there
        near = []
    if near:
        cut = min(near, key=lambda i: abs(i - cut))
    prompt = text[:cut] + needle + text[cut:] + question + key.encode()
    assert len(prompt) == length
    return torch.tensor(list(prompt), dtype=torch.long), length - len(key)


@torch.no_grad()
def passkey_accuracy(
    model: TinyLM,
    data: torch.Tensor,
    lengths: list[int],
    depths: list[float],
    *,
    trials: int = 4,
    digits: int = 5,
    scaling: str = "none",
    seed: int = 0,
) -> dict:
    """Digit accuracy and exact-match accuracy of the passkey, per (length, depth).

    Each trial draws a random key and a different stretch of ``data`` as filler; the model
    is right on a digit when its most likely next byte is that digit.
    """
    if trials < 1 or digits < 1:
        raise ValueError(f"trials and digits must be positive, got {trials} and {digits}")
    for length in lengths:
        if not isinstance(length, int) or isinstance(length, bool) or length < 1:
            raise ValueError(f"every passkey length must be a positive integer, got {length!r}")
    for depth in depths:
        if not 0.0 <= depth <= 1.0:
            raise ValueError(f"every depth must be between 0 and 1, got {depth!r}")
    rope_override(model, scaling, model.config.max_len)  # unknown or misplaced scaling: fails
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    digit_acc: list[list[float | None]] = []
    exact_acc: list[list[float | None]] = []
    for length in lengths:
        if model.config.pos == "learned" and length > model.config.max_len:
            digit_acc.append([None] * len(depths))  # no table rows past max_len
            exact_acc.append([None] * len(depths))
            continue
        rope = rope_override(model, scaling, length)
        row_d, row_e = [], []
        for depth in depths:
            prompts, starts = [], []
            for t in range(trials):
                key = "".join(str(int(d)) for d in torch.randint(0, 10, (digits,), generator=gen))
                offset = (t * 7919 * length) % max(1, data.numel() - length)
                prompt, start = passkey_example(data[offset:], length, depth, key)
                prompts.append(prompt)
                starts.append(start)
            batch = torch.stack(prompts)
            logits = model(batch[:, :-1], rope=rope)
            pred = logits.argmax(-1)
            start = starts[0]
            got = pred[:, start - 1 : start - 1 + digits]
            want = batch[:, start : start + digits]
            correct = got == want
            row_d.append(float(correct.float().mean()))
            row_e.append(float(correct.all(dim=1).float().mean()))
        digit_acc.append(row_d)
        exact_acc.append(row_e)
    return {
        "lengths": list(lengths),
        "depths": list(depths),
        "trials": trials,
        "digits": digits,
        "digit_accuracy": digit_acc,
        "exact_accuracy": exact_acc,
    }


def evaluate_model(
    model: TinyLM,
    data: torch.Tensor,
    *,
    lengths: list[int],
    scalings: list[str],
    total_tokens: int,
    passkey_lengths: list[int],
    passkey_depths: list[float],
    passkey_trials: int,
    passkey_scalings: list[str],
    log=None,
) -> dict:
    """Perplexity per (scaling, length) and passkey accuracy per scaling, as one dict."""
    pos = model.config.pos
    if pos != "rope" or model.config.rope_scaling != "none":
        scalings, passkey_scalings = ["none"], ["none"]
    ppl: dict[str, list] = {}
    for method in scalings:
        rows = []
        for length in lengths:
            if pos == "learned" and length > model.config.max_len:
                rows.append({"length": length, "loss": None, "ppl": None, "tokens": 0})
                if log:
                    log(f"{pos:10s} {method:11s} L={length:5d}  skipped: longer than the "
                        f"learned position table ({model.config.max_len})")
                continue
            rows.append(perplexity(model, data, length, total_tokens=total_tokens, scaling=method))
            if log:
                log(f"{pos:10s} {method:11s} L={length:5d}  loss {rows[-1]['loss']:.4f}")
        ppl[method] = rows
    passkey = {}
    for method in passkey_scalings:
        passkey[method] = passkey_accuracy(
            model, data, passkey_lengths, passkey_depths, trials=passkey_trials, scaling=method
        )
        if log:
            acc = passkey[method]["digit_accuracy"]
            log(f"{pos:10s} {method:11s} passkey digit accuracy {acc}")
    return {"pos": pos, "train_len": model.config.max_len, "perplexity": ppl, "passkey": passkey}


def shipped_metrics(name: str) -> tuple[dict, dict | None]:
    """The recorded training metrics of a shipped checkpoint, and its evaluation (if any).

    ``name`` is a scheme ("rope", "alibi", …) or a shipped fine-tune such as
    "rope_yarn_ft1024" (see lcedu/data/checkpoints/README.md).
    """
    if not isinstance(name, str) or not name or "/" in name or "\\" in name:
        raise ValueError(f"name must be a scheme or a shipped checkpoint's name, got {name!r}")
    path = SHIPPED_DIR / f"{name}.pt"
    train_json = path.with_suffix(".json")
    if not train_json.is_file():
        raise ValueError(
            f"no shipped checkpoint named {name!r}; the schemes are {', '.join(SCHEMES)}"
        )
    eval_json = path.with_name(f"{name}.eval.json")
    evaluation = json.loads(eval_json.read_text()) if eval_json.is_file() else None
    return json.loads(train_json.read_text()), evaluation


def length_table(evaluations: dict[str, dict], *, digits: int = 3) -> str:
    """A text table of loss (nats/byte) per scheme/scaling (rows) and length (columns)."""
    if not evaluations:
        raise ValueError("evaluations is empty: give {scheme: evaluation dict}")
    lengths = sorted({r["length"] for ev in evaluations.values()
                      for rows in ev["perplexity"].values() for r in rows})
    lines = [f"{'scheme':<22}" + "".join(f"{n:>8}" for n in lengths)]
    for pos, ev in evaluations.items():
        for method, rows in ev["perplexity"].items():
            by_len = {r["length"]: r["loss"] for r in rows}
            name = pos if method == "none" else f"{pos} + {method}"
            cells = []
            for n in lengths:
                v = by_len.get(n)
                cells.append(f"{'—':>8}" if v is None else f"{v:>8.{digits}f}")
            lines.append(f"{name:<22}" + "".join(cells))
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="lcedu evaluate",
        description="Perplexity vs evaluation length and passkey accuracy of tiny-LM checkpoints.",
    )
    p.add_argument("--task", choices=["bytes", "recall"], default="bytes",
                   help="bytes: the stdlib byte LM (these options); recall: associative recall "
                   "(see `lcedu evaluate --task recall --help`)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", help="a checkpoint written by `lcedu train` (X.pt)")
    src.add_argument("--pos", help=f"use the shipped checkpoint of a scheme: {', '.join(SCHEMES)}")
    p.add_argument("--expect-pos", help="refuse a checkpoint trained with another scheme")
    p.add_argument("--lengths", type=int, nargs="+", default=[256, 512, 1024, 2048])
    p.add_argument("--scalings", nargs="+", default=["none", "linear", "ntk_aware", "yarn"],
                   help=f"RoPE scalings at evaluation: {', '.join(ROPE_SCALINGS)}")
    p.add_argument("--tokens", type=int, default=8192, help="bytes scored per length")
    p.add_argument("--passkey-lengths", type=int, nargs="+", default=[256, 512, 1024, 2048])
    p.add_argument("--passkey-depths", type=float, nargs="+", default=[0.0, 0.25, 0.5, 0.75, 1.0])
    p.add_argument("--passkey-trials", type=int, default=4)
    p.add_argument("--passkey-scalings", nargs="+", default=["none", "linear", "yarn"])
    p.add_argument("--stride-fraction", type=float, default=None,
                   help="sliding-window scoring instead: windows every FRACTION x length, "
                   "each scoring its last FRACTION x length bytes (no passkey test)")
    p.add_argument("--position-length", type=int, default=None,
                   help="with --stride-fraction: also the loss per position at this length")
    p.add_argument("--position-windows", type=int, default=32,
                   help="windows averaged for the per-position loss")
    p.add_argument("--out", help="write the metrics JSON here")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is fastest on a busy, shared 2-core machine)")
    return p


def build_recall_parser() -> argparse.ArgumentParser:
    p = OneLineParser(
        prog="lcedu evaluate --task recall",
        description="Recall accuracy (near/far) and local loss of a recall checkpoint per "
        "evaluation length and RoPE scaling.",
    )
    p.add_argument("--task", choices=["recall"], default="recall", help=argparse.SUPPRESS)
    p.add_argument("--checkpoint", required=True,
                   help="a checkpoint of `lcedu train --task recall`")
    p.add_argument("--lengths", type=int, nargs="+", required=True, help="evaluation lengths")
    p.add_argument("--scalings", nargs="+", default=["none"],
                   help=f"RoPE scalings (RoPE models only): {', '.join(ROPE_SCALINGS)}")
    p.add_argument("--sequences", type=int, default=256, help="sequences per length")
    p.add_argument("--seed", type=int, default=None, help="evaluation seed (default EVAL_SEED)")
    p.add_argument("--out", help="write the scores JSON here")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p


def recall_main(argv: list[str]) -> int:
    """``lcedu evaluate --task recall``: score one checkpoint at every length and scaling."""
    from lcedu.models.recall_eval import EVAL_SEED, recall_scores
    from lcedu.models.recall_train import load_recall

    args = parse_args("lcedu evaluate", build_recall_parser(), argv)
    if args is None:
        return 2
    seed = EVAL_SEED if args.seed is None else args.seed
    try:
        model, cfg = load_recall(args.checkpoint)
        task = cfg.recall_task()
        rows = []
        for method in args.scalings:
            for length in args.lengths:
                if model.config.pos == "learned" and length > model.config.max_len:
                    continue  # no table rows past the training length
                r = recall_scores(model, task, length, scaling=method,
                                  sequences=args.sequences, seed=seed)
                rows.append(r)
                far = "   —  " if r["far_accuracy"] is None else f"{r['far_accuracy']:.3f}"
                print(f"{cfg.pos:>10} {method:>11} L={length:5d}  accuracy {r['accuracy']:.3f}  "
                      f"near {r['near_accuracy']:.3f}  far {far}  local {r['local_loss']:.3f}",
                      flush=True)
    except ValueError as err:
        print(f"lcedu evaluate: error: {err}", file=sys.stderr)
        return 2
    out = {
        "checkpoint": Path(args.checkpoint).name,
        "pos": cfg.pos,
        "seed": cfg.seed,
        "train_len": cfg.seq_len,
        "task_sha256": task.fingerprint(),
        "eval_seed": seed,
        "sequences": args.sequences,
        "scores": rows,
        "command": " ".join(["lcedu", "evaluate", "--task", "recall", "--checkpoint",
                             Path(args.checkpoint).as_posix(), "--lengths",
                             *map(str, args.lengths), "--scalings", *args.scalings,
                             "--sequences", str(args.sequences)]
                            + ([] if args.seed is None else ["--seed", str(args.seed)])
                            + (["--out", Path(args.out).as_posix()] if args.out else [])),
    }
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    return dispatch_task("lcedu evaluate", argv, bytes_main, recall_main)


def bytes_main(argv: list[str]) -> int:
    """``lcedu evaluate --task bytes`` (the default)."""
    args = parse_args("lcedu evaluate", build_parser(), argv)
    if args is None:
        return 2
    try:
        for method in list(args.scalings) + list(args.passkey_scalings):
            if method not in ROPE_SCALINGS:
                raise ValueError(
                    f"unknown RoPE scaling {method!r}; choose one of {', '.join(ROPE_SCALINGS)}"
                )
        path = Path(args.checkpoint) if args.checkpoint else shipped_checkpoint(args.pos)
        model, ckpt = load_checkpoint(path, pos=args.expect_pos or args.pos)
        corpus = load_corpus(max_train_bytes=1)
        if args.stride_fraction is not None:
            return _strided_main(args, argv, path, ckpt, model, corpus)
        metrics = evaluate_model(
            model, corpus.val, lengths=args.lengths, scalings=args.scalings,
            total_tokens=args.tokens, passkey_lengths=args.passkey_lengths,
            passkey_depths=args.passkey_depths, passkey_trials=args.passkey_trials,
            passkey_scalings=args.passkey_scalings, log=lambda s: print(s, flush=True),
        )
    except ValueError as err:
        print(f"lcedu evaluate: error: {err}", file=sys.stderr)
        return 2
    metrics["checkpoint"] = path.name
    metrics["step"] = ckpt["step"]
    metrics["tokens_per_length"] = args.tokens
    metrics["val_sha256"] = corpus.fingerprint()["val_sha256"]
    metrics["args"] = vars(args)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(metrics, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


def _strided_main(args, argv: list[str], path: Path, ckpt: dict, model: TinyLM, corpus) -> int:
    from lcedu.models.schedule import environment
    from lcedu.models.strided_eval import length_sweep

    scalings = list(args.scalings)
    if model.config.pos != "rope":
        scalings = ["none"]
    metrics = length_sweep(
        model, corpus.val, lengths=args.lengths, scalings=scalings, tokens=args.tokens,
        stride_fraction=args.stride_fraction, position_length=args.position_length,
        position_windows=args.position_windows, log=lambda s: print(s, flush=True),
    )
    metrics.update(checkpoint=path.name, step=ckpt["step"],
                   val_sha256=corpus.fingerprint()["val_sha256"], args=vars(args),
                   command="lcedu evaluate " + " ".join(argv), environment=environment())
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(metrics, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
