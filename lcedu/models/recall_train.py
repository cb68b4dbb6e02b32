"""Train a TinyLM on associative recall: a fixed number of AdamW steps on generated batches.

The loss is the mean loss on filler (the local loss, next token of the Markov chain) plus the
mean loss on the queries' answers, so the few answer tokens are not drowned by filler
(Arora et al., 2023, train MQAR on the answers). Batch ``step`` of seed ``s`` is drawn from a
generator seeded with (s, step), so a run is reproducible from its command line alone.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from lcedu.models.positional import check_scheme
from lcedu.models.recall import RecallBatch, RecallTask, make_batch
from lcedu.models.schedule import adamw, check_schedule, environment, init_from, learning_rate
from lcedu.models.tiny_lm import TinyLM, TinyLMConfig

__all__ = [
    "RECALL_FORMAT",
    "RecallTrainConfig",
    "recall_loss",
    "train_recall",
    "save_recall",
    "load_recall",
    "environment",
]

RECALL_FORMAT = "lcedu.recall_lm/1"


@dataclass(frozen=True)
class RecallTrainConfig:
    """Everything that determines a recall training run (model shape and task included)."""

    pos: str = "rope"
    seq_len: int = 64
    steps: int = 800
    batch_size: int = 64
    lr: float = 3e-3
    warmup: int = 50
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    dim: int = 64
    layers: int = 2
    heads: int = 2
    mlp_ratio: int = 2
    init_std: float = 0.125
    seed: int = 0
    log_every: int = 100
    init: str | None = None
    rope_scaling: str = "none"
    rope_original_len: int = 0
    task: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_scheme(self.pos)
        check_schedule(self, ("seq_len", "steps", "batch_size", "log_every"))
        if self.seq_len < self.recall_task().min_length:
            raise ValueError(
                f"seq_len {self.seq_len} is too short for the task; use at least "
                f"{self.recall_task().min_length}"
            )
        self.model_config()  # validates the model's shape

    def recall_task(self) -> RecallTask:
        return RecallTask.from_dict(self.task)

    def model_config(self) -> TinyLMConfig:
        return TinyLMConfig(
            pos=self.pos, dim=self.dim, layers=self.layers, heads=self.heads,
            mlp_ratio=self.mlp_ratio, max_len=self.seq_len, init_std=self.init_std,
            vocab_size=self.recall_task().vocab_size,
            rope_scaling=self.rope_scaling, rope_original_len=self.rope_original_len,
        )


def recall_loss(model: TinyLM, batch: RecallBatch, *, rope=None) -> tuple[torch.Tensor, dict]:
    """(local loss + answer loss, the parts and the answer accuracy) for one batch."""
    tokens = batch.tokens
    logits = model(tokens[:, :-1], rope=rope)
    targets = tokens[:, 1:]
    ce = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")
    local, answer = batch.local[:, 1:], batch.answer[:, 1:]
    local_loss, answer_loss = ce[local].mean(), ce[answer].mean()
    acc = (logits.argmax(-1)[answer] == targets[answer]).float().mean()
    parts = {"local": float(local_loss.detach()), "answer": float(answer_loss.detach()),
             "accuracy": float(acc)}
    return local_loss + answer_loss, parts


def save_recall(path: str | Path, model: TinyLM, cfg: RecallTrainConfig) -> None:
    """Weights, model config and training config (no optimizer state: small files)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(
        {"format": RECALL_FORMAT, "config": model.config.to_dict(),
         "train_config": asdict(cfg), "model": state},
        path,
    )


def load_recall(path: str | Path) -> tuple[TinyLM, RecallTrainConfig]:
    """A recall checkpoint's model (float32, eval mode) and its training config."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"checkpoint {str(path)!r} does not exist")
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(ckpt, dict) or ckpt.get("format") != RECALL_FORMAT:
        raise ValueError(f"{path.name} is not a recall checkpoint (format {RECALL_FORMAT})")
    model = TinyLM(TinyLMConfig.from_dict(ckpt["config"]))
    model.load_state_dict({k: v.float() if v.is_floating_point() else v
                           for k, v in ckpt["model"].items()})
    return model.eval(), RecallTrainConfig(**ckpt["train_config"])


def train_recall(cfg: RecallTrainConfig, *, log=None) -> tuple[TinyLM, dict]:
    """Train for exactly ``cfg.steps`` steps; return the model and its training record.

    With ``cfg.init`` the weights start from that recall checkpoint (a fine-tune; the model
    may be longer, e.g. trained at 64 and fine-tuned at 128, with ``rope_scaling`` built in).
    """
    if not isinstance(cfg, RecallTrainConfig):
        raise ValueError(f"cfg must be a RecallTrainConfig, got {type(cfg).__name__}")
    task = cfg.recall_task()
    torch.manual_seed(cfg.seed)
    model = TinyLM(cfg.model_config())
    if cfg.init is not None:
        init_from(model, load_recall(cfg.init)[0], cfg.init)
    opt = adamw(model, cfg)
    history = []
    model.train()
    t0 = time.perf_counter()
    window: list[dict] = []
    for step in range(cfg.steps):
        gen = torch.Generator().manual_seed(cfg.seed * 1_000_003 + step)
        batch = make_batch(task, cfg.batch_size, cfg.seq_len, gen)
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, cfg)
        loss, parts = recall_loss(model, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        window.append(parts)
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            row = {"step": done}
            for key in ("local", "answer", "accuracy"):
                row[key] = round(sum(p[key] for p in window) / len(window), 4)
            window = []
            history.append(row)
            if log:
                log(f"{cfg.pos:>10} step {done:5d}  local {row['local']:.3f}  "
                    f"answer {row['answer']:.3f}  accuracy {row['accuracy']:.2f}")
    seconds = time.perf_counter() - t0
    record = {
        "format": RECALL_FORMAT,
        "train_config": asdict(cfg),
        "model_config": model.config.to_dict(),
        "num_parameters": model.num_parameters(),
        "task": task.to_dict(),
        "task_sha256": task.fingerprint(),
        "history": history,
        "train_seconds": round(seconds, 1),
        "environment": environment(),
    }
    return model.eval(), record
