"""A dataset folder built beforehand as an experiment's data (`dataset: {path: FOLDER}` in the experiment YAML).

    dataset: {path: outputs/gpu-study-data/dataset, name: augmath-gpu-study, version: 0.1.0}

The experiment then runs no augment stage and no `augmath build`: its `build` stage links the folder's files into
its own output (hard links, so a later rebuild of FOLDER, which writes new files, cannot change what a finished
stage trained on) and every later stage reads that copy as if the build had written it. The stage is keyed on the
folder's manifest (the sha256 of every file), so new data means new train/eval stages, and it checks each file
against the manifest before anything trains: a truncated or edited file is named, not trained on.
Why a separate stage at all: data made once on a CPU (no LLM needed for the exact strategies) is reused by any
number of GPU studies without carrying the augment runs along.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from augmath.io import DataError, atomic_folder, link_or_copy, read_json, sha256_file
from augmath.experiment.stages import Stage, StageError

MISSING = "missing"


def resolve_path(path: str) -> Path:
    """As the runner resolves `workdir`: relative to the directory the command runs in."""
    return (Path.cwd() / Path(path).expanduser()).resolve()


def folder_problems(path: str, name: str | None = None, version: str | None = None) -> list[str]:
    """What keeps FOLDER from being read as a built dataset, one line each naming `dataset.path` (or nothing)."""
    root = resolve_path(path)
    if not (root / "manifest.json").is_file():
        return [f"dataset.path: {root} is not a dataset folder (no manifest.json); make it with `augmath build` "
                "(for the GPU study: bash scripts/gpu_study_data.sh, docs/gpu_study.md)"]
    try:
        manifest = read_json(root / "manifest.json", dict, "a dataset manifest")
    except DataError as e:
        return [f"dataset.path: {e}"]
    problems = []
    for key, wanted in (("name", name), ("version", version)):
        if wanted is not None and str(manifest.get(key)) != str(wanted):
            problems.append(f"dataset.{key}: {wanted!r}, but {root / 'manifest.json'} says {manifest.get(key)!r}")
    return problems


def fingerprint(path: str) -> str:
    """sha256 of the manifest's file table (each file's sha256 and size): the data the stage stands for."""
    manifest = resolve_path(path) / "manifest.json"
    if not manifest.is_file():
        return MISSING  # --plan without the data; running refuses it before any stage starts
    try:
        files = read_json(manifest, dict, "a dataset manifest").get("files", {})
    except DataError:
        return "unreadable"  # named by folder_problems
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()


def link_dataset(src: Path, dst: Path, expected: str) -> None:
    """Hard-link (or copy, across file systems) SRC into DST after checking every file against the manifest."""
    if fingerprint(str(src)) != expected:
        raise DataError(f"dataset.path: {src} changed after the experiment was planned; run the experiment again")
    files = read_json(src / "manifest.json", dict, "a dataset manifest").get("files", {})
    for rel, info in files.items():
        f = src / rel
        if not f.is_file() or f.stat().st_size != info["bytes"] or sha256_file(f) != info["sha256"]:
            raise DataError(f"dataset.path: {f} is missing or differs from its manifest entry (sha256 "
                            f"{info['sha256'][:12]}..., {info['bytes']} bytes); rebuild the dataset")
    ignore = shutil.ignore_patterns(".cache", ".*.lock")
    with atomic_folder(dst, tag="link", replace="swap") as tmp:
        link_or_copy(src, tmp, ignore=ignore)


def prebuilt_stage(path: str) -> Stage:
    """The `build` stage of an experiment whose data was built beforehand."""
    root, key = resolve_path(path), fingerprint(path)

    def make(out: Path, deps: dict[str, Path]) -> None:
        try:
            link_dataset(root, out / "dataset", key)
        except DataError as e:
            raise StageError(f"stage build: {e}") from None
    # keyed on the content alone: the same data moved to another folder is the same stage
    return Stage("build", "python", ["prebuilt-dataset", key], func=make)
