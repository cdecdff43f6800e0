"""Turn one lighteval run's output into augmath's results folder.

    OUT/results.json           {model, backend, tasks: {gsm8k: {accuracy, n, stderr, ...}}, provenance, settings}
    OUT/details/<task>.jsonl   one row per sample: id, question, gold, output, extracted, correct (+ maj@k fields)

lighteval writes `results/<model>/results_<time>.json` and `details/<model>/<time>/details_<task>|<shots>_<time>.parquet`
under its output dir. We read the per-sample parquet (doc, model_response, metric), grade every output again
with augmath.grading.grader through `eval_metric.score_outputs` (to record the extracted answer, which lighteval's
metric columns cannot hold), and refuse to write a results folder if that regrading disagrees with the metric
lighteval computed in its own process: the score in results.json is then, by construction, the grader applied
directly to the saved outputs.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from augmath.benchmarks import BENCHMARKS
from augmath.io import read_json_object, write_json_atomic, write_jsonl_atomic


class EvalOutputError(RuntimeError):
    """lighteval finished but its output is missing or inconsistent."""


def _latest(paths: list[Path], what: str, where: Path) -> Path:
    if not paths:
        raise EvalOutputError(f"lighteval wrote no {what} under {where}")
    return max(paths, key=lambda p: p.stat().st_mtime)


def details_file(work_dir: Path, task: str) -> Path:
    found = [p for p in (work_dir / "details").rglob("details_*.parquet") if p.name.startswith(f"details_{task}|")]
    return _latest(found, f"details for task {task}", work_dir / "details")


def _texts(response: dict) -> list[str]:
    texts = response.get("text_post_processed")
    if texts is None or len(texts) == 0:
        texts = response.get("text")
    return [str(t) if t is not None else "" for t in (list(texts) if texts is not None else [])]


def _prompt(doc: dict, response: dict) -> str | None:
    """The prompt the model saw. The endpoint backend records it; for the transformers backend we rebuild it
    from the saved Doc with lighteval's own PromptManager (plain text: the alpaca template; chat prompts depend
    on the tokenizer's template and are not rebuilt)."""
    given = response.get("input")
    if isinstance(given, str) and given:
        return given
    from augmath.prompts import PLAIN_TEMPLATES

    if (doc.get("specific") or {}).get("template", "alpaca") not in PLAIN_TEMPLATES:
        return None
    from lighteval.tasks.prompt_manager import PromptManager
    from lighteval.tasks.requests import Doc

    def make(d: dict, shots=()) -> Doc:
        return Doc(query=d["query"], choices=list(d["choices"]), gold_index=d["gold_index"],
                   instruction=d.get("instruction"), fewshot_samples=list(shots))

    shots = [make(f) for f in (doc.get("fewshot_samples") if doc.get("fewshot_samples") is not None else [])]
    return PromptManager(use_chat_template=False).prepare_prompt(make(doc, shots))


def read_details(path: Path) -> list[dict]:
    """lighteval's details parquet -> [{doc_id, specific, gold, texts, metric, prompt}] in evaluation-set order."""
    import pandas as pd

    frame = pd.read_parquet(path)
    missing = {"doc", "model_response", "metric"} - set(frame.columns)
    if missing:
        raise EvalOutputError(f"{path}: missing columns {sorted(missing)} (columns: {list(frame.columns)})")
    rows = []
    for i, rec in enumerate(frame.to_dict("records")):
        doc, response, metric = rec["doc"], rec["model_response"], rec["metric"]
        specific = doc.get("specific")
        if isinstance(specific, str):
            specific = json.loads(specific)
        if not isinstance(specific, dict) or "kind" not in specific:
            raise EvalOutputError(f"{path}: row {i}: doc.specific has no augmath fields (not an augmath task?)")
        choices, gold_index = list(doc["choices"]), doc["gold_index"]
        gold_index = int(gold_index[0] if hasattr(gold_index, "__len__") else gold_index)
        rows.append({
            "doc_id": int(doc.get("id") or i), "specific": specific, "gold": str(choices[gold_index]),
            "texts": _texts(response), "metric": {k: v for k, v in (metric or {}).items() if v is not None},
            "prompt": _prompt(doc, response),
        })
    rows.sort(key=lambda r: r["doc_id"])
    return rows


def grade_task(rows: list[dict], k: int, task: str, source: Path, profile: str = "lenient") -> tuple[list[dict], dict]:
    """Regrade lighteval's saved outputs under the run's profile; return (details rows, summary) or raise on
    any disagreement."""
    from augmath.eval_tasks.metrics import score_outputs  # imports lighteval: only once there is output to grade

    details, mismatches = [], []
    for r in rows:
        spec = r["specific"]
        scored = score_outputs(r["gold"], r["texts"], spec["kind"], k=k, profile=profile)
        row = {"id": spec.get("id"), "question": spec.get("question"), "gold": r["gold"],
               "output": r["texts"][0] if r["texts"] else "", "extracted": scored["extracted"],
               "correct": scored["correct"], "prompt": r["prompt"]}
        if k > 1:
            row.update(outputs=r["texts"][:k], samples_extracted=scored["samples_extracted"],
                       majority=scored["majority"], maj_correct=scored["maj_correct"])
        if "acc" in r["metric"] and bool(r["metric"]["acc"]) != scored["correct"]:
            mismatches.append((spec.get("id"), "acc", r["metric"]["acc"], scored["correct"]))
        if k > 1 and "maj@k" in r["metric"] and bool(r["metric"]["maj@k"]) != scored["maj_correct"]:
            mismatches.append((spec.get("id"), "maj@k", r["metric"]["maj@k"], scored["maj_correct"]))
        details.append(row)
    if mismatches:
        shown = "; ".join(f"{i} {m}: lighteval={a} regrade={b}" for i, m, a, b in mismatches[:5])
        raise EvalOutputError(f"{source}: {len(mismatches)} samples of {task} scored differently by lighteval's "
                              f"metric and by regrading the saved output ({shown})")
    n = len(details)
    if n == 0:
        raise EvalOutputError(f"{source}: no samples for task {task}")
    acc = sum(d["correct"] for d in details) / n
    summary = {"accuracy": acc, "n": n, "stderr": math.sqrt(acc * (1 - acc) / n), "profile": profile}
    if k > 1:
        maj = sum(d["maj_correct"] for d in details) / n
        summary.update({"maj@k": maj, "maj@k_stderr": math.sqrt(maj * (1 - maj) / n), "k": k})
    return details, summary


def read_provenance(model: str) -> dict:
    """The model folder's augmath_train.json (written by `augmath train`), copied as is; {} for other models."""
    path = Path(model) / "augmath_train.json"
    if not path.is_file():
        return {}
    return read_json_object(path)  # a bad file is a DataError naming it; `augmath eval` reports it as an error


def write_results_folder(out: Path, work_dir: Path, benchmarks: list[str], k: int, header: dict) -> dict:
    """Collect every task of the run into OUT/results.json + OUT/details/<task>.jsonl; return results.json.
    Outputs are regraded under the header's evaluation profile (lenient when it names none)."""
    tasks = {}
    for name in benchmarks:
        task = BENCHMARKS[name].task
        path = details_file(work_dir, task)
        details, summary = grade_task(read_details(path), k, task, path, header.get("profile", "lenient"))
        write_jsonl_atomic(out / "details" / f"{name}.jsonl", details)
        summary["task"] = task
        tasks[name] = summary
    results = {**header, "tasks": tasks}
    # results.json last: a folder with a results.json is complete.
    write_json_atomic(out / "results.json", results)
    return results
