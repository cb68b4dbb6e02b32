"""The exercise generator: markers become stubs, hidden tests vanish, staleness is caught."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

from lcedu.course import exercises as ex

ROOT = Path(__file__).resolve().parents[1]

SOLVED = '''def f(x):
    """Double x."""
    ### BEGIN SOLUTION
    y = x * 2
    return y
    ### END SOLUTION


class Cache:
    def update(self, k):
        """Store k."""
        ### BEGIN SOLUTION
        self.k = k
        ### END SOLUTION
'''


def test_stub_keeps_signature_and_docstring_and_names_the_function():
    out = ex.stub_source(SOLVED)
    assert (
        'def f(x):\n    """Double x."""\n    # YOUR CODE HERE\n    raise NotImplementedError("f:'
        in out
    )
    assert "y = x * 2" not in out and "self.k = k" not in out
    assert 'raise NotImplementedError("Cache.update:' in out
    assert "        raise NotImplementedError" in out  # method body indentation kept
    namespace: dict = {}
    exec(out, namespace)  # the stub is valid Python
    with pytest.raises(NotImplementedError):
        namespace["f"](1)


def test_hidden_tests_are_dropped():
    src = "a = 1\n### BEGIN HIDDEN TESTS\nassert a == 1\n### END HIDDEN TESTS\nb = 2"
    assert ex.stub_source(src) == "a = 1\nb = 2"


@pytest.mark.parametrize(
    "src",
    [
        "### BEGIN SOLUTION\nx = 1",
        "### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION",
        "### BEGIN HIDDEN TESTS\nassert True",
    ],
)
def test_unbalanced_markers_are_reported(src):
    with pytest.raises(ex.MarkerError):
        ex.stub_source(src)


def _solution_notebook() -> nbformat.NotebookNode:
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell("# demo"),
        nbformat.v4.new_code_cell(SOLVED),
        nbformat.v4.new_code_cell("f"),
    ]
    return nb


def test_make_exercise_adds_header_and_metadata_and_clears_outputs():
    nb = _solution_notebook()
    nb.cells[2].outputs = [nbformat.v4.new_output("stream", text="x")]
    nb.cells[2].execution_count = 3
    out = ex.make_exercise(nb, "99_demo.ipynb")
    assert out.cells[0].id == ex.HEADER_ID
    assert out.metadata["lcedu"]["generated_from"] == "solutions/99_demo.ipynb"
    assert out.cells[3].outputs == [] and out.cells[3].execution_count is None
    assert nb.cells[1].source == SOLVED, "the solution itself is never modified"


def test_a_solution_without_markers_is_refused():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("x = 1")]
    with pytest.raises(ex.MarkerError):
        ex.make_exercise(nb, "98_none.ipynb")


def test_check_detects_stale_missing_and_orphaned(tmp_path):
    sols, exs = tmp_path / "solutions", tmp_path / "exercises"
    sols.mkdir()
    exs.mkdir()
    nbformat.write(_solution_notebook(), sols / "99_demo.ipynb")
    assert any("missing" in p for p in ex.check(sols, exs))

    ex.build([sols / "99_demo.ipynb"], execute=False)
    problems = ex.check(sols, exs)
    assert problems and all("not executed" in p for p in problems)

    # A solution edit makes the exercise stale.
    nb = nbformat.read(sols / "99_demo.ipynb", as_version=4)
    nb.cells[1].source = SOLVED.replace("Double x.", "Twice x.")
    nbformat.write(nb, sols / "99_demo.ipynb")
    assert any("do" in p and "not match" in p for p in ex.check(sols, exs))

    shutil.copy(exs / "99_demo.ipynb", exs / "97_orphan.ipynb")
    assert any("97_orphan" in p and "no solution" in p for p in ex.check(sols, exs))


def test_build_never_overwrites_a_learners_edits(tmp_path):
    sols = tmp_path / "solutions"
    sols.mkdir()
    nbformat.write(_solution_notebook(), sols / "99_demo.ipynb")
    (target,) = ex.build([sols / "99_demo.ipynb"], execute=False)
    assert not ex.learner_edited(target)
    nb = nbformat.read(target, as_version=4)
    nb.cells[2].source = nb.cells[2].source.replace("raise NotImplementedError", "return 2 * x  #")
    nbformat.write(nb, target)
    assert ex.learner_edited(target)
    with pytest.raises(FileExistsError):
        ex.build([sols / "99_demo.ipynb"], execute=False)
    ex.build([sols / "99_demo.ipynb"], execute=False, force=True)
    assert not ex.learner_edited(target)


def test_committed_exercises_are_current():
    assert ex.check(ROOT / "solutions", ROOT / "exercises") == []
