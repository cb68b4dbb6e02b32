"""`lcedu grade`: run exercise notebooks headless and print a scoreboard of their checks.

Each notebook is executed as a copy in memory (the learner's file is never modified); every
`check_*` report it displays carries a JSON payload, which is collected here into one row
per check: passed cases / total. Exit status 0 only when every check passes.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from lcedu.grading.core import GRADE_MIMETYPE

__all__ = ["NotebookResult", "grade_notebook", "grade_paths", "expand_paths", "format_scoreboard"]


@dataclass
class NotebookResult:
    path: str
    checks: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.checks) and not self.errors and all(c["all_passed"] for c in self.checks)


def expand_paths(paths: list[str]) -> list[Path]:
    """Directories become their *.ipynb files (sorted); missing paths raise ValueError."""
    out: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(
                sorted(q for q in path.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
            )
        elif path.is_file() and path.suffix == ".ipynb":
            out.append(path)
        else:
            raise ValueError(f"{p} is neither a notebook (.ipynb) nor a folder of notebooks")
    return out


def collect_reports(nb: nbformat.NotebookNode) -> tuple[list[dict[str, Any]], list[str]]:
    """The grade payloads and error outputs found in an executed notebook."""
    checks, errors = [], []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for out in cell.get("outputs", []):
            if out.get("output_type") in ("display_data", "execute_result"):
                payload = out.get("data", {}).get(GRADE_MIMETYPE)
                if payload is not None:
                    checks.append(dict(payload))
            elif out.get("output_type") == "error":
                errors.append(f"cell {i} raised {out.get('ename')}: {out.get('evalue')}")
    return checks, errors


def grade_notebook(path: Path, *, timeout: int = 600) -> NotebookResult:
    from lcedu.course.execute import execute_notebook

    result = NotebookResult(str(path))
    try:
        nb = nbformat.read(path, as_version=4)
        execute_notebook(nb, path.parent, timeout=timeout, allow_errors=True)
    except Exception as e:  # noqa: BLE001 - a broken notebook is a row, not a crash
        result.errors.append(f"could not run: {type(e).__name__}: {e}")
        return result
    result.checks, result.errors = collect_reports(nb)
    if not result.checks and not result.errors:
        result.errors.append(
            "no check_* call was displayed (is the check the last line of its cell?)"
        )
    return result


def grade_paths(
    paths: list[Path], *, timeout: int = 600, progress: bool = True
) -> list[NotebookResult]:
    from tqdm.auto import tqdm

    results = []
    bar = tqdm(paths, desc="grading", unit="notebook", disable=not progress, file=sys.stderr)
    for path in bar:
        bar.set_postfix_str(path.name)
        results.append(grade_notebook(path, timeout=timeout))
    return results


def format_scoreboard(results: list[NotebookResult]) -> str:
    rows = [("notebook", "exercise", "passed", "")]
    for r in results:
        name = Path(r.path).name
        for c in r.checks:
            if c["all_passed"]:
                status = "PASS"
            elif c.get("not_implemented"):
                status = "not yet"
            else:
                status = "FAIL"
            rows.append((name, c["check"], f"{c['passed']}/{c['total']}", status))
        for e in r.errors:
            rows.append((name, "(notebook)", "-", f"ERROR {e}"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = []
    for j, row in enumerate(rows):
        lines.append("  ".join(row[i].ljust(widths[i]) for i in range(3)) + "  " + row[3])
        if j == 0:
            lines.append("  ".join("-" * w for w in widths) + "  ------")
    n_checks = sum(len(r.checks) for r in results)
    n_ok = sum(c["all_passed"] for r in results for c in r.checks)
    lines.append("")
    lines.append(f"{n_ok}/{n_checks} exercises complete")
    return "\n".join(lines)


def main(paths: list[str], *, as_json: bool = False, timeout: int = 600) -> int:
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 1:
        print(f"lcedu grade: --timeout must be a whole number of seconds >= 1, got {timeout!r}",
              file=sys.stderr)
        return 2
    try:
        notebooks = expand_paths(paths or ["exercises"])
    except ValueError as e:
        print(f"lcedu grade: {e}", file=sys.stderr)
        return 2
    if not notebooks:
        print("lcedu grade: no notebooks found", file=sys.stderr)
        return 2
    results = grade_paths(notebooks, timeout=timeout, progress=not as_json)
    if as_json:
        print(
            json.dumps(
                [
                    {"notebook": r.path, "passed": r.passed, "checks": r.checks, "errors": r.errors}
                    for r in results
                ],
                indent=2,
            )
        )
    else:
        print(format_scoreboard(results))
    return 0 if all(r.passed for r in results) else 1
