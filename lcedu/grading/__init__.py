"""Graders for the exercises: `check_*` functions that never raise and explain every failure.

The engine is in `core`; each topic's checks live in their own module (e.g.
`lcedu.grading.kv_memory`) and load on first use. The reference each check compares with is
the library itself. `merge_partials` is graded in exercise 03 and again, with ring-flavoured
cases, in exercise 07: `check_merge_partials` here is exercise 03's (`lcedu.grading.flash`);
exercise 07 imports its own from `lcedu.grading.ring`.
"""

from lcedu._lazy import lazy_exports
from lcedu.grading.core import (
    GRADE_MIMETYPE,
    NOT_IMPLEMENTED_MESSAGE,
    Case,
    CaseResult,
    CheckFailed,
    Report,
    compare_tensors,
    expect,
    expect_raises,
    run_check,
)

_EXPORTS = {
    "check_kv_cache_bytes": "kv_memory",
    "check_attention_matrix_bytes": "kv_memory",
    "check_sliding_window_mask": "sparse",
    "check_longformer_mask": "sparse",
    "check_banded_attention": "sparse",
    "check_merge_partials": "flash",
    "check_flash_forward": "flash",
    "check_apply_rope": "rope",
    "check_linear": "rope",
    "check_yarn_inv_freq": "rope",
    "check_yarn_attention_factor": "rope",
    "check_alibi_slopes": "alibi",
    "check_alibi_bias": "alibi",
    "check_ring_step": "ring",
    "check_sliding_window_update": "kvcache",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)

__all__ = sorted(_EXPORTS) + [
    "GRADE_MIMETYPE",
    "NOT_IMPLEMENTED_MESSAGE",
    "Case",
    "CaseResult",
    "CheckFailed",
    "Report",
    "compare_tensors",
    "expect",
    "expect_raises",
    "run_check",
]
