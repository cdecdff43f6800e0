"""`augmath push`: the staged folder and the dry run, offline; the token never reaches any output."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from build_fixtures import make_run
from huggingface_hub import HfApi
from huggingface_hub.utils import DEFAULT_IGNORE_PATTERNS

from augmath.dataset_builders import build as B
from augmath.publish import hub
from augmath.cli import main as cli

FAKE_TOKEN = "hf_" + "FakeTokenForTests" * 2  # shaped like a real token, valid nowhere


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    make_run(root / "run-gsm8k", "gsm8k", ["reverse", "numbers"], 12)
    make_run(root / "run-math", "math", ["complexity"], 8)
    B.build([root / "run-gsm8k", root / "run-math"], root / "augmath", version="1.2.0", data_dir="packaged")
    return root / "augmath"


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def test_dry_run_lists_exactly_what_upload_folder_would_send(dataset, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    # a temp file left by an interrupted atomic write must not be published, by us or by upload_folder
    stray = dataset / "data" / ".train.parquet.abc.tmp"
    stray.write_bytes(b"partial")
    try:
        assert cli(["push", str(dataset), "--repo-id", "someorg/augmath", "--dry-run"]) == 0
        out = capsys.readouterr()
        # huggingface_hub's own file selection for upload_folder (its README check needs the network: skipped)
        monkeypatch.setattr(HfApi, "_validate_yaml", lambda self, *a, **k: None)
        plan = hub.plan_push(dataset, "someorg/augmath")
        ops = HfApi()._prepare_upload_folder_additions(dataset, "", repo_type="dataset",
                                                         ignore_patterns=plan.ignore_patterns + DEFAULT_IGNORE_PATTERNS)
    finally:
        stray.unlink()
    theirs = [op.path_in_repo for op in ops]
    assert [rel for rel, _, _ in plan.files] == theirs
    assert ".train.parquet.abc.tmp" not in out.out and "data/default/train-00000-of-00001.parquet" in out.out
    manifest = json.loads((dataset / "manifest.json").read_text())
    for rel, info in manifest["files"].items():
        assert f"{rel}  {info['bytes']:,} B  sha256 {info['sha256'][:16]}" in out.out
    assert "https://huggingface.co/datasets/someorg/augmath" in out.out
    assert "create_tag v1.2.0" in out.out
    assert "'augmath: dataset augmath v1.2.0 (8 configs, 64 rows; 100.0% verified; decontamination removed 0 of 32)'" \
        in out.out
    assert "['data/**', 'runs/**']" in out.out and "token: $HF_TOKEN" in out.out
    assert FAKE_TOKEN not in out.out + out.err


def test_token_never_reaches_outputs_of_a_real_push_attempt(dataset, tmp_path):
    """Through the real CLI, in a fresh process: build, dry run, and a push the offline Hub refuses."""
    env = {"HF_TOKEN": FAKE_TOKEN, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "PATH": "/usr/bin:/bin"}
    make_run(tmp_path / "run-math", "math", ["complexity"], 5)
    cmds = [["build", str(tmp_path / "run-math"), "--out", str(tmp_path / "ds"), "--data-dir", "packaged"],
            ["push", str(tmp_path / "ds"), "--repo-id", "someorg/augmath", "--dry-run"],
            ["push", str(tmp_path / "ds"), "--repo-id", "someorg/augmath"]]
    results = [subprocess.run([sys.executable, "-m", "augmath.cli", *c], env=env, capture_output=True, text=True,
                              timeout=300) for c in cmds]
    assert [r.returncode for r in results] == [0, 0, 2], [r.stderr[-500:] for r in results]
    assert "OfflineModeIsEnabled" in results[2].stderr and "push to someorg/augmath failed" in results[2].stderr
    for r in results:
        assert FAKE_TOKEN not in r.stdout + r.stderr
    for path in _files(tmp_path / "ds"):
        assert FAKE_TOKEN.encode() not in path.read_bytes(), path


class FaultyApi:
    """Fault injection: a Hub that quotes the request's token back in its error (as a proxy might)."""

    def __init__(self, tags=(), fail_upload=True):
        self.calls, self.tags, self.fail_upload = [], list(tags), fail_upload

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def list_repo_refs(self, repo_id, **kw):
        self.calls.append(("list_repo_refs", repo_id, kw))
        return type("Refs", (), {"tags": [type("Ref", (), {"name": t})() for t in self.tags]})()

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw["repo_id"], kw))
        raise OSError(f"403 Forbidden: header 'authorization: Bearer {FAKE_TOKEN}' rejected")


