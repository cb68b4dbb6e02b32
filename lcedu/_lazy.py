"""Lazy re-exports for the package namespaces (PEP 562 module ``__getattr__``).

`lcedu.attention.flash_attention` imports `lcedu.attention.flash` on first use, so importing
a package stays cheap and one missing optional piece (Triton) never breaks the others.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable


def lazy_exports(package: str, names: dict[str, str]) -> tuple[Callable, Callable]:
    """Return (__getattr__, __dir__) that load `names[attr]` (a submodule) on demand.

    A name equal to its submodule's name (`lcedu.attention.sdpa`, the function in `sdpa.py`)
    cannot be lazy: importing the submodule would set the package attribute to the module.
    Such names are bound eagerly here, so they stay the function; the module itself is
    reached with `from package.sub import ...`.
    """

    def __getattr__(attr: str):
        try:
            sub = names[attr]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {attr!r}") from None
        module = importlib.import_module(f"{package}.{sub}")
        return getattr(module, attr)

    def __dir__():
        return sorted(set(names) | set(vars(sys.modules[package])))

    for attr, sub in names.items():
        if attr == sub:
            module = importlib.import_module(f"{package}.{sub}")
            setattr(sys.modules[package], attr, getattr(module, attr))
    return __getattr__, __dir__
