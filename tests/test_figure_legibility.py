"""Every public figure function in `lcedu.viz`, called with its defaults, is readable.

The functions are found by iterating the package (any public function whose return
annotation is a matplotlib Figure), so a new one is covered without touching this file.
Checked at the figure's own size: no text under 8 pt, no legend over plotted lines or
points, no two lines with identical data drawn in the same style (one would hide the other).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.path import Path
from matplotlib.text import Text

import lcedu.viz

MIN_POINTS = 8.0


def figure_functions() -> dict[str, object]:
    found = {}
    for info in pkgutil.iter_modules(lcedu.viz.__path__):
        mod = importlib.import_module(f"lcedu.viz.{info.name}")
        for name, fn in vars(mod).items():
            if name.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != mod.__name__:
                continue
            try:
                ret = inspect.signature(fn, eval_str=True).return_annotation
            except NameError:
                continue
            if ret is Figure:
                found[f"{info.name}.{name}"] = fn
    return found


FUNCTIONS = figure_functions()


def test_the_package_has_figure_functions():
    assert len(FUNCTIONS) >= 30, sorted(FUNCTIONS)


def _cases():
    for name in sorted(FUNCTIONS):
        yield pytest.param(name, id=name)


def _visible_texts(fig: Figure, renderer) -> list[Text]:
    fig_box = fig.bbox
    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        box = t.get_window_extent(renderer)
        if box.width == 0 or not box.overlaps(fig_box):
            continue  # a tick label outside the view is never drawn
        out.append(t)
    return out


def _data_lines(ax) -> list[Line2D]:
    """Lines drawn in data coordinates (reference lines like axhline span the axes)."""
    return [
        ln
        for ln in ax.get_lines()
        if ln.get_visible() and ln.get_transform() == ax.transData and len(ln.get_xdata()) > 0
    ]


def _legend_overlaps(fig: Figure, renderer) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    problems = []
    for leg in legends:
        box = leg.get_window_extent(renderer)
        for ax in fig.axes:
            for ln in _data_lines(ax):
                xy = ln.get_transform().transform(np.column_stack(ln.get_data()).astype(float))
                xy = xy[np.isfinite(xy).all(axis=1)]
                if len(xy) == 0:
                    continue
                if ln.get_linestyle() in ("None", "", " "):
                    hit = box.count_contains(xy) > 0
                else:
                    hit = len(xy) == 1 and box.count_contains(xy) > 0
                    hit = hit or Path(xy).intersects_bbox(box, filled=False)
                if hit:
                    problems.append(f"legend over the line {ln.get_label()!r}")
            for coll in ax.collections:
                if isinstance(coll, PathCollection) and len(coll.get_offsets()):
                    pts = coll.get_offset_transform().transform(coll.get_offsets())
                    if box.count_contains(pts) > 0:
                        problems.append(f"legend over the points {coll.get_label()!r}")
    return problems


def _hidden_lines(fig: Figure) -> list[str]:
    problems = []
    for ax in fig.axes:
        seen: dict[tuple, str] = {}
        for ln in _data_lines(ax):
            x, y = (np.asarray(d, dtype=float) for d in ln.get_data())
            if len(x) < 2:
                continue
            dashes = getattr(ln, "_unscaled_dash_pattern", None)  # custom dashes read as '--'
            key = (x.tobytes(), y.tobytes(), str(ln.get_linestyle()), str(dashes),
                   str(ln.get_marker()))
            if key in seen:
                problems.append(f"{ln.get_label()!r} drawn exactly over {seen[key]!r}")
            seen[key] = ln.get_label()
    return problems


@pytest.mark.parametrize("name", list(_cases()))
def test_figure_is_legible(name):
    fig = FUNCTIONS[name]()
    assert isinstance(fig, Figure)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    small = sorted(
        {f"{t.get_fontsize():g} pt: {t.get_text()[:40]!r}" for t in _visible_texts(fig, renderer)
         if t.get_fontsize() < MIN_POINTS}
    )
    assert not small, f"text under {MIN_POINTS:g} pt: {small[:8]}"
    overlaps = _legend_overlaps(fig, renderer)
    assert not overlaps, overlaps[:5]
    hidden = _hidden_lines(fig)
    assert not hidden, hidden
