"""Read the results folders that `augmath eval` writes, for the analysis stages (fit, transfer, report).

A results folder is
    DIR/results.json          {model, backend, tasks: {task: {accuracy, n, stderr}
                                                       | {metric: "bpb", bpb, n, stderr, ...}},
                               provenance: {dataset, config, n_train, strategy, source, base_model, seed, ...}}
    DIR/details/<task>.jsonl  one row per evaluated sample, with at least `correct` (bool), or `bpb` (a
                              positive number) for a likelihood task (gsm8k_bpb)

Two metrics, read the same way: `accuracy` (higher is better; per item 0/1) and `bpb`, bits per byte of the
reference solution (lower is better; per item a positive number). A task's score is the mean of its items.

Every problem is a `DataError` that names the file (and line or field), because these folders are often
copied around by hand or come from another harness.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from augmath.io import DataError, read_json_object, read_jsonl

# The embedded demo model (SmolLM2-135M-Instruct, see augmath.engine.server): its numbers exercise the pipeline,
# they say nothing about augmentation. Matched on the name so a converted HF folder is recognised too.
_DEMO_MODEL = re.compile(r"smollm2?[-_]?135m", re.IGNORECASE)


def is_demo_model(name: str | None) -> bool:
    return bool(name) and bool(_DEMO_MODEL.search(str(name)))


METRICS = {"accuracy": "correct", "bpb": "bpb"}  # the task's metric -> its per-item field in details/<task>.jsonl
METRIC_LABELS = {"accuracy": "accuracy", "bpb": "bits per byte of the reference solution"}
HIGHER_IS_BETTER = {"accuracy": True, "bpb": False}


@dataclass(frozen=True)
class TaskScore:
    task: str
    value: float          # accuracy (0-1) or bits per byte
    n: int
    stderr: float
    metric: str = "accuracy"

    @property
    def accuracy(self) -> float:
        if self.metric != "accuracy":
            raise DataError(f"task '{self.task}' is scored in {self.metric}, not accuracy")
        return self.value


def flatten_training_provenance(p: dict[str, Any]) -> dict[str, Any]:
    """Map `augmath train`'s augmath_train.json (nested: recipe / base_model / dataset) onto the flat fields
    the analysis reads (dataset, config, n_train, source, strategy, base_model); flat input passes through."""
    if not isinstance(p.get("dataset"), dict) and not isinstance(p.get("base_model"), dict):
        return p
    ds, base = p.get("dataset") or {}, p.get("base_model") or {}
    mixture, parts = ds.get("mixture"), ds.get("parts") or []
    config = ds.get("config") if not mixture else "mix:" + "+".join(f"{k}={v:g}" for k, v in sorted(mixture.items()))
    rows = ds.get("rows_per_config") or {}
    n_train = ds.get("num_samples") or (sum(rows.values()) if rows else None)
    source, _, strategy = (config or "").partition("-")
    if len(parts) > 1:  # dataset_parts, e.g. gsm8k-original whole + gsm8k D_N: one series across N
        config = "+".join(str(q["config"]) for q in parts)
        source = "+".join(sorted({str(q["config"]).partition("-")[0] for q in parts}))
        strategy = "+".join(str(q["config"]).partition("-")[2] or "all" for q in parts)
    flat = {"dataset": ds.get("id"), "config": config, "n_train": n_train, "revision": ds.get("revision"),
            "base_model": base.get("hub_id") or base.get("name_or_path"), "demo": base.get("demo"),
            "source": None if mixture else source or None,
            "strategy": None if mixture else (strategy or "all"), "subset": _subset_label(parts),
            # the training seed (recipe key `seed`, `augmath train --seed`): runs differing only in it are one
            # configuration, and their spread is the training-seed noise the analysis bootstraps over
            "seed": (p.get("recipe") or {}).get("seed") if isinstance(p.get("recipe"), dict) else None}
    return {**{k: v for k, v in p.items() if k not in flat}, **flat}


def _subset_label(parts: list[dict]) -> str | None:
    """Paths per query and rounds of each part: they tell apart series of one config (the queries x responses
    grid; D_N taken from rounds 1+2 vs from round 1), e.g. "paths_per_query=2, rounds=1+2". Rounds taken whole
    (no query count) are the data amount itself, the paper's D1 ⊂ D1+D2 ⊂ D1+D2+D3: one curve over N, unlabelled."""
    labels = []
    for q in parts:
        bits = [f"paths_per_query={q['paths_per_query']}"] if q.get("paths_per_query") else []
        bits += ["rounds=" + "+".join(map(str, q["rounds"]))] if q.get("rounds") and q.get("num_queries") else []
        if bits:
            labels.append((f"{q['config']}: " if len(parts) > 1 else "") + ", ".join(bits))
    return "; ".join(labels) or None


