"""Translated copies of the course: markdown from catalogs, code and outputs from the English.

A catalog `lcedu/locale/<lang>/<folder>/<stem>.json` maps each markdown cell id (nbformat 4.5)
of one English notebook to its translation and the sha256 of the English source it translates.
`build` writes `<lang>/<folder>/<name>` (e.g. `ko/notebooks/02_sparse_attention.ipynb`) with
every markdown cell replaced and every code cell, output and figure copied unchanged; `check`
lists what is out of sync (an English cell edited since its translation, a cell or notebook
with no translation, a generated copy that is stale). Same idea as `lcedu.course.exercises`.

Exercises are not translated on their own: `ko/exercises/<name>` is built from the committed
English `exercises/<name>`, and each markdown cell is looked up first in
`locale/<lang>/exercises/<stem>.json` (only the generated header lives there), then in
`locale/<lang>/solutions/<stem>.json` (the exercise's other markdown cells are the solution's,
same id, same text). When the graders can speak the language (`lcedu.grading.messages`),
one code cell (id `lcedu-<lang>-setup`) is inserted after the header to switch them on; it is
the only code difference `check` allows.
"""

from __future__ import annotations

import copy
import hashlib
import json
import string
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from lcedu._checks import OneLineParser
from lcedu.locale import LANGUAGES, UNTRANSLATED, _lang, untranslated

__all__ = [
    "FOLDERS",
    "LANGUAGES",
    "cell_sha256",
    "catalog_path",
    "load_catalog",
    "translated_path",
    "translate_notebook",
    "setup_cell",
    "cells_digest",
    "learner_edited",
    "build",
    "check",
    "Problem",
    "grading_fields",
    "todo",
    "apply",
    "main",
]

FOLDERS = ("notebooks", "solutions", "exercises")
LOCALE = Path(__file__).resolve().parents[1] / "locale"
HEADER_ID = "lcedu-exercise-header"  # the exercise generator's header cell


def cell_sha256(source: str) -> str:
    """The hash a catalog records: sha256 of the English cell's source string (UTF-8)."""
    return hashlib.sha256(source.encode("utf-8")).hexdigest()


def catalog_path(lang: str, folder: str, stem: str, locale: Path = LOCALE) -> Path:
    return Path(locale) / _lang(lang) / folder / f"{stem}.json"


def load_catalog(lang: str, folder: str, stem: str, locale: Path = LOCALE) -> dict | None:
    """The catalog's `cells` dict, or None when there is no catalog for this notebook."""
    path = catalog_path(lang, folder, stem, locale)
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return data.get("cells", {})


def translated_path(root: Path, lang: str, english: Path) -> Path:
    """`notebooks/x.ipynb` -> `<root>/<lang>/notebooks/x.ipynb`."""
    english = Path(english)
    return Path(root) / _lang(lang) / english.parent.name / english.name


def _grading_speaks(lang: str) -> bool:
    """True when the graders have a message table to switch (lcedu.grading.messages)."""
    try:
        from lcedu.grading import messages
    except ImportError:
        return False
    return hasattr(messages, "set_language")


def setup_cell(lang: str) -> nbformat.NotebookNode:
    """The one code cell a translated exercise adds: graders' messages in `lang`."""
    cell = nbformat.v4.new_code_cell(
        f'from lcedu.grading.messages import set_language\n\nset_language("{_lang(lang)}")'
    )
    cell.id = f"lcedu-{lang}-setup"
    return cell


@dataclass
class Problem:
    """One reason a translation is out of sync: which notebook, which cell, what to do."""

    notebook: str
    message: str
    cell: str | None = None
    english: str | None = field(default=None, repr=False)
    catalog: str | None = field(default=None, repr=False)  # where its translation belongs
    old: str | None = field(default=None, repr=False)  # the translation of the old English

    def __str__(self) -> str:
        where = self.notebook if self.cell is None else f"{self.notebook} cell {self.cell}"
        return f"{where}: {self.message}"


