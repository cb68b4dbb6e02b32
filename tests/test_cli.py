"""The `lcedu` command: doctor, course, grade, and its delegated subcommands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lcedu.cli import main
from lcedu.course import doctor

ROOT = Path(__file__).resolve().parents[1]


def test_doctor_reports_ok_here(capsys):
    assert doctor.run_doctor() == 0
    out = capsys.readouterr().out
    assert "[OK]   torch" in out and "device:" in out and "[FAIL]" not in out
    for name in ("python", "jupyterlab", "ipywidgets", "matplotlib", "nbval"):
        assert f"[OK]   {name} " in out


def test_doctor_fails_on_a_missing_required_package(monkeypatch):
    monkeypatch.setattr(doctor, "REQUIREMENTS", [("no-such-package-lcedu", "1.0", True)])
    lines: list[str] = []
    assert doctor.run_doctor(lines.append) == 1
    assert any(line.startswith("[FAIL] no-such-package-lcedu") for line in lines)


def test_doctor_optional_missing_is_not_a_failure(monkeypatch):
    monkeypatch.setattr(doctor, "REQUIREMENTS", [("no-such-package-lcedu", "1.0", False)])
    lines: list[str] = []
    assert doctor.run_doctor(lines.append) == 0


@pytest.mark.parametrize(
    "version, floor, ok",
    [
        ("2.13.0+cpu", "2.5", True),
        ("2.4.1", "2.5", False),
        ("8.1.9", "8", True),
        ("3.0.0rc1", "3.0", True),
    ],
)
def test_version_at_least(version, floor, ok):
    assert doctor.version_at_least(version, floor) is ok


def test_course_command(capsys):
    assert main(["course"]) == 0
    assert "01_why_long_context" in capsys.readouterr().out


def test_unknown_benchmark_is_a_usage_error():
    with pytest.raises(SystemExit) as e:
        main(["bench", "nosuch"])
    assert e.value.code == 2


def test_grade_rejects_bad_paths(capsys):
    assert main(["grade", "no/such/path.ipynb"]) == 2


@pytest.mark.timeout(180)
def test_grade_scoreboard_solution_passes_exercise_fails():
    cmd = [sys.executable, "-m", "lcedu.cli", "grade", "--json"]
    sol = subprocess.run(
        cmd + ["solutions/01_kv_cache_memory.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert sol.returncode == 0, sol.stderr
    [row] = json.loads(sol.stdout)
    assert row["passed"] and all(c["all_passed"] for c in row["checks"])
    ex = subprocess.run(
        cmd[:-1] + ["exercises/01_kv_cache_memory.ipynb"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert ex.returncode == 1
    assert "not yet" in ex.stdout and "0/2 exercises complete" in ex.stdout
