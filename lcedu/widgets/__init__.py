"""ipywidgets dashboards: each a thin wrapper over a pure ``render(params) -> Figure``.

The explorers are re-exported here (`from lcedu.widgets import mask_explorer`); importing
the package imports ipywidgets; each module's ``render`` stays in its module.
"""

from lcedu.widgets.alibi import alibi_explorer
from lcedu.widgets.flash import tile_explorer
from lcedu.widgets.guide import method_guide
from lcedu.widgets.kv_calculator import kv_cache_calculator
from lcedu.widgets.masks import mask_explorer
from lcedu.widgets.ring import ring_stepper
from lcedu.widgets.rope import rope_explorer

__all__ = [
    "alibi_explorer",
    "kv_cache_calculator",
    "mask_explorer",
    "method_guide",
    "ring_stepper",
    "rope_explorer",
    "tile_explorer",
]
