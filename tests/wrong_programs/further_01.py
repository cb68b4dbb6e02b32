"""Wrong programs for go-further 01 (`longest_context`), each with the diagnosis it must get."""
# ruff: noqa: E731


def _ok(*values):
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError("bad")


def kv_once(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    return max(m - w, 0) // (L * H * D * batch_size * bytes_per_element)


def no_weights(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    return m // (2 * L * H * D * batch_size * bytes_per_element)


def no_layers(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    return max(m - w, 0) // (2 * H * D * batch_size * bytes_per_element)


def no_batch(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    return max(m - w, 0) // (2 * L * H * D * bytes_per_element)


def elements(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    return max(m - w, 0) // (2 * L * H * D * batch_size)


def true_division(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    return max(m - w, 0) / (2 * L * H * D * batch_size * bytes_per_element)


def negative(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    return (m - w) // (2 * L * H * D * batch_size * bytes_per_element)


def rounds_up(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    per = 2 * L * H * D * batch_size * bytes_per_element
    return -(-max(m - w, 0) // per)


def strict_fit(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    per = 2 * L * H * D * batch_size * bytes_per_element
    n = 0
    while w + (n + 1) * per < m:  # equality should fit
        n += 1
        if n > 10**7:
            n = max(m - w - 1, 0) // per
            break
    return n


def no_validation(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    return max(m - w, 0) // (2 * L * H * D * batch_size * bytes_per_element)


def bool_slips_through(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    for v in (m, L, H, D, batch_size, bytes_per_element):
        if not isinstance(v, int) or v < 1:
            raise ValueError("bad")
    return max(m - w, 0) // (2 * L * H * D * batch_size * bytes_per_element)


def wrong_defaults(m, w, L, H, D, *, batch_size=1, bytes_per_element=4):
    _ok(m, L, H, D, batch_size, bytes_per_element)
    return max(m - w, 0) // (2 * L * H * D * batch_size * bytes_per_element)


def type_error_on_text(m, w, L, H, D, *, batch_size=1, bytes_per_element=2):
    for v in (m, L, H, D, batch_size, bytes_per_element):
        if isinstance(v, (bool, float)) or v < 1:  # TypeError for "8" and None
            raise ValueError("bad")
    return max(m - w, 0) // (2 * L * H * D * batch_size * bytes_per_element)


CORPUS = [
    (kv_once, "ctx.kv_once"),
    (no_weights, "ctx.weights"),
    (no_layers, "ctx.layers"),
    (no_batch, "ctx.batch"),
    (elements, "ctx.elements"),
    (true_division, "further.not_int"),
    (negative, "ctx.negative"),
    (rounds_up, "ctx.too_long"),
    (strict_fit, "ctx.too_short"),
    (no_validation, "cmp.raise_none"),
    (bool_slips_through, "cmp.raise_none"),
    (wrong_defaults, "ctx.default"),
    (type_error_on_text, "cmp.raise_wrong"),
]
