"""The model card (README.md) of a trained model folder, re-rendered whenever evaluation results arrive.

    render_model_card(model_dir)                          # training writes it from augmath_train.json
    add_eval_results(model_dir, "results/run1")           # `augmath eval`: a results folder, its results.json or a dict
    render_model_card(staged, repo_id="org/name", weights={...})   # `augmath push`: the card as published

Everything in the card comes from files in the folder: `augmath_train.json` (recipe, dataset provenance, token
counts; written by augmath.training.sft) and `augmath_eval.json` ({benchmark: {accuracy, n, stderr, ...,
settings}}; merged by `add_eval_results`), so re-rendering is idempotent and a card never disagrees with the files
beside it. Other artifacts are named by what they are on the Hub (the dataset's repo id and version tag, the base
model's Hub id), never by a local path: a local one is named by its folder name and said to be local.
Evaluation results also go into the YAML header as `model-index` (huggingface_hub EvalResult, one per benchmark
and metric), which the Hub shows as the model's scores.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from augmath.evalsets import BENCHMARKS, benchmark_of
from augmath.cards.render import REPO_ID_RE, render_card, save_card
from augmath.io import read_json, write_json_atomic

TRAIN_FILE, EVAL_FILE = "augmath_train.json", "augmath_eval.json"
DEMO_NOTE = ("trained on CPU for a few steps from SmolLM2-135M-Instruct to show the pipeline end to end; "
             "its scores say nothing about MuggleMath's findings.")
# Per-task fields of results.json that describe a score rather than being one.
NOT_METRICS = {"n", "k", "stderr", "task"}
DEFAULT_PROFILE = "lenient"  # results.json written before evaluation profiles existed were graded leniently


def _hub_id(value: str | None) -> str | None:
    """A Hub repo id suitable for metadata, or None for local paths."""
    if value and REPO_ID_RE.match(value) and not Path(value).exists():
        return value
    return None


def _read_json(path: Path) -> dict:
    try:
        return read_json(path)  # invalid JSON: a DataError (a ValueError) naming the file and line
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: is {path.parent} a model folder written by augmath.training.sft?") from None


def training_record(model_dir: str | os.PathLike) -> dict | None:
    """The complete augmath_train.json of a folder `augmath train` wrote, else None (any other model folder)."""
    path = Path(model_dir) / TRAIN_FILE
    record = read_json(path) if path.is_file() else None
    return record if isinstance(record, dict) and isinstance(record.get("recipe"), dict) else None


def training_dtype(train: dict) -> str | None:
    """The dtype the model was trained in: low-precision weights, or bf16/fp16 autocast over fp32 master weights.
    None when the recipe loaded the checkpoint's own dtype ("auto")."""
    dtype = train["recipe"].get("torch_dtype")
    if dtype in ("bfloat16", "float16"):
        return dtype
    mixed = (train.get("run") or {}).get("mixed_precision")
    return {"bf16": "bfloat16", "fp16": "float16"}.get(mixed, None if dtype == "auto" else "float32")


def weights_dtype(folder: Path) -> str | None:
    """The dtype the folder's config.json records for its weights (transformers writes it on save)."""
    config = folder / "config.json"
    if not config.is_file():
        return None
    data = json.loads(config.read_text(encoding="utf-8"))
    return data.get("dtype") or data.get("torch_dtype")


def dataset_ref(ds: dict) -> dict:
    """The training data as published: {repo_id, revision} on the Hub, else {name} of the local folder."""
    if ds.get("hub_id"):  # a local folder built with `augmath build --repo-id` (see augmath.training.data)
        return {"repo_id": ds["hub_id"], "revision": ds.get("hub_revision")}
    if _hub_id(ds["id"]):
        return {"repo_id": ds["id"], "revision": ds.get("revision")}
    return {"repo_id": None, "name": Path(ds["id"]).name, "revision": ds.get("revision")}


