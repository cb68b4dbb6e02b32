"""Train the tiny LM on stdlib source: `lcedu train --pos rope --seq-len 256 --steps N --out X.pt`.

A plain next-byte training loop (AdamW, linear warmup then cosine decay, gradient clipping,
as in nanoGPT) that writes a checkpoint, a metrics JSON and a resume file, and continues from
the resume file when it is run again. Every batch is drawn from a generator seeded with
(seed, step), so a resumed run sees the same batches as an uninterrupted one.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from lcedu import _checks as chk
from lcedu._checks import OneLineParser
from lcedu.models._cli import add_config_options, dispatch_task, parse_args
from lcedu.models.data import Corpus, eval_windows, load_corpus, random_batch
from lcedu.models.positional import SCHEMES, check_scheme
from lcedu.models.schedule import adamw, check_schedule, environment, init_from, learning_rate
from lcedu.models.tiny_lm import TinyLM, TinyLMConfig

__all__ = [
    "TrainConfig",
    "TrainResult",
    "train",
    "save_checkpoint",
    "load_checkpoint",
    "checkpoint_paths",
    "shipped_checkpoint",
    "subset_loss",
    "main",
]

CHECKPOINT_FORMAT = "lcedu.tiny_lm/1"
SHIPPED_DIR = Path(__file__).resolve().parent.parent / "data" / "checkpoints"


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (the model's shape included)."""

    pos: str = "rope"
    seq_len: int = 256
    steps: int = 600
    batch_size: int = 16
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup: int = 30
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    dim: int = 128
    layers: int = 4
    heads: int = 4
    seed: int = 0
    eval_every: int = 100
    eval_windows: int = 16
    max_train_bytes: int = 2_000_000
    init: str | None = None
    rope_scaling: str = "none"
    rope_original_len: int = 0

    def __post_init__(self) -> None:
        check_scheme(self.pos)
        check_schedule(self, ("seq_len", "steps", "batch_size", "eval_every", "eval_windows"))
        if not self.grad_clip > 0:
            raise ValueError(f"grad_clip must be a positive number, got {self.grad_clip!r}")
        self.model_config()  # validates dim/layers/heads

    def model_config(self) -> TinyLMConfig:
        return TinyLMConfig(
            pos=self.pos, dim=self.dim, layers=self.layers, heads=self.heads, max_len=self.seq_len,
            rope_scaling=self.rope_scaling, rope_original_len=self.rope_original_len,
        )


@dataclass
class TrainResult:
    """The trained model and the metrics that were written (or would have been) to JSON."""

    model: TinyLM
    metrics: dict = field(default_factory=dict)


def checkpoint_paths(out: str | Path) -> tuple[Path, Path, Path]:
    """(checkpoint ``X.pt``, metrics ``X.json``, resume state ``X.resume.pt``) for ``out``."""
    out = Path(out)
    if out.suffix != ".pt":
        raise ValueError(f"--out must name a .pt file (e.g. runs/rope.pt), got {str(out)!r}")
    return out, out.with_suffix(".json"), out.with_suffix(".resume.pt")


def shipped_checkpoint(pos: str) -> Path:
    """Path of the checkpoint shipped with the package for scheme ``pos`` (trained at 256)."""
    check_scheme(pos)
    return SHIPPED_DIR / f"{pos}.pt"


def save_checkpoint(path: str | Path, model: TinyLM, *, step: int, train_config: dict) -> None:
    """Write the model weights, its config and the step (no optimizer state: small files)."""
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": model.config.to_dict(),
            "train_config": train_config,
            "step": step,
            "model": model.state_dict(),
        },
        Path(path),
    )


def load_checkpoint(path: str | Path, *, pos: str | None = None) -> tuple[TinyLM, dict]:
    """Load a tiny-LM checkpoint; with ``pos``, refuse one trained with another scheme."""
    path = Path(path)
    if pos is not None:
        check_scheme(pos)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path.name} is not a tiny-LM checkpoint (format {CHECKPOINT_FORMAT})")
    saved = dict(ckpt["config"])
    # checkpoints from before ``scale_embeddings`` existed never scaled their embeddings
    saved.setdefault("scale_embeddings", False)
    config = TinyLMConfig.from_dict(saved)
    if pos is not None and config.pos != pos:
        raise ValueError(
            f"checkpoint {path.name} was trained with position scheme {config.pos!r}, "
            f"not {pos!r}: its weights only make sense with the scheme they were trained with"
        )
    model = TinyLM(config)
    model.load_state_dict(ckpt["model"])
    model.eval()
    return model, ckpt


