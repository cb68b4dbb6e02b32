"""Every solution passes every check; every untouched stub fails every check, politely.

These read the grade payloads in the committed outputs; nbval re-executes the same notebooks
and fails if those outputs are not what the code produces today, so together they prove the
claim on fresh execution.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from lcedu.grading import NOT_IMPLEMENTED_MESSAGE
from lcedu.grading.scoreboard import collect_reports

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


@pytest.mark.parametrize("solution", SOLUTIONS, ids=[p.name for p in SOLUTIONS])
def test_solution_passes_and_stub_fails(solution):
    sol_checks, sol_errors = collect_reports(nbformat.read(solution, as_version=4))
    assert not sol_errors
    assert sol_checks, f"{solution.name} displays no check_* report"
    for c in sol_checks:
        assert c["all_passed"], f"solution fails {c['check']}: {c['cases']}"
        assert c["total"] >= 2, f"{c['check']} has too few cases to mean anything"

    exercise = ROOT / "exercises" / solution.name
    ex_checks, ex_errors = collect_reports(nbformat.read(exercise, as_version=4))
    assert not ex_errors
    assert [c["check"] for c in ex_checks] == [c["check"] for c in sol_checks]
    for c in ex_checks:
        assert c["passed"] == 0 and c["not_implemented"], f"stub passes part of {c['check']}"
        for case in c["cases"]:
            assert case["message"] == NOT_IMPLEMENTED_MESSAGE
