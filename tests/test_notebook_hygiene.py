"""Every committed notebook is valid, executed top to bottom, error-free and portable.

nbval (run on the same files) proves the outputs are reproducible; these tests prove the
committed files are fit to read on GitHub and to compare against.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(
    p for folder in ("notebooks", "solutions", "exercises") for p in (ROOT / folder).glob("*.ipynb")
)
ABSOLUTE_PATH = re.compile(r"(/work/|/root/|/home/[^/\s]+/|/Users/[^/\s]+/|[A-Z]:\\\\Users)")


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_valid_nbformat_and_kernelspec(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_executed_in_order_without_errors(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert code, "a notebook without code"
    counts = [c.execution_count for c in code]
    assert None not in counts, "some cells were never executed: run the notebook top to bottom"
    assert counts == list(range(1, len(counts) + 1)), f"execution counts out of order: {counts}"
    for c in code:
        for out in c.outputs:
            assert out.output_type != "error", f"error output: {out.get('ename')}"
            if out.output_type == "stream" and out.name == "stderr":
                pytest.fail(f"stderr output (a warning?) committed: {out.text[:200]!r}")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_widget_state_renderable(path):
    nb = nbformat.read(path, as_version=4)
    widgets = nb.metadata.get("widgets")
    if widgets is None:
        return
    state = widgets.get("application/vnd.jupyter.widget-state+json")
    assert state is not None and "state" in state, "widget metadata without its 'state' key"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_no_absolute_paths_in_outputs(path):
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        text = json.dumps(c.outputs)
        m = ABSOLUTE_PATH.search(text)
        assert m is None, f"an absolute path of the author's machine in an output: {m.group(0)!r}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_first_code_cell_seeds(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    assert "seed_everything(" in code[0].source, "the first code cell must seed (seed_everything)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_ids(NOTEBOOKS))
def test_figures_are_committed_as_images(path):
    nb = nbformat.read(path, as_version=4)
    for c in nb.cells:
        if c.cell_type != "code":
            continue
        for out in c.outputs:
            data = out.get("data", {})
            if str(data.get("text/plain", "")).startswith("<Figure size"):
                assert "image/png" in data, "a figure committed without its image (use lcedu.viz)"
