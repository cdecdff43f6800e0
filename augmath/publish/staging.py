"""The exact folder `augmath push` uploads: its files, the model card for the Hub, the weights' dtype.

The files it sends, with the model card rendered for the Hub and the weights in the chosen dtype.

    staged = stage_folder(folder, "model", "org/name", dest, files, dtype="auto")   # -> Staged(path, weights)

Unchanged files are hard links to the originals (a copy where the filesystem refuses one), so staging a 7B model
costs no disk; whatever differs (README.md, cast weights, config.json) is a new file written beside the link and
renamed over it, never written through it, so the source folder is never modified.

dtype: `auto` uploads the training dtype (bf16 for a model trained in bf16, including fp32 master weights under
bf16 autocast; otherwise the weights as saved); `float32` / `bfloat16` / `float16` cast to that. Only floating
tensors are cast; the config's `dtype` follows, and the card says what was uploaded and what it was cast from.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from augmath.cards.model import (EVAL_FILE, TRAIN_FILE, base_ref, dataset_ref, display_name, is_rate, metrics,
                                 render_model_card, training_dtype, training_record, weights_dtype)
from augmath.errors import UserError
from augmath.io import atomic_write, link_or_copy, read_json, write_json_atomic

DTYPES = ("auto", "float32", "bfloat16", "float16")
WEIGHTS_INDEX = "model.safetensors.index.json"
ADAPTER_CONFIG = "adapter/adapter_config.json"  # a LoRA run keeps its adapter beside the merged weights
ADAPTER_CARD = "adapter/README.md"  # written by peft
LIGHTEVAL_RAW = re.compile(r"^results/[^/]+/lighteval/")  # `augmath eval`'s OUT/lighteval/, in a results repo


class StagingError(UserError, ValueError):
    """The folder cannot be staged as asked (e.g. a cast of weights that are not safetensors)."""


@dataclass(frozen=True)
class Staged:
    path: Path
    weights: dict | None  # model folders: {"dtype": uploaded, "cast_from": saved dtype or None}


def target_dtype(folder: Path, requested: str) -> str | None:
    """The dtype to upload: the one asked for, or for `auto` the training dtype (None: as saved)."""
    if requested not in DTYPES:
        raise StagingError(f"--dtype {requested!r} is not one of {', '.join(DTYPES)}")
    if requested != "auto":
        return requested
    record = training_record(folder)
    return training_dtype(record) if record else None


def cast_weights(src: Path, dst: Path, dtype: str) -> None:
    """Write src's safetensors weights into dst with every floating tensor in `dtype` (shard by shard: memory
    holds one shard), the shard index's total size and config.json's dtype updated to match."""
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    shards = sorted(src.glob("*.safetensors"))
    if not shards:
        raise StagingError(f"{src}: no *.safetensors weights to cast to {dtype} (only safetensors are cast; "
                           "push with --dtype auto to upload the weights as saved)")
    target, total = getattr(torch, dtype), 0
    for shard in shards:
        with safe_open(shard, framework="pt") as f:
            metadata = f.metadata() or {"format": "pt"}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        tensors = {k: t.to(target) if t.is_floating_point() else t for k, t in tensors.items()}
        total += sum(t.numel() * t.element_size() for t in tensors.values())
        tmp = dst / f".{shard.name}.cast"
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, dst / shard.name)
    if (src / WEIGHTS_INDEX).is_file():
        index = read_json(src / WEIGHTS_INDEX)
        index.setdefault("metadata", {})["total_size"] = total
        write_json_atomic(dst / WEIGHTS_INDEX, index)
    config = read_json(src / "config.json")
    for key in ("dtype", "torch_dtype"):  # transformers 5 writes `dtype`, 4.x `torch_dtype`
        if key in config or key == "dtype":
            config[key] = dtype
    write_json_atomic(dst / "config.json", config)


def published_record(record: dict, repo_id: str) -> dict:
    """augmath_train.json as uploaded: every local path replaced by what it is on the Hub (the base model's and the
    dataset's repo ids, this repo for the output) or, for something not on the Hub, by its folder name; so the
    recorded recipe re-runs from the Hub as it stands."""
    out = json.loads(json.dumps(record))
    recipe, base, data = out["recipe"], base_ref(record), dataset_ref(record["dataset"])
    recipe["model_name_or_path"] = out["base_model"]["name_or_path"] = out["base_model"]["resolved"] = base["name"]
    recipe["output_dir"] = repo_id
    recipe["dataset"] = out["dataset"]["id"] = data["repo_id"] or data["name"]
    if data["repo_id"] and data.get("revision"):
        recipe["dataset_revision"] = data["revision"]
    if out["base_model"].get("gguf"):
        out["base_model"]["gguf"] = Path(out["base_model"]["gguf"]).name
    return out


def local_paths_to_names(obj):
    """Every absolute local path in a JSON value (a string starting with `/` or `~/`, of two or more parts)
    replaced by its last part: the file or folder's name says what it was without naming the machine."""
    if isinstance(obj, dict):
        return {k: local_paths_to_names(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [local_paths_to_names(v) for v in obj]
    if isinstance(obj, str) and re.match(r"^(/|~/)[^\s]*[^/\s]/[^\s]*$", obj):
        return Path(obj).name or obj
    return obj


def published_evaluation(results: dict, model_repo: str | None) -> dict:
    """One evaluation's results.json as published: the model named by its Hub repo, its training record as
    uploaded with the model (published_record), and no local path anywhere."""
    out = json.loads(json.dumps(results))
    if model_repo:
        for key in ("model", "model_path"):
            if key in out:
                out[key] = model_repo
        if isinstance(out.get("reproduction"), dict):
            out["reproduction"].setdefault("model", {})["name"] = model_repo
    if out.get("provenance") and model_repo:
        try:
            out["provenance"] = published_record(out["provenance"], model_repo)
        except (KeyError, TypeError):  # not a record `augmath train` wrote: its paths become names below
            pass
    return local_paths_to_names(out)


def published_evaluations(folder: Path, dest: Path, files: list[str]) -> None:
    """A results repository's evaluations as published. `results/<eval>/lighteval/` (lighteval's own working
    output: its log, model.yaml, settings.json and result files under folders named after the local model path)
    is left out: every number in it is in that evaluation's results.json and details/. Each results.json, and
    the index's copy of it, names the model by the repo the index says it scored."""
    index = read_json(folder / "results.json")
    models = (index.get("published") or {}).get("models") or {}
    for rel in files:
        parts = rel.split("/")
        if len(parts) == 3 and parts[0] == "results" and parts[2] == "results.json":
            write_json_atomic(dest / rel, published_evaluation(read_json(folder / rel), models.get(parts[1])))
    if isinstance(index.get("results"), dict):
        index["results"] = {name: published_evaluation(r, models.get(name)) if isinstance(r, dict) else r
                            for name, r in index["results"].items()}
        write_json_atomic(dest / "results.json", index)


def stage_folder(folder: Path, kind: str, repo_id: str, dest: Path, files: list[str], dtype: str = "auto") -> Staged:
    """Fill `dest` (emptied first) with `files` of `folder` as the push will upload them; see the module doc."""
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.iterdir():  # emptied, not replaced: a temp_folder keeps its flock (augmath.io) on this inode
        shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
    if kind == "results":  # lighteval's raw working folder stays local (see published_evaluations)
        files = [rel for rel in files if not LIGHTEVAL_RAW.match(rel)]
    for rel in files:
        link_or_copy(folder / rel, dest / rel)
    if kind == "results":
        published_evaluations(folder, dest, files)
    if kind != "model":
        return Staged(dest, None)
    saved, target = weights_dtype(folder), target_dtype(folder, dtype)
    cast = target is not None and target != saved
    if cast:
        cast_weights(folder, dest, target)
    weights = {"dtype": target or saved, "cast_from": saved if cast else None}
    record = training_record(folder)
    if record is not None:
        write_json_atomic(dest / TRAIN_FILE, published_record(record, repo_id))
        if ADAPTER_CONFIG in files:  # peft's own record of the base: the base's Hub id, not the local folder
            adapter = read_json(folder / ADAPTER_CONFIG)
            local_base, adapter["base_model_name_or_path"] = adapter.get("base_model_name_or_path"), base_ref(record)["name"]
            write_json_atomic(dest / ADAPTER_CONFIG, adapter)
            if ADAPTER_CARD in files and local_base:  # peft's card: `base_model: <local path>` in its metadata
                text = (folder / ADAPTER_CARD).read_text(encoding="utf-8")
                atomic_write(dest / ADAPTER_CARD, text.replace(local_base, adapter["base_model_name_or_path"]))
        render_model_card(dest, repo_id=repo_id, weights=weights)
    return Staged(dest, weights)


def _score(display: str, metric: str, value: float, n) -> str:
    shown = f"{value:.1%}" if is_rate(metric) else f"{value:.4f}"
    return f"{display} {metric} {shown}" + (f" (n={n})" if n else "")


def commit_message(kind: str, folder: Path, repo_id: str, tag: str | None, weights: dict | None) -> str:
    """`augmath: <artifact> <name> <version> (<key numbers>)`, from the staged files; never a local path."""
    name, facts = repo_id.split("/", 1)[1], []
    if kind == "dataset":
        manifest = read_json(folder / "manifest.json")
        summary = manifest.get("summary") or {}
        facts.append(f"{len(manifest['configs'])} configs, {manifest['configs']['default']['rows']:,} rows")
        if summary.get("verified_rate") is not None:
            facts.append(f"{summary['verified_rate']:.1%} verified")
        decontam = summary.get("decontamination") or {}
        if decontam.get("checked"):
            facts.append(f"decontamination removed {decontam['removed']:,} of {decontam['checked']:,}")
    elif kind == "model":
        record = training_record(folder)
        if record:
            ds, data = record["dataset"], dataset_ref(record["dataset"])
            where = data["repo_id"] or f"local {data['name']}"
            where += f"@{data['revision']}" if data["repo_id"] and data.get("revision") else ""
            facts.append(f"SFT of {base_ref(record)['name']} on {where} {ds.get('config') or 'mixture'} "
                         f"N={ds['num_samples']:,}")
        evals = read_json(folder / EVAL_FILE) if (folder / EVAL_FILE).is_file() else {}
        facts += [_score(display_name(b), m, v, r.get("n")) for b, r in evals.items()
                  for m, v in metrics(r).items()]
        if weights and weights.get("dtype"):
            facts.append(f"{weights['dtype']} weights")
    else:
        index = read_json(folder / "results.json")
        runs = index["results"] if isinstance(index.get("results"), dict) else {name: index}
        published = index.get("published") or {}
        facts.append(f"{len(runs)} evaluation(s)" + (f" of models trained on {published['dataset']}"
                                                     if published.get("dataset") else ""))
        best: dict[str, float] = {}
        for run in runs.values():
            for b, r in (run.get("tasks") or {}).items():
                if "accuracy" in r:
                    best[b] = max(best.get(b, 0.0), float(r["accuracy"]))
        facts += [f"best {display_name(b)} accuracy {v:.1%}" for b, v in best.items()]
    return f"augmath: {kind} {name}{' ' + tag if tag else ''}" + (f" ({'; '.join(facts)})" if facts else "")
