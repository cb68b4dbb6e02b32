"""The shipped recall results: load every model's record and scores, tabulate mean ± sd.

Each shipped checkpoint ``NAME_sSEED.pt`` comes with ``NAME_sSEED.json`` (training record,
the exact command, task hash, environment) and ``NAME_sSEED.eval.json`` (scores per length
and scaling). Tables give the mean over seeds ± their standard deviation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from lcedu.models.recall_eval import summarize

__all__ = ["recall_dir", "load_records", "score_rows", "results_table", "training_table",
           "runs_by_model", "compare", "rescore", "MODEL_LABELS", "SCALING_LABELS"]

MODEL_LABELS = {
    "none": "NoPE",
    "learned": "learned abs.",
    "sinusoidal": "sinusoidal (×√d)",
    "learned600": "learned abs., 600 steps",
    "sinusoidal600": "sinusoidal (×√d), 600 steps",
    "rope": "RoPE",
    "alibi": "ALiBi",
    "rope_ft128_linear": "RoPE, fine-tuned at 128 with PI",
    "rope_ft128_yarn": "RoPE, fine-tuned at 128 with YaRN",
    "rope_ft128_none": "RoPE, fine-tuned at 128 (control)",
    "rope_ft256_linear": "RoPE, fine-tuned at 256 with PI",
    "rope_ft256_yarn": "RoPE, fine-tuned at 256 with YaRN",
    "rope_ft256_none": "RoPE, fine-tuned at 256 (control)",
}
SCALING_LABELS = {
    "none": "",
    "linear": "PI",
    "ntk_aware": "NTK-aware",
    "dynamic_ntk": "dynamic NTK",
    "yarn": "YaRN",
}
_NAME = re.compile(r"^(?P<model>.+)_s(?P<seed>\d+)$")


def recall_dir() -> Path:
    """Where the recall checkpoints ship."""
    from lcedu.models.recall_grid import RECALL_DIR

    return RECALL_DIR


def load_records(directory: str | Path | None = None) -> dict[str, dict]:
    """``{name: {"model", "seed", "train": record, "eval": scores}}`` of every shipped run."""
    directory = recall_dir() if directory is None else Path(directory)
    if not directory.is_dir():
        raise ValueError(f"no recall records in {directory}: the folder does not exist")
    out = {}
    for path in sorted(directory.glob("*.eval.json")):
        name = path.name[: -len(".eval.json")]
        m = _NAME.match(name)
        train_json = path.with_name(f"{name}.json")
        if m is None or not train_json.is_file():
            continue
        out[name] = {
            "model": m["model"],
            "seed": int(m["seed"]),
            "train": json.loads(train_json.read_text()),
            "eval": json.loads(path.read_text()),
        }
    if not out:
        raise ValueError(f"no recall records in {directory}")
    return out


def score_rows(records: dict[str, dict] | None = None) -> list[dict]:
    """Every recorded score as one flat dict with its "model" and "seed"."""
    records = load_records() if records is None else records
    rows = []
    for rec in records.values():
        for r in rec["eval"]["scores"]:
            rows.append({**r, "model": rec["model"], "seed": rec["seed"]})
    return rows


def _label(model: str, scaling: str) -> str:
    label = MODEL_LABELS.get(model, model)
    extra = SCALING_LABELS.get(scaling, scaling)
    if extra and not model.startswith("rope_ft"):
        label += f" + {extra}"
    return label


def results_table(rows: list[dict] | None = None, key: str = "accuracy", *,
                  percent: bool = True) -> str:
    """A text table of ``key`` (mean ± sd over seeds) per model/scaling and length."""
    rows = score_rows() if rows is None else rows
    cells = summarize(rows, key)
    if not cells:
        raise ValueError(f"no recorded values of {key!r}")
    lengths = sorted({c[2] for c in cells})
    order = list(MODEL_LABELS)
    keys = sorted({(c[0], c[1]) for c in cells},
                  key=lambda k: (order.index(k[0]) if k[0] in order else 99,
                                 list(SCALING_LABELS).index(k[1]) if k[1] in SCALING_LABELS
                                 else 99))
    width = max(len(_label(*k)) for k in keys) + 2
    seeds = sorted({c[2] for c in cells.values()})
    lines = [f"{'model':<{width}}" + "".join(f"{n:>14}" for n in lengths)]
    for k in keys:
        out = []
        for n in lengths:
            if (k[0], k[1], n) not in cells:
                out.append(f"{'—':>14}")
                continue
            mean, sd, _ = cells[(k[0], k[1], n)]
            if percent:
                out.append(f"{100 * mean:>8.1f} ±{100 * sd:>4.1f}")
            else:
                out.append(f"{mean:>7.3f} ±{sd:>5.3f}")
        lines.append(f"{_label(*k):<{width}}" + "".join(out))
    lines.append(f"(mean ± sd over {' or '.join(map(str, seeds))} seeds per cell"
                 + (", in %)" if percent else ")"))
    return "\n".join(lines)


def runs_by_model(records: dict[str, dict]) -> list[tuple[str, list[dict]]]:
    """[(model, its runs by seed)], models in the order of ``MODEL_LABELS``."""
    by_model: dict[str, list[dict]] = {}
    for rec in records.values():
        by_model.setdefault(rec["model"], []).append(rec)
    order = list(MODEL_LABELS)
    return [(m, sorted(by_model[m], key=lambda r: r["seed"]))
            for m in sorted(by_model, key=lambda m: order.index(m) if m in order else 99)]


def training_table(records: dict[str, dict] | None = None) -> str:
    """Per model: steps, parameters, training seconds per seed, accuracy at training length."""
    records = load_records() if records is None else records
    lines = [f"{'model':<36}{'steps':>6}{'params':>8}  {'train s (per seed)':<22}"
             f"{'acc @ train len':>16}"]
    for model, recs in runs_by_model(records):
        t = recs[0]["train"]
        secs = ", ".join(f"{r['train']['train_seconds']:.0f}" for r in recs)
        accs = [r["train"]["at_training_length"]["accuracy"] for r in recs]
        lines.append(f"{MODEL_LABELS.get(model, model):<36}{t['train_config']['steps']:>6}"
                     f"{t['num_parameters']:>8}  {secs:<22}"
                     f"{100 * min(accs):>9.1f}–{100 * max(accs):.1f}%")
    return "\n".join(lines)


def compare(rows: list[dict], a: tuple[str, str], b: tuple[str, str], length: int,
            key: str = "accuracy") -> dict:
    """Mean of ``a`` minus mean of ``b`` at ``length``, and whether it exceeds its uncertainty.

    ``a`` and ``b`` are (model, scaling). The uncertainty is sd_a + sd_b (over seeds): a
    difference is called *clear* only when it is larger than that.
    """
    cells = summarize(rows, key)
    for m in (a, b):
        if (*m, length) not in cells:
            raise ValueError(f"no recorded {key} for {m} at length {length}")
    ma, sa, _ = cells[(*a, length)]
    mb, sb, _ = cells[(*b, length)]
    diff, unc = ma - mb, sa + sb
    return {"difference": diff, "uncertainty": unc, "clear": abs(diff) > unc}


def rescore(name: str, length: int, scaling: str = "none",
            directory: str | Path | None = None) -> tuple[dict, dict | None]:
    """Score shipped checkpoint ``name`` (e.g. "rope_s0") live at ``length``; also return the
    recorded row for the same cell (None if that cell was not recorded)."""
    from lcedu.models.recall_eval import recall_scores
    from lcedu.models.recall_train import load_recall

    directory = recall_dir() if directory is None else Path(directory)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"name must look like 'rope_s0' (model_sSEED), got {name!r}")
    path = directory / f"{name}.pt"
    if not path.is_file():
        have = sorted(p.stem for p in directory.glob("*.pt"))
        raise ValueError(f"no shipped recall checkpoint {name!r}; there are {', '.join(have)}")
    model, cfg = load_recall(path)
    evaluation = json.loads(path.with_name(f"{name}.eval.json").read_text())
    live = recall_scores(model, cfg.recall_task(), length, scaling=scaling,
                         sequences=evaluation["sequences"], seed=evaluation["eval_seed"])
    recorded = next((r for r in evaluation["scores"]
                     if r["length"] == length and r["scaling"] == scaling), None)
    return live, recorded
