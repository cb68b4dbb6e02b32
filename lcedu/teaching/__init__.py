"""Teaching helpers: run the lesson's sketches and deprecated calls, show conventions.

Small, tested pieces that let a notebook cell stay a few lines long: the lesson's Longformer
module as written (errata 3–4), deprecated PyTorch calls run with their warnings captured
(errata 6, 20), the causal alignment when query and key lengths differ, PyTorch's own context
parallelism tried against the course's ring, and the recorded memory-tricks bench.
"""
