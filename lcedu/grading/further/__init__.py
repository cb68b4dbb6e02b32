"""Graders for the "go further" exercises: one open-ended exercise per topic notebook (01–08).

Each module grades one function on the engine of `lcedu.grading.core` (the learner's code
runs in a killable child, inputs are protected, verdicts are decided in the parent) against
the course's library as the witness, and names the usual mistakes by matching the learner's
answer with what each mistake would give.
"""

from lcedu.grading.further.alibi_flex import check_alibi_score_mod
from lcedu.grading.further.causal_tiles import check_causal_tiles
from lcedu.grading.further.context_budget import check_longest_context
from lcedu.grading.further.dilated_flex import check_dilated_window_mod
from lcedu.grading.further.llama3 import check_llama3_inv_freq
from lcedu.grading.further.ntk_aware import check_ntk_aware_inv_freq
from lcedu.grading.further.sinks import check_sink_positions
from lcedu.grading.further.zigzag import check_zigzag_positions

__all__ = [
    "check_alibi_score_mod",
    "check_causal_tiles",
    "check_dilated_window_mod",
    "check_llama3_inv_freq",
    "check_longest_context",
    "check_ntk_aware_inv_freq",
    "check_sink_positions",
    "check_zigzag_positions",
]
