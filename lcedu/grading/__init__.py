"""Graders for the exercises: `check_*` functions that never raise and explain every failure.

The engine is in `core`; each topic's checks live in their own module (e.g.
`lcedu.grading.kv_memory`). The reference each check compares with is the library itself.
"""

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
    "run_check",
]
