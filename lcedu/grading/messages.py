"""One table of every learner-facing grader text, keyed by stable ids, in English and others.

The engine's frame words live here; each topic grader registers its hints and diagnoses
with `register` when it is imported, so `catalog()` is the whole table. Other languages load
from ``lcedu/locale/<lang>/grading.json`` ({key: text}), falling back to English per key.
A verdict never depends on the language: graders decide by keys and numbers, then format.
"""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

__all__ = [
    "t",
    "text",
    "register",
    "catalog",
    "set_language",
    "get_language",
    "translations",
]

_LOCALE = Path(__file__).resolve().parents[1] / "locale"

ENGLISH: dict[str, str] = {
    # ----- frame words -----------------------------------------------------------------
    "frame.all_passed": "{check}: all {total} cases passed. Well done!",
    "frame.not_yet": "{check}: not yet ({why})",
    "frame.some_passed": "{check}: {passed}/{total} cases passed",
    "frame.pass": "PASS",
    "frame.fail": "FAIL",
    "frame.max_error": "max error {error}",
    "frame.tolerance": " (tolerance {tol})",
    "frame.input": "input: {shown}",
    "frame.hint": "hint: {hint}",
    "frame.printed": "your function printed: {text}",
    "frame.same_as_above": "the same error as in case {case} above",
    "frame.no_fork": (
        "note: this system cannot run your function in a separate process, so the time limit "
        "is only enforced where signals work (a stuck function may need Kernel → Interrupt) "
        "and memory rules are not measured"
    ),
    "engine.not_implemented": (
        "not implemented yet: replace the `raise NotImplementedError(...)` line with your code, "
        "run that cell, then run this check again"
    ),
    "engine.not_callable": (
        "expected a function, got {kind}; pass the function itself, without calling it"
    ),
    "engine.timeout": (
        "no answer within {seconds} s, so the grader stopped your function; look for a loop "
        "that never ends, or a Python loop over every element"
    ),
    "engine.budget_spent": (
        "not run: this check's time budget ({seconds} s in all) was used up by earlier cases"
    ),
    "engine.raised": "your function raised {exc}{where}",
    "engine.raised_in_library": "your function raised {exc} inside {lib}, called from {where}",
    "engine.raised_in_course": (
        "the course's own code ({where}) raised {exc} while working with what your function "
        "gave it or returned"
    ),
    "engine.raised_in_course_called": (
        "your function called the course's {where}, which raised {exc}"
    ),
    "engine.course_bug": (
        "the grader itself failed ({exc}); this is a bug in the course, not in your code: "
        "please report it"
    ),
    "engine.at_line": " (at line {line}: `{code}`)",
    "engine.your_line": "your line {line}: `{code}`",
    "engine.recursion": "your function recursed too deeply (it calls itself without end)",
    "engine.memory": "your function ran out of memory ({exc})",
    "engine.died": (
        "your function ended the Python process it ran in ({how}), so no result came back; "
        "do not call exit(), os._exit() or kill signals inside it"
    ),
    "engine.killed": (
        "the process your function ran in was stopped from outside ({how}); the system does "
        "that when a program uses far more memory than the machine has: look for a huge "
        "allocation"
    ),
    "engine.unsendable": "a {kind} that the grader could not read back ({why})",
    "engine.changed_input": (
        "your function changed `{name}` in place; work on new tensors (e.g. `x = x * s`, "
        "not `x *= s` or `x[...] = ...`) so the caller's inputs stay as they were"
    ),
    "engine.message_unprintable": "<a message that could not be shown: str() raised {kind}>",
    "engine.huge_int": "an integer with about {digits:,} digits",
    # ----- comparisons -----------------------------------------------------------------
    "cmp.not_tensor": "{what} should be a torch.Tensor, but your function returned {kind}",
    "cmp.shape": "{what} has shape {got}, expected {want}",
    "cmp.dtype": "{what} has dtype {got}, expected {want} (the same dtype as the inputs)",
    "cmp.device": "{what} is on device {got}, expected {want} (the same device as the inputs)",
    "cmp.not_bool": "{what} should be a boolean tensor (True = may attend), got dtype {got}",
    "cmp.mask_entries": (
        "{what} differs from the expected mask in {count} {entries} (first at index {first}: "
        "got {got}, expected {want})"
    ),
    "cmp.entry": "entry",
    "cmp.entries": "entries",
    "cmp.not_exact": "{what} is not exactly the expected value",
    "cmp.nan": "{what} contains NaN; look for 0/0, inf - inf, or exp() of very large numbers",
    "cmp.inf": "{what} contains inf; look for exp() overflow or division by zero",
    "cmp.nonfinite_places": "{what} has infinities or NaNs in different places than expected",
    "cmp.values": "{what} does not match the expected values",
    "cmp.raise_wrong": (
        "{what} should raise {want}, but your function raised {got}{detail}"
    ),
    "cmp.raise_none": "{what} should raise {want}, but your function returned {got}",
    "cmp.bad_input": "bad input",
    "cmp.not_number": "{what} should be a number, but your function returned {kind}",
    "cmp.structure_bound": (
        "{what}: {measured} (limit {limit}); {why}"
    ),
}

