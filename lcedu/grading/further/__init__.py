"""Graders for the "go further" exercises: one open-ended exercise per topic notebook (01–08).

Each module grades one function on the engine of `lcedu.grading.core` (the learner's code
runs in a killable child, inputs are protected, verdicts are decided in the parent) against
the course's library as the witness, and names the usual mistakes by matching the learner's
answer with what each mistake would give.
"""

from lcedu._lazy import lazy_exports

_EXPORTS = {
    "check_longest_context": "context_budget",
    "check_dilated_window_mod": "dilated_flex",
    "check_causal_tiles": "causal_tiles",
    "check_ntk_aware_inv_freq": "ntk_aware",
    "check_llama3_inv_freq": "llama3",
    "check_alibi_score_mod": "alibi_flex",
    "check_zigzag_positions": "zigzag",
    "check_sink_positions": "sinks",
}
MODULES = sorted(set(_EXPORTS.values()))
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS) + ["MODULES", "load_all"]


def load_all() -> None:
    """Import every go-further grader, so all their texts are in the message table."""
    import importlib

    for module in MODULES:
        importlib.import_module(f"{__name__}.{module}")
