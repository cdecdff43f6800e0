"""Nothing is left behind (#28): each command is killed (SIGKILL, from strace) exactly at each of its renames, then
run again; afterwards no temp file or folder is left beside or inside its output, and the output is what a clean
run writes. strace's `-e inject=rename:signal=KILL:when=N` stops the process at the N-th rename, before the
kernel does it: the moments where a half-finished output, a temp folder or a moved-aside version exists.

Commands: `augmath import` (temp folder `.OUT.import-*`), `augmath build` (`.OUT.build-*`, `.OUT.old-*` during
its swap) and `augmath push --dry-run --stage DIR` (`.push.json.*.tmp`).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from build_fixtures import make_run

from augmath.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "released"
VOLATILE = {"started", "elapsed_s"}  # the only fields two identical runs may differ in (report.json, run.json)

pytestmark = pytest.mark.slow


def _strace() -> str:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    probe = subprocess.run([strace, "-f", "-o", "/dev/null", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace in this environment: {probe.stderr.strip()[:200]}")
    return strace


def _cli(*argv) -> list[str]:
    return [sys.executable, "-m", "augmath.cli", *map(str, argv)]


def _renames(strace: str, argv: list[str], log: Path) -> int:
    """How many renames the command's own process makes in a clean run (they must all be rename(2): the kill is
    placed by counting that one syscall)."""
    done = subprocess.run([strace, "-qq", "-o", str(log), "-e", "trace=rename,renameat,renameat2", *argv],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    calls = [line for line in log.read_text().splitlines() if "rename" in line]
    assert calls and all(line.startswith("rename(") for line in calls), calls
    return len(calls)


def _killed_at_rename(strace: str, argv: list[str], n: int) -> None:
    done = subprocess.run([strace, "-qq", "-o", "/dev/null", "-e", "trace=rename",
                           "-e", f"inject=rename:signal=KILL:when={n}", *argv], capture_output=True, text=True)
    assert done.returncode in (-signal.SIGKILL, 128 + signal.SIGKILL), (n, done.returncode, done.stderr[-1500:])


def _tree(folder: Path) -> dict[str, object]:
    """Every file under `folder` (hidden ones included: a leftover temp file must show): bytes, or for JSON the
    value without its timing fields."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            rel = p.relative_to(folder).as_posix()
            out[rel] = ({k: v for k, v in json.loads(p.read_text()).items() if k not in VOLATILE}
                        if p.suffix == ".json" else p.read_bytes())
    return out


def _hidden(output: Path) -> list[str]:
    """Hidden names beside `output` or anywhere inside it: temp files and folders, moved-aside versions, locks."""
    return sorted(str(p) for p in [*output.parent.iterdir(), *output.rglob("*")] if p.name.startswith("."))


def _kill_at_each_rename(tmp_path: Path, argv_for, output: str, prepare=lambda root: None) -> int:
    """Clean run -> expected tree; then for each rename N: a fresh root, killed at N, run again, compared."""
    strace = _strace()
    clean = tmp_path / "clean"
    prepare(clean)
    n = _renames(strace, argv_for(clean), tmp_path / "clean.strace")
    expected = _tree(clean / output)
    for when in range(1, n + 1):
        root = tmp_path / f"kill-{when}"
        prepare(root)
        _killed_at_rename(strace, argv_for(root), when)
        assert main(argv_for(root)[3:]) == 0, when  # the rerun in-process: only the kills need their own process
        assert _hidden(root / output) == [], f"killed at rename {when}: left {_hidden(root / output)}"
        assert _tree(root / output) == expected, f"killed at rename {when}: the rerun's output differs"
    return n


def test_import_killed_at_each_rename(tmp_path):
    argv = lambda root: _cli("import", FIXTURES / "mugglemath_gsm8k.jsonl", "--format", "mugglemath", "--source",
                             "gsm8k", "--out", root / "runs" / "imported", "--data-dir", "packaged",
                             "--skip-decontam", "--query-generator", "q", "--response-generator", "r")
    assert _kill_at_each_rename(tmp_path, argv, "runs/imported") >= 5  # 4 files and the folder


def _run_and_version(root: Path) -> None:
    make_run(root / "runs" / "run-gsm8k", "gsm8k", ["reverse", "numbers"], 5)
    assert main(_build(root)[3:]) == 0  # a version to swap out


def _build(root: Path) -> list[str]:
    return _cli("build", root / "runs" / "run-gsm8k", "--out", root / "out" / "ds", "--data-dir", "packaged")


def test_build_killed_at_each_rename(tmp_path):
    assert _kill_at_each_rename(tmp_path, _build, "out/ds", prepare=_run_and_version) >= 3  # README + the swap's 2


def test_push_dry_run_stage_killed_at_each_rename(tmp_path):
    argv = lambda root: _cli("push", root / "out" / "ds", "--repo-id", "someorg/augmath", "--dry-run",
                             "--stage", root / "stage")
    assert _kill_at_each_rename(tmp_path, argv, "stage", prepare=_run_and_version) >= 1  # push.json
