"""Wrong programs for go-further 03 (`causal_tiles`), each with the diagnosis it must get."""

import torch


def _ok(*values):
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError("bad")


def _grid(n_q, n_k, bq, bk, rule, tq=None, tk=None, dtype=torch.int8):
    tq = -(-n_q // bq) if tq is None else tq
    tk = -(-n_k // bk) if tk is None else tk
    g = torch.zeros(tq, tk, dtype=dtype)
    for i in range(tq):
        for j in range(tk):
            g[i, j] = rule(i * bq, min((i + 1) * bq, n_q), j * bk, min((j + 1) * bk, n_k))
    return g


def _right(q0, q1, k0, k1):
    return 0 if k0 > q1 - 1 else (2 if k1 - 1 > q0 else 1)


def floor_blocks(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, _right, n_q // bq, n_k // bk)


def diagonal_full(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, lambda q0, q1, k0, k1: 0 if k0 > q1 - 1 else 1)


def diagonal_skipped(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, lambda q0, q1, k0, k1: 1 if k1 - 1 <= q0 else 0)


def always_masked(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, lambda q0, q1, k0, k1: 0 if k0 > q1 - 1 else 2)


def bottom_right(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    o = n_k - n_q
    return _grid(n_q, n_k, bq, bk, lambda q0, q1, k0, k1: _right(q0 + o, q1 + o, k0, k1))


def one_block_size(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bq, _right)


def unclamped(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    tq, tk = -(-n_q // bq), -(-n_k // bk)
    g = torch.zeros(tq, tk, dtype=torch.int8)
    for i in range(tq):
        for j in range(tk):
            g[i, j] = _right(i * bq, (i + 1) * bq, j * bk, (j + 1) * bk)
    return g


def transposed(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, _right).T.contiguous()


def as_bool(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, _right) > 0


def int64_grid(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, _right, dtype=torch.int64)


def nested_lists(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, _right).tolist()


def no_validation(n_q, n_k, bq, bk):
    return _grid(n_q, n_k, bq, bk, _right)


def off_by_one_skip(n_q, n_k, bq, bk):
    _ok(n_q, n_k, bq, bk)
    return _grid(n_q, n_k, bq, bk, lambda q0, q1, k0, k1: 0 if k0 >= q1 - 1 and k0 > 0 else (
        2 if k1 - 1 > q0 else 1))


CORPUS = [
    (floor_blocks, "tiles.ragged"),
    (diagonal_full, "tiles.masked_as_full"),
    (diagonal_skipped, "tiles.partial_skipped"),
    (always_masked, "tiles.all_masked"),
    (bottom_right, "tiles.bottom_right"),
    (one_block_size, "tiles.one_block"),
    (unclamped, "tiles.ragged_end"),
    (transposed, "tiles.transposed"),
    (as_bool, "cmp.dtype"),
    (int64_grid, "cmp.dtype"),
    (nested_lists, "tiles.not_tensor"),
    (no_validation, "cmp.raise_none"),
    (off_by_one_skip, "cmp.not_exact"),
]
