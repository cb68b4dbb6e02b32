"""pyproject.toml, environment.yml, the constraints file, the Makefile and CI agree."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")
yaml = pytest.importorskip("yaml")

_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(\[[^\]]*\])?\s*([<>=!~][^;]*)?\s*(;.*)?$")


def _name(spec: str) -> str:
    m = _REQ.match(spec)
    assert m, f"cannot parse requirement {spec!r}"
    return m.group(1).lower().replace("_", "-")


def _parse(spec: str) -> tuple[str, str]:
    m = _REQ.match(spec)
    assert m, f"cannot parse requirement {spec!r}"
    return m.group(1).lower().replace("_", "-"), (m.group(3) or "").replace(" ", "")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _pyproject_requirements() -> dict[str, str]:
    project = _pyproject()["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs.extend(extra)
    return dict(_parse(s) for s in specs)


def _environment_requirements() -> tuple[dict[str, str], list[str], list[str]]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    conda, pip_lines = [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_lines.extend(dep.get("pip", []))
        else:
            conda.append(dep)
    reqs = {}
    for line in pip_lines:
        if line.startswith("-"):
            continue
        name, spec = _parse(line)
        reqs[name] = spec
    return reqs, conda, pip_lines


def test_environment_yml_matches_pyproject():
    want = _pyproject_requirements()
    have, conda, pip_lines = _environment_requirements()
    assert have == want, (
        "environment.yml and pyproject.toml disagree on the package set.\n"
        f"only in pyproject: {sorted(set(want) - set(have))}\n"
        f"only in environment.yml: {sorted(set(have) - set(want))}\n"
        f"different floors: {sorted(k for k in want if k in have and want[k] != have[k])}"
    )
    python = [c for c in conda if str(c).startswith("python")]
    assert python, "environment.yml must pin python"
    assert any(line.startswith("-e") and "lab" in line and "test" in line for line in pip_lines), (
        "environment.yml must install the package itself with its extras (-e .[lab,test,...])"
    )


def test_python_floor_agrees():
    floor = _pyproject()["project"]["requires-python"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    py = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")][0]
    assert floor.replace(">=", "") in py


def test_constraints_pin_every_dependency():
    text = (ROOT / "requirements" / "constraints.txt").read_text(encoding="utf-8")
    pins = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, spec = _parse(line)
        pins[name] = spec
    assert pins.get("torch") == "==2.13.0", "torch must be pinned to 2.13.0 (local CPU build)"
    for name in _pyproject_requirements():
        assert name in pins and pins[name].startswith("=="), f"{name} is not pinned"


def test_console_script_and_package_data():
    project = _pyproject()["project"]
    assert project["scripts"]["lcedu"] == "lcedu.cli:main"
    data = _pyproject()["tool"]["setuptools"]["package-data"]["lcedu"]
    assert any(p.endswith(".csv") for p in data)


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make test" in ci and "make test" in readme and "make lab" in readme


def test_makefile_targets():
    mk = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("setup:", "lab:", "test:"):
        assert target in mk
    assert "-c $(CONSTRAINTS)" in mk, "make must install with the pinned constraints"
    assert "LAB_ARGS" in mk and "notebooks/00_welcome.ipynb" in mk and "jupyter lab" in mk
    assert "ruff check" in mk and "pytest" in mk
