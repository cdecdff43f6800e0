"""Shared by the training tests and benchmark: dataset folders from real GSM8K train items, recipes, runners.

The dataset folder has the layout `augmath build` writes (data/<config>/train-00000-of-00001.parquet + README.md
YAML `configs:`), made directly from the real GSM8K train items packaged with augmath, so these tests do not
depend on the augmentation stages.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
SFT_MODULE = "augmath.training.sft"


def gsm8k_rows(n: int | None = None, offset: int = 0) -> list[dict[str, str]]:
    from augmath.sources import load

    records = load("gsm8k", "train", data_dir="packaged")
    rows = [{"id": r.id, "question": r.question, "response": r.solution, "answer": r.answer} for r in records]
    return rows[offset: None if n is None else offset + n]


def make_dataset(folder: Path, configs: dict[str, list[dict]]) -> Path:
    """Write `configs` ({name: rows}) as a parquet dataset folder; the first config is the default."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    entries = []
    for k, (name, rows) in enumerate(configs.items()):
        path = folder / "data" / name / "train-00000-of-00001.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        columns = sorted({key for row in rows for key in row}) or ["question", "response"]
        pq.write_table(pa.table({c: [row.get(c) for row in rows] for c in columns},
                                schema=pa.schema([(c, pa.string()) for c in columns])), path)
        entry = {"config_name": name, "data_files": [{"split": "train", "path": f"data/{name}/train-*.parquet"}]}
        if k == 0:
            entry["default"] = True
        entries.append(entry)
    (folder / "README.md").write_text("---\n" + yaml.safe_dump({"configs": entries}, sort_keys=False) + "---\n\n# test\n")
    return folder


def default_dataset(folder: Path) -> Path:
    """gsm8k-original: 200 real GSM8K train items; gsm8k-rest: the last 100 of them; empty: no rows."""
    rows = gsm8k_rows()
    make_dataset(folder, {"gsm8k-original": rows, "gsm8k-rest": rows[100:], "empty": []})
    (folder / "manifest.json").write_text(json.dumps({"kind": "dataset", "name": "test", "version": "1.0.0"}) + "\n")
    return folder


def tiny_recipe(tmp: Path, model: Path, dataset: Path, out: Path, **overrides) -> Path:
    recipe = {
        "model_name_or_path": str(model), "dataset": str(dataset), "dataset_config": "gsm8k-original",
        "num_samples": 32, "output_dir": str(out), "global_batch_size": 8, "per_device_train_batch_size": 4,
        "num_train_epochs": 1, "learning_rate": 1e-3, "warmup_ratio": 0.0, "max_length": 256, "seed": 7,
        "save_steps": 2, "report_to": "none",
    }
    recipe.update(overrides)
    path = tmp / f"recipe-{out.name}.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def env(tmp: Path, **extra: str) -> dict[str, str]:
    e = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp / "hf_home"),
         "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    e.update(extra)
    return e


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp: Path, recipe: Path, processes: int = 1, extra_env: dict | None = None, args: list[str] = (),
           timeout: int = 300, launcher: bool = True) -> subprocess.CompletedProcess:
    """`accelerate launch -m augmath.training.sft` for real: one CPU process, or N gloo processes (ACCELERATE_USE_CPU).
    launcher=False runs `python -m augmath.training.sft` (one process, no launcher: saves a torch import)."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch"]
    extra = dict(extra_env or {})
    if not launcher:
        assert processes == 1
        return subprocess.run([sys.executable, "-m", SFT_MODULE, "--config", str(recipe), *args], env=env(tmp, **extra),
                              capture_output=True, text=True, timeout=timeout, cwd=REPO)
    if processes > 1:
        extra["ACCELERATE_USE_CPU"] = "true"
        cmd += ["--multi_gpu", "--num_processes", str(processes), "--main_process_port", str(free_port())]
    else:
        cmd += ["--cpu", "--num_processes", "1"]
    cmd += ["--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
            "-m", SFT_MODULE, "--config", str(recipe), *args]
    return subprocess.run(cmd, env=env(tmp, **extra), capture_output=True, text=True, timeout=timeout, cwd=REPO)


def load_sft_module():
    """augmath.training.sft, to call its main() in-process (fast checks; no launcher)."""
    import importlib

    return importlib.import_module(SFT_MODULE)


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "training_log.jsonl").read_text().splitlines() if line.strip()]
