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


def write_results(folder, *, accuracies: dict[str, float], provenance: dict | None, model: str | None = None,
                  seed: int = 0, nested: bool = True) -> Path:
    """A results folder: results.json + details/<task>.jsonl, one real test item per row."""
    folder = Path(folder)
    (folder / "details").mkdir(parents=True, exist_ok=True)
    tasks = {}
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
