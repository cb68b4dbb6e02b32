"""The course map in another language: titles from `lcedu/locale/<lang>/course.json`.

The map itself (`lcedu.course.map.COURSE`) stays the one source of notebooks and exercises;
this module only swaps in translated titles, sections and column names. Each title records
the English title it translates, so a renamed lesson shows up in `lcedu translate check`.
"""

from __future__ import annotations

import json
from pathlib import Path

from lcedu.course.map import COURSE, _aligned
from lcedu.locale import untranslated

__all__ = ["load", "missing", "course_table"]

LOCALE = Path(__file__).resolve().parent


def load(lang: str) -> dict:
    return json.loads((LOCALE / lang / "course.json").read_text(encoding="utf-8"))


def missing(lang: str) -> list[str]:
    """Lessons whose title has no current translation (empty list = complete)."""
    data = load(lang)
    out = []
    for lesson in COURSE:
        entry = data["titles"].get(lesson.number)
        if entry is None:
            out.append(f"lesson {lesson.number} has no title in lcedu/locale/{lang}/course.json")
        elif entry["en"] != lesson.title:
            out.append(
                f"lesson {lesson.number}'s English title changed to {lesson.title!r}: update "
                f"lcedu/locale/{lang}/course.json"
            )
        if lesson.section not in data["sections"] and not lesson.section.startswith("§"):
            out.append(f"section {lesson.section!r} has no translation in course.json")
    return out


def course_table(lang: str, markdown: bool = True) -> str:
    """The course map with translated titles, in the same shape as `course_table()`.

    Paths point at the translated copies (`<lang>/notebooks/...`, `<lang>/exercises/...`).
    """
    data = load(lang)
    english_only = untranslated(lang)
    rows = [tuple(data["columns"])]
    plain = [(*data["columns"][:3], data["file_column"], data["columns"][3])]
    for lesson in COURSE:
        entry = data["titles"].get(lesson.number)
        title = entry["ko"] if entry and entry["en"] == lesson.title else lesson.title
        section = data["sections"].get(lesson.section, lesson.section)
        ex = f"{lang}/{lesson.exercise} ({lesson.practises})" if lesson.exercise else "—"
        where = f"{lang}/{lesson.notebook}"
        if lesson.notebook in english_only:
            where = f"{lesson.notebook} ({data['english_only']})"
        rows.append((lesson.number, f"{title} — {where}", section, ex))
        plain.append((lesson.number, title, section, where, ex))
    if not markdown:
        return _aligned(plain)
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    lines += ["| " + " | ".join(r) + " |" for r in rows[1:]]
    return "\n".join(lines)
