"""Run an experiment grid written as `lcedu train` / `lcedu evaluate` command lines.

The capstone's two grids (`recall_grid`, `byte_grid`) list, per seed, rows of (name, train
argv, evaluate argv) in dependency order; this runs every row whose output does not exist yet,
so an interrupted grid resumes where it stopped and any row can be re-run by deleting its files.
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from pathlib import Path

__all__ = ["rel_path", "built_in_scaling", "grid_main", "grid_entry"]

Rows = Callable[[int, Path], list[tuple[str, list[str], list[str]]]]


def rel_path(path: Path) -> str:
    """`path` relative to the working directory when it lies below it (commands stay short
    and portable), else as given."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def built_in_scaling(method: str, original_len: int) -> list[str]:
    """The `lcedu train` options of a fine-tune with RoPE scaling `method` built in, stretching
    `original_len` to the new length ("none": none, the control)."""
    if method == "none":
        return []
    return ["--rope-scaling", method, "--rope-original-len", str(original_len)]


def grid_main(prog: str, what: str, rows: Rows, default_dir: Path,
              argv: list[str] | None = None) -> int:
    """The command line of one grid: `--seeds`, `--out-dir`, `--models`, `--threads`, `--stage`."""
    p = argparse.ArgumentParser(prog=prog, description=f"Run {what} (skips done rows).")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out-dir", default=str(default_dir))
    p.add_argument("--models", nargs="+", default=None,
                   help="only these rows (a row's name without _sSEED); default: all")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--stage", choices=["all", "train", "evaluate"], default="all")
    args = p.parse_args(argv)
    import torch

    train = importlib.import_module("lcedu.models.train")
    evaluate = importlib.import_module("lcedu.models.evaluate")
    torch.set_num_threads(args.threads)
    for seed in args.seeds:
        for name, train_argv, eval_argv in rows(seed, Path(args.out_dir)):
            if args.models is not None and name.rsplit("_s", 1)[0] not in args.models:
                continue
            ckpt = Path(train_argv[train_argv.index("--out") + 1])
            if args.stage != "evaluate" and not ckpt.with_suffix(".json").is_file():
                print(f"== train {name}: lcedu train {' '.join(train_argv)}", flush=True)
                if train.main(train_argv) != 0:
                    return 1
            out = Path(eval_argv[eval_argv.index("--out") + 1])
            if args.stage != "train" and ckpt.is_file() and not out.is_file():
                print(f"== evaluate {name}: lcedu evaluate {' '.join(eval_argv)}", flush=True)
                if evaluate.main(eval_argv) != 0:
                    return 1
    return 0


def grid_entry(prog: str, what: str, rows: Rows, default_dir: Path) -> Callable[..., int]:
    """A grid module's `main(argv=None)`: `grid_main` with its name, rows and folder bound."""

    def main(argv: list[str] | None = None) -> int:
        return grid_main(prog, what, rows, default_dir, argv)

    main.__doc__ = f"`{prog}`: run {what}, skipping rows already done."
    return main
