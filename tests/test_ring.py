"""Ring attention, simulated in one process: layouts, the trace, and SDPA on the whole sequence.

Witness: torch.nn.functional.scaled_dot_product_attention over the unsplit sequence. The
multi-process version is tested in test_ring_distributed.py.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lcedu.attention import flash
from lcedu.attention import ring as ring_mod
from lcedu.attention.ring import (
    gather_sequence,
    lesson_ring_attention_forward,
    lesson_ring_step,
    ring_memory_per_rank,
    ring_schedule,
    ring_step,
    shard_sequence,
    simulate_ring_attention,
    token_positions,
)
from lcedu.attention.ring_distributed import ring_attention
from lcedu.testing import assert_close, seed_everything

LAYOUTS = ["contiguous", "zigzag", "striped"]


def _qkv(B, H, L, D, dtype, requires_grad=False, Dv=None):
    q = torch.randn(B, H, L, D, dtype=dtype)
    k = torch.randn(B, H, L, D, dtype=dtype)
    v = torch.randn(B, H, L, Dv or D, dtype=dtype)
    return tuple(t.requires_grad_(requires_grad) for t in (q, k, v))


# ----- layouts ---------------------------------------------------------------------------


@pytest.mark.parametrize("W", [1, 2, 3, 4])
def test_token_positions_follow_each_layouts_definition(W):
    L = 2 * W * 3
    c = L // (2 * W)
    seen = {lay: [] for lay in LAYOUTS}
    for r in range(W):
        cont = token_positions(L, W, r, "contiguous").tolist()
        assert cont == list(range(r * L // W, (r + 1) * L // W))
        zig = token_positions(L, W, r, "zigzag").tolist()
        j = 2 * W - 1 - r
        assert zig == list(range(r * c, (r + 1) * c)) + list(range(j * c, (j + 1) * c))
        stri = token_positions(L, W, r, "striped").tolist()
        assert all(t % W == r for t in stri) and stri == sorted(stri)
        for lay, pos in (("contiguous", cont), ("zigzag", zig), ("striped", stri)):
            seen[lay] += pos
    for lay in LAYOUTS:  # every token lives on exactly one rank
        assert sorted(seen[lay]) == list(range(L))


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("W", [1, 3, 4])
def test_shard_then_gather_is_the_identity(layout, W):
    seed_everything(0)
    x = torch.randn(2, 3, 4 * W * 2, 5)
    shards = [shard_sequence(x, W, r, layout) for r in range(W)]
    for r, s in enumerate(shards):
        assert s.shape == (2, 3, x.shape[2] // W, 5)
        assert torch.equal(s, x[:, :, token_positions(x.shape[2], W, r, layout)])
    assert torch.equal(gather_sequence(shards, layout), x)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_gather_has_one_signature(layout):
    x = torch.randn(1, 2, 12, 3)
    shards = [shard_sequence(x, 3, r, layout) for r in range(3)]
    assert torch.equal(gather_sequence(shards, layout), x)
    assert torch.equal(gather_sequence(shards, layout=layout), x)
    moved = [s.transpose(1, 2) for s in shards]
    assert torch.equal(gather_sequence(moved, layout, dim=1), x.transpose(1, 2))
    with pytest.raises(ValueError, match="layout must be one of"):
        gather_sequence(shards, 3)  # the world size is len(shards), never an argument
    with pytest.raises(TypeError):
        gather_sequence(shards, layout, 2)  # dim is keyword-only
    with pytest.raises(ValueError, match="out of range"):
        gather_sequence(shards, layout, dim=4)


def test_bad_lengths_and_world_sizes_raise_with_the_numbers():
    x = torch.zeros(1, 1, 10, 4)
    with pytest.raises(ValueError, match=r"10 is not divisible by world_size = 3"):
        shard_sequence(x, 3, 0, "contiguous")
    with pytest.raises(ValueError, match=r"10 is not divisible by 2·world_size = 4"):
        shard_sequence(x, 2, 0, "zigzag")
    with pytest.raises(ValueError, match="world_size must be a positive integer, got 0"):
        shard_sequence(x, 0, 0)
    with pytest.raises(ValueError, match=r"rank must be an integer in \[0, 1\]"):
        shard_sequence(x, 2, 2)
    with pytest.raises(ValueError, match="layout must be one of"):
        shard_sequence(x, 2, 0, "diagonal")
    with pytest.raises(ValueError, match="same shape"):
        gather_sequence([torch.zeros(1, 1, 2, 4), torch.zeros(1, 1, 3, 4)])
    q = torch.zeros(1, 2, 12, 4)
    with pytest.raises(ValueError, match="world_size must be a positive integer"):
        simulate_ring_attention(q, q, q, 0)
    with pytest.raises(ValueError, match=r"12 is not divisible by 2·world_size = 8"):
        simulate_ring_attention(q, q, q, 4, layout="zigzag")
    with pytest.raises(ValueError, match="same sequence length"):
        simulate_ring_attention(q, q[:, :, :6], q[:, :, :6], 2)
    with pytest.raises(ValueError, match="head counts differ"):
        simulate_ring_attention(q, q[:, :1], q[:, :1], 2)


# ----- the simulation equals SDPA on the whole sequence --------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_simulation_equals_sdpa_for_every_world_size(dtype, causal, layout):
    seed_everything(1)
    for W in (1, 2, 3, 4):
        L = 2 * W * 5  # odd chunk length
        q, k, v = _qkv(2, 3, L, 8, dtype)
        out, _ = simulate_ring_attention(q, k, v, W, causal=causal, layout=layout)
        assert out.dtype == dtype and out.shape == q.shape
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        assert_close(out, ref, msg=f"W={W}")


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_simulation_gradients_equal_sdpa(causal, layout):
    seed_everything(2)
    W, L = 3, 18
    q, k, v = _qkv(1, 3, L, 4, torch.float64, requires_grad=True, Dv=6)
    out, _ = simulate_ring_attention(q, k, v, W, causal=causal, layout=layout, scale=0.3)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal, scale=0.3)
    assert_close(out, ref)
    g = torch.randn_like(out)
    got = torch.autograd.grad(out, (q, k, v), g)
    want = torch.autograd.grad(ref, (q, k, v), g)
    for name, a, b in zip("qkv", got, want):
        assert_close(a, b, msg=f"d{name}")


def test_bfloat16_simulation_within_bfloat16_tolerance():
    seed_everything(3)
    q, k, v = _qkv(1, 2, 32, 16, torch.bfloat16)
    out, _ = simulate_ring_attention(q, k, v, 4, causal=True, layout="zigzag")
    ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(), is_causal=True)
    assert out.dtype == torch.bfloat16
    assert_close(out, ref, dtype=torch.bfloat16)


def test_ring_reuses_flash_merge_partials():
    assert ring_mod.merge_partials is flash.merge_partials


# ----- the trace: schedule, skipping, load balance ----------------------------------------


@pytest.mark.parametrize("W", [2, 3, 4])
def test_trace_schedule_and_contiguous_causal_skipping(W):
    seed_everything(4)
    L = 4 * W
    n = L // W
    q, k, v = _qkv(1, 1, L, 4, torch.float32)
    _, tr = simulate_ring_attention(q, k, v, W, causal=True, layout="contiguous")
    for s in range(W):
        for r in range(W):
            st = tr.at(s, r)
            assert st.kv_rank == (r - s) % W  # a block moves one rank to the right per step
            expected = "masked" if st.kv_rank == r else ("full" if st.kv_rank < r else "skip")
            assert st.kind == expected
            assert st.computed == {"masked": n * n, "full": n * n, "skip": 0}[expected]
            assert st.bytes_sent == (0 if s == W - 1 else 2 * n * 4 * 4)
    # Critical path: step 0 is every rank's diagonal, then the last rank works every step.
    assert tr.critical_path() == n * (n + 1) // 2 + (W - 1) * n * n
    assert tr.work_per_rank() == [r * n * n + n * (n + 1) // 2 for r in range(W)]
    assert tr.balance() < 0.7
    assert tr.grid("kv_rank") == ring_schedule(L, W, causal=True).grid("kv_rank")


@pytest.mark.parametrize("W", [2, 3, 4])
def test_zigzag_is_balanced_and_computes_half_blocks(W):
    L = 2 * W * 4
    n = L // W
    tr = ring_schedule(L, W, causal=True, layout="zigzag")
    for s in range(W):
        row = [tr.at(s, r) for r in range(W)]
        assert len({st.attended for st in row}) == 1  # same work on every rank, every step
        for st in row:
            assert st.kind != "skip"
            if s > 0:  # off-diagonal: half the queries or half the keys, no mask at all
                assert st.kind == "full" and st.computed == n * n // 2
    assert tr.balance() == 1.0
    assert tr.critical_path() < ring_schedule(L, W, causal=True).critical_path()
    total = sum(tr.work_per_rank())
    assert total == L * (L + 1) // 2  # every causal pair once


def test_trace_indexes_by_step_then_rank():
    x = torch.randn(1, 1, 9, 2)
    _, tr = simulate_ring_attention(x, x, x, 3, causal=True)
    assert len(tr) == 3 and len(list(tr)) == 3
    for s, row in enumerate(tr):
        assert [st.rank for st in row] == [0, 1, 2] and all(st.step == s for st in row)
        assert [st.kv_rank for st in row] == [(r - s) % 3 for r in range(3)]
        for r in range(3):
            assert tr[s, r] == tr.at(s, r) == row[r]
    assert tr[-1] == tr[2]
    with pytest.raises(IndexError, match=r"step must be an integer in \[0, 2\]"):
        tr[3]


@pytest.mark.parametrize("layout", ["contiguous", "striped"])
@pytest.mark.parametrize("L, W", [(15, 3), (7, 7), (7, 1), (21, 7)])
def test_odd_total_lengths_with_gradients(layout, L, W):
    seed_everything(9)
    q, k, v = _qkv(1, 2, L, 3, torch.float64, requires_grad=True, Dv=5)
    for causal in (False, True):
        out, _ = simulate_ring_attention(q, k, v, W, causal=causal, layout=layout)
        ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
        assert_close(out, ref)
        g = torch.randn_like(out)
        got = torch.autograd.grad(out, (q, k, v), g)
        want = torch.autograd.grad(ref, (q, k, v), g)
        for name, a, b in zip("qkv", got, want):
            assert_close(a, b, msg=f"d{name} causal={causal}")


def test_non_causal_trace_does_everything():
    tr = ring_schedule(12, 3)
    assert {st.kind for st in tr.steps} == {"full"}
    assert sum(tr.work_per_rank()) == 12 * 12


# ----- one ring step ----------------------------------------------------------------------


def test_ring_step_skips_future_blocks_and_folds_in_past_ones():
    seed_everything(5)
    q, k, v = _qkv(1, 2, 4, 8, torch.float64)
    out0 = torch.randn(1, 2, 4, 8, dtype=torch.float64)
    lse0 = torch.randn(1, 2, 4, dtype=torch.float64)
    qp, fut, past = torch.arange(4, 8), torch.arange(8, 12), torch.arange(0, 4)
    o, l = ring_step(q, k, v, out0, lse0, q_pos=qp, k_pos=fut, causal=True)
    assert torch.equal(o, out0) and torch.equal(l, lse0)
    o, l = ring_step(q, k, v, out0, lse0, q_pos=qp, k_pos=past, causal=True)
    s = (q @ k.transpose(-2, -1)) / 8**0.5
    blse = torch.logsumexp(s, -1)
    bout = torch.softmax(s, -1) @ v
    lse = torch.logaddexp(lse0, blse)
    want = torch.exp(lse0 - lse)[..., None] * out0 + torch.exp(blse - lse)[..., None] * bout
    assert_close(l, lse)
    assert_close(o, want)
    with pytest.raises(ValueError, match="one position per token"):
        ring_step(q, k, v, out0, lse0, q_pos=qp[:3], k_pos=past, causal=True)
    with pytest.raises(ValueError, match=r"out must have shape \(1, 2, 4, 8\)"):
        ring_step(q, k, v, out0[..., :3], lse0, q_pos=qp, k_pos=past)
    with pytest.raises(ValueError, match=r"lse must have shape \(1, 2, 4\)"):
        ring_step(q, k, v, out0, lse0[..., None], q_pos=qp, k_pos=past)


def test_lesson_step_agrees_without_causal_and_attends_the_future_with_it():
    seed_everything(6)
    q, k, v = _qkv(1, 2, 4, 8, torch.float64)
    out0 = torch.zeros(1, 2, 4, 8, dtype=torch.float64)
    lse0 = torch.full((1, 2, 4), float("-inf"), dtype=torch.float64)
    qp, kp = torch.arange(4), torch.arange(4)
    a = lesson_ring_step(q, k, v, out0, lse0, q_pos=qp, k_pos=kp, causal=False)
    b = ring_step(q, k, v, out0, lse0, q_pos=qp, k_pos=kp, causal=False)
    assert_close(a[0], b[0])
    a = lesson_ring_step(q, k, v, out0, lse0, q_pos=qp, k_pos=kp, causal=True)
    b = ring_step(q, k, v, out0, lse0, q_pos=qp, k_pos=kp, causal=True)
    assert (a[0] - b[0]).abs().max() > 0.1  # erratum 19: no causal mask


# ----- the lesson's sketch (erratum 18) ------------------------------------------------------


def test_lesson_sketch_crashes_on_sdpa_layout_when_heads_differ_from_length():
    seed_everything(7)
    q, k, v = _qkv(1, 2, 6, 4, torch.float32)  # (B, H, S, D), H=2 != S=6
    with pytest.raises(RuntimeError):
        lesson_ring_attention_forward(q, k, v, world_size=1, rank=0)
    bshd = [t.transpose(1, 2).contiguous() for t in (q, k, v)]  # the layout Q.shape[1] assumes
    with pytest.raises(RuntimeError):
        lesson_ring_attention_forward(*bshd, world_size=1, rank=0)


def test_lesson_sketch_with_its_own_layout_mixes_heads_instead_of_tokens():
    seed_everything(8)
    q, k, v = _qkv(1, 4, 4, 8, torch.float32)  # H == S, so the shapes happen to line up
    bshd = [t.transpose(1, 2).contiguous() for t in (q, k, v)]
    got = lesson_ring_attention_forward(*bshd, world_size=1, rank=0).transpose(1, 2)
    ref = F.scaled_dot_product_attention(q, k, v)
    assert (got - ref).abs().max() > 0.1


# ----- memory and the distributed entry point -----------------------------------------------


def test_memory_per_rank_shrinks_with_world_size():
    m1 = ring_memory_per_rank(8192, 1, heads=8, head_dim=64, bytes_per_element=2)
    m4 = ring_memory_per_rank(8192, 4, heads=8, head_dim=64, bytes_per_element=2)
    assert m1["qkvo"] == 4 * 8192 * 8 * 64 * 2 and m4["qkvo"] == m1["qkvo"] // 4
    assert m4["kv_buffers"] == 2 * 2 * 2048 * 8 * 64 * 2
    assert m1["scores"] == 16 * m4["scores"] == 8 * 8192 * 8192 * 4
    assert m4["total"] == m4["qkvo"] + m4["kv_buffers"] + m4["scores"]
    with pytest.raises(ValueError, match="not divisible"):
        ring_memory_per_rank(10, 4)


def test_ring_attention_without_a_process_group_explains_itself():
    q = torch.zeros(1, 1, 4, 4)
    with pytest.raises(ValueError, match="init_process_group"):
        ring_attention(q, q, q)
    with pytest.raises(ValueError, match="layout must be one of"):
        ring_attention(q, q, q, layout="spiral")


# ----- figures and the stepper draw what the core computes ---------------------------------


def test_pair_step_matrix_follows_the_ring_formula():
    from lcedu.viz.ring import pair_step_matrix

    W, L = 4, 16
    n = L // W
    m = pair_step_matrix(ring_schedule(L, W, causal=True))
    for i in range(L):
        for j in range(L):
            want = -1 if j > i else (i // n - j // n) % W  # block of rank j//n reaches i//n
            assert m[i, j] == want
    early = pair_step_matrix(ring_schedule(L, W, layout="striped"), upto_step=0)
    assert (early[early >= 0] == 0).all() and (early == -2).sum() == L * L - L * L // W


def test_figures_and_stepper_render():
    from matplotlib.figure import Figure

    from lcedu.viz.ring import (
        plot_load_balance,
        plot_memory_per_rank,
        plot_pair_steps,
        plot_ring_schedule,
        plot_ring_step,
    )
    from lcedu.widgets.ring import render, ring_stepper

    tr = ring_schedule(12, 3, causal=True, layout="zigzag")
    figs = [
        plot_ring_schedule(tr),
        plot_pair_steps(tr),
        plot_ring_step(tr, 2),
        plot_load_balance(24, 3),
        plot_memory_per_rank(4096, (1, 2, 4)),
        render(3, 1, "striped", False),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    with pytest.raises(ValueError, match=r"step must be an integer in 0..2"):
        plot_ring_step(tr, 3)
    with pytest.raises(ValueError, match="RingTrace"):
        plot_ring_schedule("not a trace")
    with pytest.raises(ValueError, match="not divisible by 2·world_size"):
        render(2, 0, "zigzag", True, chunk=3)
    w = ring_stepper(world_size=3)
    assert w.controls["step"].max == 2  # the step slider follows the world size
    w.controls["world_size"].value = 5
    assert w.controls["step"].max == 4
