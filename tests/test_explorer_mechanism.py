"""The explorer mechanism itself: first draw, redraw, red error line, hidden controls."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from matplotlib.figure import Figure

from lcedu.widgets.explorer import ERROR_COLOUR, Explorer


def _figure(n: int = 2, kind: str = "line", extra: int = 0) -> Figure:
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    fig = Figure(figsize=(3, 2))
    ax = fig.subplots()
    ax.plot(range(n)) if kind == "line" else ax.bar(range(n), [extra + 1] * n)
    return fig


def _make():
    return Explorer(
        _figure,
        dict(n=widgets.IntSlider(2, -1, 5), kind=widgets.Dropdown(options=["line", "bar"]),
             extra=widgets.IntSlider(0, 0, 3)),
        applies={"extra": lambda p: p["kind"] == "bar"},
    )


def test_draws_at_creation_and_on_change():
    e = _make()
    (first,) = e.output.outputs
    assert "image/png" in first["data"] and e.error is None
    old_figure = e.figure
    e.controls["n"].value = 4
    (second,) = e.output.outputs
    assert second["data"]["image/png"] != first["data"]["image/png"]
    assert e.figure is not old_figure and not old_figure.axes  # the old one was cleared
    assert all(c.continuous_update is False for c in (e.controls["n"], e.controls["extra"]))


def test_value_error_is_one_red_line_not_a_traceback():
    e = _make()
    e.controls["n"].value = 0
    (out,) = e.output.outputs
    assert "image/png" not in out["data"]
    assert ERROR_COLOUR in out["data"]["text/html"]
    assert out["data"]["text/plain"] == "n must be at least 1, got 0"
    assert "Traceback" not in str(out) and e.figure is None
    e.controls["n"].value = 3  # a good value draws again
    assert "image/png" in e.output.outputs[0]["data"] and e.error is None


def test_controls_that_do_not_apply_are_hidden():
    e = _make()
    assert e.controls["extra"].layout.display == "none"
    e.controls["kind"].value = "bar"
    assert e.controls["extra"].layout.display is None


def test_other_errors_are_not_swallowed():
    def broken(n: int = 1) -> Figure:
        raise RuntimeError("a bug, not bad input")

    with pytest.raises(RuntimeError):
        Explorer(broken, {"n": widgets.IntSlider(1, 0, 3)})
