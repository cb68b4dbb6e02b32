"""The package namespaces re-export their submodules' public names lazily (PEP 562).

Every advertised name must resolve to the very object its submodule defines, stay the same
object after every submodule is imported (a name equal to its submodule's name would be
replaced by the module).
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest

PACKAGES = [
    "lcedu.attention",
    "lcedu.positions",
    "lcedu.kvcache",
    "lcedu.models",
    "lcedu.widgets",
    "lcedu.grading",
]
OPTIONAL = {"lcedu.attention.triton_flash"}  # needs Triton; checked where it is installed


@pytest.mark.parametrize("name", PACKAGES)
def test_every_export_resolves_to_its_submodule_object(name: str) -> None:
    package = importlib.import_module(name)
    exports = package._EXPORTS
    for attr, sub in exports.items():
        module = importlib.import_module(f"{name}.{sub}")
        assert getattr(package, attr) is getattr(module, attr), f"{name}.{attr}"
    # importing every submodule must not replace an exported name by a module (`sdpa`, `train`)
    for info in pkgutil.iter_modules(package.__path__):
        if f"{name}.{info.name}" not in OPTIONAL:
            importlib.import_module(f"{name}.{info.name}")
    for attr, sub in exports.items():
        assert getattr(package, attr) is getattr(importlib.import_module(f"{name}.{sub}"), attr)
    assert set(exports) <= set(package.__all__) <= set(dir(package))


def test_unknown_attribute_is_a_clear_attribute_error() -> None:
    package = importlib.import_module("lcedu.attention")
    with pytest.raises(AttributeError, match="has no attribute 'not_a_kernel'"):
        package.not_a_kernel  # noqa: B018
