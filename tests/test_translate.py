"""The Korean course: catalogs in sync with the English, copies identical apart from prose."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from lcedu.cli import main
from lcedu.course.map import COURSE
from lcedu.locale import course_map, glossary, translate

ROOT = Path(__file__).resolve().parents[1]
LANG = "ko"
HANGUL = re.compile("[\uac00-\ud7a3]")


def _copies() -> list[tuple[Path, Path]]:
    skip = translate.untranslated(LANG)
    return [
        (en, translate.translated_path(ROOT, LANG, en))
        for en in translate.english_notebooks(ROOT)
        if en.relative_to(ROOT).as_posix() not in skip
    ]


def test_the_repository_is_in_sync():
    problems, _ = translate.check(ROOT, LANG)
    assert not problems, "\n".join(map(str, problems))


def test_only_the_capstone_awaits_translation():
    # The list is a promise, not a hiding place: everything in it exists and is English-only.
    for rel in translate.untranslated(LANG):
        assert (ROOT / rel).exists(), f"{rel} is listed as untranslated but does not exist"
        assert not translate.translated_path(ROOT, LANG, ROOT / rel).exists()


@pytest.mark.parametrize("en, ko", _copies(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_copy_is_the_english_notebook_with_korean_prose(en, ko):
    """The identity check nbval would give: code, outputs and ids are the English ones."""
    e = nbformat.read(en, as_version=4)
    k = nbformat.read(ko, as_version=4)
    setup = f"lcedu-{LANG}-setup"
    k_cells = [c for c in k.cells if c.get("id") != setup]
    assert len(k.cells) - len(k_cells) <= (1 if en.parent.name == "exercises" else 0)
    assert [c.id for c in k_cells] == [c.id for c in e.cells]
    for ce, ck in zip(e.cells, k_cells):
        assert ce.cell_type == ck.cell_type
        if ce.cell_type == "code":
            assert ck == ce, f"code cell {ce.id} differs from {en.name}'s"
        else:
            assert HANGUL.search(ck.source), f"markdown cell {ce.id} has no Korean"
            assert ck.metadata == ce.metadata and ck.get("attachments") == ce.get("attachments")
    meta = dict(k.metadata)
    assert meta.get("lcedu", {}).pop("translation")["lang"] == LANG
    if not meta["lcedu"]:
        meta.pop("lcedu")
    assert meta == e.metadata


def test_no_code_cell_uses_a_path_relative_to_its_folder():
    # The copies live one folder deeper (ko/notebooks/), so `../x` would point elsewhere there.
    for en, _ in _copies():
        for c in nbformat.read(en, as_version=4).cells:
            if c.cell_type == "code":
                assert not re.search(r"""["']\.\.?/""", c.source), f"{en.name} cell {c.id}"


@pytest.fixture
def tmp_course(tmp_path):
    """A copy of the course's notebooks, copies and catalogs to break."""
    for d in ("notebooks", "solutions", "exercises", LANG):
        shutil.copytree(ROOT / d, tmp_path / d)
    shutil.copytree(translate.LOCALE, tmp_path / "locale")
    return tmp_path


def _problems(root):
    problems, _ = translate.check(root, LANG, root / "locale")
    return problems


def test_check_passes_on_the_copy(tmp_course):
    assert _problems(tmp_course) == []


def test_check_fails_when_an_english_cell_is_edited(tmp_course):
    path = tmp_course / "notebooks" / "02_sparse_attention.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source += "\n\nA sentence the translation does not have."
    nbformat.write(nb, path)
    problems = _problems(tmp_course)
    assert len(problems) == 1
    p = problems[0]
    assert (p.notebook, p.cell) == ("notebooks/02_sparse_attention.ipynb", cell.id)
    assert "changed since it was translated" in p.message
    assert translate.cell_sha256(cell.source) in p.message
    # ... and the build refuses to write a copy with stale prose in it.
    before = (tmp_course / LANG / "notebooks" / path.name).read_text(encoding="utf-8")
    written, build_problems = translate.build(tmp_course, LANG, tmp_course / "locale")
    assert written == [] and len(build_problems) == 1
    assert (tmp_course / LANG / "notebooks" / path.name).read_text(encoding="utf-8") == before


