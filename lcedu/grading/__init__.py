"""Graders for the exercises: `check_*` functions that never raise and explain every failure.

The engine is in `core` (each learner call runs in a killable child process, `sandbox`);
each topic's checks live in their own module (e.g. `lcedu.grading.kv_memory`) and load on
first use. The reference each check compares with is the library itself. There is one grader
per function: `check_merge_partials` (`lcedu.grading.flash`) grades exercises 03 and 07.
Every learner-facing text comes from one table (`messages`): `set_language("ko")` switches it.
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
from lcedu.grading.messages import get_language, set_language

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
    "get_language",
    "run_check",
    "set_language",
]