def test_errors_are_scrubbed_and_calls_are_in_order(dataset, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    plan = hub.plan_push(dataset, "someorg/augmath", private=True)
    api = FaultyApi()
    with pytest.raises(hub.PushError) as err:
        hub.push(plan, api=api)
    assert FAKE_TOKEN not in str(err.value) and "403 Forbidden" in str(err.value)
    assert err.value.__cause__ is None and err.value.__suppress_context__  # the original never travels along
    assert [c[0] for c in api.calls] == ["create_repo", "list_repo_refs", "upload_folder"]
    assert api.calls[0][2] == {"repo_type": "dataset", "private": True, "exist_ok": True}
    upload = api.calls[2][2]
    assert upload["folder_path"] == str(dataset) and upload["commit_message"] == plan.message
    assert upload["delete_patterns"] == ["data/**", "runs/**"] and upload["ignore_patterns"] == plan.ignore_patterns


def test_an_existing_version_tag_is_refused_before_uploading(dataset):
    api = FaultyApi(tags=["v1.0.0", "v1.2.0"])
    with pytest.raises(hub.PushError, match="tag v1.2.0 already exists on someorg/augmath"):
        hub.push(hub.plan_push(dataset, "someorg/augmath"), api=api)
    assert "upload_folder" not in [c[0] for c in api.calls]


def test_a_folder_changed_after_build_is_not_pushed(dataset, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(dataset, copy)
    parquet = copy / "data/gsm8k-reverse/train-00000-of-00001.parquet"
    parquet.write_bytes(parquet.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(hub.PushError, match="gsm8k-reverse/train-00000-of-00001.parquet changed since it was built"):
        hub.plan_push(copy, "someorg/augmath")
    (copy / "notes.txt").write_text("extra")
    with pytest.raises(hub.PushError, match=r"does not match its manifest.json \(extra: \['notes.txt'\]"):
        hub.plan_push(copy, "someorg/augmath")


def test_model_and_results_folders_use_the_same_path(tmp_path):
    results = tmp_path / "results"
    (results / "details").mkdir(parents=True)
    (results / "results.json").write_text(json.dumps({"gsm8k": {"accuracy": 0.1, "n": 10, "stderr": 0.09}}))
    (results / "details/gsm8k.jsonl").write_text("{}\n")
    plan = hub.plan_push(results, "someorg/results", tag="run-1")
    assert (plan.kind, plan.repo_type, plan.tag, plan.delete_patterns) == ("results", "dataset", "run-1", ["details/**"])
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "augmath_train.json").write_text(json.dumps({"dataset": "someorg/augmath", "config": "gsm8k", "n": 4000}))
    (model / "checkpoints/step-000010").mkdir(parents=True)  # accelerate save_state: stays local
    (model / "checkpoints/step-000010/optimizer.bin").write_bytes(b"\0" * 64)
    plan = hub.plan_push(model, "someorg/model")
    assert (plan.kind, plan.repo_type, plan.tag, plan.delete_patterns) == ("model", "model", None, None)
    # a model is uploaded from a staged copy beside it (not an `augmath train` folder: nothing re-rendered)
    assert plan.source == model and plan.folder.parent == tmp_path and plan.temporary
    assert [rel for rel, _, _ in plan.files] == ["augmath_train.json", "config.json"]
    assert plan.message == "augmath: model model" and "no tag" in hub.describe(plan)
    hub.discard(plan)
    assert not plan.folder.exists() and (model / "config.json").is_file()
    with pytest.raises(hub.PushError, match="is not a dataset, model or results folder"):
        hub.plan_push(tmp_path, "someorg/x")
    with pytest.raises(hub.PushError, match="is not ORG/NAME"):
        hub.plan_push(model, "no-org")


def test_no_token_is_a_clear_error(dataset, monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # no stored login either
    monkeypatch.setattr("huggingface_hub.constants.HF_TOKEN_PATH", str(tmp_path / "token"))
    assert cli(["push", str(dataset), "--repo-id", "someorg/augmath", "--dry-run"]) == 0
    assert "token: none found" in capsys.readouterr().out
    assert cli(["push", str(dataset), "--repo-id", "someorg/augmath"]) == 2
    assert "no Hugging Face token: set HF_TOKEN or run `hf auth login`" in capsys.readouterr().err


def test_a_dataset_built_for_a_repo_is_pushed_there_and_says_so(tmp_path):
    make_run(tmp_path / "run-gsm8k", "gsm8k", ["reverse"], 6)
    B.build([tmp_path / "run-gsm8k"], tmp_path / "ds", name="aug", version="0.3.0", data_dir="packaged",
            repo_id="someorg/aug")
    with pytest.raises(hub.PushError, match=r"was built for someorg/aug .*rebuild with --repo-id other/aug"):
        hub.plan_push(tmp_path / "ds", "other/aug")
    plan = hub.plan_push(tmp_path / "ds", "someorg/aug", stage=tmp_path / "stage")
    assert plan.message == ("augmath: dataset aug v0.3.0 (4 configs, 12 rows; 100.0% verified; "
                            "decontamination removed 0 of 6)")
    staged = tmp_path / "stage" / "repo"
    record = json.loads((tmp_path / "stage" / "push.json").read_text())
    assert record["message"] == plan.message and record["tag"] == "v0.3.0" and str(tmp_path) not in json.dumps(record)
    assert sorted(f["path"] for f in record["files"]) == sorted(
        p.relative_to(staged).as_posix() for p in _files(staged))
    card = (staged / "README.md").read_text()
    assert 'load_dataset("someorg/aug", "gsm8k-reverse", split="train", revision="v0.3.0")' in card
    assert "<org>" not in card and str(tmp_path) not in card
    with pytest.raises(hub.PushError, match="--dtype is for model folders"):
        hub.plan_push(tmp_path / "ds", "someorg/aug", dtype="bfloat16")