def test_check_fails_on_a_cell_without_translation(tmp_course):
    path = tmp_course / "solutions" / "05_yarn.ipynb"
    nb = nbformat.read(path, as_version=4)
    new = nbformat.v4.new_markdown_cell("A new paragraph.")
    nb.cells.insert(1, new)
    nbformat.write(nb, path)
    messages = [str(p) for p in _problems(tmp_course)]
    # The solution and its exercise (whose prose is the solution's) both lack it.
    assert any(m.startswith(f"solutions/05_yarn.ipynb cell {new.id}: no translation")
               for m in messages), messages


def test_check_fails_on_a_missing_catalog_and_a_new_notebook(tmp_course):
    (tmp_course / "locale" / LANG / "notebooks" / "06_alibi.json").unlink()
    shutil.copy(tmp_course / "notebooks" / "00_welcome.ipynb",
                tmp_course / "notebooks" / "99_new.ipynb")
    messages = [str(p) for p in _problems(tmp_course)]
    assert any("notebooks/06_alibi.ipynb: no translation catalog" in m for m in messages)
    assert any("notebooks/99_new.ipynb: no translation catalog" in m for m in messages)


def test_check_fails_when_a_copy_is_stale(tmp_course):
    # New outputs in the English notebook (re-executed) make the copy stale, not the prose.
    path = tmp_course / "notebooks" / "01_why_long_context.ipynb"
    nb = nbformat.read(path, as_version=4)
    code = next(c for c in nb.cells if c.cell_type == "code")
    code.outputs = [nbformat.v4.new_output("stream", text="new output\n")]
    nbformat.write(nb, path)
    (tmp_course / LANG / "solutions" / "01_kv_cache_memory.ipynb").unlink()
    messages = [str(p) for p in _problems(tmp_course)]
    assert any(m.startswith(f"{LANG}/notebooks/01_why_long_context.ipynb: stale") for m in messages)
    assert any(m.startswith(f"{LANG}/solutions/01_kv_cache_memory.ipynb: missing")
               for m in messages)
    written, problems = translate.build(tmp_course, LANG, tmp_course / "locale")
    assert problems == [] and len(written) == 2
    assert _problems(tmp_course) == []


def test_check_fails_on_an_orphan_copy_and_an_orphan_entry(tmp_course):
    shutil.copy(tmp_course / LANG / "notebooks" / "00_welcome.ipynb",
                tmp_course / LANG / "notebooks" / "00_old_name.ipynb")
    cat = tmp_course / "locale" / LANG / "notebooks" / "04_rope_and_position_interpolation.json"
    data = json.loads(cat.read_text(encoding="utf-8"))
    data["cells"]["deadbeef"] = {"en_sha256": "0" * 64, "ko": "지워진 셀"}
    cat.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    messages = [str(p) for p in _problems(tmp_course)]
    assert any("00_old_name.ipynb: has no English notebook" in m for m in messages)
    assert any("cell deadbeef: catalog entry for a cell the notebook no longer has" in m
               for m in messages)


def test_check_fails_on_a_glossary_variant(tmp_course):
    cat = tmp_course / "locale" / LANG / "solutions" / "03_flash_attention.json"
    data = json.loads(cat.read_text(encoding="utf-8"))
    cid = next(iter(data["cells"]))
    data["cells"][cid]["ko"] += " 소프트맥스"
    cat.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    messages = [str(p) for p in _problems(tmp_course)]
    assert any(f"cell {cid}: glossary: '소프트맥스'" in m for m in messages), messages