def _rel(path: Path, root: Path) -> str:
    path, root = Path(path).resolve(), Path(root).resolve()
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def _lookup(
    catalogs: list[tuple[str, dict]], cell, target: str
) -> tuple[str | None, Problem | None]:
    """The translation of one English markdown cell, or the problem with it.

    `target` is the catalog a missing translation belongs in.
    """
    want = cell_sha256(cell.source)
    stale = old = None
    for name, cat in catalogs:
        entry = cat.get(cell.id)
        if entry is None:
            continue
        if entry.get("en_sha256") == want:
            return entry["ko"], None
        stale, old = name, entry.get("ko")
    if stale is not None:
        msg = (
            f"the English text changed since it was translated (catalog {stale}); "
            f"update the translation and set en_sha256 to {want}"
        )
    else:
        msg = f"no translation (add it to {target}, en_sha256 {want})"
    return None, Problem("", msg, cell.id, cell.source, stale or target, old)


def translate_notebook(
    english: nbformat.NotebookNode, rel: str, lang: str, root: Path, locale: Path = LOCALE
) -> tuple[nbformat.NotebookNode | None, list[Problem]]:
    """The translated copy of one English notebook (repo-relative path `rel`), or problems.

    Returns (None, problems) when any markdown cell has no current translation.
    """
    folder, name = Path(rel).parent.name, Path(rel).name
    stem = Path(name).stem
    catalogs: list[tuple[str, dict]] = []
    own: dict = {}
    for f in (folder, "solutions") if folder == "exercises" else (folder,):
        cat = load_catalog(lang, f, stem, locale)
        if cat is not None:
            catalogs.append((_rel(catalog_path(lang, f, stem, locale), root), cat))
            own = cat if f == folder else own
    if not catalogs:
        where = _rel(catalog_path(lang, folder, stem, locale), root)
        catalogs = [(where, {})]  # every cell is then reported missing, for `todo`
        problems = [Problem(rel, f"no translation catalog (expected {where})")]
    else:
        problems = []
    nb = copy.deepcopy(english)
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        if "id" not in cell:
            problems.append(Problem(rel, "a markdown cell has no id (nbformat >= 4.5 needed)"))
            continue
        home = folder if folder != "exercises" or cell.id == HEADER_ID else "solutions"
        text, problem = _lookup(catalogs, cell, _rel(catalog_path(lang, home, stem, locale), root))
        if problem is not None:
            problem.notebook = rel
            problems.append(problem)
        else:
            cell.source = text
    known = {c.id for c in english.cells if c.cell_type == "markdown" and "id" in c}
    for cid in own:
        if cid not in known:
            where = _rel(catalog_path(lang, folder, stem, locale), root)
            problems.append(
                Problem(rel, f"catalog entry for a cell the notebook no longer has ({where})", cid)
            )
    if problems:
        return None, problems
    if folder == "exercises" and _grading_speaks(lang):
        at = 1 if nb.cells and nb.cells[0].get("id") == "lcedu-exercise-header" else 0
        nb.cells.insert(at, setup_cell(lang))
    nb.metadata.setdefault("lcedu", {})["translation"] = {
        "lang": lang,
        "source": rel,
        "cells_sha256": cells_digest(nb),
    }
    return nb, []


def cells_digest(nb: nbformat.NotebookNode) -> str:
    """sha256 of every cell's (type, source): what a learner's edit of a copy changes."""
    cells = [(c.cell_type, c.source) for c in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode("utf-8")).hexdigest()


def learner_edited(path: Path) -> bool:
    """True when a generated copy's cells differ from the ones it was generated with."""
    nb = nbformat.read(path, as_version=4)
    recorded = nb.metadata.get("lcedu", {}).get("translation", {}).get("cells_sha256")
    return recorded is not None and recorded != cells_digest(nb)


