"""The go-further graders: the library passes, a stub gets "not yet", and every wrong program
of `tests/wrong_programs/further_NN.py` is rejected with the diagnosis it is listed with."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

import lcedu.grading.further as further
from lcedu.grading import core
from lcedu.grading.messages import _registered, catalog

CORPUS_DIR = Path(__file__).resolve().parent / "wrong_programs"
CHECKS = {
    "01": "check_longest_context",
    "02": "check_dilated_window_mod",
    "03": "check_causal_tiles",
    "04": "check_ntk_aware_inv_freq",
    "05": "check_llama3_inv_freq",
    "06": "check_alibi_score_mod",
    "07": "check_zigzag_positions",
    "08": "check_sink_positions",
}


def _corpus(number: str) -> list:
    path = CORPUS_DIR / f"further_{number}.py"
    spec = importlib.util.spec_from_file_location(f"further_wrong_{number}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CORPUS


ENTRIES = [(n, i, key) for n in CHECKS for i, (_, key) in enumerate(_corpus(n))]


def _stub(*args, **kwargs):
    raise NotImplementedError("stub")


@pytest.mark.parametrize("number", sorted(CHECKS))
def test_corpus_has_ten_programs_and_known_keys(number):
    corpus = _corpus(number)
    assert len(corpus) >= 10
    getattr(further, CHECKS[number])  # imports the module, registering its texts
    for _, key in corpus:
        assert key in _registered, key


@pytest.mark.parametrize("number", sorted(CHECKS))
def test_untouched_stub_gets_not_yet(number):
    report = getattr(further, CHECKS[number])(_stub)
    assert report.not_implemented and report.n_passed == 0
    assert all(r.key == "engine.not_implemented" for r in report.results)


@pytest.mark.parametrize(
    ("number", "index", "key"), ENTRIES,
    ids=[f"{n}-{_corpus(n)[i][0].__name__}-{k}" for n, i, k in ENTRIES],
)
def test_wrong_program_rejected_with_its_diagnosis(number, index, key, monkeypatch):
    if key == "engine.timeout":
        monkeypatch.setattr(core, "DEFAULT_TIME_LIMIT", 1.5)
    fn, _ = _corpus(number)[index]
    report = getattr(further, CHECKS[number])(fn)
    assert not report.passed
    keys = [r.key for r in report.results if not r.passed]
    assert "engine.course_bug" not in keys, report
    assert key in keys, str(report)
    str(report), report._repr_html_(), report.to_dict()  # renders without raising


def test_every_further_exercise_is_mapped_and_exists():
    from lcedu.course.map import COURSE, FURTHER

    root = Path(__file__).resolve().parents[1]
    assert sorted(FURTHER) == [lesson.number for lesson in COURSE if "01" <= lesson.number <= "08"]
    for number, exercise in FURTHER.items():
        assert Path(exercise).name.startswith(number + "b_")
        assert (root / exercise).exists()
        assert (root / exercise.replace("exercises/", "solutions/", 1)).exists()


def test_the_catalog_registers_every_key_the_graders_use():
    import re

    catalog()
    source = "".join(
        p.read_text(encoding="utf-8")
        for p in (Path(further.__file__).parent).glob("*.py")
    )
    used = set(re.findall(r'(?:fail|t)\(\s*"([a-z0-9_]+\.[a-z0-9_.]+)"', source))
    assert used and used <= set(_registered), used - set(_registered)
