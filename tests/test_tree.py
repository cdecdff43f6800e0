"""CONTRIBUTING's tree and the README's folder table are the code's (scripts/tree.py), and the wheel has every package.

The real repository must pass `scripts/tree.py --check`; small made-up projects show that the check fails for each
thing it guards: a module left out of the tree, a docstring with no summary line, a subpackage left out of
pyproject.toml's `packages` (so out of the wheel).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _load_tree():
    spec = importlib.util.spec_from_file_location("augmath_tree_script", REPO / "scripts" / "tree.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


tree = _load_tree()


def _package_modules(root: Path) -> set[str]:
    """Every .py file of every package the wheel ships, as a path from the repository root."""
    table = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = set()
    for name in table["packages"]:
        folder = tree.package_folder(name, table.get("package-dir", {}))
        found |= {(folder / p.name).as_posix() for p in (root / folder).glob("*.py")}
    return found


def _paths_in_tree_block(text: str) -> set[str]:
    """Rebuild file paths from the indented block between CONTRIBUTING's markers."""
    block = text.split("<!-- tree:modules:begin")[1].split("<!-- tree:modules:end -->")[0]
    stack: list[str] = []
    paths = set()
    for line in block.splitlines():
        m = re.match(r"^( *)(\S+)", line)
        if not m or m.group(2).startswith(("```", "(scripts")):
            continue
        depth, name = len(m.group(1)) // 2, m.group(2)
        stack[depth:] = [name]
        if name.endswith(".py"):
            paths.add("/".join(s.rstrip("/") for s in stack))
        elif name.endswith("/"):
            paths.add("/".join(s.rstrip("/") for s in stack) + "/__init__.py")
    return paths


def test_the_repository_passes_the_check(capsys):
    assert tree.main(["--check"]) == 0, capsys.readouterr().err


def test_every_package_module_is_in_contributings_tree():
    listed = _paths_in_tree_block((REPO / "CONTRIBUTING.md").read_text())
    # top-level mapped folders are listed by their folder name: dataset_builders/build.py, augmath/cli.py, ...
    missing = sorted(_package_modules(REPO) - listed)
    assert not missing, f"modules missing from CONTRIBUTING.md's tree (run python scripts/tree.py): {missing}"


def test_every_folder_with_an_init_is_a_listed_package():
    table = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = {tree.package_folder(n, table["package-dir"]).as_posix() for n in table["packages"]}
    roots = ["augmath", *table["package-dir"].values()]
    on_disk = {p.parent.relative_to(REPO).as_posix() for r in roots for p in (REPO / r).rglob("__init__.py")
               if "__pycache__" not in p.parts}
    assert on_disk == listed


def test_every_module_docstring_has_a_summary_line():
    for rel in sorted(_package_modules(REPO)):
        doc = ast.get_docstring(ast.parse((REPO / rel).read_text()))
        assert doc, f"{rel}: no docstring"
        lines = doc.splitlines()
        assert lines[0].strip() == "name:" or len(lines) == 1 or not lines[1].strip(), rel


def test_nothing_the_wheel_ships_names_the_projects_own_folders():
    """Help texts, messages, docstrings and card templates name only what a wheel user has: never ../shared/...
    (the project's CI data and notes), which neither an install nor a fresh clone has."""
    table = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    shipped = {REPO / rel for rel in _package_modules(REPO)}
    for name, patterns in table["package-data"].items():
        folder = REPO / tree.package_folder(name, table.get("package-dir", {}))
        shipped |= {p for pattern in patterns for p in folder.glob(pattern)}
    assert len(shipped) > 130
    offenders = [p.relative_to(REPO).as_posix() for p in sorted(shipped)
                 if re.search(r"shared/(data|notes)", p.read_text(encoding="utf-8", errors="replace"))]
    assert offenders == []


# --- the check fails for what it guards, on a small made-up project ---

def _project(tmp_path: Path, modules: dict[str, str], packages: list[str]) -> Path:
    root = tmp_path / "proj"
    (root / "augmath").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        "[tool.setuptools]\npackages = [" + ", ".join(f'"{p}"' for p in packages) + "]\n"
        '[tool.setuptools.package-dir]\n"augmath.cards" = "cards"\n')
    for rel, doc in modules.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f'"""{doc}"""\n' if doc is not None else "X = 1\n")
    for name, marker in tree.TARGETS:
        (root / name).write_text(f"# {name}\n\n<!-- tree:{marker}:begin (scripts/tree.py writes this) -->\n"
                                 f"<!-- tree:{marker}:end -->\n\ntail\n")
    return root


GOOD = {"augmath/__init__.py": "augmath: the package.", "augmath/io.py": "File I/O.\n\nDetails.",
        "cards/__init__.py": "augmath.cards: the cards.", "cards/render.py": "The renderer."}


def test_a_fresh_project_is_written_then_passes(tmp_path):
    root = _project(tmp_path, GOOD, ["augmath", "augmath.cards"])
    assert tree.main(["--root", str(root)]) == 0
    contributing = (root / "CONTRIBUTING.md").read_text()
    assert "  io.py                File I/O.\n" in contributing and "cards/                 augmath.cards: the cards." \
        in contributing and contributing.endswith("<!-- tree:modules:end -->\n\ntail\n")
    assert "| `cards/` | `augmath.cards` | the cards. |" in (root / "README.md").read_text()
    assert tree.main(["--root", str(root), "--check"]) == 0


@pytest.mark.parametrize("change, packages, expected", [
    ({"augmath/new_module.py": "Something new."}, None, "CONTRIBUTING.md: the tree block is stale"),
    ({"augmath/undocumented.py": None}, None, "augmath/undocumented.py: no module docstring"),
    ({"augmath/runon.py": "A first line that\nruns on."}, None, "augmath/runon.py: the docstring's first line runs on"),
    ({"augmath/sub/__init__.py": "augmath.sub: a subpackage."}, None,
     "augmath/sub/ has an __init__.py but is not in [tool.setuptools] packages"),
    ({"cards/inner/__init__.py": "inner."}, None, "cards/inner/ has an __init__.py but is not in"),
    ({}, ["augmath", "augmath.cards", "augmath.gone"], "package augmath.gone has no augmath/gone/__init__.py"),
])
def test_the_check_fails_naming_what_is_wrong(tmp_path, capsys, change, packages, expected):
    root = _project(tmp_path, GOOD, ["augmath", "augmath.cards"])
    assert tree.main(["--root", str(root)]) == 0
    for rel, doc in change.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(f'"""{doc}"""\n' if doc is not None else "X = 1\n")
    if packages:
        text = (root / "pyproject.toml").read_text()
        (root / "pyproject.toml").write_text(re.sub(r"packages = \[.*\]", "packages = [" + ", ".join(
            f'"{p}"' for p in packages) + "]", text))
    before = {name: (root / name).read_text() for name, _ in tree.TARGETS}
    capsys.readouterr()
    assert tree.main(["--root", str(root), "--check"]) == 1
    assert expected in capsys.readouterr().err
    assert {name: (root / name).read_text() for name, _ in tree.TARGETS} == before  # --check writes nothing


def test_a_file_without_markers_is_refused_in_one_line(tmp_path):
    root = _project(tmp_path, GOOD, ["augmath", "augmath.cards"])
    (root / "README.md").write_text("no markers here\n")
    with pytest.raises(SystemExit, match=r"README.md needs exactly one '<!-- tree:folders:begin"):
        tree.main(["--root", str(root), "--check"])