def base_ref(train: dict) -> dict:
    """The base model as published: its Hub id, else the local folder's name."""
    base, recipe = train["base_model"], train["recipe"]
    hub = base.get("hub_id") or _hub_id(recipe["model_name_or_path"])
    return {"repo_id": hub, "name": hub or Path(recipe["model_name_or_path"]).name}


def metrics(entry: dict) -> dict[str, float]:
    """The scores of one benchmark entry: accuracy, maj@k and whatever else results.json reports (bits per byte...)."""
    return {k: float(v) for k, v in entry.items() if k not in NOT_METRICS and not k.endswith("_stderr")
            and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)}


def display_name(benchmark: str) -> str:
    return BENCHMARKS[benchmark].display if benchmark in BENCHMARKS else benchmark


def is_rate(metric: str) -> bool:
    """Shown as a percentage (accuracy, maj@k); other scores (bits per byte...) as plain numbers."""
    return metric == "accuracy" or metric.startswith("maj@")


def metric_stderr(entry: dict, metric: str) -> float | None:
    return entry.get("stderr" if metric == "accuracy" else f"{metric}_stderr")


def _settings(entry: dict) -> tuple[str, str | None, int]:
    """(grading profile, prompt template, few-shot examples) a benchmark entry was scored with."""
    settings = entry.get("settings") or {}
    return settings.get("profile") or DEFAULT_PROFILE, settings.get("template"), settings.get("fewshot", 0)


def _eval_results(evals: dict[str, dict]) -> list[EvalResult]:
    out = []
    for key, r in evals.items():
        name = r.get("benchmark", key)
        b = BENCHMARKS.get(benchmark_of(name))  # gsm8k_bpb scores GSM8K: model-index names the Hub dataset
        hub, display, config, split = ((b.hub_id, b.display, b.hub_config, b.hub_split) if b
                                       else (name, name, None, "test"))
        profile, template, fewshot = _settings(r)
        for metric, value in metrics(r).items():
            metric_type = f"maj@{r['k']}" if metric == "maj@k" and r.get("k") else metric
            out.append(EvalResult(
                task_type="text-generation", task_name="Math word problems", dataset_type=hub, dataset_name=display,
                dataset_config=config, dataset_split=split, dataset_args={"num_few_shot": fewshot},
                metric_type=metric_type, metric_name=f"{metric_type} ({profile} grading, {template} prompt)",
                metric_value=value, metric_config=profile,
                metric_args={"profile": profile, "template": template, "n": r.get("n"),
                             "stderr": metric_stderr(r, metric)}))
    return out


def render_model_card(model_dir: str | os.PathLike, *, repo_id: str | None = None,
                      weights: dict | None = None) -> Path:
    """(Re)write model_dir/README.md from augmath_train.json and, if present, augmath_eval.json.

    repo_id: the repository the folder is published as (its name is the card's name); weights: {dtype, cast_from}
    of the weights as uploaded (`augmath push --dtype`); by default the folder's own."""
    from augmath.cards.dataset import CITATION

    folder = Path(model_dir)
    train = _read_json(folder / TRAIN_FILE)
    evals = _read_json(folder / EVAL_FILE) if (folder / EVAL_FILE).exists() else {}
    recipe = train["recipe"]
    model_name = repo_id or recipe.get("hub_model_id") or recipe.get("run_name") or folder.resolve().name
    base, data = base_ref(train), dataset_ref(train["dataset"])
    weights = weights or {"dtype": weights_dtype(folder), "cast_from": None}
    card_data = ModelCardData(
        model_name=model_name, base_model=base["repo_id"], datasets=[data["repo_id"]] if data["repo_id"] else None,
        library_name="transformers", pipeline_tag="text-generation", license=train["base_model"].get("license"),
        tags=["augmath", "mugglemath", "math", "sft", "accelerate"] + (["peft", "lora"] if recipe["use_peft"] else []),
        eval_results=_eval_results(evals) or None,
    )
    table = [{"benchmark": display_name(r.get("benchmark", n)), "metric": m, "value": v,
              "percent": is_rate(m), "stderr": metric_stderr(r, m), "n": r.get("n"),
              "profile": _settings(r)[0], "template": _settings(r)[1] or "—"}
             for n, r in evals.items() for m, v in metrics(r).items()]
    records = {r.get("benchmark", n): (r.get("settings") or {}).get("reproduction") for n, r in evals.items()}
    records = {n: rec for n, rec in records.items() if rec}
    demo = DEMO_NOTE if train["base_model"].get("demo") else None
    gguf = Path(train["base_model"]["gguf"]).name if train["base_model"].get("gguf") else None
    card = render_card("model", "model_card", card_data, model_name=model_name,
                       title=model_name.rsplit("/", 1)[-1], base=base,
                       model_ref=model_name if REPO_ID_RE.match(model_name) else "path/to/this/folder", data=data,
                       gguf=gguf, weights=weights, trained_dtype=training_dtype(train), train=train, evals=table,
                       demo=demo, citation=CITATION, records=records)
    return save_card(card, folder)


