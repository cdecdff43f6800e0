"""The reproduction record behind every number: what a stranger needs to get the same score again.

    results.json["reproduction"] = {
        "augmath": {"version", "commit", "dirty"},          the code (commit: None outside a git checkout)
        "requirements_lock_sha256": ...,                    the tested environment (None when not shipped)
        "versions": {"torch", "transformers", "lighteval", "datasets", "huggingface_hub", "accelerate", ...},
        "grader": {"version", "sha256"},                    augmath.grading's source, hashed: the scoring code
        "eval_argv": ["eval", "--tasks", ..., ...],         `augmath eval` as run, less --model/--out
        "model": {"name", "weights_sha256"},                the checkpoint scored (sha256 over its weight files)
        "items": {task: [item ids]},                        exactly which items were scored
        "training": {"recipe", "dataset", "dataset_config", "dataset_revision"} or None
    }

`augmath reproduce RESULTS_DIR` (eval_tasks/reproduce.py) re-runs `eval_argv` and, where a number moves,
names what differs between this record and the new run's.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import subprocess
from pathlib import Path

import augmath

PACKAGES = ("torch", "transformers", "lighteval", "datasets", "huggingface_hub", "accelerate", "peft",
            "math-verify", "latex2sympy2_extended", "safetensors", "tokenizers")
CHECKOUT = Path(augmath.__file__).resolve().parents[1]
# `augmath eval` options that decide the numbers (--out, --model, --quiet, --no-card do not)
EVAL_OPTIONS = ("tasks", "backend", "max_samples", "data_dir", "fewshot", "template", "profile", "maj_k",
                "temperature", "top_p", "seed", "max_new_tokens", "batch_size", "device", "dtype", "scorer")


def versions() -> dict[str, str | None]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = None
    return out


def code_identity() -> dict:
    """augmath's version and, in a git checkout, its commit and whether the work tree differs from it."""
    commit = dirty = None
    if (CHECKOUT / ".git").exists():
        try:
            commit = subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"], capture_output=True,
                                    text=True, timeout=10, check=True).stdout.strip() or None
            status = subprocess.run(["git", "-C", str(CHECKOUT), "status", "--porcelain", "--untracked-files=no"],
                                    capture_output=True, text=True, timeout=10, check=True).stdout
            dirty = bool(status.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return {"version": augmath.__version__, "commit": commit, "dirty": dirty}


def lock_sha256() -> str | None:
    lock = CHECKOUT / "requirements.lock"
    return hashlib.sha256(lock.read_bytes()).hexdigest() if lock.is_file() else None


def grader_identity() -> dict:
    """The grader's code, hashed file by file (a changed extraction rule changes the hash, not the version)."""
    root = Path(augmath.__file__).resolve().parent / "grading"
    h = hashlib.sha256()
    for path in sorted(root.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return {"version": augmath.__version__, "sha256": h.hexdigest()}


def eval_argv(args) -> list[str]:
    """`augmath eval` as run, option by option (the ones that decide the numbers), ready to run again."""
    argv = ["eval"]
    for name in EVAL_OPTIONS:
        value = getattr(args, name, None)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    return argv


def training_of(provenance: dict) -> dict | None:
    """The recipe and data config behind the checkpoint, from its augmath_train.json (None: not trained here)."""
    if not provenance:
        return None
    recipe, dataset = provenance.get("recipe") or {}, provenance.get("dataset") or {}
    if isinstance(dataset, str):  # a flat record (augmath.analysis reads both): dataset id, config, n_train
        dataset = {"id": dataset, "config": provenance.get("config"), "num_samples": provenance.get("n_train")}
    return {"recipe": recipe, "dataset": dataset.get("id") or recipe.get("dataset"),
            "dataset_config": dataset.get("config") or recipe.get("dataset_config"),
            "dataset_revision": recipe.get("dataset_revision") or dataset.get("revision"),
            "num_samples": dataset.get("num_samples")}


def reproduction_record(args, model_name: str, weights: str | None, items: dict[str, list[str]],
                        provenance: dict) -> dict:
    return {"augmath": code_identity(), "requirements_lock_sha256": lock_sha256(), "versions": versions(),
            "grader": grader_identity(), "eval_argv": eval_argv(args),
            "model": {"name": model_name, "weights_sha256": weights}, "items": items,
            "training": training_of(provenance)}


def differences(old: dict, new: dict) -> list[str]:
    """Why two runs' numbers may differ, one phrase each, most decisive first."""
    why = []
    a, b = old.get("model") or {}, new.get("model") or {}
    if a.get("weights_sha256") != b.get("weights_sha256"):
        why.append(f"different weights (sha256 {str(a.get('weights_sha256'))[:12]} recorded, "
                   f"{str(b.get('weights_sha256'))[:12]} now)")
    if old.get("items") != new.get("items"):
        why.append("different items")
    if old.get("eval_argv") != new.get("eval_argv"):
        why.append(f"different eval settings ({' '.join(old.get('eval_argv', []))} recorded)")
    changed = [f"{k} {v} -> {(new.get('versions') or {}).get(k)}" for k, v in (old.get("versions") or {}).items()
               if v != (new.get("versions") or {}).get(k)]
    if changed:
        why.append("different versions: " + ", ".join(changed))
    if (old.get("grader") or {}).get("sha256") != (new.get("grader") or {}).get("sha256"):
        why.append("a different grader (augmath.grading source changed)")
    if old.get("requirements_lock_sha256") != new.get("requirements_lock_sha256"):
        why.append("a different requirements.lock")
    if (old.get("augmath") or {}).get("commit") != (new.get("augmath") or {}).get("commit"):
        why.append(f"a different augmath commit ({(old.get('augmath') or {}).get('commit')} recorded)")
    return why
