"""The capstone's byte-LM experiment as a list of `lcedu train` / `lcedu evaluate` commands.

Five position schemes trained at 128 bytes of stdlib source for a fixed number of steps,
RoPE fine-tuned at 256 with PI, with YaRN and without scaling (the control: the same extra
steps), each for several seeds; then strided perplexity at 1×, 2×, 4× and 8× the training
length on 256 KB of held-out files, and the loss per position at 8× (Press et al., 2022;
Chen et al., 2023; Peng et al., 2023). ``python -m lcedu.models.byte_grid`` runs every row
that has no result yet.
"""

from __future__ import annotations

import sys
from pathlib import Path

from lcedu.models.grid import built_in_scaling, grid_entry, rel_path
from lcedu.models.positional import SCHEMES

__all__ = ["TRAIN_LEN", "EVAL_LENGTHS", "ZERO_SHOT", "FINE_TUNES", "BYTES_DIR", "grid_rows",
           "main"]

TRAIN_LEN = 128
EVAL_LENGTHS = (128, 256, 512, 1024)
#: RoPE scalings applied zero-shot at evaluation (factor = length / 128).
ZERO_SHOT = ("none", "linear", "ntk_aware", "dynamic_ntk", "yarn")
#: Fine-tunes of RoPE at 2x: the scaling built in ("none" = the control).
FINE_TUNES = ("linear", "yarn", "none")
MODEL = ["--dim", "64", "--layers", "2", "--heads", "2"]
BASE_STEPS = 2000
FT_STEPS = 200
EVAL = ["--stride-fraction", "0.5", "--tokens", "262144", "--position-length", "1024",
        "--position-windows", "32"]
BYTES_DIR = Path(__file__).resolve().parent.parent / "data" / "checkpoints" / "bytes"


def grid_rows(seed: int, out_dir: Path = BYTES_DIR) -> list[tuple[str, list[str], list[str]]]:
    """(name, train argv, evaluate argv) for every model of one seed, in dependency order."""
    rows = []
    lengths = [str(n) for n in EVAL_LENGTHS]
    common = ["--no-progress", "--no-resume", "--drop-resume-state", "--eval-windows", "64"]
    for pos in SCHEMES:
        name = f"{pos}_s{seed}"
        ckpt = rel_path(out_dir / f"{name}.pt")
        train = ["--pos", pos, "--seq-len", str(TRAIN_LEN), "--steps", str(BASE_STEPS),
                 "--batch-size", "32", "--eval-every", "250", *MODEL, "--seed", str(seed),
                 *common, "--out", ckpt]
        scalings = list(ZERO_SHOT) if pos == "rope" else ["none"]
        ev = ["--checkpoint", ckpt, "--lengths", *lengths, "--scalings", *scalings, *EVAL,
              "--out", rel_path(out_dir / f"{name}.eval.json")]
        rows.append((name, train, ev))
    base = rel_path(out_dir / f"rope_s{seed}.pt")
    for method in FINE_TUNES:
        name = f"rope_ft{2 * TRAIN_LEN}_{method}_s{seed}"
        ckpt = rel_path(out_dir / f"{name}.pt")
        train = ["--pos", "rope", "--seq-len", str(2 * TRAIN_LEN), "--steps", str(FT_STEPS),
                 "--batch-size", "16", "--lr", "0.001", "--warmup", "10", "--eval-every", "100",
                 *MODEL, "--seed", str(seed), "--init", base, *common, "--out", ckpt,
                 *built_in_scaling(method, TRAIN_LEN)]
        ev = ["--checkpoint", ckpt, "--lengths", *lengths, "--scalings", method, *EVAL,
              "--out", rel_path(out_dir / f"{name}.eval.json")]
        rows.append((name, train, ev))
    return rows


main = grid_entry("python -m lcedu.models.byte_grid", "the capstone's byte-LM grid",
                  grid_rows, BYTES_DIR)


if __name__ == "__main__":
    sys.exit(main())