@torch.no_grad()
def subset_loss(model: TinyLM, windows: torch.Tensor, batch_size: int = 16) -> float:
    """Mean next-byte loss (nats) over (N, L+1) windows, every position counted."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, windows.shape[0], batch_size):
        w = windows[i : i + batch_size]
        logits = model(w[:, :-1])
        total += float(
            torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction="sum"
            )
        )
        count += w[:, 1:].numel()
    model.train(was_training)
    return total / count


def train(
    cfg: TrainConfig,
    out: str | Path | None = None,
    *,
    corpus: Corpus | None = None,
    progress: bool = True,
    resume: bool = True,
    save_every: int = 100,
    log: Callable[[str], None] | None = None,
) -> TrainResult:
    """Train (or resume) a tiny LM; with ``out`` write checkpoint, metrics JSON, resume state.

    Resuming needs the same scheme and model shape; ``steps`` may grow (the learning-rate
    schedule follows the new total). ``log`` receives one line per evaluation.
    """
    if not isinstance(cfg, TrainConfig):
        raise ValueError("cfg must be a TrainConfig")
    chk.positive_int("save_every", save_every)
    corpus = corpus if corpus is not None else load_corpus(max_train_bytes=cfg.max_train_bytes)
    subset = eval_windows(corpus.val, cfg.seq_len, cfg.eval_windows)
    torch.manual_seed(cfg.seed)
    model = TinyLM(cfg.model_config())
    optimizer = adamw(model, cfg)
    start, history, elapsed = 0, [], 0.0
    paths = checkpoint_paths(out) if out is not None else None
    if cfg.init is not None:  # fine-tune: start from another run's weights
        init_from(model, load_checkpoint(cfg.init, pos=cfg.pos)[0], cfg.init)
    if paths is not None and resume and paths[2].is_file():
        state = torch.load(paths[2], map_location="cpu", weights_only=True)
        old = TinyLMConfig.from_dict(state["config"])
        if old.pos != cfg.pos:
            raise ValueError(
                f"{paths[2].name} holds a run with position scheme {old.pos!r}, not {cfg.pos!r}; "
                "choose another --out or the same --pos"
            )
        if old != model.config:
            raise ValueError(
                f"{paths[2].name} holds a model of another shape ({old}); "
                "choose another --out or the same model size"
            )
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start, history, elapsed = state["step"], state["history"], state["elapsed_s"]
        if log:
            log(f"resuming {paths[0].name} from step {start}")

    def evaluate_and_record(step: int, train_loss: float | None) -> None:
        val = subset_loss(model, subset)
        shown = "  -  " if train_loss is None else f"{train_loss:.3f}"
        history.append({
            "step": step,
            "train_loss": None if train_loss is None else round(train_loss, 5),
            "val_loss": val,
        })
        if log:
            log(f"step {step:5d}  train loss {shown}  val loss {val:.3f}")

    model.train()
    t0 = time.perf_counter()
    bar = None
    steps = range(start, cfg.steps)
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(steps, initial=start, total=cfg.steps, desc=f"train {cfg.pos}", leave=False)
        steps = bar
    if start == 0 and not history:
        evaluate_and_record(0, None)
    running = None
    for step in steps:
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        x, y = random_batch(corpus.train, cfg.batch_size, cfg.seq_len, gen)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        loss = model.loss(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        value = float(loss.detach())
        running = value if running is None else 0.9 * running + 0.1 * value
        if bar is not None:
            bar.set_postfix(loss=f"{running:.3f}")
        done = step + 1
        if done % cfg.eval_every == 0 or done == cfg.steps:
            evaluate_and_record(done, running)
        if paths is not None and (done % save_every == 0 or done == cfg.steps):
            _write(paths, model, optimizer, cfg, corpus, subset, history,
                   done, elapsed + time.perf_counter() - t0)
    if bar is not None:
        bar.close()
    elapsed += time.perf_counter() - t0
    metrics = _metrics(model, cfg, corpus, subset, history, max(start, cfg.steps), elapsed)
    return TrainResult(model=model.eval(), metrics=metrics)


def _metrics(model, cfg, corpus, subset, history, step, elapsed) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "pos": cfg.pos,
        "step": step,
        "train_config": asdict(cfg),
        "model_config": model.config.to_dict(),
        "num_parameters": model.num_parameters(),
        "history": history,
        "val_loss_subset": history[-1]["val_loss"] if history else None,
        "eval_subset": {
            "seq_len": cfg.seq_len,
            "windows": int(subset.shape[0]),
            "text_latin1": bytes(subset[:, :-1].reshape(-1).tolist()
                                 + subset[-1:, -1].tolist()).decode("latin-1"),
        },
        "corpus": corpus.fingerprint(),
        "train_seconds": round(elapsed, 1),
        "environment": environment(),
    }


def _write(paths, model, optimizer, cfg, corpus, subset, history, step, elapsed) -> None:
    ckpt, metrics_path, resume_path = paths
    ckpt.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(ckpt, model, step=step, train_config=asdict(cfg))
    metrics = _metrics(model, cfg, corpus, subset, history, step, elapsed)
    metrics["command"] = "lcedu train " + " ".join(_as_argv(cfg, ckpt))
    metrics_path.write_text(json.dumps(metrics, indent=1) + "\n")
    torch.save(
        {
            "config": model.config.to_dict(),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "history": history,
            "elapsed_s": elapsed,
        },
        resume_path,
    )


def subset_from_metrics(metrics: dict) -> torch.Tensor:
    """The (N, L+1) evaluation windows a metrics JSON recorded (independent of this machine)."""
    sub = metrics["eval_subset"]
    data = torch.tensor(list(sub["text_latin1"].encode("latin-1")), dtype=torch.long)
    return eval_windows(data, sub["seq_len"], sub["windows"])


def _as_argv(cfg: TrainConfig, out: Path) -> list[str]:
    default = TrainConfig()
    argv = ["--pos", cfg.pos, "--seq-len", str(cfg.seq_len), "--steps", str(cfg.steps)]
    for name in ("batch_size", "lr", "warmup", "dim", "layers", "heads", "seed", "eval_every",
                 "eval_windows", "init", "rope_scaling", "rope_original_len"):
        if getattr(cfg, name) != getattr(default, name):
            argv += ["--" + name.replace("_", "-"), str(getattr(cfg, name))]
    return argv + ["--out", out.as_posix()]


def build_parser() -> argparse.ArgumentParser:
    d = TrainConfig()
    p = OneLineParser(
        prog="lcedu train",
        description="Train the tiny byte-level LM on the Python stdlib's own source code.",
    )
    p.add_argument("--task", choices=["bytes", "recall"], default="bytes",
                   help="bytes: the stdlib byte LM (these options); recall: associative recall "
                   "(see `lcedu train --task recall --help`)")
    p.add_argument("--pos", required=True, help=f"position scheme: {', '.join(SCHEMES)}")
    p.add_argument("--seq-len", type=int, default=d.seq_len, help="training length in bytes")
    p.add_argument("--steps", type=int, default=d.steps, help="total optimizer steps")
    p.add_argument("--out", required=True, help="checkpoint path X.pt (writes X.json too)")
    add_config_options(p, d, "batch_size", "lr", "warmup", "dim", "layers", "heads", "seed",
                       "eval_every", "eval_windows")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads (1 is fastest on a busy, shared 2-core machine)")
    p.add_argument("--init", help="start from this checkpoint's weights (fine-tuning)")
    p.add_argument("--rope-scaling", default="none", choices=["none", "linear", "yarn"],
                   help="train with RoPE scaled from --rope-original-len to --seq-len")
    p.add_argument("--rope-original-len", type=int, default=0,
                   help="the length the --init checkpoint was trained at")
    p.add_argument("--no-resume", action="store_true", help="start over even if X.resume.pt exists")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--drop-resume-state", action="store_true",
        help="delete X.resume.pt at the end (for checkpoints that ship: weights only)",
    )
    return p


def build_recall_parser() -> argparse.ArgumentParser:
    from lcedu.models.recall_train import RecallTrainConfig

    d = RecallTrainConfig()
    p = OneLineParser(
        prog="lcedu train --task recall",
        description="Train the tiny LM on associative recall in Markov filler "
        "(lcedu.models.recall); writes X.pt (weights) and X.json (record and command).",
    )
    p.add_argument("--task", choices=["recall"], default="recall", help=argparse.SUPPRESS)
    p.add_argument("--pos", required=True, help=f"position scheme: {', '.join(SCHEMES)}")
    p.add_argument("--out", required=True, help="checkpoint path X.pt (writes X.json too)")
    p.add_argument("--seq-len", type=int, default=d.seq_len, help="training length in tokens")
    p.add_argument("--steps", type=int, default=d.steps, help="optimizer steps (fixed)")
    add_config_options(p, d, "batch_size", "lr", "warmup", "dim", "layers", "heads", "mlp_ratio",
                       "init_std", "seed", "log_every")
    p.add_argument("--init", help="start from this recall checkpoint's weights (fine-tuning)")
    p.add_argument("--rope-scaling", default="none",
                   help="train with this RoPE scaling built in, from --rope-original-len to "
                   "--seq-len: none, linear, ntk_aware, yarn, …")
    p.add_argument("--rope-original-len", type=int, default=0,
                   help="the length the --init checkpoint was trained at")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    return p


def recall_command(cfg, out: str | Path) -> str:
    """The ``lcedu train`` command line that makes this recall run (defaults left out)."""
    from lcedu.models.recall_train import RecallTrainConfig

    d = RecallTrainConfig()
    argv = ["lcedu", "train", "--task", "recall", "--pos", cfg.pos]
    for name in ("seq_len", "steps", "batch_size", "lr", "warmup", "dim", "layers", "heads",
                 "mlp_ratio", "init_std", "seed", "log_every", "init", "rope_scaling",
                 "rope_original_len"):
        if getattr(cfg, name) != getattr(d, name):
            argv += ["--" + name.replace("_", "-"), str(getattr(cfg, name))]
    return " ".join(argv + ["--out", Path(out).as_posix()])


def recall_main(argv: list[str]) -> int:
    """``lcedu train --task recall``: train, save, reload and score at the training length."""
    from lcedu.models.recall_eval import recall_scores
    from lcedu.models.recall_train import RecallTrainConfig, load_recall, save_recall, train_recall

    args = parse_args("lcedu train", build_recall_parser(), argv)
    if args is None:
        return 2
    try:
        ckpt, metrics_path, _ = checkpoint_paths(args.out)
        cfg = RecallTrainConfig(
            pos=args.pos, seq_len=args.seq_len, steps=args.steps, batch_size=args.batch_size,
            lr=args.lr, warmup=args.warmup, dim=args.dim, layers=args.layers, heads=args.heads,
            mlp_ratio=args.mlp_ratio, init_std=args.init_std, seed=args.seed,
            log_every=args.log_every, init=args.init,
            rope_scaling=args.rope_scaling, rope_original_len=args.rope_original_len,
        )
        model, record = train_recall(cfg, log=lambda line: print(line, flush=True))
        save_recall(ckpt, model, cfg)
        model, _ = load_recall(ckpt)  # score the weights as shipped (float16 on disk)
        record["at_training_length"] = recall_scores(model, cfg.recall_task(), cfg.seq_len)
    except ValueError as err:
        print(f"lcedu train: error: {err}", file=sys.stderr)
        return 2
    record["command"] = recall_command(cfg, args.out)
    metrics_path.write_text(json.dumps(record, indent=1) + "\n")
    acc = record["at_training_length"]["accuracy"]
    print(f"wrote {ckpt} and {metrics_path.name}: {record['num_parameters']} parameters, "
          f"accuracy {acc:.3f} at the training length after {cfg.steps} steps "
          f"({record['train_seconds']} s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    return dispatch_task("lcedu train", argv, bytes_main, recall_main)


def bytes_main(argv: list[str]) -> int:
    """``lcedu train --task bytes`` (the default)."""
    args = parse_args("lcedu train", build_parser(), argv)
    if args is None:
        return 2
    try:
        cfg = TrainConfig(
            pos=args.pos, seq_len=args.seq_len, steps=args.steps, batch_size=args.batch_size,
            lr=args.lr, warmup=args.warmup, dim=args.dim, layers=args.layers, heads=args.heads,
            seed=args.seed, eval_every=args.eval_every, eval_windows=args.eval_windows,
            init=args.init, rope_scaling=args.rope_scaling,
            rope_original_len=args.rope_original_len,
        )
        result = train(
            cfg, args.out, progress=not args.no_progress, resume=not args.no_resume,
            log=lambda line: print(line, flush=True),
        )
    except ValueError as err:
        print(f"lcedu train: error: {err}", file=sys.stderr)
        return 2
    ckpt, metrics_path, resume_path = checkpoint_paths(args.out)
    if args.drop_resume_state and resume_path.exists():
        resume_path.unlink()
    print(
        f"wrote {ckpt} and {metrics_path.name}: {result.metrics['num_parameters']} parameters, "
        f"val loss {result.metrics['val_loss_subset']:.4f} nats/byte after "
        f"{result.metrics['step']} steps ({result.metrics['train_seconds']} s)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
