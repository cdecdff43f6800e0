"""`augmath eval` input checks (clear errors before anything heavy) and its cache-trap helpers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time

import pytest

from augmath.eval_tasks import run as evaluation
from augmath.cli import main


def _eval(argv, capsys):
    code = main(["eval", *argv])
    return code, capsys.readouterr().err


def test_unknown_task_lists_the_valid_ones(capsys, tmp_path):
    code, err = _eval(["--model", str(tmp_path), "--tasks", "gsm8k,gsm9k", "--out", str(tmp_path / "o")], capsys)
    assert code == 2
    assert "unknown task(s) 'gsm9k'" in err
    for name in ("gsm8k", "math", "math500", "svamp", "asdiv", "mawps"):
        assert name in err
    assert not (tmp_path / "o").exists()


def test_missing_model_folder(capsys, tmp_path):
    code, err = _eval(["--model", str(tmp_path / "nope"), "--tasks", "gsm8k", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no such model folder" in err and str(tmp_path / "nope") in err


def test_folder_without_config_is_not_a_model(capsys, tmp_path):
    (tmp_path / "m").mkdir()
    code, err = _eval(["--model", str(tmp_path / "m"), "--tasks", "gsm8k", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no config.json" in err


def test_uncached_hub_id_offline(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, err = _eval(["--model", "nobody/no-such-model-xyz", "--tasks", "gsm8k", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no cached Hub model" in err


def test_unreachable_endpoint(capsys, tmp_path):
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, err = _eval(["--backend", "endpoint", "--base-url", f"http://127.0.0.1:{port}/v1", "--tasks", "gsm8k",
                       "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "unreachable" in err and str(port) in err


def test_several_endpoints_are_each_checked(capsys, tmp_path, monkeypatch):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    code, err = _eval(["--backend", "endpoint", "--base-url", f"{url},{url}", "--tasks", "gsm8k",
                       "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "lists one endpoint twice" in err
    monkeypatch.setenv("OPENAI_BASE_URL", f"{url},ftp://x/v1")
    code, err = _eval(["--backend", "endpoint", "--tasks", "gsm8k", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "OPENAI_BASE_URL" in err and "http://" in err
    assert not (tmp_path / "o").exists()


def test_the_lean_lighteval_entry_refuses_other_commands_without_importing_lighteval():
    code = ("import sys\nfrom augmath.eval_tasks import lighteval_cli\ntry:\n    lighteval_cli.main(['inspect'])\n"
            "except SystemExit as e:\n    print(e.code)\nprint('lighteval' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert "accelerate,vllm,custom" in out[0] and "inspect" in out[0] and out[-1] == "False"


def test_the_lean_lighteval_entry_runs_lighteval_and_passes_its_exit_code():
    # `lighteval accelerate` without its arguments: typer's usage error (exit 2), the command found
    out = subprocess.run([sys.executable, "-m", "augmath.eval_tasks.lighteval_cli", "accelerate"],
                         capture_output=True, text=True)
    assert out.returncode == 2 and "Missing argument 'model_args'" in (out.stdout + out.stderr)


def test_endpoint_needs_a_url(capsys, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    code, err = _eval(["--backend", "endpoint", "--tasks", "gsm8k", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--base-url" in err


def test_resume_is_for_the_endpoint_backend(capsys, tmp_path):
    code, err = _eval(["--model", str(tmp_path), "--tasks", "gsm8k", "--resume", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--resume is for --backend endpoint" in err
    assert not (tmp_path / "o").exists()


def test_lighteval_log_is_written_as_it_runs(tmp_path):
    """A run cut by a time limit must leave what lighteval printed: the log is line-buffered, not flushed at exit."""
    log = tmp_path / "lighteval.log"
    child = [sys.executable, "-c", "import time; print('RUNNING MODEL', flush=True); time.sleep(3)"]
    runner = threading.Thread(target=evaluation.run_lighteval, args=(child, {}, log, True))
    runner.start()
    try:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline and "RUNNING MODEL" not in (log.read_text() if log.exists() else ""):
            time.sleep(0.05)
        assert runner.is_alive(), "the child ended before the log was checked"
        assert log.read_text() == "RUNNING MODEL\n"
    finally:
        runner.join()


def test_majority_vote_needs_sampling(capsys, tmp_path):
    code, err = _eval(["--model", str(tmp_path), "--tasks", "gsm8k", "--maj-k", "4", "--temperature", "0",
                       "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "--temperature" in err


def test_bad_input_fails_fast_without_importing_lighteval_or_torch(tmp_path):
    code = ("import sys; from augmath.cli import main; "
            f"rc = main(['eval', '--model', {str(tmp_path / 'nope')!r}, '--tasks', 'gsm8k', '--out', {str(tmp_path)!r}]); "
            "heavy = [m for m in ('lighteval', 'torch', 'transformers') if m in sys.modules]; "
            "print(rc, heavy); sys.exit(0)")
    t0 = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "2 []", out.stdout + out.stderr
    assert time.monotonic() - t0 < 20


def test_weights_hash_follows_the_weights_not_the_path(tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "llama"}')
    (model / "model.safetensors").write_bytes(b"\x00" * 64)
    (model / "training_log.jsonl").write_text("{}\n")  # not a weight file: ignored
    first = evaluation.weights_sha256(model)
    (model / "training_log.jsonl").write_text('{"step": 2}\n')
    (model / "augmath_train.json").write_text("{}")
    assert evaluation.weights_sha256(model) == first
    (model / "model.safetensors").write_bytes(b"\x01" + b"\x00" * 63)  # "retrained" in place
    second = evaluation.weights_sha256(model)
    assert second != first
    view_a = evaluation.model_view(str(model), tmp_path / "cache", first)
    view_b = evaluation.model_view(str(model), tmp_path / "cache", second)
    assert view_a != view_b and view_a.parent.name.endswith(first[:16])
    assert (view_b / "model.safetensors").resolve() == (model / "model.safetensors").resolve()
    assert not any(p.name.startswith(("augmath", "lighteval")) and p.is_dir() for p in model.iterdir())


def test_view_follows_the_model_when_equal_weights_move(tmp_path):
    """Two runs with equal weights share one view; the first run's folder is then deleted (a fresh rerun of
    an experiment). The view must point at the model being scored, not dangle."""
    import shutil

    old, new = tmp_path / "run1" / "model", tmp_path / "run2" / "model"
    for folder in (old, new):
        folder.mkdir(parents=True)
        (folder / "config.json").write_text('{"model_type": "llama"}')
        (folder / "model.safetensors").write_bytes(b"\x02" * 64)
    (old / "notes.log").write_text("only in the old run")
    digest = evaluation.weights_sha256(old)
    assert evaluation.weights_sha256(new) == digest
    view = evaluation.model_view(str(old), tmp_path / "cache", digest)
    (view / "lighteval-answers").mkdir()  # lighteval's cache beside the links stays
    shutil.rmtree(tmp_path / "run1")
    assert evaluation.model_view(str(new), tmp_path / "cache", digest) == view
    assert (view / "config.json").resolve() == (new / "config.json").resolve()
    assert json.loads((view / "config.json").read_text())["model_type"] == "llama"
    assert not (view / "notes.log").is_symlink() and (view / "lighteval-answers").is_dir()


def test_tiny_benchmarks_stub_is_placed(tmp_path):
    import importlib.util
    from pathlib import Path

    evaluation.ensure_tiny_benchmarks_stub()
    spec = importlib.util.find_spec("lighteval")
    assert (Path(list(spec.submodule_search_locations)[0]) / "tasks" / "tasks" / "tinyBenchmarks.pkl").exists()


@pytest.mark.parametrize("spec,expected", [("gsm8k", ["gsm8k"]), ("svamp, gsm8k,svamp", ["svamp", "gsm8k"])])
def test_parse_tasks(spec, expected):
    assert evaluation.parse_tasks(spec) == expected


@pytest.mark.parametrize("spec, default, per_task", [
    (None, None, {}), ("12", 12, {}), ("math500_bpb=6", None, {"math500_bpb": 6}),
    ("20, math500_bpb=6", 20, {"gsm8k_bpb": 20, "math500_bpb": 6, "svamp": 20}),
])
def test_max_samples_plain_or_per_task(spec, default, per_task):
    names = ["gsm8k_bpb", "math500_bpb", "svamp"]
    assert evaluation.parse_max_samples(spec, names) == (default, per_task)


@pytest.mark.parametrize("spec, message", [("0", ">= 1"), ("gsm8k=4", "not one of this run's tasks"),
                                           ("svamp=x", "is not N or TASK=N")])
def test_bad_max_samples(spec, message, capsys, tmp_path):
    code, err = _eval(["--model", str(tmp_path), "--tasks", "svamp", "--max-samples", spec, "--out",
                       str(tmp_path / "o")], capsys)
    assert code == 2 and message in err
