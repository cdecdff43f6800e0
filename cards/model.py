"""The model card (README.md) of a trained model folder, re-rendered whenever evaluation results arrive.

    render_model_card(model_dir)                          # training writes it from augmath_train.json
    add_eval_results(model_dir, "results/run1")           # eval / experiment stages: a results folder or dict

Everything in the card comes from files in the folder: `augmath_train.json` (recipe, dataset provenance, token
counts; written by augmath.training.sft) and `augmath_eval.json` ({benchmark: {accuracy, n, stderr, ...}}; merged by
`add_eval_results`), so re-rendering is idempotent and a card never disagrees with the files beside it.
Evaluation results also go into the YAML header as `model-index` (huggingface_hub EvalResult), which the Hub
shows as the model's scores.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from huggingface_hub import EvalResult, ModelCardData

from augmath.benchmarks import BENCHMARKS
from augmath.cards.render import render_card, save_card
from augmath.io import read_json, write_json_atomic

TRAIN_FILE, EVAL_FILE = "augmath_train.json", "augmath_eval.json"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
DEMO_NOTE = ("trained on CPU for a few steps from SmolLM2-135M-Instruct to show the pipeline end to end; "
             "its scores say nothing about MuggleMath's findings.")


def _hub_id(value: str | None) -> str | None:
    """A Hub repo id suitable for metadata, or None for local paths."""
    if value and HUB_ID.match(value) and not Path(value).exists():
        return value
    return None


def _read_json(path: Path) -> dict:
    try:
        return read_json(path)  # invalid JSON: a DataError (a ValueError) naming the file and line
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} not found: is {path.parent} a model folder written by augmath.training.sft?") from None


def _eval_results(evals: dict[str, dict]) -> list[EvalResult]:
    out = []
    for name, r in evals.items():
        b = BENCHMARKS.get(name)
        hub, display, split = (b.hub_id, b.display, b.hub_split) if b else (name, name, "test")
        out.append(EvalResult(task_type="text-generation", task_name="Math word problems", dataset_type=hub,
                              dataset_name=display, dataset_split=split, metric_type="accuracy",
                              metric_name="accuracy (greedy)", metric_value=round(float(r["accuracy"]), 4)))
    return out


def render_model_card(model_dir: str | os.PathLike) -> Path:
    """(Re)write model_dir/README.md from augmath_train.json and, if present, augmath_eval.json."""
    from augmath.cards.dataset import CITATION

    folder = Path(model_dir)
    train = _read_json(folder / TRAIN_FILE)
    evals = _read_json(folder / EVAL_FILE) if (folder / EVAL_FILE).exists() else {}
    recipe = train["recipe"]
    model_name = recipe.get("hub_model_id") or recipe.get("run_name") or folder.resolve().name
    base_hub = train["base_model"].get("hub_id") or _hub_id(recipe["model_name_or_path"])
    dataset_hub = _hub_id(train["dataset"]["id"])
    card_data = ModelCardData(
        model_name=model_name, base_model=base_hub, datasets=[dataset_hub] if dataset_hub else None,
        library_name="transformers", pipeline_tag="text-generation", license=train["base_model"].get("license"),
        tags=["augmath", "mugglemath", "math", "sft", "accelerate"] + (["peft", "lora"] if recipe["use_peft"] else []),
        eval_results=_eval_results(evals) or None,
    )
    base_text = f"[`{base_hub}`](https://huggingface.co/{base_hub})" if base_hub else f"`{recipe['model_name_or_path']}`"
    demo = DEMO_NOTE if train["base_model"].get("demo") else None
    card = render_card("model", "model_card", card_data, model_name=model_name, base_model_text=base_text,
                       train=train, evals=evals, demo=demo, citation=CITATION)
    return save_card(card, folder)


def _normalise(results: dict[str, Any]) -> dict[str, dict]:
    """Accept results.json ({tasks: {name: {...}}}) or a bare {name: {accuracy, n, stderr}} mapping."""
    tasks = results.get("tasks", results)
    out = {}
    for name, r in tasks.items():
        if isinstance(r, dict) and r.get("metric") == "bpb":
            continue  # likelihood tasks (gsm8k_bpb) are a small-scale instrument, not a model-index accuracy
        if not isinstance(r, dict) or "accuracy" not in r:
            raise ValueError(f"evaluation result for {name!r} has no 'accuracy' (got {r!r:.200})")
        out[name] = {k: r.get(k) for k in ("accuracy", "n", "stderr", "task", "maj@k", "k") if k in r}
    return out


def add_eval_results(model_dir: str | os.PathLike, results: str | os.PathLike | dict) -> Path:
    """Merge evaluation results (a results folder, its results.json, or a dict) into augmath_eval.json and
    re-render the card. Later results for the same benchmark replace earlier ones."""
    folder = Path(model_dir)
    if not isinstance(results, dict):
        path = Path(results)
        results = _read_json(path / "results.json" if path.is_dir() else path)
    merged = _read_json(folder / EVAL_FILE) if (folder / EVAL_FILE).exists() else {}
    merged.update(_normalise(results))
    write_json_atomic(folder / EVAL_FILE, merged)
    return render_model_card(folder)
