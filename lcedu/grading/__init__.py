"""Graders for the exercises: `check_*` functions that never raise and explain every failure.

The engine is in `core` (each learner call runs in a killable child process, `sandbox`);
each topic's checks live in their own module (e.g. `lcedu.grading.kv_memory`) and are
re-exported here. The reference each check compares with is the library itself. There is one grader
per function: `check_merge_partials` (`lcedu.grading.flash`) grades exercises 03 and 07.
Every learner-facing text comes from one table (`messages`): `set_language("ko")` switches it.
"""

from lcedu.grading.alibi import check_alibi_bias, check_alibi_slopes
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
from lcedu.grading.flash import check_flash_forward, check_merge_partials
from lcedu.grading.kv_memory import check_attention_matrix_bytes, check_kv_cache_bytes
from lcedu.grading.kvcache import check_sliding_window_update
from lcedu.grading.messages import get_language, set_language
from lcedu.grading.ring import check_ring_step
from lcedu.grading.rope import (
    check_apply_rope,
    check_linear,
    check_yarn_attention_factor,
    check_yarn_inv_freq,
)
from lcedu.grading.sparse import (
    check_banded_attention,
    check_longformer_mask,
    check_sliding_window_mask,
)

__all__ = [
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
    "check_alibi_bias",
    "check_alibi_slopes",
    "check_apply_rope",
    "check_attention_matrix_bytes",
    "check_banded_attention",
    "check_flash_forward",
    "check_kv_cache_bytes",
    "check_linear",
    "check_longformer_mask",
    "check_merge_partials",
    "check_ring_step",
    "check_sliding_window_mask",
    "check_sliding_window_update",
    "check_yarn_attention_factor",
    "check_yarn_inv_freq",
    "set_language",
]
