"""Masks against independent element-by-element definitions, and FlexAttention mask_mods."""

from __future__ import annotations

import pytest
import torch

from lcedu.attention.flex import (
    dilated_window_mod,
    flex_available,
    flex_mask,
    longformer_mod,
    sliding_window_mod,
)
from lcedu.attention.masks import (
    bigbird_mask,
    block_sparse_mask,
    causal_mask,
    density,
    dilated_window_mask,
    global_mask,
    longformer_mask,
    receptive_field,
    sliding_window_mask,
)


def _by_rule(n, rule):
    return torch.tensor([[bool(rule(i, j)) for j in range(n)] for i in range(n)])


@pytest.mark.parametrize("n,w", [(1, 1), (7, 2), (10, 3), (5, 9)])
def test_sliding_window_counts_2w_plus_1(n, w):
    assert torch.equal(sliding_window_mask(n, w), _by_rule(n, lambda i, j: abs(i - j) <= w))
    assert torch.equal(
        sliding_window_mask(n, w, causal=True), _by_rule(n, lambda i, j: 0 <= i - j <= w)
    )
    # An interior row sees 2w + 1 keys (Longformer), not 2w (the lesson's sketch).
    if n > 2 * w:
        assert int(sliding_window_mask(n, w)[w].sum()) == 2 * w + 1


def test_causal_and_dilated():
    assert torch.equal(causal_mask(6), _by_rule(6, lambda i, j: j <= i))
    m = dilated_window_mask(13, 2, 3)
    assert torch.equal(m, _by_rule(13, lambda i, j: abs(i - j) <= 6 and (i - j) % 3 == 0))
    assert torch.equal(dilated_window_mask(9, 2, 1), sliding_window_mask(9, 2))
    mc = dilated_window_mask(13, 2, 3, causal=True)
    assert torch.equal(mc, _by_rule(13, lambda i, j: 0 <= i - j <= 6 and (i - j) % 3 == 0))


def test_global_rows_and_columns_are_full():
    m = global_mask(8, [0, 5])
    assert torch.equal(m, _by_rule(8, lambda i, j: i in (0, 5) or j in (0, 5)))
    assert bool(m[0].all()) and bool(m[:, 0].all())  # the lesson draws row 0 empty (erratum 4)


def test_longformer_mask_with_padding_and_batched_globals():
    n, w = 11, 2
    pad = torch.tensor([[True] * 9 + [False] * 2, [True] * 11])
    glob = torch.zeros(2, n, dtype=torch.bool)
    glob[0, 4] = True
    glob[1, 0] = glob[1, 10] = True
    m = longformer_mask(n, w, glob, pad)
    assert m.shape == (2, 1, n, n)
    for b in range(2):
        g, p = glob[b].tolist(), pad[b].tolist()
        want = _by_rule(
            n, lambda i, j, g=g, p=p: (abs(i - j) <= w or g[i] or g[j]) and p[i] and p[j]
        )
        assert torch.equal(m[b, 0], want)
    assert torch.equal(longformer_mask(n, w, [3]), sliding_window_mask(n, w) | global_mask(n, [3]))