_registered: dict[str, str] = dict(ENGLISH)
_by_text: dict[str, str] = {}
_language = "en"
_translated: dict[str, str] = {}


def register(texts: dict[str, str]) -> dict[str, str]:
    """Add a grader module's English texts to the table (keys must be new or identical)."""
    for key, text in texts.items():
        old = _registered.get(key)
        if old is not None and old != text:
            raise ValueError(f"message key {key!r} is registered twice with different texts")
        _registered[key] = text
        _by_text.setdefault(text, key)
    return texts


def catalog() -> dict[str, str]:
    """Every English text of every grader, keyed by id (imports all topic graders)."""
    import importlib

    for mod in ("kv_memory", "sparse", "flash", "rope", "alibi", "ring", "kvcache", "further"):
        importlib.import_module(f"lcedu.grading.{mod}")
    return dict(sorted(_registered.items()))


def translations(lang: str) -> dict[str, str]:
    """The texts of `lang` found in ``lcedu/locale/<lang>/grading.json`` ({} if none)."""
    path = _LOCALE / lang / "grading.json"
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold one JSON object {{key: text}}")
    return {str(k): str(v) for k, v in data.items()}


def set_language(lang: str) -> None:
    """Show grader texts in `lang` ("en", "ko", …); keys without a translation stay English."""
    global _language, _translated
    if not isinstance(lang, str) or not lang.strip() or "/" in lang or "\\" in lang:
        raise ValueError(f"the language must be a short code such as 'en' or 'ko', got {lang!r}")
    lang = lang.strip()
    _translated = {} if lang == "en" else translations(lang)
    _language = lang


def get_language() -> str:
    """The language grader texts are shown in."""
    return _language


class _Safe(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _format(text: str, kw: dict[str, Any]) -> str:
    try:
        return string.Formatter().vformat(text, (), _Safe(kw))
    except Exception:  # noqa: BLE001 - a bad translation must not hide the verdict
        return text


def t(key: str, **kw: Any) -> str:
    """The text for `key` in the current language, with `kw` filled in."""
    english = _registered.get(key, key)
    text = _translated.get(key, english)
    out = _format(text, kw)
    if text is not english and out == text and kw and "{" in english:
        out = _format(english, kw)  # a translation whose fields do not fit: use English
    return out


def text(english: str) -> str:
    """`english` in the current language, if it is a registered text (a case name, a hint)."""
    if not _translated or not isinstance(english, str):
        return english
    if not _by_text:
        for key, value in _registered.items():
            _by_text.setdefault(value, key)
    key = _by_text.get(english)
    return t(key) if key is not None else english