def _normalise(results: dict[str, Any]) -> dict[str, dict]:
    """results.json ({tasks: {name: {...}}, settings}) or a bare {name: {accuracy, n, stderr}} mapping -> the
    entries kept per benchmark: every score and its standard error, n, and the settings that produced them."""
    tasks = results.get("tasks", results)
    settings = results.get("settings") or {}
    kept = {"profile": settings.get("profile") or DEFAULT_PROFILE, "template": settings.get("template"),
            "fewshot": settings.get("fewshot", 0), "reproduction": record_summary(results.get("reproduction"))}
    out = {}
    for name, r in tasks.items():
        if not isinstance(r, dict) or not metrics(r):
            raise ValueError(f"evaluation result for {name!r} has no score (got {r!r:.200})")
        # One entry per benchmark and grading profile: a `paper` run sits beside the default one, not over it.
        key = name if kept["profile"] == DEFAULT_PROFILE else f"{name}@{kept['profile']}"
        out[key] = {**{k: v for k, v in r.items() if isinstance(v, (int, float, str))}, "benchmark": name,
                    "settings": kept}
    return out


def add_eval_results(model_dir: str | os.PathLike, results: str | os.PathLike | dict) -> Path:
    """Merge evaluation results (a results folder, its results.json, or a dict) into augmath_eval.json and
    re-render the card. Later results for the same benchmark and grading profile replace earlier ones."""
    folder = Path(model_dir)
    if not isinstance(results, dict):
        path = Path(results)
        results = _read_json(path / "results.json" if path.is_dir() else path)
    merged = _read_json(folder / EVAL_FILE) if (folder / EVAL_FILE).exists() else {}
    merged.update(_normalise(results))
    write_json_atomic(folder / EVAL_FILE, merged)
    return render_model_card(folder)


def record_summary(rec: dict | None) -> dict | None:
    """A reproduction record (eval_tasks/record.py) as a card shows it: no item list (its count and a hash of the ids instead), no local paths."""
    if not rec:
        return None
    ids = [i for task in sorted(rec.get("items") or {}) for i in rec["items"][task]]
    argv = [Path(a).name if a.startswith("/") else a for a in rec.get("eval_argv") or []]
    training = rec.get("training") or {}
    return {"augmath": rec.get("augmath"), "lock": rec.get("requirements_lock_sha256"),
            "versions": {k: v for k, v in (rec.get("versions") or {}).items() if v},
            "grader": (rec.get("grader") or {}).get("sha256"), "command": "augmath " + " ".join(argv),
            "weights": (rec.get("model") or {}).get("weights_sha256"),
            "scored": {"n": len(ids), "sha256": hashlib.sha256("\n".join(ids).encode()).hexdigest()},
            "dataset_revision": training.get("dataset_revision")}
