"""The shipped byte-LM grid: every run's record and strided losses, as mean ± sd over seeds.

Each checkpoint ``NAME_sSEED.pt`` in ``lcedu/data/checkpoints/bytes`` ships with
``NAME_sSEED.json`` (training record: the exact `lcedu train` command, corpus hashes,
environment, validation history) and ``NAME_sSEED.eval.json`` (strided loss per length and
scaling, loss per position at 8×: `lcedu.models.strided_eval`). The row format is the recall
grid's, so `recall_records.results_table` and `compare` read it unchanged.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from lcedu.models import recall_records

__all__ = ["bytes_dir", "load_byte_records", "byte_rows", "position_curves",
           "byte_training_table", "rescore_bytes"]


def bytes_dir() -> Path:
    """Where the byte-LM grid ships."""
    from lcedu.models.byte_grid import BYTES_DIR

    return BYTES_DIR


def load_byte_records(directory: str | Path | None = None) -> dict[str, dict]:
    """``{name: {"model", "seed", "train", "eval"}}`` of every shipped byte-LM run."""
    return recall_records.load_records(bytes_dir() if directory is None else directory)


def byte_rows(records: dict[str, dict] | None = None) -> list[dict]:
    """One row per (run, scaling, length): {"model", "seed", "scaling", "length", "loss"};
    a learned table's lengths past its size are left out."""
    records = load_byte_records() if records is None else records
    rows = []
    for rec in records.values():
        ev = rec["eval"]
        for scaling, losses in ev["loss"].items():
            for length, loss in zip(ev["lengths"], losses):
                if loss is not None:
                    rows.append({"model": rec["model"], "seed": rec["seed"],
                                 "scaling": scaling, "length": length, "loss": loss})
    return rows


def position_curves(records: dict[str, dict] | None = None) -> dict[tuple[str, str], dict]:
    """{(model, scaling): {"start", "mean", "sd", "n"}}: loss per position bucket at the
    position length (8×), mean and sd over seeds; "start" is each bucket's first position."""
    records = load_byte_records() if records is None else records
    curves: dict[tuple[str, str], list] = {}
    meta = {}
    for rec in records.values():
        ev = rec["eval"]
        for scaling, curve in ev.get("positions", {}).items():
            curves.setdefault((rec["model"], scaling), []).append(curve)
            meta[(rec["model"], scaling)] = ev["position_bucket"]
    out = {}
    for key, values in curves.items():
        a = np.asarray(values, dtype=float)
        sd = a.std(0, ddof=1) if len(a) > 1 else np.zeros(a.shape[1])
        out[key] = {"start": [i * meta[key] for i in range(a.shape[1])],
                    "mean": a.mean(0).tolist(), "sd": sd.tolist(), "n": len(a)}
    return out


def byte_training_table(records: dict[str, dict] | None = None) -> str:
    """Per model: steps, parameters, seconds per seed, final validation loss and how much it
    still fell over the last quarter of training (mean over seeds) — the plateau check."""
    records = load_byte_records() if records is None else records
    lines = [f"{'model':<36}{'steps':>6}{'params':>8}  {'train s (per seed)':<20}"
             f"{'val loss':>9}{'last-quarter drop':>19}"]
    for model, recs in recall_records.runs_by_model(records):
        t = recs[0]["train"]
        secs = ", ".join(f"{r['train']['train_seconds']:.0f}" for r in recs)
        finals, drops = [], []
        for r in recs:
            hist = [h for h in r["train"]["history"] if h["val_loss"] is not None]
            steps = hist[-1]["step"]
            quarter = min(hist, key=lambda h: abs(h["step"] - 0.75 * steps))
            finals.append(hist[-1]["val_loss"])
            drops.append(quarter["val_loss"] - hist[-1]["val_loss"])
        label = recall_records.MODEL_LABELS.get(model, model)
        lines.append(f"{label:<36}{t['step']:>6}{t['num_parameters']:>8}  {secs:<20}"
                     f"{np.mean(finals):>9.3f}{np.mean(drops):>+19.3f}")
    return "\n".join(lines)


def rescore_bytes(name: str, length: int, scaling: str = "none", *,
                  directory: str | Path | None = None) -> tuple[float, float | None]:
    """(live strided loss, recorded loss or None) of shipped run `name` at `length`, scored
    on the same bytes and stride as the record."""
    from lcedu.models.data import load_corpus
    from lcedu.models.recall_eval import recall_rope
    from lcedu.models.strided_eval import strided_loss
    from lcedu.models.train import load_checkpoint

    directory = bytes_dir() if directory is None else Path(directory)
    path = directory / f"{name}.pt"
    if not isinstance(name, str) or not path.is_file():
        have = sorted(p.stem for p in directory.glob("*.pt"))
        raise ValueError(f"no shipped byte-LM run {name!r}; there are {', '.join(have)}")
    model, _ = load_checkpoint(path)
    ev = json.loads(path.with_name(f"{name}.eval.json").read_text())
    data = load_corpus(max_train_bytes=1).val
    stride = max(1, int(length * ev["stride_fraction"]))
    live = strided_loss(model, data, length, stride=stride, tokens=ev["tokens"],
                        rope=recall_rope(model, scaling, length))["loss"]
    recorded = None
    if length in ev["lengths"] and scaling in ev["loss"]:
        recorded = ev["loss"][scaling][ev["lengths"].index(length)]
    return live, recorded
