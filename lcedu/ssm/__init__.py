"""State-space models: Mamba's selective scan, a linear-time alternative to attention.

The names are re-exported here (``from lcedu.ssm import selective_scan``); they live in
``lcedu.ssm.scan``.
"""

from lcedu.ssm.scan import (
    scan_state_bytes,
    selective_scan,
    selective_scan_reference,
    selective_scan_step,
)

__all__ = [
    "scan_state_bytes",
    "selective_scan",
    "selective_scan_reference",
    "selective_scan_step",
]
