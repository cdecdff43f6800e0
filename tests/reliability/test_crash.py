"""kill -9 at random moments: `augment`, `build`, `train` and `experiment`, each killed and rerun until done.

Every kill hits the command's own process (never its group): whatever it started must go down with it. After
each kill: no process of the run is left (matched by the test's unique folder in its command line), the
folder's lock is free, and what is on disk is consistent (a run folder's report matches its items and run.json;
a dataset folder is a complete version). After the rerun that finishes: no row lost or duplicated against an
uninterrupted run, no temp file or folder left, provenance consistent, a training log with every step once.

Seeded and bounded. The default kills (8 augment + 8 build + 1 train + 3 experiment = 20) keep it within CI
time; AUGMATH_CRASH_KILLS=N scales the augment, build and train kills by N/20 for a long soak
(docs/reliability.md).
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from augmath.io import sha256_file

SEED = 18
SCALE = max(1.0, int(os.environ.get("AUGMATH_CRASH_KILLS", "20")) / 20)
EXACT = ["--source", "gsm8k", "--strategies", "numbers,reverse", "--no-llm", "--skip-decontam", "--data-dir",
         "packaged", "--limit", "60"]


def _cli(*argv) -> list[str]:
    return [sys.executable, "-m", "augmath.cli", *map(str, argv)]


def _survivors(marker: str, grace: float = 15.0) -> list[str]:
    """Live processes (not us) whose command line mentions `marker`, after giving the kernel `grace` seconds."""
    deadline = time.time() + grace
    while True:
        alive = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmd and int(pid) != os.getpid():
                alive.append(f"{pid}: {cmd[:160]}")
        if not alive or time.time() > deadline:
            return alive
        time.sleep(0.2)


def _lock_is_free(folder: Path, grace: float = 15.0) -> bool:
    """True once nothing holds `folder`'s lock, after giving the kernel `grace` seconds. The grace is needed: a
    process being killed loses its command line (its memory goes first) before its files are closed, so
    `_survivors` can already see nothing while the dying launcher still holds the lock for a moment."""
    path = folder.resolve().parent / f".{folder.name}.lock"  # augmath.io.lock_path
    deadline = time.time() + grace
    while path.exists():
        try:
            with open(path) as f:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except FileNotFoundError:
            return True
        except BlockingIOError:
            if time.time() > deadline:
                return False
            time.sleep(0.2)
    return True


class Killer:
    """Starts commands in their own session (so a failed test can still clean up), kills the command alone."""

    def __init__(self, tmp: Path, seed: int):
        self.rng, self.log, self.started, self.kills = random.Random(seed), tmp / "commands.log", [], 0

    def start(self, argv: list[str]) -> subprocess.Popen:
        with open(self.log, "a") as log:
            proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.started.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen, marker: str, folder: Path) -> bool:
        """kill -9 the command itself; True when it was still running. Checks nothing of it survives."""
        alive = proc.poll() is None
        if alive:
            os.kill(proc.pid, signal.SIGKILL)
            self.kills += 1
        proc.wait()
        assert _survivors(marker) == [], self.log.read_text()[-3000:]
        assert _lock_is_free(folder)
        return alive

    def kill_after(self, argv: list[str], low: float, high: float, marker: str, folder: Path) -> bool:
        proc = self.start(argv)
        time.sleep(self.rng.uniform(low, high))
        return self.kill(proc, marker, folder)

    def finish(self, argv: list[str], timeout: float = 600) -> None:
        proc = self.start(argv)
        assert proc.wait(timeout) == 0, self.log.read_text()[-3000:]

    def cleanup(self) -> None:
        for proc in self.started:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # only if the test failed with something still running
            except ProcessLookupError:
                pass


@pytest.fixture
def killer(tmp_path):
    k = Killer(tmp_path, SEED)
    yield k
    k.cleanup()


def _rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "items.jsonl").read_text().splitlines() if line.strip()]


def _consistent_run(run: Path) -> None:
    """A run folder describes one run: report.json (written last) matches run.json and the files it counts."""
    if not (run / "report.json").exists():
        return  # cut before its first complete write: build refuses it ("not a finished run folder")
    run_json, report = (json.loads((run / n).read_text()) for n in ("run.json", "report.json"))
    assert report["run_key"] == run_json["run_key"]
    for name, digest in report["files"].items():
        assert sha256_file(run / name) == digest, name
    ids = [r["id"] for r in _rows(run)]
    assert len(ids) == len(set(ids)) == report["items"]


def _no_temp_files(folder: Path) -> None:
    leftovers = [p for p in folder.parent.rglob(".*") if p.name.startswith((f".{folder.name}.", ".tmp-"))
                 or p.suffix == ".tmp"]
    assert leftovers == []


def _complete_dataset(ds: Path) -> dict:
    manifest = json.loads((ds / "manifest.json").read_text())
    for rel, info in manifest["files"].items():
        assert sha256_file(ds / rel) == info["sha256"], rel
    return manifest


@pytest.mark.slow
def test_kill9_of_augment_and_build_loses_nothing(tmp_path, killer):
    ref, run, ds = tmp_path / "ref", tmp_path / "kills" / "run-gsm8k", tmp_path / "kills" / "out" / "ds"
    killer.finish(_cli("augment", *EXACT, "--out", ref))
    for _ in range(round(8 * SCALE)):
        while not killer.kill_after(_cli("augment", *EXACT, "--out", run), 0.5, 5.0, str(run), run):
            pass  # it finished before the kill: only kills of a live process count
        _consistent_run(run)
    killer.finish(_cli("augment", *EXACT, "--out", run))
    _consistent_run(run)
    _no_temp_files(run)
    assert _rows(run) == _rows(ref)  # same rows, same order: nothing lost, nothing twice

    build = _cli("build", run, "--out", ds, "--data-dir", "packaged")
    killer.finish(build)
    for _ in range(round(8 * SCALE)):
        while not killer.kill_after([*build, "--version", "2.0.0"], 0.3, 3.5, str(ds), ds):
            pass
        assert _complete_dataset(ds)["version"] in ("1.0.0", "2.0.0")  # the old or the new version, whole
    killer.finish([*build, "--version", "2.0.0"])
    _no_temp_files(ds)
    manifest = _complete_dataset(ds)
    assert manifest["version"] == "2.0.0" and manifest["configs"]["default"]["rows"] == len(_rows(ref))
    from datasets import load_dataset

    ids = load_dataset(str(ds), "default", split="train")["id"]
    assert sorted(ids) == sorted(f"{Path(run).name}/{r['id']}" for r in _rows(ref))  # the run folder's name first
    assert killer.kills >= round(16 * SCALE)


def _training_log_steps(model: Path) -> list[int]:
    lines = (model / "training_log.jsonl").read_text().splitlines()
    return [json.loads(line)["step"] for line in lines if line.strip().endswith("}")]  # a torn last line: not yet


def _wait_for_step(model: Path, proc: subprocess.Popen, step: int, killer: Killer) -> None:
    deadline = time.time() + 300
    while not (model / "training_log.jsonl").exists() or max(_training_log_steps(model) or [0]) < step:
        assert proc.poll() is None and time.time() < deadline, killer.log.read_text()[-3000:]
        time.sleep(0.1)


@pytest.mark.slow
def test_kill9_of_train_takes_the_launcher_and_trainer_with_it_and_the_folder_is_locked(tmp_path, killer,
                                                                                        monkeypatch):
    from augmath.dataset_builders.build import build
    from augmath.tiny import make_tiny_llama

    from build_fixtures import make_run

    make_run(tmp_path / "runs" / "run-gsm8k", "gsm8k", ["reverse"], 16)
    build([tmp_path / "runs" / "run-gsm8k"], tmp_path / "ds", data_dir="packaged")
    make_tiny_llama(tmp_path / "base")
    model = tmp_path / "model"
    token = "hf_" + "TrainEnvSecret" * 3  # the model folder and its card must never hold it (tests/reliability/test_secrets.py)
    monkeypatch.setenv("HF_TOKEN", token)
    train = _cli("train", "cpu_tiny", "--model_name_or_path", tmp_path / "base", "--dataset", tmp_path / "ds",
                 "--dataset_config", "gsm8k-reverse", "--num_samples", "24", "--global_batch_size", "4",
                 "--per_device_train_batch_size", "2", "--num_train_epochs", "2", "--save_steps", "1",
                 "--output_dir", model)
    first = killer.start(train)
    _wait_for_step(model, first, 1, killer)
    # While it trains, a second run into the same folder is refused in one line (and starts nothing).
    second = subprocess.run(train, capture_output=True, text=True, timeout=120)
    assert second.returncode == 2, second.stderr
    assert [line for line in second.stderr.splitlines() if "error" in line] == [
        f"augmath train: error: {model} is in use by augmath train (pid {first.pid}); wait for it to finish, or use "
        "another output folder"]
    assert killer.kill(first, str(tmp_path), model)  # launcher and sft.py went with it; the lock is free
    for _ in range(round(SCALE) - 1):  # the long version: reruns resume and are killed again at a random step
        rerun = killer.start(train)
        _wait_for_step(model, rerun, killer.rng.randint(max(_training_log_steps(model) or [1]) + 1, 10), killer)
        time.sleep(killer.rng.uniform(0.0, 0.5))
        assert killer.kill(rerun, str(tmp_path), model)
    killer.finish(train)
    record = json.loads((model / "augmath_train.json").read_text())
    steps = _training_log_steps(model)
    assert record["status"] == "complete" and steps == list(range(1, record["progress"]["steps"] + 1))
    assert not (model / "checkpoints").exists() and (model / "README.md").exists()
    assert [p.name for p in model.rglob("*") if p.is_file() and token.encode() in p.read_bytes()] == []
    _no_temp_files(model)


@pytest.mark.slow
def test_kill9_of_experiment_takes_its_stages_with_it_and_resumes(tmp_path, killer):
    work = tmp_path / "work"
    config = tmp_path / "crash.yaml"
    config.write_text(yaml.safe_dump({
        "name": "crash", "workdir": str(work), "data_dir": "packaged",
        "augment": [{"source": "gsm8k", "strategies": ["numbers", "reverse"], "limit": 30, "no_llm": True,
                     "skip_decontam": True}],
        "base_models": ["tiny"],
        "train": {"recipe": "cpu_tiny", "runs": [{"config": "gsm8k", "amounts": [8]}],
                  "overrides": {"num_train_epochs": 2, "global_batch_size": 4, "per_device_train_batch_size": 4,
                                "save_steps": 1}},
        "eval": {"tasks": ["gsm8k"], "max_samples": 1, "include_base": False, "args": ["--max-new-tokens", "4"]},
    }))
    experiment = _cli("experiment", config)
    for _ in range(2):  # anywhere in augment -> build -> base model -> train
        killer.kill_after(experiment, 1.0, 25.0, str(work), work)
        for marker in work.glob("stages/*/.stage.json"):
            stage = marker.parent
            if stage.name.startswith("augment-"):
                _consistent_run(next(p for p in stage.iterdir() if p.is_dir()))
            if stage.name.startswith("build-"):
                _complete_dataset(stage / "dataset")
            if stage.name.startswith("train-"):
                assert json.loads((stage / "model" / "augmath_train.json").read_text())["status"] == "complete"
    # The rerun resumes; once training is done it is killed again, in the evaluation (lighteval must go too).
    proc = killer.start(experiment)
    deadline = time.time() + 600
    while not list(work.glob("stages/train-*/.stage.json")):
        assert proc.poll() is None and time.time() < deadline, killer.log.read_text()[-3000:]
        time.sleep(0.5)
    time.sleep(killer.rng.uniform(0.5, 5.0))
    assert killer.kill(proc, str(work), work)
    run = next(work.glob("stages/augment-gsm8k-*/augment-gsm8k"))
    _consistent_run(run)
    ids = sorted(f"{run.name}/{r['id']}" for r in _rows(run))  # dataset ids start with the run folder's name
    from datasets import load_dataset

    assert sorted(load_dataset(str(next(work.glob("stages/build-*/dataset"))), "default", split="train")["id"]) == ids
    model = next(work.glob("stages/train-*/model"))
    assert _training_log_steps(model) == list(range(1, len(_training_log_steps(model)) + 1))
    assert killer.kills == 3
