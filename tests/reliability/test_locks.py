"""Output folders are locked, provenance stays consistent, leftovers are cleaned (fast, in-process checks).

The kill -9 versions of these (real processes killed at random moments) are in tests/reliability/test_crash.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from build_fixtures import make_run

from augmath.cli import main
from augmath.io import FolderBusy, folder_lock, lock_path

EXACT = ["augment", "--source", "gsm8k", "--strategies", "numbers,reverse", "--no-llm", "--skip-decontam",
         "--data-dir", "packaged", "--limit", "6"]


def test_a_folder_lock_is_exclusive_names_its_holder_and_frees_when_the_holder_dies(tmp_path):
    out = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom augmath.io import folder_lock\n"
                               f"with folder_lock({str(out)!r}, 'augmath augment'):\n"
                               "    print('held', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusy, match=rf"{out} is in use by augmath augment \(pid {holder.pid}\)"):
            with folder_lock(out, "augmath build"):
                pass
    finally:
        holder.kill()  # kill -9: no cleanup ran, the lock file is still there
        holder.wait()
    assert lock_path(out).exists()
    (out / ".items.jsonl.x1y2.tmp").parent.mkdir(parents=True, exist_ok=True)
    (out / ".items.jsonl.x1y2.tmp").write_text("half a fi")  # what a killed atomic_writer leaves behind
    with folder_lock(out, "augmath augment"):  # the kernel freed the lock with its holder: taken over at once
        assert not (out / ".items.jsonl.x1y2.tmp").exists()
    assert not lock_path(out).exists()


def test_a_second_augment_into_a_locked_run_folder_is_a_one_line_refusal(tmp_path, capsys):
    out = tmp_path / "run"
    with folder_lock(out, "augmath augment"):
        assert main([*EXACT, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is in use by augmath augment" in err[0] and not out.exists()


def test_a_bad_data_dir_creates_nothing(tmp_path, capsys):
    assert main([*EXACT[:-4], "--data-dir", str(tmp_path / "nope"), "--out", str(tmp_path / "run")]) == 2
    assert "data dir" in capsys.readouterr().err and list(tmp_path.iterdir()) == []


def test_other_settings_are_refused_unless_replace_and_the_folder_describes_one_run(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*EXACT, "--out", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main([*EXACT[:-1], "4", "--out", str(out)]) == 2  # --limit 4: another run
    assert "holds a run with other settings (limit 6 -> 4); pass --replace" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert main([*EXACT[:-1], "4", "--out", str(out), "--replace"]) == 0
    run, report = (json.loads((out / n).read_text()) for n in ("run.json", "report.json"))
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert run["config"]["limit"] == 4 and report["seeds"] == 4 and report["run_key"] == run["run_key"]
    assert {i["seed_id"] for i in items} <= {f"gsm8k/train/{k}" for k in range(4)}
    assert main([*EXACT[:-1], "4", "--out", str(out)]) == 0  # the same settings again: resumed, not refused
    # A run made before a setting existed: the setting at its default is the old behaviour, so it resumes.
    run = json.loads((out / "run.json").read_text())
    old = {k: v for k, v in run["config"].items() if k not in ("path_selection", "keep_paths", "limit")}
    (out / "run.json").write_text(json.dumps({**run, "config": old}))
    assert main([*EXACT[:-2], "--out", str(out)]) == 0  # no --limit: the default, as the old run had
    (out / "run.json").write_text(json.dumps({**run, "config": old}))
    assert main([*EXACT[:-1], "4", "--out", str(out)]) == 2  # --limit 4 is not what that run did
    assert "(limit None -> 4)" in capsys.readouterr().err


def test_build_refuses_a_run_folder_whose_parts_describe_different_runs(tmp_path, capsys):
    out = tmp_path / "run"
    assert main([*EXACT, "--out", str(out)]) == 0
    items = (out / "items.jsonl").read_bytes()
    (out / "items.jsonl").write_bytes(items[: items.rindex(b"\n", 0, -1) + 1])  # one row short of its report
    assert main(["build", str(out), "--out", str(tmp_path / "ds"), "--data-dir", "packaged"]) == 2
    assert "items.jsonl: does not match report.json" in capsys.readouterr().err
    (out / "items.jsonl").write_bytes(items)
    run = json.loads((out / "run.json").read_text())
    (out / "run.json").write_text(json.dumps({**run, "run_key": "0123456789ab"}))  # another run's settings
    assert main(["build", str(out), "--out", str(tmp_path / "ds"), "--data-dir", "packaged"]) == 2
    assert "run.json and report.json describe different runs" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_build_cleans_its_stale_temp_folders_and_puts_back_a_version_moved_aside(tmp_path):
    from augmath.dataset_builders.build import build

    make_run(tmp_path / "runs" / "run-gsm8k", "gsm8k", ["reverse"], 4)
    ds = tmp_path / "out" / "ds"
    build([tmp_path / "runs" / "run-gsm8k"], ds, data_dir="packaged")
    # A build killed between its two renames: the previous version moved aside, the new one not yet in place.
    (ds.parent / ".ds.old-abc").mkdir()
    ds.rename(ds.parent / ".ds.old-abc" / "ds")
    (ds.parent / ".ds.build-def" / "data").mkdir(parents=True)
    (ds.parent / ".ds.build-def" / "data" / "part.parquet").write_bytes(b"PAR1 half")
    manifest = build([tmp_path / "runs" / "run-gsm8k"], ds, data_dir="packaged")
    assert sorted(p.name for p in ds.parent.iterdir()) == ["ds"] and manifest["version"] == "1.0.0"


def test_an_experiment_work_dir_has_one_runner(tmp_path, capsys):
    config = tmp_path / "study.yaml"
    config.write_text(f"name: s\nworkdir: {tmp_path / 'work'}\ndata_dir: packaged\n"
                      "augment: [{source: gsm8k, strategies: [numbers], no_llm: true}]\n")
    with folder_lock(tmp_path / "work", "augmath experiment"):
        started = time.time()
        assert main(["experiment", str(config)]) == 2
    assert "work is in use by augmath experiment" in capsys.readouterr().err and time.time() - started < 30
    assert not (tmp_path / "work").exists()


def test_generate_validates_locally(tmp_path, capsys):
    """Bad rows never reach the server: checked before any call (the full table is in test_bad_inputs.py)."""
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps({"messages": [{"role": "robot", "content": "hi"}]}) + "\n")
    assert main(["generate", str(rows), "--out", str(tmp_path / "log.jsonl"),
                 "--base-url", "http://127.0.0.1:9/v1"]) == 2
    assert "messages[0].role' is 'robot'" in capsys.readouterr().err and not (tmp_path / "log.jsonl").exists()


def test_locks_live_beside_the_folder(tmp_path):
    assert lock_path(tmp_path / "a" / "run") == (tmp_path / "a" / ".run.lock").resolve()
    assert Path(lock_path("rel/dir")).name == ".dir.lock"
