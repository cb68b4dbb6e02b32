"""Go further 06: ALiBi as a FlexAttention ``score_mod`` (Press et al., 2022).

The learner's score_mod is evaluated the way FlexAttention evaluates one (vmapped over batch,
head, query and key, on a score tensor) and compared with the witness
`lcedu.positions.alibi.alibi_bias` (causal: −m_h·(i − j), −inf after the query). Named
mistakes: the sign, no causal mask, the diagonal masked, the heads' slopes mixed up, no slope,
a large finite number for −inf, the score replaced instead of added to.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from lcedu.grading.core import Case, Report, expect_raises_each, fail, run_check
from lcedu.grading.further._common import compare_with_mistakes, run_mod, same_tensor
from lcedu.grading.messages import register, t
from lcedu.positions.alibi import alibi_bias, alibi_slopes

__all__ = ["check_alibi_score_mod"]

register({
    "alf.what": "the bias your score_mod adds",
    "alf.not_mod": "alibi_score_mod should return a score_mod, a function (score, b, h, q_idx, "
                   "kv_idx) -> tensor, but it returned {kind}",
    "alf.changed_slopes": "your function changed `slopes` in place; the caller's slopes must "
                          "stay as they were (the score_mod only reads slopes[h])",
    "alf.replaced": "with non-zero scores your score_mod does not return score + bias: add "
                    "the bias to the score it is given (do not replace, scale or reorder it), "
                    "so the attention logits q·k/√d are kept",
    "alf.sign": "{what} rewards distant keys: ALiBi subtracts m_h·(i − j), i.e. adds "
                "m_h·(kv_idx − q_idx), which is ≤ 0 for past keys",
    "alf.no_causal": "{what} leaves keys after the query open: this score_mod is causal, so "
                     "kv_idx > q_idx gets -inf",
    "alf.diagonal": "{what} masks the diagonal too: a query may attend to itself "
                    "(kv_idx <= q_idx)",
    "alf.heads": "{what} gives the heads each other's slopes: head h uses slopes[h]",
    "alf.no_slope": "{what} is the same for every head: multiply the distance by slopes[h]",
    "alf.finite": "{what} uses a large finite number where a masked key needs float('-inf')",
    "alf.hint": "score + slopes[h] · (kv_idx − q_idx), and -inf where kv_idx > q_idx (torch.where)",
    "alf.hint.bad": "slopes must be a 1-D floating tensor with one slope per head; raise "
                    "ValueError in alibi_score_mod itself otherwise",
    "alf.case.bad": "bad slopes raise ValueError (several bad values)",
})


def _evaluate(fn, slopes: torch.Tensor, heads: int, n: int, score: torch.Tensor):
    """In the child: build the learner's score_mod and evaluate it as FlexAttention does."""
    from torch._dynamo._trace_wrapped_higher_order_op import TransformGetItemToIndex
    from torch.nn.attention.flex_attention import _vmap_for_bhqkv

    from lcedu.grading.sandbox import safe_type_name

    mine = slopes.clone()
    mod = fn(mine)
    if not callable(mod):
        return ("not_callable", safe_type_name(mod), False)
    b, h, m = torch.arange(1), torch.arange(heads), torch.arange(n)
    with TransformGetItemToIndex():
        vm = _vmap_for_bhqkv(mod, prefix=(0,))
        bias = vm(torch.zeros(1, heads, n, n), b, h, m, m)
        scored = vm(score.clone(), b, h, m, m)
    changed = not torch.equal(mine, slopes)
    return ("bias", (bias[0], scored[0]), changed)


def _warm_up() -> None:
    """Evaluate one score_mod here, so each child (a fork of this process) starts warm."""
    def mod(score, b, h, q_idx, kv_idx):
        return score + (kv_idx - q_idx)

    _evaluate(lambda s: mod, torch.ones(2), 2, 3, torch.zeros(1, 2, 3, 3))


def _case(heads: int, n: int) -> Callable:
    def run(f):
        slopes = alibi_slopes(heads)
        want = alibi_bias(heads, n)
        score = torch.randn(1, heads, n, n, generator=torch.Generator().manual_seed(heads * n))
        kind, got, changed = run_mod(f, _evaluate, slopes, heads, n, score, kind="score_mod")
        if kind == "not_callable":
            fail("alf.not_mod", kind=got)
        if changed:
            fail("alf.changed_slopes")
        bias, scored = got
        q = torch.arange(n)[:, None]
        kv = torch.arange(n)[None, :]
        signed = alibi_bias(heads, n, causal=False)
        mistakes = [
            ("alf.sign", lambda: (-signed).masked_fill(kv > q, float("-inf"))),
            ("alf.no_causal", lambda: signed),
            ("alf.no_causal", lambda: alibi_bias(heads, n, causal=False, symmetric=True)),
            ("alf.diagonal", lambda: want.masked_fill(kv >= q, float("-inf"))),
            ("alf.heads", lambda: want.flip(0)),
            ("alf.no_slope", lambda: (kv - q).float().expand(heads, n, n)
             .masked_fill(kv > q, float("-inf"))),
        ]
        future = (kv > q).expand(heads, n, n)
        if isinstance(bias, torch.Tensor) and bias.shape == want.shape and n > 1 and \
                not torch.isinf(bias).any() and bool((bias[future] < -1e3).all()):
            fail("alf.finite", what=t("alf.what"))
        compare_with_mistakes(bias, want, mistakes, what=t("alf.what"))
        if isinstance(scored, torch.Tensor) and not same_tensor(scored, score[0] + want):
            fail("alf.replaced")

    return run


CASES = [(8, 16), (6, 11), (1, 7), (12, 33), (3, 1)]


def check_alibi_score_mod(fn: Callable[..., Callable]) -> Report:
    """Grade ``alibi_score_mod(slopes)`` -> a causal ALiBi score_mod."""
    _warm_up()
    cases = [Case(f"{h} heads, {n} tokens", _case(h, n), {"heads": h, "n": n}, t("alf.hint"))
             for h, n in CASES]
    bad = [
        ("slopes=[0.5, 0.25] (a list)", ([0.5, 0.25],), {}),
        ("slopes of shape (2, 4)", (torch.ones(2, 4),), {}),
        ("slopes with no entries", (torch.ones(0),), {}),
        ("int64 slopes", (torch.tensor([1, 2]),), {}),
        ("slopes=0.5 (a number)", (0.5,), {}),
        ("slopes=None", (None,), {}),
    ]
    cases.append(Case(t("alf.case.bad"), lambda f: expect_raises_each(f, bad),
                      {"bad slopes": [b[0] for b in bad]}, t("alf.hint.bad")))
    return run_check("check_alibi_score_mod", fn, cases)
