"""ipywidgets explorers: each a set of controls over one `lcedu.viz` figure function.

Every explorer is built on the one mechanism in `explorer.py` (draw at creation, redraw on
each change, errors as one red line). Importing the package imports ipywidgets.
"""

from lcedu.widgets.alibi import alibi_explorer
from lcedu.widgets.explorer import Explorer
from lcedu.widgets.flash import tile_explorer
from lcedu.widgets.guide import method_guide
from lcedu.widgets.kv_calculator import kv_cache_calculator
from lcedu.widgets.masks import mask_explorer
from lcedu.widgets.ring import ring_stepper
from lcedu.widgets.rope import rope_explorer

__all__ = [
    "Explorer",
    "alibi_explorer",
    "kv_cache_calculator",
    "mask_explorer",
    "method_guide",
    "ring_stepper",
    "rope_explorer",
    "tile_explorer",
]
