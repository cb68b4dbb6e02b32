"""Generate learners' exercise notebooks from the solved ones, and check they are current.

`solutions/NN_topic.ipynb` is the source. Code between ``### BEGIN SOLUTION`` and
``### END SOLUTION`` (nbgrader's markers) becomes a stub that raises NotImplementedError,
keeping the signature and docstring; ``### BEGIN HIDDEN TESTS`` blocks are dropped. The
generated notebook is executed so its committed outputs show the grader's "not yet".
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from pathlib import Path

import nbformat

from lcedu.course.execute import KERNELSPEC, execute_notebook

__all__ = [
    "MarkerError",
    "stub_source",
    "make_exercise",
    "build",
    "check",
    "exercise_path_for",
    "learner_edited",
]

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"
BEGIN_HIDDEN = "### BEGIN HIDDEN TESTS"
END_HIDDEN = "### END HIDDEN TESTS"
HEADER_ID = "lcedu-exercise-header"
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)\s*\(")
_CLASS = re.compile(r"^\s*class\s+(\w+)")


class MarkerError(ValueError):
    """A solution notebook's markers do not pair up."""


def stub_source(source: str, *, where: str = "cell") -> str:
    """Replace solution regions with a NotImplementedError stub and drop hidden tests."""
    out: list[str] = []
    state = None  # None, "solution" or "hidden"
    enclosing = "this function"
    cls = None
    for lineno, line in enumerate(source.splitlines(), start=1):
        marker = line.strip()
        if state is None:
            m = _DEF.match(line)
            if m:
                enclosing = (
                    f"{cls}.{m.group(1)}" if cls and line.startswith((" ", "\t")) else m.group(1)
                )
            c = _CLASS.match(line)
            if c and not line.startswith((" ", "\t")):
                cls = c.group(1)
            if marker == BEGIN_SOLUTION:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(f"{indent}# YOUR CODE HERE")
                out.append(
                    f'{indent}raise NotImplementedError("{enclosing}: replace this line with '
                    'your implementation")'
                )
                state = "solution"
            elif marker == BEGIN_HIDDEN:
                state = "hidden"
            elif marker in (END_SOLUTION, END_HIDDEN):
                raise MarkerError(f"{where}, line {lineno}: {marker!r} without its BEGIN marker")
            else:
                out.append(line)
        elif state == "solution":
            if marker == END_SOLUTION:
                state = None
            elif marker in (BEGIN_SOLUTION, BEGIN_HIDDEN):
                raise MarkerError(f"{where}, line {lineno}: {marker!r} inside a solution block")
        elif state == "hidden":
            if marker == END_HIDDEN:
                state = None
    if state is not None:
        raise MarkerError(f"{where}: a {state} block is never closed")
    return "\n".join(out)


def _source_digest(nb: nbformat.NotebookNode) -> str:
    cells = [(c.cell_type, c.source) for c in nb.cells]
    return hashlib.sha256(json.dumps(cells).encode("utf-8")).hexdigest()


def exercise_path_for(solution: Path) -> Path:
    return solution.parent.parent / "exercises" / solution.name


def make_exercise(solution: nbformat.NotebookNode, solution_name: str) -> nbformat.NotebookNode:
    """The unexecuted exercise notebook generated from a solution notebook."""
    nb = copy.deepcopy(solution)
    has_solution = False
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            if BEGIN_SOLUTION in cell.source:
                has_solution = True
            cell.source = stub_source(cell.source, where=f"{solution_name}, cell {i}")
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
    if not has_solution:
        raise MarkerError(f"{solution_name} has no '{BEGIN_SOLUTION}' block: nothing to exercise")
    header = nbformat.v4.new_markdown_cell(
        "**Exercise notebook.** Generated from "
        f"`solutions/{solution_name}` by `lcedu exercises build`; edit freely, it is yours.\n"
        "Replace each `raise NotImplementedError(...)` with your code, run the cell, then run "
        "the check below it. `lcedu grade exercises/` grades every exercise at once."
    )
    header.id = HEADER_ID
    nb.cells.insert(0, header)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["lcedu"] = {
        "generated_from": f"solutions/{solution_name}",
        "solution_sha256": _source_digest(solution),
    }
    nb.metadata["lcedu"]["exercise_sha256"] = _source_digest(nb)
    return nb


def learner_edited(path: Path) -> bool:
    """True when an existing exercise notebook's code differs from what was generated."""
    nb = nbformat.read(path, as_version=4)
    recorded = nb.metadata.get("lcedu", {}).get("exercise_sha256")
    return recorded is not None and recorded != _source_digest(nb)


def build(
    solutions: list[Path], *, execute: bool = True, timeout: int = 600, force: bool = False
) -> list[Path]:
    """Write (and execute) `exercises/<name>` for each solution notebook; return the paths.

    An exercise a learner has edited is never overwritten unless `force` is set.
    """
    written = []
    for sol in solutions:
        sol = Path(sol)
        nb = nbformat.read(sol, as_version=4)
        ex = make_exercise(nb, sol.name)
        target = exercise_path_for(sol)
        if target.exists() and not force and learner_edited(target):
            raise FileExistsError(
                f"{target} has your own edits; not overwriting it. Move it away or pass --force."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        if execute:
            execute_notebook(ex, target.parent, timeout=timeout)
        nbformat.validate(ex)
        nbformat.write(ex, target)
        written.append(target)
    return written


def check(solutions_dir: Path, exercises_dir: Path) -> list[str]:
    """Problems that make `exercises/` stale against `solutions/` (empty list = up to date)."""
    problems = []
    sols = sorted(Path(solutions_dir).glob("*.ipynb"))
    names = {s.name for s in sols}
    for sol in sols:
        ex_path = Path(exercises_dir) / sol.name
        if not ex_path.exists():
            problems.append(f"{ex_path} is missing")
            continue
        expected = make_exercise(nbformat.read(sol, as_version=4), sol.name)
        actual = nbformat.read(ex_path, as_version=4)
        want = [(c.cell_type, c.source) for c in expected.cells]
        have = [(c.cell_type, c.source) for c in actual.cells]
        if want != have:
            problems.append(f"{ex_path} does not match {sol} (cell sources differ)")
            continue
        code = [c for c in actual.cells if c.cell_type == "code" and c.source.strip()]
        if code and any(c.execution_count is None for c in code):
            problems.append(f"{ex_path} was not executed (its outputs are missing)")
    for ex_path in sorted(Path(exercises_dir).glob("*.ipynb")):
        if ex_path.name not in names:
            problems.append(f"{ex_path} has no solution notebook in {solutions_dir}")
    return problems
