"""The graders' own corpus of wrong programs: each is rejected with the diagnosis it is for.

`tests/wrong_programs/exNN_*.py` register plausible mistakes (the lesson's sketches among
them) with the message key they must get. Every report must also render (text, HTML, JSON)
without the grader failing itself, and an untouched stub must get "not yet" from every check.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import lcedu.grading as grading
from lcedu.grading import core
from lcedu.grading.messages import catalog, t

ROOT = Path(__file__).resolve().parent / "wrong_programs"
CATALOG = catalog()  # imports every grader, so their case names are registered
STRUCTURE_CASES = {t("sparse.case.memory"), t("sparse.case.steps"), t("flash.case.tiled")}
CHECKS = sorted(n for n in grading.__all__ if n.startswith("check_"))


def _load(path: Path):
    spec = importlib.util.spec_from_file_location(f"wrong_programs_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.WRONG


ENTRIES = [
    (path.stem, check, key, fn, opts)
    for path in sorted(ROOT.glob("ex*.py"))
    for check, key, fn, opts in _load(path)
]


def _id(entry) -> str:
    stem, check, key, fn, _ = entry
    name = getattr(type(fn), "__qualname__", "?")
    try:
        name = fn.__name__
    except Exception:  # noqa: BLE001 - the corpus has a callable whose __name__ raises
        pass
    return f"{stem}-{name}"


def test_structure_cases_are_known():
    assert all(name in CATALOG.values() for name in STRUCTURE_CASES)


def test_corpus_has_at_least_ten_per_exercise():
    per_exercise: dict[str, int] = {}
    for stem, *_ in ENTRIES:
        per_exercise[stem] = per_exercise.get(stem, 0) + 1
    assert len(per_exercise) == 8, per_exercise
    assert min(per_exercise.values()) >= 10, per_exercise


@pytest.mark.parametrize("entry", ENTRIES, ids=[_id(e) for e in ENTRIES])
def test_wrong_program_is_rejected_with_its_diagnosis(entry, monkeypatch):
    stem, check, key, fn, opts = entry
    assert key in CATALOG, key
    if not opts.get("structure"):
        monkeypatch.setattr(core, "CASE_FILTER", lambda _, case: case.name not in STRUCTURE_CASES)
    if opts.get("hangs"):
        monkeypatch.setattr(core, "DEFAULT_TIME_LIMIT", 1.0)
        monkeypatch.setattr(core, "AFTER_TIMEOUT_LIMIT", 0.3)
        monkeypatch.setattr(core, "DEFAULT_BUDGET", 3.0)
    report = getattr(grading, check)(fn)
    assert not report.passed and not report.not_implemented
    keys = [r.key for r in report.results if not r.passed]
    assert "engine.course_bug" not in keys, str(report)
    assert key in keys, f"expected {key}, got {keys}\n{report}"
    json.dumps(report.to_dict())
    assert report._repr_html_() and str(report)


@pytest.mark.parametrize("check", CHECKS)
def test_untouched_stub_is_not_yet(check, monkeypatch):
    monkeypatch.setattr(core, "CASE_FILTER", lambda _, case: case.name not in STRUCTURE_CASES)

    def stub(*args, **kwargs):
        raise NotImplementedError("replace this line with your code")

    report = getattr(grading, check)(stub)
    assert report.not_implemented and report.n_passed == 0, str(report)
    assert "not yet" in str(report)
