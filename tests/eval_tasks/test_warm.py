"""The warm lighteval (eval_tasks/warm.py): `augmath eval` forked from a server that imported lighteval once scores
exactly what a fresh lighteval scores; a server that refuses, or is gone, means a fresh process; nothing outlives
the run that asked for it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from augmath.eval_tasks import warm


@pytest.mark.parametrize("env, kept", [
    ({"HF_HUB_OFFLINE": "1", "PATH": "/bin", "OMP_NUM_THREADS": "2"}, {"HF_HUB_OFFLINE", "OMP_NUM_THREADS"}),
    ({"PYTHONUNBUFFERED": "1", "PYTHONPATH": "/x", "AUGMATH_EVAL_SETTINGS": "/s"}, {"PYTHONPATH"}),
    ({"TORCHINDUCTOR_CACHE_DIR": "/tmp/t", "KMP_INIT_AT_FORK": "FALSE", "MKL_NUM_THREADS": "1"}, {"MKL_NUM_THREADS"}),
    ({"TOKENIZERS_PARALLELISM": "false", "TORCH_HOME": "/t", "HOME": "/root"}, {"TOKENIZERS_PARALLELISM", "TORCH_HOME"}),
])
def test_the_variables_read_at_import_time(env, kept):
    assert set(warm.import_time_env(env)) == kept


def test_no_server_or_another_command_means_a_fresh_process(tmp_path):
    cmd = [sys.executable, "-m", warm.LIGHTEVAL_CLI, "accelerate"]
    assert warm.spawn(cmd, {}, str(tmp_path)) is None  # no variable
    assert warm.spawn(cmd, {warm.WARM_ENV: str(tmp_path / "nobody.sock")}, str(tmp_path)) is None  # nobody there
    assert warm.spawn([sys.executable, "-m", "other"], {warm.WARM_ENV: "x"}, str(tmp_path)) is None


def _eval(model, out, env, *extra):
    cmd = [sys.executable, "-m", "augmath.cli", "eval", "--model", str(model), "--tasks", "gsm8k_bpb",
           "--max-samples", "3", "--data-dir", "packaged", "--no-cache", "--quiet", "--no-card", "--out", str(out),
           *extra]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def _nll(out):
    return [json.loads(x)["nll"] for x in (out / "details" / "gsm8k_bpb.jsonl").read_text().splitlines()]


@pytest.fixture
def tiny_env(tmp_path):
    from augmath.tiny import make_tiny_llama

    env = {**os.environ, "AUGMATH_CACHE": str(tmp_path / "cache"), "AUGMATH_EVAL_DATA_ROOT": str(tmp_path / "data")}
    return make_tiny_llama(tmp_path / "tiny"), env


@pytest.mark.slow
def test_a_forked_run_scores_what_a_fresh_one_does_and_a_refused_one_runs_afresh(tiny_env, tmp_path):
    model, env = tiny_env
    fresh = _eval(model, tmp_path / "fresh", env)
    assert fresh.returncode == 0, fresh.stderr[-2000:]
    with warm.WarmServer(tmp_path / "warm.log") as server:
        forked = _eval(model, tmp_path / "forked", {**env, **server.env()})
        assert forked.returncode == 0, forked.stderr[-2000:]
        assert "warm lighteval not used" not in forked.stderr
        # a variable libraries read when imported differs from the server's: refused, then a fresh lighteval
        other = _eval(model, tmp_path / "other", {**env, **server.env(), "HF_DATASETS_CACHE": str(tmp_path / "d")})
        assert other.returncode == 0, other.stderr[-2000:]
        assert "warm lighteval not used (environment differs in HF_DATASETS_CACHE)" in other.stderr
    assert "ready on" in (tmp_path / "warm.log").read_text()
    assert not os.path.exists(server.path)
    for out in ("forked", "other"):
        assert _nll(tmp_path / out) == _nll(tmp_path / "fresh")
        log = (tmp_path / out / "lighteval" / "lighteval.log").read_text()
        assert "--- RUNNING MODEL ---" in log and "augmath scorer:" in log  # the whole log reached the file
    # a run that fails inside lighteval (weights that do not load): its status and its error come back as a
    # fresh one's do
    broken = tmp_path / "broken"
    shutil.copytree(model, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    with warm.WarmServer(tmp_path / "warm2.log") as server:
        bad = _eval(broken, tmp_path / "bad", {**env, **server.env()})
    assert bad.returncode != 0 and "lighteval exited with status 1" in bad.stderr, bad.stderr[-2000:]


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


@pytest.mark.slow
def test_a_killed_eval_takes_its_forked_run_with_it(tiny_env, tmp_path):
    model, env = tiny_env
    with warm.WarmServer(tmp_path / "warm.log") as server:
        cmd = [sys.executable, "-m", "augmath.cli", "eval", "--model", str(model), "--tasks", "gsm8k_bpb,svamp_bpb",
               "--data-dir", "packaged", "--no-cache", "--quiet", "--no-card", "--out", str(tmp_path / "r")]
        proc = subprocess.Popen(cmd, env={**env, **server.env()}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.time() + 120
        while not _children(server.proc.pid) and time.time() < deadline:  # the forked run has started
            time.sleep(0.05)
        forked = _children(server.proc.pid)
        assert forked, (tmp_path / "warm.log").read_text()
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.time() + 15
        while _children(server.proc.pid) and time.time() < deadline:
            time.sleep(0.2)
        assert _children(server.proc.pid) == []
        assert not os.path.exists(f"/proc/{forked[0]}") or open(f"/proc/{forked[0]}/stat").read().split()[2] == "Z"
        assert server.proc.poll() is None  # the server itself serves on
