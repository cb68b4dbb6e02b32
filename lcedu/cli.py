"""The `lcedu` command: doctor, grade, exercises, notebooks, bench, ring-demo, train, evaluate.

Subcommands that belong to one topic are delegated to that topic's module (`main(argv)`),
imported only when asked for, so `lcedu doctor` works even when an optional piece is missing
and `import lcedu.cli` needs neither matplotlib nor Jupyter. A bad argument is answered with
one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from lcedu._checks import OneLineParser, usage_error

__all__ = ["main"]

# Delegated commands: name -> (module, help).
DELEGATED = {
    "gpu-report": ("lcedu.bench.gpu_report", "the GPU run: checks and benchmarks into OUTDIR"),
    "ring-demo": ("lcedu.tools.ring_demo", "run ring attention across N local processes"),
    "train": ("lcedu.models.train", "train the capstone's tiny language model"),
    "evaluate": ("lcedu.models.evaluate", "evaluate tiny-LM checkpoints at longer lengths"),
    "real-model": ("lcedu.models.real_model_cli", "recorded runs on a real pretrained LLM"),
    "translate": ("lcedu.locale.translate", "build or check the translated notebooks (ko/)"),
}
BENCHMARKS = {
    "sparse": ("lcedu.bench.sparse", "dense vs banded vs FlexAttention, sliding window"),
    "attention": ("lcedu.bench.attention", "naive vs flash vs SDPA backends (vs Triton on CUDA)"),
    "practice": ("lcedu.bench.practice", "checkpointing and bf16 autocast; cache memory"),
    "quadratic": ("lcedu.bench.quadratic_wall", "materialised attention: time and memory vs n"),
}


def _delegate(module: str, argv: list[str], prog: str) -> int:
    try:
        mod = importlib.import_module(module)
    except ImportError as e:
        print(f"lcedu: this command is not available ({e})", file=sys.stderr)
        return 2
    try:
        return int(mod.main(argv) or 0)
    except ValueError as err:  # a bad argument the command did not word itself: one line
        return usage_error(prog, str(err))


def _build_parser() -> OneLineParser:
    p = OneLineParser(prog="lcedu", description="Long Context, hands-on: course tools.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    sub.add_parser("doctor", help="check that this machine is ready for the course")
    sub.add_parser("course", help="print the course map").add_argument(
        "--lang", default="en", help="language of the map (en, ko)"
    )

    g = sub.add_parser("grade", help="grade exercise notebooks and print a scoreboard")
    g.add_argument("paths", nargs="*", help="notebooks or folders (default: exercises/)")
    g.add_argument("--json", action="store_true", help="print results as JSON")
    g.add_argument("--timeout", type=int, default=600, help="seconds per cell")

    e = sub.add_parser("exercises", help="generate exercises/ from solutions/, or check it")
    esub = e.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = esub.add_parser("build", help="write and execute exercises/ from solutions/")
    b.add_argument("solutions", nargs="*", help="solution notebooks (default: all)")
    b.add_argument("--no-execute", action="store_true", help="write without executing")
    b.add_argument("--force", action="store_true", help="overwrite exercises you have edited")
    esub.add_parser("check", help="fail if exercises/ is stale against solutions/")

    n = sub.add_parser("notebooks", help="execute notebooks in place (for authors)")
    nsub = n.add_subparsers(dest="action", metavar="ACTION", required=True)
    x = nsub.add_parser("execute", help="run notebooks top to bottom and save their outputs")
    x.add_argument("paths", nargs="+")
    x.add_argument("--timeout", type=int, default=600, help="seconds per cell")

    bench = sub.add_parser("bench", help="run a benchmark: " + ", ".join(BENCHMARKS))
    bench.add_argument("name", choices=sorted(BENCHMARKS))
    bench.add_argument("args", nargs=argparse.REMAINDER, help="passed to the benchmark")

    for name, (_, helptext) in DELEGATED.items():
        d = sub.add_parser(name, help=helptext, add_help=False)
        d.add_argument("args", nargs=argparse.REMAINDER)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    # Delegated commands own their whole argument list (including --help).
    if argv and argv[0] in DELEGATED:
        return _delegate(DELEGATED[argv[0]][0], argv[1:], f"lcedu {argv[0]}")
    if len(argv) >= 2 and argv[0] == "bench" and argv[1] in BENCHMARKS:
        return _delegate(BENCHMARKS[argv[1]][0], argv[2:], f"lcedu bench {argv[1]}")

    parser = _build_parser()
    args = parser.parse_args(argv)
    try:
        return _run(parser, args)
    except (FileNotFoundError, IsADirectoryError, ValueError) as err:
        return usage_error(f"lcedu {args.command}", str(err))


def _run(parser: OneLineParser, args: argparse.Namespace) -> int:
    root = Path.cwd()
    if args.command == "doctor":
        from lcedu.course.doctor import run_doctor

        return run_doctor()
    if args.command == "course":
        from lcedu.course.map import course_table

        if args.lang != "en":
            from lcedu.locale import LANGUAGES
            from lcedu.locale.course_map import course_table as translated_table

            if args.lang not in LANGUAGES:
                print(f"lcedu course: no map in {args.lang!r}; try en or ko", file=sys.stderr)
                return 2
            print(translated_table(args.lang, markdown=False))
            return 0
        print(course_table(markdown=False))
        return 0
    if args.command == "grade":
        from lcedu.grading.scoreboard import main as grade_main

        return grade_main(args.paths, as_json=args.json, timeout=args.timeout)
    if args.command == "exercises":
        from lcedu.course import exercises as ex

        if args.action == "build":
            sols = [Path(s) for s in args.solutions] or sorted((root / "solutions").glob("*.ipynb"))
            if not sols:
                print("lcedu exercises build: no solution notebooks found", file=sys.stderr)
                return 2
            try:
                for path in ex.build(sols, execute=not args.no_execute, force=args.force):
                    print(f"wrote {path}")
            except (ex.MarkerError, FileExistsError) as err:
                print(f"lcedu exercises build: {err}", file=sys.stderr)
                return 1
            return 0
        problems = ex.check(root / "solutions", root / "exercises")
        for line in problems:
            print(f"stale: {line}", file=sys.stderr)
        if problems:
            print(
                "run `lcedu exercises build` (or `make exercises`) and commit the result",
                file=sys.stderr,
            )
            return 1
        print("exercises/ is up to date with solutions/")
        return 0
    if args.command == "notebooks":
        from lcedu.course.execute import execute_in_place

        for path in args.paths:
            if not Path(path).is_file():
                raise FileNotFoundError(f"no notebook at {path}")
            execute_in_place(path, timeout=args.timeout)
            print(f"executed {path}")
        return 0
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