def test_build_keeps_a_learners_edits(tmp_course):
    target = tmp_course / LANG / "exercises" / "01_kv_cache_memory.ipynb"
    nb = nbformat.read(target, as_version=4)
    stub = next(c for c in nb.cells if c.cell_type == "code" and "NotImplementedError" in c.source)
    stub.source = stub.source.replace("raise NotImplementedError", "return 0  #")
    nbformat.write(nb, target)
    en = tmp_course / "exercises" / "01_kv_cache_memory.ipynb"
    en_nb = nbformat.read(en, as_version=4)
    en_nb.cells[-1].outputs = []  # the English changed too, so a rebuild would want to write
    nbformat.write(en_nb, en)
    written, problems = translate.build(tmp_course, LANG, tmp_course / "locale")
    assert written == [] and "has your own edits" in str(problems[0])
    assert "return 0  #" in target.read_text(encoding="utf-8")
    written, problems = translate.build(tmp_course, LANG, tmp_course / "locale", force=True)
    assert problems == [] and written == [target]


def test_exercise_copies_switch_the_graders_language_when_they_can(monkeypatch, tmp_course):
    monkeypatch.setattr(translate, "_grading_speaks", lambda lang: True)
    en = tmp_course / "exercises" / "06_alibi.ipynb"
    nb, problems = translate.translate_notebook(
        nbformat.read(en, as_version=4), "exercises/06_alibi.ipynb", LANG, tmp_course,
        tmp_course / "locale",
    )
    assert problems == []
    assert nb.cells[0].id == "lcedu-exercise-header" and HANGUL.search(nb.cells[0].source)
    assert nb.cells[1].id == f"lcedu-{LANG}-setup"
    assert nb.cells[1].source.endswith(f'set_language("{LANG}")')
    # Notebooks and solutions never get it.
    sol, _ = translate.translate_notebook(
        nbformat.read(tmp_course / "solutions" / "06_alibi.ipynb", as_version=4),
        "solutions/06_alibi.ipynb", LANG, tmp_course, tmp_course / "locale",
    )
    assert all(c.id != f"lcedu-{LANG}-setup" for c in sol.cells)


def test_unknown_language_is_a_clear_error():
    with pytest.raises(ValueError, match="no translation for language 'xx'"):
        translate.catalog_path("xx", "notebooks", "00_welcome")


def test_glossary_is_rendered_and_its_variants_are_caught():
    terms = glossary.load(LANG)
    md = (translate.LOCALE / LANG / "glossary.md").read_text(encoding="utf-8")
    assert md == glossary.render(terms)
    kos = [t["ko"] for t in terms]
    assert len(set(kos)) == len(kos), "one translation per term"
    for t in terms:
        for bad in t.get("avoid", []):
            assert bad not in t["ko"], f"{t['en']}: its own translation contains {bad!r}"
            assert glossary.violations(f"문장 {bad} 문장", terms)
    assert glossary.violations("어텐션과 슬라이딩 윈도우", terms) == []


def test_glossary_covers_the_issues_terms():
    kos = " ".join(t["ko"] for t in glossary.load(LANG))
    for term in ("어텐션", "슬라이딩 윈도우", "위치 보간", "로그-합-지수"):
        assert term in kos


def test_course_map_in_korean(capsys):
    assert course_map.missing(LANG) == []
    assert main(["course", "--lang", LANG]) == 0
    out = capsys.readouterr().out
    data = course_map.load(LANG)
    for lesson in COURSE:
        assert data["titles"][lesson.number]["ko"] in out
    assert f"{LANG}/notebooks/00_welcome.ipynb" in out


def test_course_map_rejects_an_unknown_language(capsys):
    assert main(["course", "--lang", "xx"]) == 2
    assert "no map in 'xx'" in capsys.readouterr().err