def english_notebooks(root: Path) -> list[Path]:
    root = Path(root)
    return [p for f in FOLDERS for p in sorted((root / f).glob("*.ipynb"))]


def _render(nb: nbformat.NotebookNode) -> str:
    return nbformat.writes(nb) + "\n"


def _glossary_problems(lang: str, root: Path, locale: Path) -> list[Problem]:
    from lcedu.locale import glossary

    md = Path(locale) / lang / "glossary.md"
    rel = _rel(md, root)
    gl = glossary.load(lang)
    if not md.exists() or md.read_text(encoding="utf-8") != glossary.render(gl):
        return [Problem(rel, "stale: regenerate it with `lcedu translate build`")]
    return []


def _term_problems(lang: str, root: Path, locale: Path) -> list[Problem]:
    """Translations that use a variant the glossary says to avoid (one term, one translation)."""
    from lcedu.locale import glossary

    terms = glossary.load(lang)
    problems = []
    for folder in FOLDERS:
        for path in sorted((Path(locale) / lang / folder).glob("*.json")):
            cells = json.loads(path.read_text(encoding="utf-8")).get("cells", {})
            for cid, entry in cells.items():
                for v in glossary.violations(entry.get("ko", ""), terms):
                    problems.append(Problem(_rel(path, root), f"glossary: {v}", cid))
    grading = Path(locale) / lang / "grading.json"
    if grading.exists():
        for key, text in json.loads(grading.read_text(encoding="utf-8")).items():
            for v in glossary.violations(str(text), terms):
                problems.append(Problem(_rel(grading, root), f"glossary: {v}", key))
    return problems


def grading_fields(text: str) -> set[str]:
    """The `{field}` names a grader text fills in (a translation must keep exactly these)."""
    return {f for _, f, _, _ in string.Formatter().parse(text) if f}


def _grading_problems(lang: str, root: Path, locale: Path) -> list[Problem]:
    """Grader texts (lcedu.grading.messages) without a current translation in grading.json.

    `grading.json` is the graders' format ({key: text}); `grading.en_sha256.json` records the
    English text each translation was made from, so an edited English message is caught.
    """
    try:
        from lcedu.grading import messages
    except ImportError:  # graders without a message table: nothing to translate
        return []
    english = messages.catalog()
    path = Path(locale) / lang / "grading.json"
    rel = _rel(path, root)
    texts = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    hashes_path = Path(locale) / lang / "grading.en_sha256.json"
    hashes = (
        json.loads(hashes_path.read_text(encoding="utf-8")) if hashes_path.exists() else {}
    )
    problems = []
    for key, text in english.items():
        want = cell_sha256(text)
        if key not in texts:
            problems.append(Problem(rel, f"no translation (English: {text!r}; en_sha256 {want} "
                                         "in grading.en_sha256.json)", key, text, rel))
        elif hashes.get(key) != want:
            problems.append(Problem(rel, "the English text changed since it was translated; "
                                         f"update it and set its en_sha256 to {want}", key, text,
                                    rel, texts[key]))
        elif grading_fields(texts[key]) != grading_fields(text):
            problems.append(Problem(rel, f"fills in {sorted(grading_fields(texts[key]))} but "
                                         f"the English fills in {sorted(grading_fields(text))}",
                                    key, text))
    for key in sorted(set(texts) - set(english)):
        problems.append(Problem(rel, "no grader uses this key any more (remove it)", key))
    return problems


