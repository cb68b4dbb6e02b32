"""choose_method beyond the lesson's rows: staged extension, alternatives, no six-digit factors."""

from __future__ import annotations

from lcedu.kvcache.memory import MODEL_PRESETS
from lcedu.practice.guide import choose_method


def test_a_large_stretch_is_extended_in_stages_with_continued_pretraining() -> None:
    r = choose_method(131072, 2_000_000, gpus=64)
    assert "YaRN, in stages" in r.methods and "YaRN" not in r.methods
    assert "continued pre-training on long documents" in r.methods
    assert "15.2588" not in str(r) and "about x15.3" in str(r)
    assert "sparse attention" not in r.methods  # only the 1M+ alternatives, not everything at once
    mamba = r.reasons[r.methods.index("Mamba / state-space models")]
    assert "alternative for a new model" in mamba


def test_the_kv_note_uses_the_preset_formula() -> None:
    r = choose_method(4096, 1_048_576)
    shape = next(s for n, s in MODEL_PRESETS.items() if n.startswith("Llama 3 8B"))
    assert shape.kv_cache_bytes(1_048_576) == 128 * 2**30
    assert any("128.0 GiB" in n for n in r.notes)


def test_stretches_up_to_eight_keep_the_lessons_rows() -> None:
    assert choose_method(4096, 32768).methods == ("YaRN", "fine-tuning")
    assert "x4" in str(choose_method(32768, 131072, gpus=8))
    assert choose_method(4096, 65536, can_finetune=False).notes
