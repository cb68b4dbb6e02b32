"""The package's imports point down its layers, and no module imports itself in a circle.

Reads every module's imports with `ast` (module level and inside functions alike) and checks
them against the layers of ARCHITECTURE.md, made exact here (a lower number is a lower layer;
a package may import its own modules and any lower layer, never a sibling or a higher one):

0  _checks, testing, data      validation, tolerances, shipped data: torch and stdlib only
1  lcedu (the root package)    re-exports `seed_everything`
2  attention                   the kernels every other core package builds on
3  positions, kvcache, ssm     core ideas beside one another, built on attention
4  models, practice            the tiny transformer over attention and positions; the
                               practical guide's tricks over attention and the caches
5  tools, bench, course        command-line programs and launchers, measurement, the
                               course's own machinery (doctor, map, exercise builder)
6  viz, grading                figures and graders of what the core computes
7  widgets, teaching, locale  explorers over viz; notebook helpers that run the lesson's
                               sketches and draw recorded runs; translations (of the
                               notebooks and of the graders' texts)
8  cli                         the `lcedu` command, importing its subcommands lazily
9  __main__                    `python -m lcedu`, which runs the cli
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "lcedu"

LAYERS = {
    "_checks": 0,
    "testing": 0,
    "data": 0,
    "": 1,
    "attention": 2,
    "positions": 3,
    "kvcache": 3,
    "ssm": 3,
    "practice": 4,
    "models": 4,
    "tools": 5,
    "bench": 5,
    "course": 5,
    "viz": 6,
    "grading": 6,
    "widgets": 7,
    "teaching": 7,
    "locale": 7,
    "cli": 8,
    "__main__": 9,
}


def _modules() -> dict[str, Path]:
    mods = {}
    for path in ROOT.rglob("*.py"):
        parts = ["lcedu", *path.relative_to(ROOT).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        mods[".".join(parts)] = path
    return mods


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The lcedu modules `name` imports anywhere in its body (a name, not a module, counts
    as its module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "lcedu"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(up + ([base] if base else []))
            if base.split(".")[0] != "lcedu":
                continue
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in MODULES else base)
    found.discard(name)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer_of(module: str) -> tuple[str, int]:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else ""
    assert top in LAYERS, f"{module}: its package {top!r} has no layer in test_layering.LAYERS"
    return top, LAYERS[top]


def test_every_package_has_a_layer():
    for name in MODULES:
        _layer_of(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_down_the_layers(name):
    top, layer = _layer_of(name)
    for target in sorted(GRAPH[name]):
        other, other_layer = _layer_of(target)
        if other == top:
            continue
        assert other_layer < layer, (
            f"{name} imports {target}: layer {other_layer} ({other}) is not below layer "
            f"{layer} ({top}) — see the layer table in this test's docstring"
        )


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles_between_modules():
    assert _cycles(GRAPH) == []


def test_the_checker_sees_upward_imports_and_cycles():
    """The checks above can fail: an upward import and a circle are found when present."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
    assert "lcedu.attention.reference" in GRAPH["lcedu.attention.flash"]
    assert _layer_of("lcedu.viz.rope")[1] > _layer_of("lcedu.attention.flash")[1]
    # an import inside a function body counts (cli imports its subcommands lazily)
    assert "lcedu.course.doctor" in GRAPH["lcedu.cli"]
