"""Durability and hostile input formats (#28), and the one atomic-folder / link-or-copy helper (#22).

- augmath.io.atomic_folder: each `replace` mode on each kind of existing destination, no temp folder left after
  success or failure, a dead maker's temp folder removed by the next run and a live one's kept.
- Power loss: `augmath build` fsyncs every file and folder of the new dataset before renaming it in, and the parent
  folder after (checked on the real command with strace).
- Outputs get the process's umask, as any other tool's (mkstemp/mkdtemp alone make 0600/0700).
- YAML: duplicate keys refused naming both lines, an alias bomb refused fast; JSON: 100k-deep nesting and NaN are
  one DataError naming file:line, and NaN is never written.
- `build` refuses runs with failed LLM calls unless --allow-failed-calls; the card counts them apart.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_fixtures import make_run

from augmath.cli import main
from augmath.io import (DataError, atomic_folder, link_or_copy, read_json, read_jsonl, read_yaml,
                        remove_stale_folders, write_json_atomic, write_jsonl_atomic)

# ------------------------------------------------------------------------------------------------ atomic_folder

KEPT, NEW = "kept", "new"


@pytest.mark.parametrize("existing, replace, outcome", [
    (None, "never", NEW), ("empty", "never", FileExistsError), ("full", "never", FileExistsError),
    (None, "empty", NEW), ("empty", "empty", NEW), ("full", "empty", FileExistsError),
    (None, "swap", NEW), ("empty", "swap", NEW), ("full", "swap", NEW),
    (None, "keep", NEW), ("full", "keep", KEPT),
])
def test_atomic_folder_replace_modes(tmp_path, existing, replace, outcome):
    dest = tmp_path / "out"
    if existing:
        dest.mkdir()
    if existing == "full":
        (dest / "old.txt").write_text("old")
    before = sorted(p.name for p in dest.iterdir()) if dest.exists() else None

    def fill():
        with atomic_folder(dest, tag="t", replace=replace) as tmp:
            assert tmp.parent == dest.parent and tmp.name.startswith(".out.t-")
            (tmp / "sub").mkdir()
            (tmp / "sub" / "new.txt").write_text("new")

    if outcome is FileExistsError:
        with pytest.raises(FileExistsError):
            fill()
        assert sorted(p.name for p in dest.iterdir()) == before
    else:
        fill()
        assert (dest / "sub" / "new.txt").is_file() == (outcome == NEW)
        assert (dest / "old.txt").is_file() == (outcome == KEPT)
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temp or moved-aside folder left


def test_atomic_folder_failure_leaves_the_old_version_and_no_temp(tmp_path):
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old.txt").write_text("old")
    with pytest.raises(RuntimeError, match="half-way"):
        with atomic_folder(dest, tag="t", replace="swap") as tmp:
            (tmp / "half.txt").write_text("half")
            raise RuntimeError("half-way")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and [p.name for p in dest.iterdir()] == ["old.txt"]


HOLD = ("import os, sys, time\nfrom augmath.io import temp_folder\np = temp_folder(sys.argv[1], 't')\n"
        "print(p, flush=True)\nos.kill(os.getpid(), 9) if sys.argv[2] == 'die' else time.sleep(60)\n")


def test_a_dead_makers_temp_folder_is_removed_and_a_live_ones_kept(tmp_path):
    dest = tmp_path / "out"
    dead = subprocess.run([sys.executable, "-c", HOLD, str(dest), "die"], capture_output=True, text=True)
    assert dead.returncode == -signal.SIGKILL
    dead_tmp = Path(dead.stdout.strip())
    (dead_tmp / "partial.bin").write_bytes(b"x" * 100)
    live = subprocess.Popen([sys.executable, "-c", HOLD, str(dest), "live"], stdout=subprocess.PIPE, text=True)
    try:
        live_tmp = Path(live.stdout.readline().strip())
        with atomic_folder(dest, tag="t") as tmp:
            (tmp / "a.txt").write_text("a")
        assert not dead_tmp.exists(), "a killed maker's temp folder survived the next run"
        assert live_tmp.is_dir(), "a live maker's temp folder was removed under it"
    finally:
        live.kill()
        live.wait()
    remove_stale_folders(dest, "t")
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_swap_cut_between_its_renames_is_undone(tmp_path):
    dest = tmp_path / "out"
    aside = tmp_path / ".out.old-abc"
    aside.mkdir()
    (aside / "out").mkdir()
    (aside / "out" / "v1.txt").write_text("v1")  # the previous version moved aside; the new one never renamed in
    remove_stale_folders(dest, "t")
    assert [p.name for p in tmp_path.iterdir()] == ["out"] and (dest / "v1.txt").read_text() == "v1"


def test_link_or_copy_links_on_one_file_system_and_copies_across(tmp_path, monkeypatch):
    src = tmp_path / "src"
    (src / "data").mkdir(parents=True)
    (src / "data" / "a.parquet").write_bytes(b"PAR1")
    (src / ".cache").mkdir()
    link_or_copy(src, tmp_path / "linked", ignore=shutil.ignore_patterns(".cache"))
    assert (tmp_path / "linked" / "data" / "a.parquet").stat().st_ino == (src / "data" / "a.parquet").stat().st_ino
    assert not (tmp_path / "linked" / ".cache").exists()

    def cross_device(*_):
        raise OSError(18, "Invalid cross-device link")
    monkeypatch.setattr(os, "link", cross_device)
    link_or_copy(src / "data" / "a.parquet", tmp_path / "copied" / "a.parquet")
    copied = tmp_path / "copied" / "a.parquet"
    assert copied.read_bytes() == b"PAR1" and copied.stat().st_ino != (src / "data" / "a.parquet").stat().st_ino


# ------------------------------------------------------------------------------------------- umask and modes

@pytest.fixture
def umask_of():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_outputs_get_the_umasks_mode(tmp_path, umask_of, mask):
    umask_of(mask)
    write_json_atomic(tmp_path / "a.json", {"x": 1})
    with atomic_folder(tmp_path / "folder", tag="t") as tmp:
        (tmp / "f").write_text("f")
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "folder").stat().st_mode & 0o777 == 0o777 & ~mask


def test_a_built_dataset_is_readable_by_others_under_umask_022(tmp_path, umask_of):
    umask_of(0o022)
    make_run(tmp_path / "runs" / "run-gsm8k", "gsm8k", ["reverse"], 4)
    assert main(["build", str(tmp_path / "runs" / "run-gsm8k"), "--out", str(tmp_path / "ds"),
                 "--data-dir", "packaged"]) == 0
    ds = tmp_path / "ds"
    assert ds.stat().st_mode & 0o777 == 0o755
    for p in ds.rglob("*"):
        assert p.stat().st_mode & 0o777 == (0o755 if p.is_dir() else 0o644), p


# ------------------------------------------------------------------------------------- durability under strace

def _strace() -> str:
    """strace, installed and allowed to trace here, or the test is skipped saying why."""
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    probe = subprocess.run([strace, "-f", "-o", os.devnull, "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace in this environment: {probe.stderr.strip()[:200]}")
    return strace


RENAME = re.compile(r'rename(?:at2?)?\((?:[^"]*?)"([^"]+)",(?:[^"]*?)"([^"]+)"')
SYNCED = re.compile(r"f(?:data)?sync\(\d+<([^>]+)>\)\s+=\s+0")


def test_build_syncs_every_file_and_folder_before_its_rename_and_the_parent_after(tmp_path):
    strace = _strace()
    run = tmp_path / "runs" / "run-gsm8k"
    make_run(run, "gsm8k", ["reverse", "numbers"], 6)
    out = tmp_path / "out"
    ds = out / "ds"
    argv = [sys.executable, "-m", "augmath.cli", "build", str(run), "--out", str(ds), "--data-dir", "packaged"]
    assert subprocess.run(argv, capture_output=True).returncode == 0  # a first version: the rebuild swaps
    for fresh in (False, True):  # over an existing version (swap), then into an empty parent
        if fresh:
            shutil.rmtree(ds)
        log = tmp_path / f"strace-{fresh}.log"
        done = subprocess.run([strace, "-f", "-y", "-qq", "-o", str(log), "-e",
                               "trace=fsync,fdatasync,rename,renameat,renameat2", *argv], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        lines = log.read_text().splitlines()
        swap = [(i, m.group(1)) for i, line in enumerate(lines) if (m := RENAME.search(line))
                and m.group(2) == str(ds) and Path(m.group(1)).name.startswith(".ds.build-")]
        assert len(swap) == 1, "\n".join(line for line in lines if "rename" in line)
        at, tmp = swap[0]
        synced_before = {m.group(1) for line in lines[:at] if (m := SYNCED.search(line))}
        synced_after = {m.group(1) for line in lines[at:] if (m := SYNCED.search(line))}
        final = [p.relative_to(ds) for p in ds.rglob("*")]
        assert any(p.suffix == ".parquet" for p in final) and Path("manifest.json") in final
        missing = [str(rel) for rel in final if f"{tmp}/{rel}" not in synced_before]
        assert not missing, f"not fsynced before the rename: {missing}"
        assert tmp in synced_before, "the new folder itself was not fsynced"
        assert str(out) in synced_after, "the parent folder was not fsynced after the rename"


# ---------------------------------------------------------------------------------------- YAML and JSON input

BOMB = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))

YAML_CASES = [
    ("dup_key", "name: s\nlimit: 40\nseed: 1\nlimit: 4000\n", r":4: invalid YAML \(duplicate key 'limit' \(also on line 2"),
    ("dup_nested", "a:\n  b: 1\n  b: 2\n", r":3: invalid YAML \(duplicate key 'b' \(also on line 2"),
    ("alias_bomb", BOMB, r"invalid YAML \(aliases expand to over 100,000 nodes"),
    ("self_alias", "a: &a [*a]\n", r":1: invalid YAML \(an alias refers to a node that contains it"),
    ("merge_override", "base: &b {lr: 1, seed: 2}\nrun:\n  <<: *b\n  lr: 3\n", {"lr": 3, "seed": 2}),
    ("small_aliases", "x: &x [1, 2]\ny: [*x, *x]\n", [[1, 2], [1, 2]]),
]


@pytest.mark.parametrize("name, text, expected", YAML_CASES, ids=[c[0] for c in YAML_CASES])
def test_yaml_input(tmp_path, name, text, expected):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    started = time.perf_counter()
    if isinstance(expected, str):
        with pytest.raises(DataError, match=expected) as e:
            read_yaml(path)
        assert str(e.value).startswith(str(path)) and "\n" not in str(e.value)
        assert time.perf_counter() - started < 5  # the bomb fails fast, it does not expand
    else:
        value = read_yaml(path)
        assert value[next(k for k in value if k in ("run", "y"))] == expected


def test_experiment_with_a_duplicate_key_is_one_line_exit_2(tmp_path, capsys):
    config = tmp_path / "study.yaml"
    config.write_text(f"name: s\nworkdir: {tmp_path / 'work'}\ndata_dir: packaged\n"
                      "augment: [{source: gsm8k, strategies: [numbers], no_llm: true, limit: 40, limit: 4000}]\n")
    assert main(["experiment", str(config), "--plan"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{config}:4: invalid YAML (duplicate key 'limit'" in err[0]
    assert not (tmp_path / "work").exists()


DEEP = "[" * 100_000 + "]" * 100_000
JSON_CASES = [  # (file name, content, reader, expected DataError)
    ("deep.json", '{"a":\n' + DEEP + "}", read_json, r"deep.json:2: JSON nested too deep"),
    ("nan.json", '{"a": 1,\n "gold": NaN}', read_json, r"nan.json:2: NaN is not valid JSON"),
    ("inf.json", '{"gold": -Infinity}', read_json, r"inf.json:1: -Infinity is not valid JSON"),
    ("deep.jsonl", '{"a": 1}\n' + DEEP + "\n", lambda p: list(read_jsonl(p)), r"deep.jsonl:2: JSON nested too deep"),
    ("nan.jsonl", '{"a": 1}\n{"gold": NaN}\n', lambda p: list(read_jsonl(p)), r"nan.jsonl:2: NaN is not valid JSON"),
    ("bad.jsonl", '{"a": 1}\n{"a": \n', lambda p: list(read_jsonl(p)), r"bad.jsonl:2: invalid JSON \(Expecting value"),
]


@pytest.mark.parametrize("name, text, reader, expected", JSON_CASES, ids=[c[0] for c in JSON_CASES])
def test_json_input(tmp_path, name, text, reader, expected):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=expected):
        reader(path)


def test_grade_of_a_deep_or_nan_file_is_one_line_exit_2(tmp_path, capsys):
    for name, text in (("deep.jsonl", DEEP + "\n"), ("nan.jsonl", '{"prediction": "1", "gold": NaN}\n')):
        path = tmp_path / name
        path.write_text(text)
        assert main(["grade", str(path), "--kind", "gsm8k"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"{path}:1:" in err[0] and "Traceback" not in err[0], err


def test_nan_is_never_written_as_bare_nan(tmp_path):
    write_json_atomic(tmp_path / "a.json", {"x": float("nan"), "y": [float("inf"), 1.5]})
    write_jsonl_atomic(tmp_path / "b.jsonl", [{"loss": float("nan")}])
    assert json.loads((tmp_path / "a.json").read_text(), parse_constant=pytest.fail) == {"x": None, "y": [None, 1.5]}
    assert (tmp_path / "b.jsonl").read_text() == '{"loss": null}\n'


# ---------------------------------------------------------------------------------- build and failed LLM calls

def test_build_refuses_failed_calls_unless_allowed_and_the_card_counts_them(tmp_path, capsys):
    run = tmp_path / "runs" / "run-gsm8k"
    make_run(run, "gsm8k", ["reverse"], 4)
    report = json.loads((run / "report.json").read_text())
    (run / "report.json").write_text(json.dumps({**report, "failed_calls": 3}))
    argv = ["build", str(run), "--out", str(tmp_path / "ds"), "--data-dir", "packaged"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "report.json (3 failed calls)" in err[0] and "--allow-failed-calls" in err[0]
    assert not (tmp_path / "ds").exists()
    assert main([*argv, "--allow-failed-calls"]) == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["summary"]["failed_calls"] == 3
    card = (tmp_path / "ds" / "README.md").read_text()
    assert "**Failed calls:** 3 LLM calls failed after retries" in card


def test_a_clean_runs_card_has_no_failed_calls_line(tmp_path):
    run = tmp_path / "runs" / "run-gsm8k"
    make_run(run, "gsm8k", ["reverse"], 4)
    assert main(["build", str(run), "--out", str(tmp_path / "ds"), "--data-dir", "packaged"]) == 0
    assert "Failed calls" not in (tmp_path / "ds" / "README.md").read_text()
    assert json.loads((tmp_path / "ds" / "manifest.json").read_text())["summary"]["failed_calls"] == 0


@pytest.mark.parametrize("bad_line", ['{"gold": NaN}', "[" * 100_000 + "]" * 100_000],
                         ids=["nan", "100k_deep"])
def test_build_of_a_run_with_a_nan_or_deep_item_is_one_line_exit_2(tmp_path, capsys, bad_line):
    run = tmp_path / "runs" / "run-gsm8k"
    make_run(run, "gsm8k", ["reverse"], 4)
    lines = (run / "items.jsonl").read_text().splitlines()
    (run / "items.jsonl").write_text("\n".join([lines[0], bad_line, *lines[1:]]) + "\n")
    assert main(["build", str(run), "--out", str(tmp_path / "ds"), "--data-dir", "packaged"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{run / 'items.jsonl'}:2: " in err[0], err
    assert ("NaN is not valid JSON" if "NaN" in bad_line else "JSON nested too deep") in err[0], err
    assert not (tmp_path / "ds").exists()