def test_course_map_notices_a_renamed_lesson(monkeypatch):
    import dataclasses

    renamed = tuple(
        dataclasses.replace(x, title="Something else") if x.number == "03" else x for x in COURSE
    )
    monkeypatch.setattr(course_map, "COURSE", renamed)
    assert course_map.missing(LANG) == [
        "lesson 03's English title changed to 'Something else': update "
        f"lcedu/locale/{LANG}/course.json"
    ]


def test_cli_check_reports_in_sync(capsys):
    assert main(["translate", "check", "--lang", LANG]) == 0
    assert "in sync" in capsys.readouterr().out


def test_readme_ko_points_at_the_korean_entry_points():
    text = (ROOT / "README.ko.md").read_text(encoding="utf-8")
    assert "make lab LAB_LANG=ko" in text and "make test" in text
    assert "lcedu course --lang ko" in text
    for lesson in COURSE:
        assert course_map.load(LANG)["titles"][lesson.number]["ko"] in text
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    assert "ko/notebooks/00_welcome.ipynb" in makefile
    assert "translate check --lang ko" in makefile


def test_readme_ko_has_the_current_map():
    text = (ROOT / "README.ko.md").read_text(encoding="utf-8")
    assert course_map.course_table(LANG) in text, "regenerate README.ko.md's course map"


# ----- the graders in Korean ---------------------------------------------------------------

def _kv_right(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1, bytes_per_element=2):
    from lcedu.kvcache.memory import kv_cache_bytes

    return kv_cache_bytes(num_layers, num_kv_heads, head_dim, seq_len, batch_size=batch_size,
                          bytes_per_element=bytes_per_element)


def _kv_keys_only(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1,
                  bytes_per_element=2):
    return num_layers * num_kv_heads * head_dim * seq_len * batch_size * bytes_per_element


def _kv_stub(num_layers, num_kv_heads, head_dim, seq_len, *, batch_size=1, bytes_per_element=2):
    raise NotImplementedError("kv_cache_bytes: replace this line with your implementation")


def _mask_right(n, window, *, causal=False):
    from lcedu.attention.masks import sliding_window_mask

    return sliding_window_mask(n, window, causal=causal)


def _mask_off_by_one(n, window, *, causal=False):
    import torch

    d = torch.arange(n)[None, :] - torch.arange(n)[:, None]
    ok = (d >= -window) & (d < window)  # the lesson's 2·window keys
    return ok & (d <= 0) if causal else ok


def _verdicts(report):
    return [(r.passed, r.not_implemented, r.key) for r in report.results]


@pytest.mark.parametrize(
    "check, fns",
    [
        ("check_kv_cache_bytes", (_kv_right, _kv_keys_only, _kv_stub)),
        ("check_sliding_window_mask", (_mask_right, _mask_off_by_one)),
    ],
)
def test_korean_graders_give_the_same_verdicts(check, fns):
    messages = pytest.importorskip("lcedu.grading.messages")
    import lcedu.grading as grading

    checker = getattr(grading, check)
    try:
        for fn in fns:
            messages.set_language("en")
            en = checker(fn)
            en_text = str(en)  # reports render in the language current when shown
            messages.set_language(LANG)
            ko = checker(fn)
            ko_text = str(ko)
            assert _verdicts(ko) == _verdicts(en), fn.__name__
            assert ko.passed == en.passed
            if not en.passed:  # the Korean report really is Korean
                assert HANGUL.search(ko_text) and not HANGUL.search(en_text), ko_text
    finally:
        messages.set_language("en")
    assert messages.get_language() == "en"


def test_grader_translations_keep_their_fields():
    path = translate.LOCALE / LANG / "grading.json"
    texts = json.loads(path.read_text(encoding="utf-8"))
    hashes = json.loads((translate.LOCALE / LANG / "grading.en_sha256.json").read_text())
    assert set(texts) == set(hashes)
    try:
        from lcedu.grading import messages
    except ImportError:
        pytest.skip("these graders have no message table (lcedu.grading.messages)")
    english = messages.catalog()
    for key, text in texts.items():
        assert key in english, f"{key} is not a grader text"
        assert translate.grading_fields(text) == translate.grading_fields(english[key]), key


