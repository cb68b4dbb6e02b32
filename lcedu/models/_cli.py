"""What `lcedu train` and `lcedu evaluate` share on the command line: the `--task` switch.

Both commands take `--task bytes` (the tiny LM on stdlib source, the default) or `--task
recall` (the capstone's recall model), each with its own parser, and both take `--threads`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

import torch


def dispatch_task(
    prog: str,
    argv: list[str] | None,
    bytes_main: Callable[[list[str]], int],
    recall_main: Callable[[list[str]], int],
) -> int:
    """Run `bytes_main` or `recall_main` on the whole argv, by its `--task` (default bytes)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task", default="bytes")
    known, _ = pre.parse_known_args(argv)
    if known.task == "recall":
        return recall_main(argv)
    if known.task != "bytes":
        print(f"{prog}: error: --task must be 'bytes' or 'recall', got {known.task!r}",
              file=sys.stderr)
        return 2
    return bytes_main(argv)


def parse_args(prog: str, parser: argparse.ArgumentParser, argv: list[str]
               ) -> argparse.Namespace | None:
    """Parse argv and apply `--threads` (None = torch's own choice); None, with the error
    printed, if `--threads` is below 1."""
    args = parser.parse_args(argv)
    if args.threads is None:
        return args
    if args.threads < 1:
        print(f"{prog}: error: --threads must be at least 1, got {args.threads}",
              file=sys.stderr)
        return None
    torch.set_num_threads(args.threads)
    return args


def add_config_options(p: argparse.ArgumentParser, defaults: object, *names: str) -> None:
    """`--batch-size` and the like: one option per config field, typed and defaulted by it."""
    for name in names:
        value = getattr(defaults, name)
        p.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
