"""ipywidgets dashboards: each a thin wrapper over a pure ``render(params) -> Figure``.

The explorers are loaded on first use (`from lcedu.widgets import mask_explorer`), so importing
the package does not import ipywidgets; each module's ``render`` stays in its module.
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "kv_cache_calculator": "kv_calculator",
    "mask_explorer": "masks",
    "tile_explorer": "flash",
    "rope_explorer": "rope",
    "alibi_explorer": "alibi",
    "ring_stepper": "ring",
    "method_guide": "guide",
    "Explorer": "explorer",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
