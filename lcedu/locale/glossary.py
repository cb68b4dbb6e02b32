"""The Korean–English glossary: one term, one translation, everywhere.

`lcedu/locale/<lang>/glossary.json` is the source (a list of terms, each with its translation
and the variants to avoid); `glossary.md` is rendered from it by `lcedu translate build`.
Usage follows the source lesson (shared/seed/long_context_models.ko.md): method names and the
terms Korean ML practitioners keep in English stay English.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["load", "render", "violations"]

LOCALE = Path(__file__).resolve().parent


def load(lang: str = "ko") -> list[dict]:
    path = LOCALE / lang / "glossary.json"
    return json.loads(path.read_text(encoding="utf-8"))["terms"]


def render(terms: list[dict]) -> str:
    """The glossary as a Markdown page (what `glossary.md` must contain)."""
    lines = [
        "# 용어집 (Korean–English glossary)",
        "",
        "Generated from `glossary.json` by `lcedu translate build`; edit the JSON, not this file.",
        "",
        "한 용어에는 하나의 번역만 씁니다. '영어 유지'는 한국 ML 실무자가 영어 그대로 쓰는 용어로, "
        "처음 나올 때 한국어 풀이를 괄호로 덧붙입니다. '피할 표현'은 `lcedu translate check`가 "
        "번역문에서 찾아내 실패로 보고합니다.",
        "",
        "| English | 한국어 | 피할 표현 | 메모 |",
        "|---|---|---|---|",
    ]
    for t in terms:
        avoid = ", ".join(t.get("avoid", [])) or "—"
        lines.append(f"| {t['en']} | {t['ko']} | {avoid} | {t.get('note', '')} |")
    return "\n".join(lines) + "\n"


def violations(text: str, terms: list[dict]) -> list[str]:
    """Each avoided variant found in `text`, with the term it should have been."""
    found = []
    for t in terms:
        for bad in t.get("avoid", []):
            if re.search(re.escape(bad), text):
                found.append(f"'{bad}' (use '{t['ko']}' for {t['en']})")
    return found
