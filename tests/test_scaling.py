"""RoPE scalings (lcedu.positions.scaling) against Hugging Face transformers' rope
initialisation functions over a grid, against independent formulas, and against the
lesson's sketches (ERRATA 9–14)."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from lcedu.positions import scaling as sc
from lcedu.positions.rope import apply_rope, rope_cos_sin, rope_inv_freq
from lcedu.positions.rotary import RotaryEmbedding

rope_utils = pytest.importorskip("transformers.modeling_rope_utils")
from transformers import LlamaConfig  # noqa: E402

HF = rope_utils.ROPE_INIT_FUNCTIONS
# The bar: the same float32 operations as Hugging Face, so agreement is to rounding.
RTOL = 1e-6

DIMS = [32, 64, 96, 128, 256]
BASES = [1e4, 5e5, 1e6]
FACTORS = [1.0, 1.5, 2.0, 4.0, 7.3, 8.0, 16.0, 32.0]
ORIGINALS = [2048, 4096, 8192, 32768]


@pytest.fixture(scope="module")
def config():
    """One LlamaConfig, re-pointed for every grid point (building one costs ~2 ms)."""
    return LlamaConfig(
        hidden_size=256,
        num_attention_heads=2,
        head_dim=128,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "linear", "rope_theta": 1e4, "factor": 2.0},
        num_hidden_layers=1,
        vocab_size=8,
        intermediate_size=8,
    )


def _hf(config, rope_type, dim, base, max_pos, seq_len=None, **params):
    config.head_dim = dim
    config.max_position_embeddings = max_pos
    config.rope_parameters = {"rope_type": rope_type, "rope_theta": base, **params}
    return HF[rope_type](config, None, seq_len=seq_len)


def _same(ours, theirs, what):
    inv, att = ours
    hf_inv, hf_att = theirs
    assert inv.dtype == torch.float32, what
    torch.testing.assert_close(inv, hf_inv, rtol=RTOL, atol=0, msg=lambda m: f"{what}\n{m}")
    assert math.isclose(att, float(hf_att), rel_tol=RTOL), f"{what}: {att} vs {hf_att}"


def test_fresh_llama_config_agrees_with_repointed_one(config):
    fresh = LlamaConfig(
        hidden_size=192,
        num_attention_heads=2,
        head_dim=96,
        max_position_embeddings=32768,
        rope_parameters={
            "rope_type": "yarn",
            "rope_theta": 5e5,
            "factor": 7.3,
            "original_max_position_embeddings": 4096,
            "truncate": False,
        },
        num_hidden_layers=1,
        vocab_size=8,
        intermediate_size=8,
    )
    theirs = HF["yarn"](fresh, None)
    _same(sc.yarn(96, 5e5, 7.3, 4096, truncate=False), theirs, "fresh config")
    again = _hf(
        config,
        "yarn",
        96,
        5e5,
        32768,
        factor=7.3,
        original_max_position_embeddings=4096,
        truncate=False,
    )
    _same(sc.yarn(96, 5e5, 7.3, 4096, truncate=False), again, "re-pointed config")


def test_linear_matches_hf(config):
    for dim, base, factor in itertools.product(DIMS, BASES, FACTORS):
        what = f"linear dim={dim} base={base} factor={factor}"
        _same(
            sc.linear(dim, base, factor),
            _hf(config, "linear", dim, base, 4096, factor=factor),
            what,
        )


def test_dynamic_ntk_matches_hf(config):
    for dim, base, factor, orig in itertools.product(DIMS, BASES, FACTORS, ORIGINALS):
        for seq_len in (1, orig // 2, orig, orig + 1, int(1.7 * orig), int(factor * orig)):
            what = f"dynamic dim={dim} base={base} factor={factor} L={orig} seq_len={seq_len}"
            theirs = _hf(config, "dynamic", dim, base, orig, seq_len=seq_len, factor=factor)
            _same(sc.dynamic_ntk(dim, base, factor, orig, seq_len), theirs, what)


def test_dynamic_ntk_is_plain_rope_inside_training_length():
    for seq_len in (1, 100, 4096):
        inv, att = sc.dynamic_ntk(64, 1e4, 4.0, 4096, seq_len)
        torch.testing.assert_close(inv, rope_inv_freq(64, 1e4), rtol=0, atol=0)
        assert att == 1.0
    assert not torch.allclose(sc.dynamic_ntk(64, 1e4, 4.0, 4096, 4097)[0], rope_inv_freq(64, 1e4))


def test_ntk_aware_independent_formula_and_hf_dynamic(config):
    for dim, base, factor in itertools.product(DIMS, BASES, FACTORS):
        what = f"ntk dim={dim} base={base} factor={factor}"
        inv, att = sc.ntk_aware(dim, base, factor)
        assert att == 1.0
        # independent: new base b·s^(d/(d−2)), then θ_i = b'^(−2i/d), in float64. float32
        # rounding of the exponent costs up to ln(b')·2^-24 ≈ 1.1e-6 relative, hence 3e-6.
        new_base = base * factor ** (dim / (dim - 2))
        i = torch.arange(dim // 2, dtype=torch.float64)
        exact = new_base ** (-2 * i / dim)
        torch.testing.assert_close(inv.double(), exact, rtol=3e-6, atol=0, msg=what)
        # the fastest pair is untouched, the slowest is interpolated by exactly the factor
        assert inv[0] == 1.0
        assert math.isclose(float(inv[-1]), base ** (-(dim - 2) / dim) / factor, rel_tol=3e-6)
        # HF "dynamic" equals static NTK where s·L/L0 − (s − 1) = factor: with s = 1 that is
        # seq_len = factor·L0; with s = 2, seq_len = (factor + 1)·L0 / 2.
        orig = 2048
        for dyn_factor, seq_len in ((1.0, factor * orig), (2.0, (factor + 1) * orig / 2)):
            theirs = _hf(config, "dynamic", dim, base, orig, seq_len=seq_len, factor=dyn_factor)
            _same((inv, att), theirs, f"{what} vs HF dynamic factor={dyn_factor}")
            if float(seq_len).is_integer():
                ours_dyn = sc.dynamic_ntk(dim, base, dyn_factor, orig, int(seq_len))
                _same(ours_dyn, theirs, f"{what} our dynamic")


MSCALES = [(None, None), (1.0, 1.0), (0.707, 1.0), (1.0, 0.707), (0.5, 0.1)]


def test_yarn_matches_hf(config):
    grid = itertools.product(DIMS, BASES, FACTORS, ORIGINALS, (True, False), MSCALES)
    for dim, base, factor, orig, truncate, (ms, ms_all) in grid:
        params = {"factor": factor, "original_max_position_embeddings": orig, "truncate": truncate}
        if ms is not None:
            params.update(mscale=ms, mscale_all_dim=ms_all)
        what = f"yarn dim={dim} base={base} {params}"
        theirs = _hf(config, "yarn", dim, base, int(orig * factor), **params)
        ours = sc.yarn(dim, base, factor, orig, mscale=ms, mscale_all_dim=ms_all, truncate=truncate)
        _same(ours, theirs, what)


def test_yarn_betas_and_explicit_attention_factor_match_hf(config):
    grid = itertools.product(
        [64, 128],
        [1e4, 1e6],
        [2.5, 8.0],
        [2048, 8192],
        [(32, 1), (16, 2), (64, 0.5), (8, 4)],
        (True, False),
    )
    for dim, base, factor, orig, (fast, slow), truncate in grid:
        params = {
            "factor": factor,
            "original_max_position_embeddings": orig,
            "beta_fast": fast,
            "beta_slow": slow,
            "truncate": truncate,
        }
        what = f"yarn dim={dim} base={base} {params}"
        theirs = _hf(config, "yarn", dim, base, orig, **params)
        ours = sc.yarn(dim, base, factor, orig, beta_fast=fast, beta_slow=slow, truncate=truncate)
        _same(ours, theirs, what)
        theirs = _hf(config, "yarn", dim, base, orig, attention_factor=0.8, **params)
        ours = sc.yarn(
            dim,
            base,
            factor,
            orig,
            beta_fast=fast,
            beta_slow=slow,
            truncate=truncate,
            attention_factor=0.8,
        )
        _same(ours, theirs, what + " attention_factor=0.8")


LLAMA3_BANDS = [(1.0, 4.0), (1.0, 2.0), (2.0, 8.0), (0.5, 1.5)]


def test_llama3_matches_hf(config):
    for dim, base, factor, orig, (lo, hi) in itertools.product(
        DIMS, BASES + [5e5], FACTORS, ORIGINALS, LLAMA3_BANDS
    ):
        params = {
            "factor": factor,
            "original_max_position_embeddings": orig,
            "low_freq_factor": lo,
            "high_freq_factor": hi,
        }
        what = f"llama3 dim={dim} base={base} {params}"
        theirs = _hf(config, "llama3", dim, base, int(orig * factor), **params)
        ours = sc.llama3(dim, base, factor, orig, low_freq_factor=lo, high_freq_factor=hi)
        _same(ours, theirs, what)


def test_llama3_bands_independently():
    dim, base, factor, orig = 128, 5e5, 8.0, 8192
    inv, att = sc.llama3(dim, base, factor, orig)
    plain = rope_inv_freq(dim, base)
    wavelength = 2 * math.pi / plain
    short = wavelength < orig / 4  # kept
    long = wavelength > orig / 1  # divided by the factor
    assert short.any() and long.any() and (~short & ~long).any()
    torch.testing.assert_close(inv[short], plain[short], rtol=0, atol=0)
    torch.testing.assert_close(inv[long], plain[long] / factor)
    mid = ~short & ~long
    assert ((inv[mid] < plain[mid]) & (inv[mid] > plain[mid] / factor)).all()
    assert att == 1.0


def test_yarn_correction_range_erratum_10():
    # ERRATUM 10: d=128, base 1e4, L_orig 4096, s=8 → 20..46; the lesson's sketch → 16..16
    assert sc.yarn_correction_range(128, 1e4, 4096) == (20, 46)
    assert sc.lesson_yarn_correction_range(128, 4096, 32768) == (16, 16)
    # the fractional dims, written independently: d·ln(L/(2π·β)) / (2·ln b)
    for beta in (32, 1):
        exact = 128 * math.log(4096 / (2 * math.pi * beta)) / (2 * math.log(1e4))
        assert math.isclose(sc.yarn_correction_dim(beta, 128, 1e4, 4096), exact)
    low, high = sc.yarn_correction_range(128, 1e4, 4096, truncate=False)
    assert 20 < low < 21 and 45 < high < 46  # floor → 20, ceil → 46
    # clamped to [0, d − 1]
    assert sc.yarn_correction_range(16, 1e4, 2048, beta_fast=1e6, beta_slow=2)[0] == 0
    assert sc.yarn_correction_range(16, 10.0, 32768)[1] == 15


def test_yarn_ramp_and_mscale_pieces():
    ramp = sc.yarn_ramp(20, 46, 64)
    i = torch.arange(64, dtype=torch.float32)
    expected = torch.clamp((i - 20) / 26, 0, 1)
    torch.testing.assert_close(ramp, expected, rtol=0, atol=0)
    assert ramp[:21].eq(0).all() and ramp[46:].eq(1).all()
    assert 0 < ramp[33] < 1
    # low == high: a step, not a division by zero
    step = sc.yarn_ramp(5, 5, 10)
    assert torch.isfinite(step).all() and step[5] == 0 and step[6] == 1
    # temperature: 0.1·ln(s) + 1 only for s > 1 (ERRATUM 14)
    assert sc.yarn_mscale(8.0) == pytest.approx(0.1 * math.log(8.0) + 1)
    assert sc.yarn_mscale(1.0) == 1.0 and sc.yarn_mscale(0.5) == 1.0
    assert sc.yarn_mscale(8.0, 0.707) == pytest.approx(0.0707 * math.log(8.0) + 1)


def test_yarn_extrapolates_fast_and_interpolates_slow():
    inv, att = sc.yarn(128, 1e4, 8.0, 4096)
    plain = rope_inv_freq(128, 1e4)
    torch.testing.assert_close(inv[:20], plain[:20], rtol=1e-7, atol=0)  # extrapolated
    torch.testing.assert_close(inv[46:], plain[46:] / 8, rtol=1e-6, atol=0)  # interpolated
    ratio = plain[20:46] / inv[20:46]
    assert (ratio[1:] > ratio[:-1]).all()  # the stretch grows along the ramp
    assert att == pytest.approx(0.1 * math.log(8) + 1)
    # factor 1 is plain RoPE with no temperature
    inv1, att1 = sc.yarn(128, 1e4, 1.0, 4096)
    torch.testing.assert_close(inv1, plain, rtol=1e-6, atol=0)
    assert att1 == 1.0


def test_lesson_pi_equals_linear():
    # ERRATUM 9: the lesson's PI (positions · L/L') is `linear` with factor L'/L.
    dim, base, orig, ext = 64, 1e4, 4096, 16384
    pos = torch.arange(0, ext, 7)
    lesson_pos = sc.lesson_position_interpolation(pos, orig, ext)
    torch.testing.assert_close(lesson_pos, pos.double().mul(orig / ext).float())
    inv_lin, _ = sc.linear(dim, base, ext / orig)
    angles_lesson = lesson_pos[:, None] * rope_inv_freq(dim, base)
    angles_linear = pos.float()[:, None] * inv_lin
    # two float32 roundings in another order: a few ulp of the angle
    torch.testing.assert_close(angles_lesson, angles_linear, rtol=1e-6, atol=1e-6)


def test_lesson_pi_module_equals_rotary_embedding_linear():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 40, 3, 32, generator=gen)  # the lesson's (batch, seq, heads, dim)
    pos = torch.arange(40).repeat(2, 1) * 3  # small angles: float32 table tolerance holds
    lesson = sc.LessonRoPEWithInterpolation(32, 4096, 16384)(x, pos)
    ours = RotaryEmbedding(32, 1e4, {"type": "linear", "factor": 4}).rotate(x.transpose(1, 2), pos)
    torch.testing.assert_close(ours.transpose(1, 2), lesson, rtol=1e-4, atol=1e-5)


def test_lesson_yarn_differs_where_erratum_says():
    inv_lesson, mscale_lesson = sc.lesson_yarn_inv_freq(128, 4096, 32768, 1e4)
    inv, att = sc.yarn(128, 1e4, 8.0, 4096)
    plain = rope_inv_freq(128, 1e4)
    ratio = plain / inv_lesson
    # a step: pairs < 16 extrapolated, ≥ 16 interpolated, nothing in between (ERRATA 10–11)
    torch.testing.assert_close(ratio[:16], torch.ones(16))
    torch.testing.assert_close(ratio[16:], torch.full((48,), 8.0))
    # so pairs 16..45 differ from the real YaRN; the two agree outside [16, 46)
    differs = ~torch.isclose(inv_lesson, inv, rtol=1e-5)
    assert differs[16:46].all() and not differs[:16].any() and not differs[46:].any()
    # the temperature is the same for s > 1 (ERRATUM 14 says that part is right) …
    assert mscale_lesson == pytest.approx(att)
    # … but the sketch applies it for s < 1 too
    assert sc.lesson_yarn_inv_freq(128, 4096, 2048)[1] < 1.0
    assert sc.yarn_mscale(0.5) == 1.0


def test_lesson_yarn_ramp_uses_even_numbers_when_it_ramps():
    # when low < high the sketch fills ramp[low:high] from dims = 0, 2, 4, … (ERRATUM 11)
    low, high = sc.lesson_yarn_correction_range(256, 2048, 2048 * 30)
    assert low < high
    inv_lesson, _ = sc.lesson_yarn_inv_freq(256, 2048, 2048 * 30, 1e4)
    plain = rope_inv_freq(256, 1e4)
    ramp = (plain - inv_lesson) / (plain - plain / 30)
    even = (torch.arange(0, 256, 2)[low:high].float() - low) / (high - low)
    torch.testing.assert_close(ramp[low:high], even, rtol=1e-4, atol=1e-5)


def test_mscale_scales_scores_by_its_square():
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(1, 1, 5, 64, generator=gen, dtype=torch.float64)
    k = torch.randn(1, 1, 5, 64, generator=gen, dtype=torch.float64)
    inv, att = sc.yarn(64, 1e4, 16.0, 2048)
    pos = torch.arange(5) * 1000
    c1, s1 = rope_cos_sin(pos, inv.double())
    ca, sa = rope_cos_sin(pos, inv.double(), attention_scaling=att)
    plain = apply_rope(q, c1, s1) @ apply_rope(k, c1, s1).transpose(-1, -2)
    scaled = apply_rope(q, ca, sa) @ apply_rope(k, ca, sa).transpose(-1, -2)
    torch.testing.assert_close(scaled, plain * att**2)


BAD = [
    ("odd dim", lambda: sc.linear(63, 1e4, 2.0)),
    ("factor < 1", lambda: sc.linear(64, 1e4, 0.5)),
    ("factor NaN", lambda: sc.ntk_aware(64, 1e4, float("nan"))),
    ("base 0", lambda: sc.ntk_aware(64, 0.0, 2.0)),
    ("base negative", lambda: sc.llama3(64, -1.0, 2.0, 4096)),
    ("dim 2 ntk", lambda: sc.ntk_aware(2, 1e4, 2.0)),
    ("dynamic length 0", lambda: sc.dynamic_ntk(64, 1e4, 2.0, 0, 100)),
    ("dynamic seq_len -1", lambda: sc.dynamic_ntk(64, 1e4, 2.0, 4096, -1)),
    ("yarn beta_fast <= beta_slow", lambda: sc.yarn(64, 1e4, 2.0, 4096, beta_fast=1, beta_slow=1)),
    ("yarn beta_slow 0", lambda: sc.yarn(64, 1e4, 2.0, 4096, beta_fast=32, beta_slow=0)),
    ("yarn length 0", lambda: sc.yarn(64, 1e4, 2.0, 0)),
    ("yarn length float", lambda: sc.yarn(64, 1e4, 2.0, 4096.5)),
    ("yarn factor < 1", lambda: sc.yarn(64, 1e4, 0.9, 4096)),
    ("yarn mscale not a number", lambda: sc.yarn(64, 1e4, 2.0, 4096, mscale="0.7")),
    ("yarn attention_factor 0", lambda: sc.yarn(64, 1e4, 2.0, 4096, attention_factor=0.0)),
    (
        "llama3 hi <= lo",
        lambda: sc.llama3(64, 1e4, 8.0, 8192, low_freq_factor=4, high_freq_factor=1),
    ),
    ("lesson yarn length 0", lambda: sc.lesson_yarn_inv_freq(64, 0, 8192)),
    ("lesson yarn length 1", lambda: sc.lesson_yarn_inv_freq(64, 1, 8192)),
    ("ramp high < low", lambda: sc.yarn_ramp(5, 2, 10)),
    ("ramp n 0", lambda: sc.yarn_ramp(0, 2, 0)),
    ("mscale factor 0", lambda: sc.yarn_mscale(0.0)),
    ("range truncate str", lambda: sc.yarn_correction_range(64, 1e4, 4096, truncate="yes")),
]


def test_yarn_lone_mscale_is_ignored_as_in_hf(config):
    # Hugging Face uses the mscale ratio only when both are given and non-zero; a lone
    # mscale (or mscale_all_dim, or a zero) leaves the factor at 0.1·ln(s) + 1.
    settings = [
        {"mscale": 0.707},
        {"mscale_all_dim": 1.0},
        {"mscale": 1.0, "mscale_all_dim": 0.0},
        {"mscale": 0.0, "mscale_all_dim": 1.0},
    ]
    for ms in settings:
        params = {"factor": 8.0, "original_max_position_embeddings": 4096, **ms}
        theirs = _hf(config, "yarn", 128, 1e4, 32768, **params)
        _same(sc.yarn(128, 1e4, 8.0, 4096, **ms), theirs, f"yarn {ms}")
        assert sc.yarn(128, 1e4, 8.0, 4096, **ms)[1] == pytest.approx(sc.yarn_mscale(8.0))


@pytest.mark.parametrize("dim", [4, 6, 34, 50, 130, 250])
def test_odd_number_of_pairs_and_odd_bases_match_hf(config, dim):
    # dims whose pair count is odd, a base that is not a power of ten, an odd original length
    base, orig = 1234.5, 3000
    for factor in (1.25, 3.3):
        _same(
            sc.linear(dim, base, factor),
            _hf(config, "linear", dim, base, orig, factor=factor),
            f"linear {dim} {factor}",
        )
        for seq_len in (orig - 1, orig, orig + 1, 10 * orig):
            theirs = _hf(config, "dynamic", dim, base, orig, seq_len=seq_len, factor=factor)
            _same(sc.dynamic_ntk(dim, base, factor, orig, seq_len), theirs, f"dyn {dim} {seq_len}")
        for truncate in (True, False):
            params = {
                "factor": factor,
                "original_max_position_embeddings": orig,
                "truncate": truncate,
            }
            theirs = _hf(config, "yarn", dim, base, int(orig * factor), **params)
            _same(sc.yarn(dim, base, factor, orig, truncate=truncate), theirs, f"yarn {dim}")
        params = {
            "factor": factor,
            "original_max_position_embeddings": orig,
            "low_freq_factor": 1.0,
            "high_freq_factor": 4.0,
        }
        theirs = _hf(config, "llama3", dim, base, int(orig * factor), **params)
        _same(
            sc.llama3(dim, base, factor, orig, low_freq_factor=1.0, high_freq_factor=4.0),
            theirs,
            f"llama3 {dim}",
        )


def test_numpy_scalars_are_accepted():
    np = pytest.importorskip("numpy")
    dim, base, factor, orig = np.int64(128), np.float64(1e4), np.float32(8.0), np.int64(4096)
    for ours, plain in [
        (sc.linear(dim, base, factor), sc.linear(128, 1e4, 8.0)),
        (sc.ntk_aware(dim, base, factor), sc.ntk_aware(128, 1e4, 8.0)),
        (
            sc.dynamic_ntk(dim, base, factor, orig, np.int64(9000)),
            sc.dynamic_ntk(128, 1e4, 8.0, 4096, 9000),
        ),
        (sc.yarn(dim, base, factor, orig, beta_fast=np.float64(32)), sc.yarn(128, 1e4, 8.0, 4096)),
        (sc.llama3(dim, base, factor, orig), sc.llama3(128, 1e4, 8.0, 4096)),
    ]:
        torch.testing.assert_close(ours[0], plain[0], rtol=0, atol=0)
        assert ours[1] == plain[1]
    assert sc.yarn_correction_range(dim, base, orig) == (20, 46)
    assert rope_inv_freq(np.int32(8)).shape == (4,)
    with pytest.raises(ValueError):
        sc.linear(np.float64(128.0), 1e4, 2.0)  # a float dim is not a dim


def test_lesson_yarn_accepts_and_ignores_its_betas():
    # the sketch's signature: (dim, original, extended, base, beta_fast, beta_slow) — and the
    # betas change nothing (ERRATUM 10), whereas they move the real YaRN's range
    ref = sc.lesson_yarn_inv_freq(128, 4096, 32768, 1e4)
    for fast, slow in ((32, 1), (8, 2), (64, 0.5)):
        got = sc.lesson_yarn_inv_freq(128, 4096, 32768, 1e4, fast, slow)
        torch.testing.assert_close(got[0], ref[0], rtol=0, atol=0)
        assert got[1] == ref[1]
        assert (
            sc.lesson_yarn_inv_freq(
                128,
                original_max_length=4096,
                extended_max_length=32768,
                base=1e4,
                beta_fast=fast,
                beta_slow=slow,
            )[1]
            == ref[1]
        )
    assert sc.yarn_correction_range(128, 1e4, 4096, beta_fast=8, beta_slow=2) != (20, 46)


@pytest.mark.parametrize("name,call", BAD, ids=[b[0] for b in BAD])
def test_bad_inputs_raise_value_error(name, call):
    with pytest.raises(ValueError):
        call()


def test_lesson_yarn_module_raises_attribute_error_erratum_13():
    module = sc.LessonYaRNRoPE(64, 4096, 32768)
    torch.testing.assert_close(module.inv_freq, sc.lesson_yarn_inv_freq(64, 4096, 32768)[0])
    with pytest.raises(AttributeError, match="_apply_rope"):
        module(torch.zeros(1, 3, 2, 64), torch.arange(3)[None])


def test_rope_frequencies_is_the_registry_entry_point():
    """One name -> one function: rope_frequencies dispatches through SCALINGS, accepts Hugging
    Face's rope_parameters spelling, and is plain RoPE for None or "default"."""
    d, b = 16, 10000.0
    cases = {
        "linear": {"factor": 4.0},
        "ntk_aware": {"factor": 4.0},
        "yarn": {"factor": 8.0, "original_max_position": 64, "beta_fast": 16},
        "llama3": {"factor": 8.0, "original_max_position": 64},
    }
    assert set(cases) | {"dynamic_ntk"} == set(sc.SCALINGS)
    for name, kw in cases.items():
        inv, factor = sc.rope_frequencies(d, b, {"type": name, **kw})
        want_inv, want_factor = sc.SCALINGS[name](d, b, **kw)
        assert torch.equal(inv, want_inv) and factor == want_factor, name
    hf = {"rope_type": "yarn", "factor": 8.0, "original_max_position_embeddings": 64,
          "beta_fast": 16, "rope_theta": b}
    assert torch.equal(sc.rope_frequencies(d, b, hf)[0], sc.yarn(d, b, 8.0, 64, beta_fast=16)[0])
    dyn = {"type": "dynamic_ntk", "factor": 2.0, "original_max_position": 32}
    assert torch.equal(sc.rope_frequencies(d, b, dyn)[0], rope_inv_freq(d, b))  # not yet grown
    grown, _ = sc.rope_frequencies(d, b, dyn, seq_len=128)
    assert torch.equal(grown, sc.dynamic_ntk(d, b, 2.0, 32, 128)[0])
    assert not torch.equal(grown, rope_inv_freq(d, b))
    for plain in (None, {"type": "default"}, {"rope_type": "default"}):
        inv, factor = sc.rope_frequencies(d, b, plain)
        assert torch.equal(inv, rope_inv_freq(d, b)) and factor == 1.0
    rope = RotaryEmbedding(d, b, {"type": "yarn", "factor": 8.0, "original_max_position": 64})
    assert torch.equal(rope.inv_freq, sc.yarn(d, b, 8.0, 64)[0])
    assert rope.attention_factor == sc.yarn(d, b, 8.0, 64)[1]
