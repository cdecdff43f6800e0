"""Turn one lighteval run's output into augmath's results folder.

    OUT/results.json           {model, backend, tasks: {gsm8k: {accuracy, n, stderr, ...}}, provenance, settings}
    OUT/details/<task>.jsonl   one row per sample: id, question, gold, output, extracted, correct (+ maj@k fields);
                               likelihood tasks (gsm8k_bpb): id, question, reference, nll, tokens, bytes, bpb,
                               nll_per_token, prompt

lighteval writes `results/<model>/results_<time>.json` and `details/<model>/<time>/details_<task>|<shots>_<time>.parquet`
under its output dir. We read the per-sample parquet (doc, model_response, metric), grade every output again
with augmath.grading.grader through `eval_metric.score_outputs` (to record the extracted answer, which lighteval's
metric columns cannot hold), and refuse to write a results folder if that regrading disagrees with the metric
lighteval computed in its own process: the score in results.json is then, by construction, the grader applied
directly to the saved outputs. Likelihood tasks are checked the same way: each item's bits per byte and NLL per
token are recomputed from the NLL, token count and reference bytes lighteval saved, and the task's summary (means
with bootstrap intervals over items) is computed from those rows.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from augmath.errors import UserError
from augmath.evalsets import eval_task
from augmath.io import read_json_object, write_json_atomic, write_jsonl_atomic


class EvalOutputError(UserError, RuntimeError):
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


def likelihood_task(rows: list[dict], task: str, source: Path) -> tuple[list[dict], dict]:
    """Per-item likelihood values from lighteval's details; (details rows, summary) or raise when they disagree
    with a recomputation from the saved NLL, token count and reference."""
    from augmath.stats import mean_interval
    from augmath.eval_tasks.bpb import LN2, item_values

    details, mismatches = [], []
    for r in rows:
        spec, metric = r["specific"], r["metric"]
        reference = spec.get("reference", "")
        missing = [k for k in ("nll", "tokens", "bytes", "bpb", "nll_per_token") if k not in metric]
        if missing or spec.get("metric") != "bpb":
            raise EvalOutputError(f"{source}: item {spec.get('id')}: no likelihood values {missing} (not a _bpb task?)")
        values = item_values(float(metric["nll"]), int(metric["tokens"]), len(reference.encode("utf-8")))
        for key in ("bytes", "bpb", "nll_per_token"):
            if not math.isclose(values[key], float(metric[key]), rel_tol=1e-9, abs_tol=1e-12):
                mismatches.append((spec.get("id"), key, metric[key], values[key]))
        details.append({"id": spec.get("id"), "question": spec.get("question"), "reference": reference, **values,
                        "prompt": r["prompt"]})
    if mismatches:
        shown = "; ".join(f"{i} {k}: lighteval={a} recomputed={b}" for i, k, a, b in mismatches[:5])
        raise EvalOutputError(f"{source}: {len(mismatches)} values of {task} differ from their recomputation ({shown})")
    n = len(details)
    if n == 0:
        raise EvalOutputError(f"{source}: no samples for task {task}")
    summary: dict = {"metric": "bpb", "higher_is_better": False, "n": n}
    for key in ("bpb", "nll_per_token"):
        values = [d[key] for d in details]
        mean = sum(values) / n
        sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
        summary.update({key: mean, f"{key}_ci": mean_interval(values), f"{key}_stderr": sd / math.sqrt(n)})
    summary["stderr"] = summary["bpb_stderr"]
    summary["confidence"] = 0.95
    # pooled over items (total bits / total bytes): weighs long references more; the mean above weighs items equally
    summary["bpb_pooled"] = sum(d["nll"] for d in details) / LN2 / sum(d["bytes"] for d in details)
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
    tasks, items = {}, {}
    for name in benchmarks:
        spec = eval_task(name)
        task = spec.task
        path = details_file(work_dir, task)
        if spec.likelihood:
            details, summary = likelihood_task(read_details(path), task, path)
        else:
            details, summary = grade_task(read_details(path), k, task, path, header.get("profile", "lenient"))
        write_jsonl_atomic(out / "details" / f"{name}.jsonl", details)
        summary["task"] = task
        tasks[name] = summary
        items[name] = [row["id"] for row in details]
    if "reproduction" in header:  # exactly which items were scored (eval_tasks/record.py)
        header = {**header, "reproduction": {**header["reproduction"], "items": items}}
    results = {**header, "tasks": tasks}
    # results.json last: a folder with a results.json is complete.
    write_json_atomic(out / "results.json", results)
    return results
