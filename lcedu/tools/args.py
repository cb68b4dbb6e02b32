"""Command-line argument parsing for lcedu's commands: a bad argument is one line, status 2.

`argparse` prints its usage before the error; a course's command answers a learner's typo
with the one sentence that says what is wrong (``lcedu ring-demo: --seq-len must be …``).
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

__all__ = ["OneLineParser", "usage_error"]


def usage_error(prog: str, message: str) -> int:
    """Print ``prog: message`` on stderr as one line and return exit status 2."""
    print(f"{prog}: {' '.join(str(message).split())}", file=sys.stderr)
    return 2


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:  # noqa: D102
        raise SystemExit(usage_error(self.prog, message))
