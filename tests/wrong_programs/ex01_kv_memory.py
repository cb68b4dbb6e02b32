"""Wrong `kv_cache_bytes` / `attention_matrix_bytes` (exercise 01)."""

import time

WRONG = []


def wrong(check, key, **opts):
    def deco(fn):
        WRONG.append((check, key, fn, opts))
        return fn

    return deco


def _valid(*values):
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{v!r} is not a whole number >= 1")


KV = "check_kv_cache_bytes"
AM = "check_attention_matrix_bytes"


@wrong(KV, "kv.kv_once")  # forgets the factor 2 for K and V: not a "wrong default"
def kv_without_factor_two(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                          bytes_per_element=2):
    _valid(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    return num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "kv.kv_four")
def kv_counted_twice_each(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                          bytes_per_element=2):
    _valid(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    return 4 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "kv.elements")  # elements instead of bytes: not the K-and-V hint
def kv_elements_not_bytes(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                          bytes_per_element=2):
    _valid(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * batch_size


@wrong(KV, "kv.layers")
def kv_one_layer(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                 bytes_per_element=2):
    _valid(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    return 2 * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "kv.batch")
def kv_no_batch(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                bytes_per_element=2):
    _valid(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * bytes_per_element


@wrong(KV, "kv.default")
def kv_wrong_default(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                     bytes_per_element=4):
    _valid(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "kv.not_int")
def kv_float_bytes(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                   bytes_per_element=2):
    _valid(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    return 2.0 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "kv.wrong")  # a ** typo: a huge integer, formatted without crashing the grader
def kv_power_typo(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                  bytes_per_element=2):
    _valid(num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    return 2 * num_layers * num_kv_heads ** head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "cmp.raise_none")  # no validation at all
def kv_no_validation(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                     bytes_per_element=2):
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "cmp.raise_none")  # one-value validation: head_dim=-1 or 2.5 layers slip through
def kv_checks_zero_only(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                        bytes_per_element=2):
    if 0 in (num_layers, seq_len, bytes_per_element):
        raise ValueError("sizes must be positive")
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "cmp.raise_wrong")  # TypeError for text, not ValueError
def kv_type_error(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                  bytes_per_element=2):
    values = (num_layers, num_kv_heads, head_dim, seq_len, batch_size, bytes_per_element)
    if any(isinstance(v, bool) or v < 1 or v != int(v) for v in values):
        raise ValueError("sizes must be whole numbers >= 1")
    return 2 * num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


@wrong(KV, "engine.timeout", hangs=True)  # a bare except cannot defeat the time limit
def kv_hangs(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1, bytes_per_element=2):
    while True:
        try:
            time.sleep(0.05)
        except:  # noqa: E722
            pass


@wrong(KV, "kv.kv_once")  # 14 MB of prints are captured and cut, the diagnosis stays right
def kv_prints_a_lot(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                    bytes_per_element=2):
    print("x" * 2_000_000)
    return kv_without_factor_two(num_layers, num_kv_heads, head_dim, seq_len,
                                 batch_size=batch_size, bytes_per_element=bytes_per_element)


class _Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no text")


@wrong(KV, "engine.raised")  # an exception whose __str__ raises
def kv_raises_unprintable(*args, **kwargs):
    raise _Unprintable()


@wrong(KV, "engine.died")
def kv_exits(*args, **kwargs):
    import os

    os._exit(3)


@wrong(AM, "kv.square")
def am_not_squared(seq_len, num_heads=1, *, batch_size=1, bytes_per_element=2):
    _valid(seq_len, num_heads, batch_size, bytes_per_element)
    return batch_size * num_heads * seq_len * bytes_per_element


@wrong(AM, "kv.heads")
def am_one_head(seq_len, num_heads=1, *, batch_size=1, bytes_per_element=2):
    _valid(seq_len, num_heads, batch_size, bytes_per_element)
    return batch_size * seq_len * seq_len * bytes_per_element


@wrong(AM, "kv.elements")
def am_elements(seq_len, num_heads=1, *, batch_size=1, bytes_per_element=2):
    _valid(seq_len, num_heads, batch_size, bytes_per_element)
    return batch_size * num_heads * seq_len * seq_len


@wrong(AM, "kv.default")
def am_wrong_default(seq_len, num_heads=8, *, batch_size=1, bytes_per_element=2):
    _valid(seq_len, num_heads, batch_size, bytes_per_element)
    return batch_size * num_heads * seq_len * seq_len * bytes_per_element


@wrong(AM, "cmp.raise_none")
def am_accepts_bools(seq_len, num_heads=1, *, batch_size=1, bytes_per_element=2):
    if seq_len < 1 or num_heads < 1:
        raise ValueError("lengths must be >= 1")
    return batch_size * num_heads * seq_len * seq_len * bytes_per_element


class _BadName:
    """A callable whose __name__ raises."""

    @property
    def __name__(self):
        raise AttributeError("no name")

    def __call__(self, seq_len, num_heads=1, *, batch_size=1, bytes_per_element=2):
        _valid(seq_len, num_heads, batch_size, bytes_per_element)
        return batch_size * num_heads * seq_len * bytes_per_element


WRONG.append((AM, "kv.square", _BadName(), {}))