def test_block_sparse_and_bigbird():
    layout = torch.tensor([[True, False], [True, True]])
    m = block_sparse_mask(layout, 3, n=5)
    assert torch.equal(m, _by_rule(5, lambda i, j: layout[i // 3, j // 3]))
    a = bigbird_mask(40, 4, num_random_blocks=2, num_global_blocks=2, seed=3)
    b = bigbird_mask(40, 4, num_random_blocks=2, num_global_blocks=2, seed=3)
    assert torch.equal(a, b)
    assert bool(a[:4].all()) and bool(a[:, :4].all()) and bool(a[-4:].all())  # first+last global
    blocks = a[::4, ::4]
    nb = blocks.shape[0]
    for r in range(1, nb - 1):  # non-global rows: 3 sliding + 2 global + 2 random blocks
        assert int(blocks[r].sum()) == 3 + 2 + 2 - (r in (1, nb - 2))
    assert not torch.equal(a, bigbird_mask(40, 4, num_random_blocks=2, num_global_blocks=2,
                                           seed=4))


def test_density_and_receptive_field():
    assert density(torch.ones(3, 3, dtype=torch.bool)) == 1.0
    assert density(sliding_window_mask(10, 1)) == pytest.approx(28 / 100)
    rf = receptive_field(sliding_window_mask(30, 2), 3)
    assert torch.equal(rf, sliding_window_mask(30, 6))
    rfc = receptive_field(sliding_window_mask(30, 2, causal=True), 4)
    assert torch.equal(rfc, sliding_window_mask(30, 8, causal=True))


@pytest.mark.parametrize(
    "call",
    [
        lambda: sliding_window_mask(5, 0),
        lambda: sliding_window_mask(0, 1),
        lambda: sliding_window_mask(5, 1.5),
        lambda: dilated_window_mask(5, 1, 0),
        lambda: global_mask(5, [5]),
        lambda: global_mask(5, [-1]),
        lambda: longformer_mask(5, 1, [0], torch.ones(4, dtype=torch.bool)),
        lambda: longformer_mask(5, 1, [4], torch.tensor([1, 1, 1, 1, 0]).bool()),
        lambda: longformer_mask(5, 1, [0], torch.ones(5)),
        lambda: block_sparse_mask(torch.ones(2, 2), 2),
        lambda: bigbird_mask(8, 2, num_random_blocks=1, num_global_blocks=9, seed=0),
        lambda: density(torch.ones(2, 2)),
        lambda: receptive_field(sliding_window_mask(4, 1), 0),
    ],
)
def test_bad_input_raises_value_error(call):
    with pytest.raises(ValueError):
        call()


def test_value_error_message_is_a_sentence():
    with pytest.raises(ValueError, match="window must be a positive integer, got 0"):
        sliding_window_mask(4, 0)
    with pytest.raises(ValueError, match="out of range"):
        global_mask(4, [7])


@pytest.mark.skipif(not flex_available(), reason="FlexAttention is not in this torch")
def test_flex_mask_mods_match_masks():
    n = 19
    for causal in (False, True):
        got = flex_mask(sliding_window_mod(3, causal=causal), n)
        assert torch.equal(got, sliding_window_mask(n, 3, causal=causal))
    glob = torch.zeros(2, n, dtype=torch.bool)
    glob[0, 2] = glob[1, 15] = True
    pad = torch.ones(2, n, dtype=torch.bool)
    pad[0, 16:] = False
    got = flex_mask(longformer_mod(2, glob, pad), n, batch=2)
    assert torch.equal(got, longformer_mask(n, 2, glob, pad)[:, 0])
    for causal in (False, True):
        got = flex_mask(dilated_window_mod(2, 3, causal=causal), n)
        assert torch.equal(got, dilated_window_mask(n, 2, 3, causal=causal))


def test_figures_and_widget_render():
    from matplotlib.figure import Figure

    from lcedu.viz.masks import (
        plot_banded_blocks,
        plot_lesson_global_diagram,
        plot_mask,
        plot_mask_gallery,
        plot_receptive_field,
    )
    from lcedu.widgets.masks import parse_positions, render

    figs = [plot_mask(sliding_window_mask(6, 1)), plot_mask_gallery(12, 1),
            plot_lesson_global_diagram(), plot_banded_blocks(10, 2), plot_receptive_field(30, 1)]
    figs += [render(pattern=p, n=12) for p in ("causal", "local", "dilated", "global",
                                                 "longformer", "bigbird")]
    assert all(isinstance(f, Figure) for f in figs)
    assert parse_positions("0, 5", 8) == [0, 5]
    with pytest.raises(ValueError):
        parse_positions("9", 8)
