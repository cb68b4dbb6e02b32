"""State-space models: Mamba's selective scan, a linear-time alternative to attention.

The names are re-exported here (``from lcedu.ssm import selective_scan``); they live in
``lcedu.ssm.scan``.
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "selective_scan": "scan",
    "selective_scan_reference": "scan",
    "selective_scan_step": "scan",
    "scan_state_bytes": "scan",
}

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
