"""Every explorer draws in a real Jupyter kernel, and redraws when a control moves.

One kernel (nbclient, with the widget state a frontend would receive) creates each explorer
found by `lcedu.widgets.explorer.find_explorers` (none is listed here). From the widget
state alone the test checks: the explorer's Output holds a PNG at creation; setting each
visible control's `.value` puts a *different* PNG there; no error output, no stderr, and
no red error line appear.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from nbclient import NotebookClient

import lcedu.widgets
from lcedu.widgets.explorer import find_explorers

EXPLORERS = find_explorers()

SETUP = '''
import json, math
import ipywidgets as widgets
from IPython.display import display
from lcedu.widgets.explorer import find_explorers
EXPLORERS = find_explorers()

def _another_value(c):
    """Set c to a different valid value, as a learner moving it one notch would."""
    if isinstance(c, widgets.Checkbox):
        c.value = not c.value
    elif hasattr(c, "_options_labels"):
        c.index = (c.index + 1) % len(c._options_labels)
    elif isinstance(c, widgets.FloatLogSlider):
        e = math.log(c.value, c.base) + c.step
        if e > c.max:
            e -= 2 * c.step
        c.value = c.base ** e
    elif hasattr(c, "step"):
        v = c.value + c.step
        c.value = v if v <= c.max else c.value - c.step
    elif isinstance(c, widgets.Text):
        c.value = next(t for t in ("1", "0, 1", "2") if t != c.value)
    else:
        raise TypeError(f"no way to move a {type(c).__name__}")

def _shown(e):
    """The controls shown now, menus last (a menu may hide the controls it does not use)."""
    names = [n for n, c in e.controls.items() if c.layout.display != "none"]
    return sorted(names, key=lambda n: hasattr(e.controls[n], "_options_labels"))
'''


@pytest.fixture(scope="module")
def kernel():
    nb = nbformat.v4.new_notebook()
    client = NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True)
    cells = []

    def run(source: str):
        cell = nbformat.v4.new_code_cell(source)
        nb.cells.append(cell)
        cells.append(cell)
        client.execute_cell(cell, len(nb.cells) - 1)
        for out in cell.outputs:
            assert out.output_type != "error", f"{out.ename}: {out.evalue}"
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text
        return cell

    with client.setup_kernel():
        run(SETUP)
        yield client, run


def _png(client, out_id: str) -> str:
    state = client.widget_state.get(out_id, {})
    outputs = state.get("outputs", [])
    errors = [o["data"].get("text/plain") for o in outputs if "text/html" in o.get("data", {})]
    assert not errors, f"the explorer shows an error: {errors}"
    pngs = [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert len(pngs) == 1, f"expected one figure in the Output, got {outputs!r:.300}"
    return pngs[0]


def test_every_public_explorer_is_found():
    public = {n for n in lcedu.widgets.__all__ if n != "Explorer"}
    assert public <= set(EXPLORERS), sorted(public - set(EXPLORERS))
    assert len(EXPLORERS) >= 7


@pytest.mark.parametrize("name", sorted(EXPLORERS))
def test_explorer_draws_and_redraws_in_a_kernel(kernel, name):
    client, run = kernel
    cell = run(
        f"e = EXPLORERS[{name!r}]()\n"
        "display(e)\n"
        "print(json.dumps({'out': e.output.model_id, 'controls': _shown(e)}))"
    )
    text = "".join(o.text for o in cell.outputs if o.output_type == "stream")
    info = json.loads(text.strip().splitlines()[-1])
    views = [o for o in cell.outputs if o.output_type == "display_data"]
    assert any("application/vnd.jupyter.widget-view+json" in o.data for o in views)
    before = _png(client, info["out"])
    assert info["controls"], "an explorer without a visible control"
    for control in info["controls"]:
        cell = run(
            f"if {control!r} in _shown(e):\n"
            f"    _another_value(e.controls[{control!r}])\n"
            "    print('moved')"
        )
        if not any("moved" in getattr(o, "text", "") for o in cell.outputs):
            continue  # hidden by an earlier move (it does not apply to that choice)
        after = _png(client, info["out"])
        assert after != before, f"moving {control!r} left the figure unchanged"
        before = after
