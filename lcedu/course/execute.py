"""Execute notebooks headless, top to bottom, the way CI's nbval will.

Used by `lcedu notebooks execute` (commit notebooks with their outputs), by the exercise
generator, and by `lcedu grade` (which executes a copy in memory and never writes the
learner's file). Built on nbclient with the current Python as the kernel.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat

__all__ = ["execute_notebook", "execute_in_place", "KERNELSPEC"]

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


def execute_notebook(
    nb: nbformat.NotebookNode,
    cwd: str | Path,
    *,
    timeout: int = 600,
    allow_errors: bool = False,
) -> nbformat.NotebookNode:
    """Run every cell of `nb` in a fresh kernel whose working directory is `cwd`."""
    from nbclient import NotebookClient

    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    os.environ.setdefault("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=allow_errors,
        record_timing=False,
        store_widget_state=True,
        resources={"metadata": {"path": str(cwd)}},
    )
    client.execute()
    return nb


def execute_in_place(path: str | Path, *, timeout: int = 600) -> nbformat.NotebookNode:
    """Execute the notebook at `path` and save it with its outputs."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    execute_notebook(nb, path.parent, timeout=timeout)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return nb
