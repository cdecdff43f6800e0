"""Run state of augmath.training.sft: progress counters, atomic checkpoints, the JSONL training log, the output record.

Checkpoints are `accelerator.save_state` folders under OUTPUT_DIR/checkpoints/step-NNNNNN. Each is written as
`.step-NNNNNN.save` (a name every process knows) and renamed in with augmath.io.install_folder once every process
has finished writing, so a kill during a save leaves no checkpoint that looks complete; the next run with the same
command loads the newest complete one and its first save removes the killed run's temp folders (the training
lock on OUTPUT_DIR means no live run owns them).
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

from augmath.io import (append_jsonl, install_folder, read_jsonl, remove_stale_folders, write_json_atomic,
                         write_jsonl_atomic)

CKPT_RE = re.compile(r"^step-(\d{6,})$")
LOG_FILE, RECIPE_FILE = "training_log.jsonl", "recipe.json"


class TrainCounters:
    """Counters saved inside every checkpoint (accelerator.register_for_checkpointing)."""

    def __init__(self) -> None:
        self.step = 0
        self.tokens_seen = 0
        self.response_tokens_seen = 0
        self.computed_tokens = 0  # positions computed, padding included
        self.train_seconds = 0.0
        self.cpu_seconds = 0.0  # this process's CPU time in the loop (robust to a shared machine; all threads)
        self.last_loss: float | None = None

    def state_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def checkpoints(ckpt_dir: Path) -> list[tuple[int, Path]]:
    if not ckpt_dir.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in ckpt_dir.iterdir() if (m := CKPT_RE.match(p.name)) and p.is_dir()]
    return sorted(found)


def latest_checkpoint(ckpt_dir: Path) -> tuple[int, Path] | None:
    found = checkpoints(ckpt_dir)
    return found[-1] if found else None


def save_checkpoint(accelerator, ckpt_dir: Path, step: int, keep: int) -> Path:
    """save_state into a temp folder, rename when all processes are done, prune to the `keep` newest (0: all)."""
    tmp, final = ckpt_dir / f".step-{step:06d}.save", ckpt_dir / f"step-{step:06d}"
    if accelerator.is_main_process:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        for stale in (*ckpt_dir.glob(".step-*.save"), *ckpt_dir.glob(".tmp-step-*")):  # .tmp-step-*: older augmath
            shutil.rmtree(stale, ignore_errors=True)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        remove_stale_folders(final, "save")  # a kill between a swap's two renames: put the old checkpoint back
        install_folder(tmp, final, replace="swap", fsync=True)
        if keep > 0:
            for _, old in checkpoints(ckpt_dir)[:-keep]:
                shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()
    return final


def start_log(out: Path, resumed_step: int) -> Path:
    """Keep only log rows up to the checkpoint we resume from (a killed run may have logged further)."""
    path = out / LOG_FILE
    if resumed_step == 0:
        path.unlink(missing_ok=True)
    elif path.exists():
        rows = [r for r in read_jsonl(path, tolerate_torn_tail=True) if r.get("step", 0) <= resumed_step]
        write_jsonl_atomic(path, rows)
    return path


def log_row(path: Path, row: dict[str, Any]) -> None:
    append_jsonl(path, row, fsync=False)


def read_recipe(ckpt_dir: Path) -> dict[str, Any] | None:
    path = ckpt_dir / RECIPE_FILE
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def write_recipe(ckpt_dir: Path, recipe: dict[str, Any]) -> None:
    write_json_atomic(ckpt_dir / RECIPE_FILE, recipe)


def base_model_info(name_or_path: str, resolved: str) -> dict[str, Any]:
    """What the card says about the base model: its Hub id and licence when known, and whether it is the
    dequantized GGUF demo model (its weights are a Q4_1 approximation of the original)."""
    from augmath.models import EMBEDDED_SOURCE, _MARKER

    info: dict[str, Any] = {"name_or_path": name_or_path, "resolved": resolved, "hub_id": None, "license": None,
                            "demo": False}
    marker = Path(resolved) / _MARKER
    if marker.exists():
        source = json.loads(marker.read_text())
        info.update(gguf=source.get("gguf"), hub_id=source.get("converted_from"), demo=True)
        if info["hub_id"] == EMBEDDED_SOURCE:
            info["license"] = "apache-2.0"
    return info
