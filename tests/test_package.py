"""augmath as a user installs it: the wheel, installed non-editable into a fresh virtual environment, every stage
run from a folder outside the checkout.

The fresh environment reuses this environment's dependencies (the lock, already installed) through a .pth
line, so nothing is downloaded: only augmath itself comes from the wheel. A path line in a .pth file does not
process the .pth files of the folder it adds, so this environment's editable augmath (its finder lives in
such a file) stays invisible there, and every import of augmath must come from the wheel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# What the user's folders must contribute to the wheel (a sample of each).
SHIPPED = [
    "augmath/cli.py", "augmath/grading/grader.py", "augmath/engine/server.py", "augmath/augment/strategies/reverse.py",
    "augmath/dataset_builders/build.py", "augmath/dataset_builders/README.md",
    "augmath/training/sft.py", "augmath/training/recipes/cpu_tiny.yaml",
    "augmath/training/accelerate_configs/fsdp_full_shard.yaml",
    "augmath/eval_tasks/__init__.py", "augmath/eval_tasks/gsm8k.py", "augmath/eval_tasks/endpoint_model.py",
    "augmath/cards/model_card.md", "augmath/cards/dataset_card.md", "augmath/cards/results_card.md",
    "augmath/metrics/augmath_accuracy/augmath_accuracy.py", "augmath/data/gsm8k_train_sample.jsonl",
]


def _run(cmd: list[str], cwd: Path, env: dict, timeout: int = 600) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(map(str, cmd))} exited {proc.returncode}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv bin folder, environment, a work folder outside the checkout) with the wheel installed."""
    tmp = tmp_path_factory.mktemp("package")
    dist = tmp / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
          "-w", str(dist), str(REPO)], cwd=tmp, env=dict(os.environ))
    wheel = next(dist.glob("augmath-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [n for n in SHIPPED if n not in names]
    assert not missing, f"the wheel lacks {missing}"
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"augmath"}, f"the wheel installs top-level names besides augmath: {sorted(tops)}"

    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp, env=dict(os.environ))
    purelib = Path(_run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp, env=dict(os.environ)).stdout.strip())
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "augmath_test_deps.pth").write_text("\n".join(sorted(ours)) + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "-q", "--no-deps",
          "--no-index", str(wheel)], cwd=tmp, env=dict(os.environ))

    work = tmp / "elsewhere"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}", HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1",
               HF_HOME=str(tmp / "hf_home"), AUGMATH_CACHE=str(tmp / "cache"),
               AUGMATH_EVAL_DATA_ROOT=str(tmp / "eval_data"), TOKENIZERS_PARALLELISM="false")
    return venv / "bin", env, work


@pytest.mark.slow
def test_the_installed_wheel_runs_every_stage_outside_the_checkout(installed):
    bin_dir, env, work = installed
    py = str(bin_dir / "python")
    where = _run([py, "-c", "import augmath, augmath.training, augmath.eval_tasks, augmath.cards;"
                  "print(augmath.__file__, augmath.training.__file__, augmath.eval_tasks.__file__)"], work, env).stdout
    assert str(REPO) not in where and str(bin_dir.parent) in where, where

    assert "experiment" in _run([str(bin_dir / "augmath"), "--help"], work, env).stdout

    # build: a tiny exact-strategy run (no model needed) into a Hub-ready dataset folder
    _run([str(bin_dir / "augmath"), "augment", "--source", "gsm8k", "--strategies", "numbers", "--no-llm",
          "--limit", "6", "--data-dir", "packaged", "--skip-decontam", "--out", "run"], work, env)
    _run([str(bin_dir / "augmath"), "build", "run", "--out", "dataset", "--name", "pkg-test", "--version", "0.1.0",
          "--data-dir", "packaged"], work, env)
    assert (work / "dataset" / "README.md").read_text().count("config_name:") >= 3

    # train: one step of the packaged cpu_tiny recipe on a tiny model, by `augmath train` (accelerate launch -m)
    _run([py, "-m", "augmath.tiny", "tiny-model"], work, env)
    _run([str(bin_dir / "augmath"), "train", "cpu_tiny", "--model_name_or_path", "tiny-model", "--dataset", "dataset",
          "--dataset_config", "gsm8k-original", "--num_samples", "4", "--global_batch_size", "4",
          "--per_device_train_batch_size", "4", "--num_train_epochs", "1", "--output_dir", "model"], work, env)
    card = (work / "model" / "README.md").read_text()  # the model card, rendered from the installed template
    assert card.startswith("---\n") and "augmath" in card

    # eval: lighteval with --custom-tasks augmath.eval_tasks, on two items
    _run([str(bin_dir / "augmath"), "eval", "--model", "model", "--tasks", "gsm8k", "--max-samples", "2",
          "--max-new-tokens", "8", "--data-dir", "packaged", "--out", "results", "--quiet"], work, env)
    results = json.loads((work / "results" / "results.json").read_text())
    command = results["settings"]["command"]
    assert command[command.index("--custom-tasks") + 1] == "augmath.eval_tasks"
    assert results["tasks"]["gsm8k"]["n"] == 2
