"""The one explorer mechanism: controls, an Output, and a figure function from `lcedu.viz`.

`Explorer` draws once when it is created and again whenever a control's value changes: the
Output's content is replaced by the new figure (as a PNG) in one step, the old Figure is
dropped, and a `ValueError` from the figure function shows as one red line instead of a
traceback. Controls that do not apply to the current choice are hidden (ipywidgets 8).
"""

from __future__ import annotations

import base64
import html
import importlib
import inspect
import io
import pkgutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

__all__ = ["Explorer", "figure_png", "find_explorers", "follow_count"]

ERROR_COLOUR = "#c53030"


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """The PNG bytes of a Figure, cropped to its content (as the notebook shows figures)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    return buf.getvalue()


def follow_count(count: widgets.IntSlider, index: widgets.IntSlider) -> None:
    """Keep `index`'s maximum at `count` - 1 (never below 0) as `count` moves. Call it before
    building the Explorer, so that it runs before the redraw."""

    def _follow(change):
        index.max = max(0, change["new"] - 1)

    count.observe(_follow, names="value")


class Explorer(widgets.VBox):
    """Controls above an Output that always shows `figure(**params)` for their values.

    figure: a pure function of keyword parameters returning a matplotlib Figure.
    controls: {parameter name: ipywidgets value widget}; their order is the layout order.
    fixed: parameters passed to `figure` that have no control.
    applies: {parameter name: predicate(params) -> bool}; the control is hidden while False.
    columns: the controls are laid out in this many columns.
    """

    def __init__(
        self,
        figure: Callable[..., Figure],
        controls: Mapping[str, widgets.ValueWidget],
        *,
        fixed: Mapping[str, Any] | None = None,
        applies: Mapping[str, Callable[[dict[str, Any]], bool]] | None = None,
        columns: int = 1,
    ):
        self.figure_function = figure
        self.controls = dict(controls)
        self.fixed = dict(fixed or {})
        self.applies = dict(applies or {})
        self.output = widgets.Output()
        self.figure: Figure | None = None
        self.error: str | None = None
        for control in self.controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = False  # redraw on release, not on every pixel
        names = list(self.controls)
        per_column = -(-len(names) // max(1, columns))
        boxes = [
            widgets.VBox([self.controls[n] for n in names[i : i + per_column]])
            for i in range(0, len(names), per_column)
        ]
        panel = boxes[0] if len(boxes) == 1 else widgets.HBox(boxes)
        super().__init__([panel, self.output])
        self.add_class("lcedu-explorer")  # how a browser test finds every explorer on a page
        for control in self.controls.values():
            control.observe(self._changed, names="value")
        self.redraw()

    @property
    def params(self) -> dict[str, Any]:
        """The keyword arguments the figure function gets now."""
        return {**{n: c.value for n, c in self.controls.items()}, **self.fixed}

    def _changed(self, _change=None) -> None:
        self.redraw()

    def redraw(self) -> None:
        """Draw the figure for the current values (or one red line for a ValueError)."""
        params = self.params
        for name, applies in self.applies.items():
            self.controls[name].layout.display = None if applies(params) else "none"
        old, self.figure = self.figure, None
        try:
            fig = self.figure_function(**params)
        except ValueError as err:
            self.error = str(err)
            self._show_error(self.error)
        else:
            self.error = None
            self.figure = fig
            self._show_figure(fig)
        if old is not None:
            old.clear()  # a Figure made without pyplot is freed once nothing refers to it

    def _show_figure(self, fig: Figure) -> None:
        png = base64.b64encode(figure_png(fig)).decode("ascii")
        w, h = fig.get_size_inches()
        self.output.outputs = (
            {
                "output_type": "display_data",
                "data": {"image/png": png, "text/plain": f"<Figure size {w:g}x{h:g} in>"},
                "metadata": {},
            },
        )

    def _show_error(self, message: str) -> None:
        line = html.escape(message)
        self.output.outputs = (
            {
                "output_type": "display_data",
                "data": {
                    "text/html": f'<p class="lcedu-explorer-error" style="color:{ERROR_COLOUR};'
                    f'margin:0.4em 0">{line}</p>',
                    "text/plain": message,
                },
                "metadata": {},
            },
        )


def find_explorers() -> dict[str, Callable[[], Explorer]]:
    """Every public function in `lcedu.widgets` whose return annotation is `Explorer`
    ({name: function}); tests use it so a new explorer is checked without being listed."""
    found: dict[str, Callable[[], Explorer]] = {}
    for info in pkgutil.iter_modules([str(Path(__file__).resolve().parent)]):
        module = importlib.import_module(f"{__package__}.{info.name}")
        for name, fn in vars(module).items():
            if name.startswith("_") or not inspect.isfunction(fn):
                continue
            if fn.__module__ != module.__name__:
                continue
            if inspect.signature(fn, eval_str=True).return_annotation is Explorer:
                found[name] = fn
    return dict(sorted(found.items()))