@dataclass
class ResultsFolder:
    path: Path
    model: str
    backend: str | None
    tasks: dict[str, TaskScore]
    provenance: dict[str, Any] = field(default_factory=dict)

    @property
    def results_file(self) -> Path:
        return self.path / "results.json"

    @property
    def base_model(self) -> str:
        return str(self.provenance.get("base_model") or self.model)

    @property
    def config(self) -> str | None:
        value = self.provenance.get("config")
        return str(value) if value not in (None, "") else None

    @property
    def strategy(self) -> str | None:
        value = self.provenance.get("strategy")
        return str(value) if value not in (None, "") else None

    @property
    def seed(self) -> int | None:
        """The training seed from the provenance (None: not recorded, e.g. a base model or a foreign harness)."""
        value = self.provenance.get("seed")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def trained(self) -> bool:
        """False for a base model scored as-is (no dataset in its provenance)."""
        return any(self.provenance.get(k) not in (None, "") for k in ("config", "dataset", "n_train"))

    def n_train(self) -> float:
        """The amount of training data N; a DataError unless it is a positive number."""
        value = self.provenance.get("n_train")
        where = f"{self.results_file}: field 'provenance.n_train'"
        if value is None:
            raise DataError(f"{where} is missing (the data amount N is needed for a fit)")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise DataError(f"{where} should be a positive number, got {value!r}")
        if value <= 0:
            raise DataError(f"{where} is {value!r}; N must be > 0 because the fit uses ln N")
        return float(value)

    def score(self, task: str) -> TaskScore:
        if task not in self.tasks:
            raise DataError(f"{self.results_file}: no task '{task}' (has: {', '.join(sorted(self.tasks))})")
        return self.tasks[task]

    def details_file(self, task: str) -> Path:
        return self.path / "details" / f"{task}.jsonl"

    def correct(self, task: str) -> tuple[np.ndarray, list[str]]:
        """Per-sample correctness (bool) of an accuracy task and a key per sample; see `values`."""
        if self.score(task).metric != "accuracy":
            raise DataError(f"{self.results_file}: task '{task}' is scored in {self.score(task).metric}, not accuracy")
        values, keys = self.values(task)
        return values.astype(bool), keys

    def values(self, task: str) -> tuple[np.ndarray, list[str]]:
        """Per-sample scores of `task` (1.0/0.0 correctness, or bits per byte) and a key per sample (for pairing
        items across folders).

        Checked against results.json: the row count must equal `n` and the mean must equal the task's score,
        otherwise a bootstrap over these rows would describe some other number.
        """
        score = self.score(task)
        field_name = METRICS[score.metric]
        path = self.details_file(task)
        if not path.is_file():
            raise DataError(f"{path}: missing; per-sample details are needed for bootstrap intervals")
        values, keys = [], []
        for i, row in enumerate(read_jsonl(path), start=1):
            value = row.get(field_name)
            if score.metric == "accuracy" and not isinstance(value, bool):
                raise DataError(f"{path}:{i}: field 'correct' should be true/false, got {value!r}")
            if score.metric == "bpb" and (isinstance(value, bool) or not isinstance(value, (int, float))
                                          or not math.isfinite(value) or value <= 0):
                raise DataError(f"{path}:{i}: field 'bpb' should be a positive number, got {value!r}")
            values.append(float(value))
            key = row.get("id", row.get("question"))
            keys.append(str(key) if key is not None else f"#{i}")
        array = np.asarray(values, dtype=float)
        if len(array) != score.n:
            raise DataError(f"{path}: {len(array)} rows but {self.results_file} says n={score.n} for '{task}'")
        if abs(array.mean() - score.value) > 1e-6 * max(1.0, abs(score.value)):
            raise DataError(f"{path}: mean of '{field_name}' is {array.mean():.6f} but {self.results_file} says "
                            f"{score.metric}={score.value:.6f} for '{task}'")
        return array, keys


def _number(value: Any, where: str, lo: float | None = None, hi: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise DataError(f"{where} should be a number, got {value!r}")
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise DataError(f"{where} is {value!r}, outside [{lo}, {hi}]")
    return float(value)


def load_results(path: str | Path) -> ResultsFolder:
    """Read DIR/results.json (DIR may also be the results.json file itself)."""
    path = Path(path)
    if path.name == "results.json":
        path = path.parent
    file = path / "results.json"
    if not file.is_file():
        raise DataError(f"{path}: not a results folder (no results.json; write one with `augmath eval`)")
    data = read_json_object(file)
    tasks_raw = data.get("tasks")
    if not isinstance(tasks_raw, dict) or not tasks_raw:
        raise DataError(f"{file}: field 'tasks' should be a non-empty object of task -> {{accuracy, n, stderr}}")
    tasks = {}
    for name, entry in tasks_raw.items():
        where = f"{file}: field 'tasks.{name}"
        if not isinstance(entry, dict):
            raise DataError(f"{where}' should be an object")
        metric = entry.get("metric", "accuracy")
        if metric not in METRICS:
            raise DataError(f"{where}.metric' is {metric!r}; valid: {', '.join(METRICS)}")
        n = entry.get("n")
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise DataError(f"{where}.n' should be a positive integer, got {n!r}")
        stderr = entry.get("stderr")
        if metric == "accuracy":
            value = _number(entry.get("accuracy"), f"{where}.accuracy'", 0.0, 1.0)
            stderr = math.sqrt(value * (1 - value) / n) if stderr is None else _number(stderr, f"{where}.stderr'", 0.0)
        else:
            value = _number(entry.get("bpb"), f"{where}.bpb'", 0.0)
            stderr = 0.0 if stderr is None else _number(stderr, f"{where}.stderr'", 0.0)
        tasks[name] = TaskScore(name, value, n, stderr, metric)
    provenance = data.get("provenance") or {}
    if not isinstance(provenance, dict):
        raise DataError(f"{file}: field 'provenance' should be an object")
    provenance = flatten_training_provenance(provenance)
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise DataError(f"{file}: field 'model' should be a non-empty string")
    return ResultsFolder(path=path, model=model, backend=data.get("backend"), tasks=tasks, provenance=provenance)


def load_many(paths: list[str | Path]) -> list[ResultsFolder]:
    if not paths:
        raise DataError("no results folders given")
    return [load_results(p) for p in paths]