def test_todo_and_apply_resync_an_edited_cell(tmp_course):
    path = tmp_course / "solutions" / "04_rope_and_pi.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source = cell.source.replace("Two functions", "Two short functions")
    new = nbformat.v4.new_markdown_cell("One more sentence.")
    nb.cells.append(new)
    nbformat.write(nb, path)
    from lcedu.course import exercises

    exercises.build([path], execute=False, force=True)  # what `lcedu exercises build` does
    entries = translate.todo(_problems(tmp_course))
    # One entry per catalog key: the exercise shares the solution's cells, so no duplicates.
    assert sorted(e["cell"] for e in entries) == sorted([cell.id, new.id])
    edited = next(e for e in entries if e["cell"] == cell.id)
    assert edited["ko_old"] and edited["ko"] == edited["ko_old"]
    assert edited["catalog"].endswith("solutions/04_rope_and_pi.json")
    added = next(e for e in entries if e["cell"] == new.id)
    assert added["ko_old"] is None and added["catalog"].endswith("solutions/04_rope_and_pi.json")
    # Untouched entries are skipped: an unchanged translation of changed English is not current.
    applied, skipped = translate.apply(entries, tmp_course)
    assert applied == [] and len(skipped) == 2
    edited["ko"] = edited["ko_old"].replace("함수 두 개", "짧은 함수 두 개")
    added["ko"] = "한 문장 더."
    applied, _ = translate.apply(entries, tmp_course)
    assert len(applied) == 2
    written, problems = translate.build(tmp_course, LANG, tmp_course / "locale")
    assert problems == [] and _problems(tmp_course) == []
    ko = nbformat.read(tmp_course / LANG / "exercises" / "04_rope_and_pi.ipynb", as_version=4)
    assert ko.cells[-1].source == "한 문장 더."


_NUM = re.compile(r"\d+(?:[.,]\d+)*")
_CODE = re.compile(r"`[^`\n]+`")
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+\$", re.S)


_CATALOGS = sorted((translate.LOCALE / LANG).glob("*/*.json"))


@pytest.mark.parametrize("cat", _CATALOGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_translations_keep_every_number_code_span_and_formula(cat):
    """Prose changes language; numbers, code and mathematics do not (paths gain `ko/`)."""
    data = json.loads(cat.read_text(encoding="utf-8"))
    english = {c.id: c.source for c in nbformat.read(ROOT / data["source"], as_version=4).cells}
    for cid, entry in data["cells"].items():
        en, ko = english[cid], entry["ko"]
        ko_code = {re.sub(r"\bko/(notebooks|solutions|exercises)/", r"\1/", c)
                   for c in _CODE.findall(ko)}
        assert set(_CODE.findall(en)) <= ko_code, (cat.name, cid)
        assert set(_MATH.findall(en)) <= set(_MATH.findall(ko)), (cat.name, cid)
        assert set(_NUM.findall(en)) <= set(_NUM.findall(ko)), (cat.name, cid)


def test_apply_writes_grader_texts_with_their_hashes(tmp_course):
    entry = {
        "catalog": f"locale/{LANG}/grading.json", "notebook": "grading", "cell": "demo.key",
        "en": "{check}: demo", "en_sha256": translate.cell_sha256("{check}: demo"),
        "ko_old": None, "ko": "{check}: 시연",
    }
    applied, skipped = translate.apply([entry], tmp_course)
    assert applied and not skipped
    texts = json.loads((tmp_course / "locale" / LANG / "grading.json").read_text(encoding="utf-8"))
    hashes = json.loads((tmp_course / "locale" / LANG / "grading.en_sha256.json").read_text())
    assert texts["demo.key"] == "{check}: 시연" and hashes["demo.key"] == entry["en_sha256"]
    assert list(texts) == sorted(texts)