def build(
    root: Path, lang: str, locale: Path = LOCALE, *, force: bool = False
) -> tuple[list[Path], list[Problem]]:
    """Write every translatable notebook's copy under `<root>/<lang>/`; return written, problems.

    Notebooks with a problem (or listed in untranslated.json) are not written, and neither is
    a copy a learner has edited (its cells differ from the ones it was generated with) unless
    `force` is set: the exercises are the learner's to fill in.
    """
    root = Path(root)
    skip = untranslated(lang, locale)
    written, problems = [], []
    for path in english_notebooks(root):
        rel = path.relative_to(root).as_posix()
        if rel in skip:
            continue
        nb, probs = translate_notebook(nbformat.read(path, as_version=4), rel, lang, root, locale)
        problems += probs
        if nb is None:
            continue
        target = translated_path(root, lang, path)
        text = _render(nb)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            if target.exists() and not force and learner_edited(target):
                problems.append(Problem(_rel(target, root), "has your own edits; not "
                                        "overwriting it (move it away or pass --force)"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            written.append(target)
    if Path(locale).resolve() == LOCALE:
        from lcedu.locale import glossary

        md = LOCALE / lang / "glossary.md"
        text = glossary.render(glossary.load(lang))
        if not md.exists() or md.read_text(encoding="utf-8") != text:
            md.write_text(text, encoding="utf-8")
            written.append(md)
    return written, problems


def check(root: Path, lang: str, locale: Path = LOCALE) -> tuple[list[Problem], list[str]]:
    """(problems, notes): problems make the translation out of sync; notes are informational."""
    root = Path(root)
    skip = untranslated(lang, locale)
    problems: list[Problem] = []
    notes = [f"{rel}: not translated yet (listed in {UNTRANSLATED})" for rel in sorted(skip)]
    expected = set()
    for path in english_notebooks(root):
        rel = path.relative_to(root).as_posix()
        if rel in skip:
            continue
        target = translated_path(root, lang, path)
        expected.add(target.resolve())
        nb, probs = translate_notebook(nbformat.read(path, as_version=4), rel, lang, root, locale)
        problems += probs
        if nb is None:
            continue
        trel = target.relative_to(root).as_posix()
        if not target.exists():
            problems.append(Problem(trel, "missing: run `lcedu translate build --lang "
                                          f"{lang}`"))
        elif target.read_text(encoding="utf-8") != _render(nb):
            problems.append(Problem(
                trel,
                f"stale against {rel} (its code, outputs, translation or grader language cell "
                f"changed): run `lcedu translate build --lang {lang}` and commit the result",
            ))
    for f in FOLDERS:
        for p in sorted((root / lang / f).glob("*.ipynb")):
            if p.resolve() not in expected:
                problems.append(Problem(p.relative_to(root).as_posix(),
                                        f"has no English notebook in {f}/ (remove it)"))
    problems += _term_problems(lang, root, locale)
    if Path(locale).resolve() == LOCALE:
        problems += _grading_problems(lang, root, locale)
        problems += _glossary_problems(lang, root, locale)
        from lcedu.locale import course_map

        problems += [Problem("lcedu/course/map.py", m) for m in course_map.missing(lang)]
    return problems, notes


def todo(problems: list[Problem]) -> list[dict]:
    """A worklist of every cell (and grader text) to (re)translate, one entry per catalog key.

    Fill in each entry's `ko` (it starts as the old translation, if any) and give the list to
    `apply`; an entry whose `ko` is unchanged from `ko_old` is skipped unless `"keep": true`
    says the old translation still fits the new English.
    """
    seen, out = set(), []
    for p in problems:
        if p.catalog is None or p.cell is None or p.english is None:
            continue
        if (p.catalog, p.cell) in seen:
            continue
        seen.add((p.catalog, p.cell))
        out.append({
            "catalog": p.catalog,
            "notebook": p.notebook,
            "cell": p.cell,
            "en": p.english,
            "en_sha256": cell_sha256(p.english),
            "ko_old": p.old,
            "ko": p.old or "",
        })
    return out


def apply(entries: list[dict], root: Path) -> tuple[list[str], list[str]]:
    """Write a filled-in worklist into the catalogs; return (applied, skipped) descriptions."""
    root = Path(root)
    applied, skipped = [], []
    files: dict[Path, dict] = {}
    for e in entries:
        key = f"{e['catalog']} {e['cell']}"
        if not e.get("ko") or (e["ko"] == e.get("ko_old") and not e.get("keep")):
            skipped.append(f"{key}: not translated yet")
            continue
        path = root / e["catalog"]
        if path.name == "grading.json":
            texts = files.setdefault(path, _read_json(path, {}))
            hashes_path = path.with_name("grading.en_sha256.json")
            hashes = files.setdefault(hashes_path, _read_json(hashes_path, {}))
            texts[e["cell"]] = e["ko"]
            hashes[e["cell"]] = e["en_sha256"]
        else:
            source = f"{path.parent.name}/{path.stem}.ipynb"
            data = files.setdefault(path, _read_json(path, {"source": source, "cells": {}}))
            data["cells"][e["cell"]] = {"en_sha256": e["en_sha256"], "ko": e["ko"]}
        applied.append(key)
    for path, data in files.items():
        if path.name in ("grading.json", "grading.en_sha256.json"):
            data = dict(sorted(data.items()))
        elif "source" in data:
            data["cells"] = _in_notebook_order(root / data["source"], data["cells"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return applied, skipped


def _read_json(path: Path, default):
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else default


def _in_notebook_order(notebook: Path, cells: dict) -> dict:
    if not notebook.exists():
        return cells
    order = [c.get("id") for c in nbformat.read(notebook, as_version=4).cells]
    rank = {cid: i for i, cid in enumerate(order)}
    return dict(sorted(cells.items(), key=lambda kv: rank.get(kv[0], len(rank))))


def main(argv: list[str]) -> int:
    import sys

    from lcedu.course.map import repo_root

    p = OneLineParser(prog="lcedu translate", description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["build", "check", "todo", "apply"],
                   help="build the copies; check they are in sync; todo: write a worklist of "
                        "cells to translate (-o FILE); apply: write a filled-in worklist")
    p.add_argument("file", nargs="?", help="with apply: the worklist to apply")
    p.add_argument("-o", "--output", help="with todo: write the worklist here (default stdout)")
    p.add_argument("--lang", default="ko", choices=LANGUAGES)
    p.add_argument("--force", action="store_true",
                   help="with build: overwrite copies you have edited")
    p.add_argument("--show", action="store_true",
                   help="with check: print the English text of every cell to (re)translate")
    args = p.parse_args(argv)
    root = repo_root()
    if args.action == "todo":
        entries = todo(check(root, args.lang)[0])
        text = json.dumps(entries, ensure_ascii=False, indent=1) + "\n"
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
            print(f"wrote {len(entries)} entries to {args.output}; fill in each `ko`, then run "
                  f"`lcedu translate apply {args.output}` and `lcedu translate build`")
        else:
            sys.stdout.write(text)
        return 0
    if args.action == "apply":
        if not args.file:
            p.error("apply needs the worklist file written by `lcedu translate todo -o FILE`")
        entries = json.loads(Path(args.file).read_text(encoding="utf-8"))
        applied, skipped = apply(entries, root)
        for line in skipped:
            print(f"skipped {line}")
        print(f"applied {len(applied)} translation(s); now run `lcedu translate build "
              f"--lang {args.lang}`")
        return 0
    if args.action == "build":
        written, problems = build(root, args.lang, force=args.force)
        for path in written:
            print(f"wrote {Path(path).relative_to(root)}")
        if not written:
            print(f"{args.lang}/ is already up to date")
    else:
        problems, notes = check(root, args.lang)
        for note in notes:
            print(f"note: {note}")
    for prob in problems:
        print(f"{args.action}: {prob}", file=sys.stderr)
        if args.show and prob.english is not None:
            print("    " + prob.english.replace("\n", "\n    "), file=sys.stderr)
    if problems:
        print(f"{len(problems)} translation problem(s); catalogs are in "
              f"lcedu/locale/{args.lang}/", file=sys.stderr)
        return 1
    if args.action == "check":
        print(f"{args.lang}/ is in sync with the English notebooks")
    return 0
