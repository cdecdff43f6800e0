"""Write the package tree into CONTRIBUTING.md and the README's folder table, from the code itself.

    python scripts/tree.py            # rewrite the blocks between the <!-- tree:... --> markers
    python scripts/tree.py --check    # change nothing; exit 1 naming what is stale or wrong (tests/test_tree.py)

The packages are pyproject.toml's `[tool.setuptools] packages`, found on disk through `package-dir` (so the tree is
what the wheel ships), each with its modules and package data. A module is described by its docstring's first line,
which must therefore be a summary that stands alone (PEP 257: followed by a blank line); lighteval task modules,
whose docstrings follow lighteval's `name:` / `abstract:` layout, are described by those fields. A folder with an
`__init__.py` that pyproject.toml leaves out would be missing from the wheel: --check reports it too.
"""

from __future__ import annotations

import argparse
import ast
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from augmath.io import atomic_write

ROOT = Path(__file__).resolve().parents[1]
# (file, marker name, what goes between "<!-- tree:NAME:begin -->" and "<!-- tree:NAME:end -->")
TARGETS = (("CONTRIBUTING.md", "modules"), ("README.md", "folders"))
NAME_WIDTH = 22  # the description column of the tree block


@dataclass
class Package:
    name: str                      # augmath.training
    folder: Path                   # relative to the root: training
    summary: str                   # its __init__ docstring's first line
    modules: list[tuple[str, str]] = field(default_factory=list)   # (file name, summary), __init__ left out
    data: list[str] = field(default_factory=list)                  # package-data patterns


def setuptools_table(root: Path) -> dict:
    with open(root / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]


def package_folder(name: str, package_dir: dict[str, str]) -> Path:
    """Where setuptools finds package `name`: the longest mapped prefix's folder, else its dotted path."""
    for prefix in sorted(package_dir, key=len, reverse=True):
        if name == prefix:
            return Path(package_dir[prefix])
        if name.startswith(prefix + "."):
            return Path(package_dir[prefix], *name[len(prefix) + 1:].split("."))
    return Path(*name.split("."))


def summary(path: Path, problems: list[str], rel: str) -> str:
    """The module's one-line description; a problem is recorded when there is none that stands alone."""
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    if not doc:
        problems.append(f"{rel}: no module docstring (its first line is the module's entry in the tree)")
        return "(no docstring)"
    lines = doc.splitlines()
    if lines[0].strip() == "name:":  # lighteval's task-docstring layout: name:, dataset:, abstract:, ...
        fields = {block.splitlines()[0].rstrip(":"): block.splitlines()[1:] for block in doc.split("\n\n") if block}
        name, abstract = (fields.get("name") or [""])[0], (fields.get("abstract") or [""])[0]
        return f"lighteval task `{name}`: {abstract}"
    if len(lines) > 1 and lines[1].strip():
        problems.append(f"{rel}: the docstring's first line runs on into the next; make it a summary that "
                        "stands alone, then a blank line")
    return lines[0].strip()


def read_packages(root: Path, problems: list[str]) -> list[Package]:
    table = setuptools_table(root)
    package_dir, data = table.get("package-dir", {}), table.get("package-data", {})
    packages = []
    for name in table["packages"]:
        folder = package_folder(name, package_dir)
        init = root / folder / "__init__.py"
        if not init.is_file():
            problems.append(f"pyproject.toml: package {name} has no {folder.as_posix()}/__init__.py")
            continue
        pkg = Package(name, folder, summary(init, problems, f"{folder.as_posix()}/__init__.py"), data=data.get(name, []))
        for module in sorted((root / folder).glob("*.py")):
            if module.name != "__init__.py":
                rel = (folder / module.name).as_posix()
                pkg.modules.append((module.name, summary(module, problems, rel)))
        packages.append(pkg)
    problems += unlisted_packages(root, table, packages)
    return packages


def unlisted_packages(root: Path, table: dict, packages: list[Package]) -> list[str]:
    """Folders with an __init__.py under a package root that pyproject.toml does not list (not in the wheel)."""
    listed = {p.folder for p in packages}
    roots = {package_folder("augmath", table.get("package-dir", {}))} | {Path(v) for v in table.get("package-dir", {}).values()}
    found = sorted({init.parent.relative_to(root) for r in roots for init in (root / r).rglob("__init__.py")
                    if "__pycache__" not in init.parts})
    return [f"pyproject.toml: {folder.as_posix()}/ has an __init__.py but is not in [tool.setuptools] packages "
            "(it would be missing from the wheel)" for folder in found if folder not in listed]


def tree_block(packages: list[Package]) -> str:
    """The code block for CONTRIBUTING.md: every package folder, its modules and data, nested as on disk."""
    by_folder = {p.folder: p for p in packages}
    lines: list[str] = []

    def entry(depth: int, name: str, text: str) -> None:
        label = "  " * depth + name
        lines.append(f"{label:<{NAME_WIDTH}} {text}".rstrip() if len(label) < NAME_WIDTH else f"{label}  {text}")

    def walk(pkg: Package, depth: int) -> None:
        entry(depth, pkg.folder.name + "/", pkg.summary)
        for name, text in pkg.modules:
            entry(depth + 1, name, text)
        for pattern in pkg.data:
            entry(depth + 1, pattern, "(package data)")
        for child in packages:
            if child.folder.parent == pkg.folder:
                walk(child, depth + 1)

    for pkg in packages:
        if pkg.folder.parent not in by_folder:  # a top-level folder of the repository
            walk(pkg, 0)
    return "```\n" + "\n".join(lines) + "\n```"


def folder_table(packages: list[Package]) -> str:
    """The README's table: one row per package, where it lives and what it is."""
    rows = ["| folder | package | what lives there |", "|---|---|---|"]
    rows += [f"| `{p.folder.as_posix()}/` | `{p.name}` | {p.summary.removeprefix(p.name + ': ')} |" for p in packages]
    return "\n".join(rows)


def replace_block(text: str, marker: str, block: str, where: str) -> str:
    begin, end = f"<!-- tree:{marker}:begin (scripts/tree.py writes this) -->", f"<!-- tree:{marker}:end -->"
    if text.count(begin) != 1 or text.count(end) != 1:
        raise SystemExit(f"scripts/tree.py: {where} needs exactly one '{begin}' and one '{end}' line")
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    return f"{head}{begin}\n{block}\n{end}{tail}"


def generate(root: Path = ROOT) -> tuple[dict[str, str], list[str]]:
    """({file: its text with fresh blocks}, problems)."""
    problems: list[str] = []
    packages = read_packages(root, problems)
    blocks = {"modules": tree_block(packages), "folders": folder_table(packages)}
    texts = {}
    for name, marker in TARGETS:
        texts[name] = replace_block((root / name).read_text(encoding="utf-8"), marker, blocks[marker], name)
    return texts, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a block is stale or a "
                        "module or package is undescribed or unlisted")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    texts, problems = generate(args.root)
    stale = [name for name, text in texts.items() if (args.root / name).read_text(encoding="utf-8") != text]
    if args.check:
        for name in stale:
            problems.append(f"{name}: the tree block is stale (run python scripts/tree.py)")
    else:
        for name in stale:
            atomic_write(args.root / name, texts[name])
            print(f"scripts/tree.py: rewrote the block in {name}")
    for problem in problems:
        print(f"scripts/tree.py: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
