"""Every benchmark script (benchmarks/*.py) is valid Python with a docstring that starts with what it measures and
shows how to run it: the scripts run by hand, not in CI, so this is what keeps one from rotting unseen."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).parents[1] / "benchmarks").glob("*.py"))


def test_there_are_benchmarks():
    assert len(SCRIPTS) >= 5


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: p.name)
def test_a_benchmark_parses_and_says_how_to_run_it(path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    doc = ast.get_docstring(tree)
    assert doc and doc.splitlines()[0].strip(), f"{path.name}: no docstring summary line"
    helpers = {"_common.py", "__init__.py"}
    if path.name not in helpers and any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
        assert f"benchmarks/{path.name}" in doc, f"{path.name}: its docstring shows no command line"
