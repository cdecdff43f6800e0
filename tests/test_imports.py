"""The package's import graph: data flows one way, so no module imports a later stage, and no import cycles.

Read from the source (ast), every `import augmath...` / `from augmath... import` of every module of the wheel
(pyproject.toml's package-dir mapping), lazy imports inside functions included for the layer rule: a stage that
needs a later one only inside a function still depends on it. Cycles are counted at import time (imports outside
function bodies): a registry that imports its members lazily, by name, is not a cycle Python ever runs into.
"""

from __future__ import annotations

import ast
import functools
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Each group may import its own modules and those of earlier layers only (CONTRIBUTING.md, "data flows one way").
# A group is a subpackage (`augment`) or one top-level module of the shared ground (`augmath.io`).
LAYERS = [
    ["augmath", "augmath._lazy", "augmath.redaction", "augmath.process", "augmath.prompts", "augmath.typed_yaml",
     "augmath.stats", "augmath.folders", "augmath.input_limits"],
    ["augmath.errors"],  # user_error masks secrets with augmath.redaction
    ["augmath.io", "augmath.options", "augmath.urls"],
    ["grading"],
    ["augmath.sources", "augmath.evalsets"],
    ["engine"],
    ["augmath.models", "augmath.tiny"],
    ["decontam"],
    ["augment"],
    ["cards"],
    ["dataset_builders"],
    ["training"],
    ["eval_tasks", "metrics"],
    ["analysis"],
    ["publish"],
    ["experiment"],
    ["augmath.cli"],
]
SUBPACKAGES = {"grading", "engine", "augment", "decontam", "analysis", "experiment", "publish", "dataset_builders",
               "training", "eval_tasks", "cards", "metrics"}


def _modules() -> dict[str, Path]:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {"augmath": "augmath", **config["package-dir"]}
    mods = {}
    for package, folder in folders.items():
        for path in (REPO / folder).rglob("*.py"):
            parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            mods[".".join([package, *parts])] = path
    return mods


MODULES = _modules()


def group(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "augmath"
    return parts[1] if parts[1] in SUBPACKAGES else f"augmath.{parts[1]}"


@functools.lru_cache(maxsize=None)
def _imports(path: Path, at_import_time: bool) -> frozenset[str]:
    """The augmath modules a file imports (a `from pkg import name` counts the submodule `pkg.name` if it is one,
    else the package `pkg` itself)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if at_import_time and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            return
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("augmath"):
            subs = {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES}
            found.update(subs)
            if len(subs) < len(node.names) and node.module in MODULES:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in MODULES)
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(tree)
    return frozenset(found)


def test_every_module_has_a_layer():
    layered = {g for layer in LAYERS for g in layer}
    assert sorted({group(m) for m in MODULES} - layered) == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_a_later_stage(module):
    rank = {g: i for i, layer in enumerate(LAYERS) for g in layer}
    mine = group(module)
    upward = sorted(t for t in _imports(MODULES[module], at_import_time=False)
                    if group(t) != mine and rank[group(t)] >= rank[mine])
    assert upward == [], f"{module} ({mine}, layer {rank[mine]}) imports {upward}"


def test_no_import_cycle():
    edges = {m: _imports(p, at_import_time=True) for m, p in MODULES.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                return path[path.index(t):] + [t]
            if t not in state and (cycle := walk(t)):
                return cycle
        path.pop()
        state[m] = 2
        return None

    for m in sorted(MODULES):
        cycle = walk(m) if m not in state else None
        assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_the_checker_sees_a_cycle_and_an_upward_import(tmp_path):
    """The rules above can fail: a planted upward import and a planted cycle are found."""
    a, b = tmp_path / "a.py", tmp_path / "b.py"
    a.write_text("from augmath.experiment import planner\n")
    b.write_text("def f():\n    from augmath.io import read_json\n")
    assert _imports(a, at_import_time=True) == {"augmath.experiment.planner"}
    assert _imports(b, at_import_time=True) == set() and _imports(b, at_import_time=False) == {"augmath.io"}
