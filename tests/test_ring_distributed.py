"""Ring attention over torch.distributed: real gloo processes, checked against SDPA.

Each launch starts W local processes (forkserver, so torch is imported once) and runs many
configurations in them: every layout, causal and not, fp32 and fp64 (with gradients in
fp64). Every launch has a deadline; a stuck rank is stopped and the test fails, never hangs.
"""

from __future__ import annotations

import pytest
import torch

from lcedu.testing import tolerance
from lcedu.tools.ring_demo import (
    DemoConfig,
    format_results,
    main,
    probe_mismatched_shapes,
    probe_subgroup,
    run_local,
)

LAYOUTS = ["contiguous", "zigzag", "striped"]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("W", [1, 2, 3, 4])
def test_processes_equal_sdpa_on_the_whole_sequence(W):
    L = 2 * W * 5  # chunks of odd length
    configs = [
        DemoConfig(
            seq_len=L,
            batch=2,
            heads=3,
            head_dim=8,
            causal=causal,
            layout=layout,
            dtype=dtype,
            seed=W,
            backward=dtype == "float64",
        )
        for layout in LAYOUTS
        for causal in (False, True)
        for dtype in ("float32", "float64", "bfloat16")
        if dtype != "bfloat16" or causal  # bf16: causal only, to keep the test fast
    ]
    configs += [  # an odd total length (W = 1, 3) where the layout allows it, with gradients
        DemoConfig(
            seq_len=5 * W,
            heads=2,
            head_dim=4,
            causal=causal,
            layout=layout,
            dtype="float64",
            seed=W,
            backward=True,
        )
        for layout in ("contiguous", "striped")
        for causal in (False, True)
    ]
    results = run_local(W, configs, timeout=90)
    assert len(results) == len(configs)
    for cfg, res in zip(configs, results):
        tol = tolerance(getattr(torch, cfg.dtype))
        label = f"W={W} {cfg.layout} causal={cfg.causal} {cfg.dtype}"
        assert res.ok, label + "\n" + format_results(res, timings=False)
        assert res.max_error <= tol.atol + tol.rtol * 5, label  # |out| is O(1)
        assert all(r.max_error == r.max_error for r in res.ranks)  # no NaN on any rank
        if cfg.backward:
            assert res.grad_error is not None and res.grad_error < 1e-8, label
        # Every rank sends its K and V one hop per step but the last.
        n = cfg.seq_len // W
        kv_bytes = 2 * cfg.batch * cfg.heads * n * cfg.head_dim * getattr(torch, cfg.dtype).itemsize
        assert [r.bytes_sent for r in res.ranks] == [(W - 1) * kv_bytes] * W
        if cfg.causal and cfg.layout == "contiguous":
            for r in res.ranks:  # only the own (diagonal) block masked, future blocks skipped
                src = [(r.rank - s) % W for s in range(W)]
                want = [
                    "masked" if x == r.rank else ("full" if x < r.rank else "skip") for x in src
                ]
                assert r.kinds == want


@pytest.mark.timeout(60)
def test_shapes_that_differ_across_ranks_raise_on_every_rank():
    messages = run_local(
        3, [DemoConfig(seq_len=6, heads=2, head_dim=4)], task=probe_mismatched_shapes, timeout=45
    )
    assert "same shapes" in messages[0]
    assert "rank 2: q (1, 2, 4, 4)" in messages[0]


@pytest.mark.timeout(60)
def test_cli_runs_and_reports(capsys):
    rc = main(
        [
            "--world-size",
            "2",
            "--seq-len",
            "24",
            "--heads",
            "3",
            "--head-dim",
            "8",
            "--causal",
            "--layout",
            "zigzag",
            "--backward",
            "--timeout",
            "45",
        ]
    )
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "whole sequence vs SDPA" in out and "OK" in out
    assert "bytes sent" in out and len(out.splitlines()) == 2 + 2 + 2


def test_cli_rejects_bad_input_before_starting_anything(capsys):
    assert main(["--world-size", "4", "--seq-len", "10", "--layout", "zigzag"]) == 2
    assert "10 is not divisible by 2·world_size = 8" in capsys.readouterr().err
    assert main(["--world-size", "0"]) == 2
    assert "at least 1" in capsys.readouterr().err


@pytest.mark.timeout(60)
def test_a_subgroup_ring_addresses_its_peers_by_global_rank():
    cfgs = [
        DemoConfig(seq_len=24, heads=2, head_dim=4, causal=causal, layout=layout, dtype="float64")
        for layout, causal in (("contiguous", True), ("zigzag", True), ("striped", False))
    ]
    for errs in run_local(4, cfgs, task=probe_subgroup, timeout=45):
        assert errs[0] == -1.0  # rank 0 is not in the group
        assert all(0 <= e < 1e-9 for e in errs[1:]), errs


def _die_on_rank_1(cfg, device):
    """A task whose rank 1 dies mid-run while rank 0 waits for it in a collective."""
    import os

    import torch.distributed as dist

    if dist.get_rank() == 1:
        os._exit(3)
    dist.barrier()
    return "unreachable"


@pytest.mark.timeout(60)
def test_a_dead_rank_is_reported_and_the_others_are_stopped():
    with pytest.raises(RuntimeError, match="died without reporting|rank 0:|did not finish"):
        run_local(2, [DemoConfig(seq_len=4, heads=1, head_dim=4)], task=_die_on_rank_1, timeout=30)
