"""The course in other languages: translation catalogs, the glossary and the course map's titles.

Data lives in `lcedu/locale/<lang>/` (JSON, plus the rendered `glossary.md`); `translate`
writes and checks the translated notebooks from it, `course_map` prints the translated map.
This layer sits above the graders (it translates their texts too).
"""

from __future__ import annotations

import json
from pathlib import Path

__all__ = ["LANGUAGES", "UNTRANSLATED", "untranslated"]

LANGUAGES = ("ko",)
UNTRANSLATED = "untranslated.json"  # notebooks knowingly left in English for now
_LOCALE = Path(__file__).resolve().parent


def _lang(lang: str) -> str:
    if lang not in LANGUAGES:
        raise ValueError(
            f"no translation for language {lang!r}; available: {', '.join(LANGUAGES)}"
        )
    return lang


def untranslated(lang: str, locale: Path = _LOCALE) -> set[str]:
    """Repo-relative notebook paths deliberately not translated yet (printed by `check`)."""
    path = Path(locale) / _lang(lang) / UNTRANSLATED
    if not path.exists():
        return set()
    return set(json.loads(path.read_text(encoding="utf-8")))
