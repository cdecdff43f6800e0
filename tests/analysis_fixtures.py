"""Results folders shaped exactly like `augmath eval` writes them, for the analysis tests (fit, transfer, report).

The items are real benchmark items (the packaged GSM8K / MATH / MATH-500 / SVAMP test samples) with their real
golds; which ones are answered correctly is chosen to hit a given accuracy, and the model "output" is a GSM8K- or
MATH-style solution ending in the gold (correct) or in a wrong number (incorrect), as a real model's would.
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from augmath import sources

DEMO_BASE = "HuggingFaceTB/SmolLM2-135M-Instruct"


@lru_cache(maxsize=None)
def items(task: str) -> tuple:
    return tuple(sources.load(task, "test", data_dir="packaged"))


def _output(record, correct: bool) -> tuple[str, str]:
    answer = record.answer if correct else (str(int(float(record.answer)) + 7) if _numeric(record.answer) else "-1")
    if record.source in ("math", "math500"):
        return f"We simplify step by step, so the answer is $\\boxed{{{answer}}}$.", answer
    return f"First we compute the totals. Then we add them up.\n#### {answer}", answer


def _numeric(s: str) -> bool:
    try:
        return float(s) == int(float(s))
    except ValueError:
        return False


def correct_flags(n: int, accuracy: float, seed: int = 0, nested: bool = True) -> np.ndarray:
    """round(accuracy * n) correct items. nested=True: the same random order for every call (as when a larger
    training set keeps what a smaller one got right); nested=False: an independent draw per seed."""
    k = int(round(accuracy * n))
    order = np.random.default_rng(0 if nested else seed).permutation(n)
    flags = np.zeros(n, dtype=bool)
    flags[order[:k]] = True
    return flags


def item_bpb(n: int, mean: float, seed: int = 0, nested: bool = True, spread: float = 0.15,
             noise: float = 0.03) -> np.ndarray:
    """Per-item bits per byte with mean exactly `mean`: a fixed difficulty per item (the same for every call when
    nested: a hard item stays hard after more training) plus a small independent change per call (seed)."""
    difficulty = np.random.default_rng(0 if nested else 1000 + seed).normal(0.0, spread, n)
    values = difficulty + np.random.default_rng(seed + 1).normal(0.0, noise, n)
    return values - values.mean() + mean


def write_results(folder, *, accuracies: dict[str, float], provenance: dict | None, model: str | None = None,
                  seed: int = 0, nested: bool = True, bpb: dict[str, float] | None = None) -> Path:
    """A results folder: results.json + details/<task>.jsonl, one real test item per row. `bpb`: likelihood
    tasks {"gsm8k_bpb": mean bits per byte}, rows shaped like `augmath eval` writes them (reference, nll, ...)."""
    folder = Path(folder)
    (folder / "details").mkdir(parents=True, exist_ok=True)
    tasks = {}
    for task, mean in (bpb or {}).items():
        recs = items(task.removesuffix("_bpb"))
        values = item_bpb(len(recs), mean, seed, nested)
        with open(folder / "details" / f"{task}.jsonl", "w", encoding="utf-8") as f:
            for rec, v in zip(recs, values):
                reference = rec.solution or f"#### {rec.answer}"
                nbytes = len(reference.encode("utf-8"))
                tokens = max(1, nbytes // 3)
                nll = float(v) * math.log(2) * nbytes
                f.write(json.dumps({"id": rec.id, "question": rec.question, "reference": reference, "nll": nll,
                                    "tokens": tokens, "bytes": nbytes, "bpb": float(v),
                                    "nll_per_token": nll / tokens}) + "\n")
        sd = float(values.std(ddof=1))
        tasks[task] = {"metric": "bpb", "higher_is_better": False, "bpb": float(values.mean()), "n": len(recs),
                       "stderr": sd / math.sqrt(len(recs)), "task": f"augmath_{task}"}
    for task, acc in accuracies.items():
        recs = items(task)
        flags = correct_flags(len(recs), acc, seed, nested)
        with open(folder / "details" / f"{task}.jsonl", "w", encoding="utf-8") as f:
            for rec, ok in zip(recs, flags):
                output, extracted = _output(rec, bool(ok))
                f.write(json.dumps({"id": rec.id, "question": rec.question, "gold": rec.answer, "output": output,
                                    "extracted": extracted, "correct": bool(ok)}) + "\n")
        a = float(flags.mean())
        tasks[task] = {"accuracy": a, "n": len(recs), "stderr": math.sqrt(a * (1 - a) / len(recs)),
                       "task": f"augmath_{task}"}
    results = {"model": model or str(folder / "model"), "backend": "accelerate", "tasks": tasks,
               "provenance": provenance or {}, "settings": {"temperature": 0.0}}
    (folder / "results.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    return folder


def trained(config: str, n_train: int, source: str, strategy: str | None, base: str = DEMO_BASE) -> dict:
    """The provenance block `augmath eval` copies from the model's augmath_train.json."""
    return {"dataset": "local/augmath-demo", "config": config, "n_train": n_train, "strategy": strategy,
            "source": source, "base_model": base, "recipe": "training/recipes/demo.yaml"}
