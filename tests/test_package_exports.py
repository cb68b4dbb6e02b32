"""Every package re-exports its submodules' public names with plain imports.

Each name in a package's ``__all__`` must be the very object a submodule defines, and stay
that object after every submodule is imported (a name equal to its submodule's name, `sdpa`
or `train`, must not be replaced by the module).
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys

import pytest

PACKAGES = [
    "lcedu.attention",
    "lcedu.positions",
    "lcedu.kvcache",
    "lcedu.models",
    "lcedu.ssm",
    "lcedu.practice",
    "lcedu.widgets",
    "lcedu.grading",
]


def _submodules(package) -> list:
    return [
        importlib.import_module(f"{package.__name__}.{info.name}")
        for info in pkgutil.iter_modules(package.__path__)
    ]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_export_is_its_submodule_object(name: str) -> None:
    package = importlib.import_module(name)
    before = {attr: getattr(package, attr) for attr in package.__all__}
    subs = _submodules(package)
    for attr, obj in before.items():
        assert getattr(package, attr) is obj, f"{name}.{attr} changed after importing all"
        assert not isinstance(obj, type(package)), f"{name}.{attr} is a module"
        owners = [m for m in subs if getattr(m, attr, None) is obj and attr in vars(m)]
        assert owners, f"{name}.{attr} is not defined by any submodule"


def test_unknown_attribute_is_a_clear_attribute_error() -> None:
    package = importlib.import_module("lcedu.attention")
    with pytest.raises(AttributeError, match="has no attribute 'not_a_kernel'"):
        package.not_a_kernel  # noqa: B018


def test_the_library_and_its_cli_import_no_notebook_packages() -> None:
    """A GPU machine without matplotlib/ipywidgets/jupyter runs `python -m lcedu ...`."""
    code = (
        "import sys, lcedu, lcedu.cli, lcedu.attention, lcedu.positions, lcedu.kvcache, "
        "lcedu.ssm, lcedu.practice, lcedu.tools.ring_demo\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('matplotlib', 'ipywidgets', 'jupyter', 'jupyterlab', 'notebook', 'IPython'))\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
