"""Evaluation inputs for lighteval: prepared local dataset folders, and the Doc every task prompt function builds.

lighteval 0.13 loads a task's data with `datasets.load_dataset(hf_repo, hf_subset)`, and a local folder of
parquet files works as `hf_repo` (offline, no loading script). `prepare("gsm8k")` writes such a folder from
`augmath.sources` records, so every benchmark, whatever its original format (JSONL, JSON array, XML-derived,
the public Hub copies), reaches lighteval with the same columns:

    <root>/<benchmark>-<fingerprint>/test.parquet    the evaluation set: id, source, split, question, solution, answer, meta
    <root>/<benchmark>-<fingerprint>/train.parquet   the few-shot pool (GSM8K train for word problems, MATH train for MATH)
    <root>/<benchmark>-<fingerprint>/manifest.json   where the rows came from, counts, fingerprint

The folder name carries a hash of the rows, so different data never shares a folder (and never shares
lighteval's answer cache, whose key includes `hf_repo`). Root: $AUGMATH_EVAL_DATA_ROOT, else
~/.cache/augmath/eval_data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from augmath import sources
from augmath.io import write_json_atomic
from augmath.prompts import format_prompt


@dataclass(frozen=True)
class Benchmark:
    name: str                     # what users type: --tasks gsm8k,math500
    task: str                     # the lighteval task name (never one of lighteval's built-ins)
    source: str                   # augmath.sources name
    split: str
    fewshot: tuple[str, str]      # (source, split) of the few-shot pool
    kind: str                     # grading kind: "gsm8k" (a number) or "math" (a \boxed{} expression)
    module: str                   # eval_tasks/<module>.py


BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in [
        Benchmark("gsm8k", "augmath_gsm8k", "gsm8k", "test", ("gsm8k", "train"), "gsm8k", "gsm8k"),
        Benchmark("math", "augmath_math", "math", "test", ("math", "train"), "math", "math"),
        Benchmark("math500", "augmath_math500", "math500", "test", ("math", "train"), "math", "math500"),
        # Test-only word-problem sets: their few-shot examples come from GSM8K train (same answer format).
        Benchmark("svamp", "augmath_svamp", "svamp", "test", ("gsm8k", "train"), "gsm8k", "svamp"),
        Benchmark("asdiv", "augmath_asdiv", "asdiv", "test", ("gsm8k", "train"), "gsm8k", "asdiv"),
        Benchmark("mawps", "augmath_mawps", "mawps", "test", ("gsm8k", "train"), "gsm8k", "mawps"),
    ]
}
TASK_TO_BENCHMARK = {b.task: b.name for b in BENCHMARKS.values()}

# Which prompt template the task prompt functions render (set by `augmath eval --template`); alpaca by default,
# the template the training stage uses.
TEMPLATE_ENV = "AUGMATH_EVAL_TEMPLATE"
# `augmath eval --max-new-tokens N` (lighteval's transformers backend takes the generation size from the task,
# not from the model's generation parameters, so the override has to reach the task config).
MAX_NEW_TOKENS_ENV = "AUGMATH_EVAL_MAX_NEW_TOKENS"
# JSON {benchmark: folder} written by `augmath eval`, so lighteval's process reuses the folders it prepared.
FOLDERS_ENV = "AUGMATH_EVAL_FOLDERS"


def benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def default_root() -> Path:
    root = os.environ.get("AUGMATH_EVAL_DATA_ROOT")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "augmath" / "eval_data"


def _rows(records: list[sources.Record]) -> list[dict]:
    return [
        {
            "id": r.id, "source": r.source, "split": r.split, "question": r.question,
            "solution": r.solution or "", "answer": r.answer,
            "meta": json.dumps(r.meta, ensure_ascii=False, sort_keys=True, default=str),
        }
        for r in records
    ]


def _fingerprint(test: list[dict], pool: list[dict]) -> str:
    h = hashlib.sha256()
    for row in test + [{"--": "fewshot"}] + pool:
        h.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def prepare(name: str, data_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Path:
    """Write (or find) the local dataset folder for benchmark `name`; return its path.

    data_dir as in augmath.sources.load: a folder laid out like ../shared/data, "packaged", or None for
    $AUGMATH_DATA_DIR and then the public Hub datasets.
    """
    import pandas as pd

    b = benchmark(name)
    test = _rows(sources.load(b.source, b.split, data_dir=data_dir))
    pool = _rows(sources.load(b.fewshot[0], b.fewshot[1], data_dir=data_dir))
    if not test:
        raise ValueError(f"{name}: the evaluation set is empty (data_dir={data_dir!r})")
    fp = _fingerprint(test, pool)
    root = Path(root) if root is not None else default_root()
    folder = root / f"{name}-{fp}"
    if (folder / "manifest.json").is_file():
        return folder
    root.mkdir(parents=True, exist_ok=True)
    # Build in a temp folder beside the target and rename: a killed run never leaves a half-written folder.
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=root))
    try:
        pd.DataFrame(test).to_parquet(tmp / "test.parquet", index=False)
        pd.DataFrame(pool).to_parquet(tmp / "train.parquet", index=False)
        resolved = sources.resolve_data_dir(data_dir)
        write_json_atomic(tmp / "manifest.json", {
            "benchmark": name, "task": b.task, "kind": b.kind, "fingerprint": fp,
            "data_dir": str(resolved) if resolved is not None else "hub",
            "test": {"source": b.source, "split": b.split, "rows": len(test)},
            "fewshot_pool": {"source": b.fewshot[0], "split": b.fewshot[1], "rows": len(pool)},
        })
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "manifest.json").is_file():  # lost a race to a finished twin: fine; else re-raise
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def task_folder(name: str) -> str:
    """The `hf_repo` of benchmark `name`: the folder `augmath eval` prepared, else one prepared now."""
    mapping = json.loads(os.environ.get(FOLDERS_ENV) or "{}")
    if name in mapping:
        return str(mapping[name])
    return str(prepare(name))


def generation_size(default: int) -> int:
    """The task's generation budget: `default`, unless `augmath eval --max-new-tokens` overrides it."""
    value = os.environ.get(MAX_NEW_TOKENS_ENV)
    return int(value) if value else default


def task_config(benchmark: str, prompt_function, max_new_tokens: int):
    """The LightevalTaskConfig every eval_tasks/ module declares: task `augmath_<benchmark>` on the prepared
    folder, scored on test with few-shot examples drawn from train, the training template's stop sequences,
    and augmath's grader as metrics. One place for these settings, so the six tasks cannot drift apart."""
    from lighteval.tasks.lighteval_task import LightevalTaskConfig

    from augmath.eval_metric import task_metrics
    from augmath.prompts import stop_sequences

    return LightevalTaskConfig(
        name=f"augmath_{benchmark}",
        prompt_function=prompt_function,
        hf_repo=task_folder(benchmark),
        hf_subset="default",
        hf_avail_splits=["train", "test"],
        evaluation_splits=["test"],
        few_shots_split="train",
        few_shots_select="random_sampling_from_train",
        generation_size=generation_size(max_new_tokens),
        stop_sequence=stop_sequences("alpaca"),
        metrics=task_metrics(),
        version=0,
    )


def manifest(folder: str | os.PathLike) -> dict:
    return json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------- prompts

def current_template() -> str:
    return os.environ.get(TEMPLATE_ENV) or "alpaca"


def make_doc(line: dict, task_name: str | None, kind: str):
    """One prepared row -> a lighteval Doc whose prompt is the training prompt.

    Alpaca (default): the query is format_prompt(question), and its fixed header is also passed as the Doc's
    `instruction`: lighteval's plain-text prompt manager then prints the header once, followed by the few-shot
    blocks and the question, so zero-shot prompts are byte-identical to training prompts and few-shot prompts
    do not repeat the header. Chat: the query is the bare question; the backend applies the chat template.
    Eval rows carry the canonical answer as gold; few-shot rows carry the reference solution (what a few-shot
    example should show).
    """
    from lighteval.tasks.requests import Doc

    template = current_template()
    question = line["question"]
    fewshot = bool(line.get("__few_shots"))
    gold = (line.get("solution") or line["answer"]) if fewshot else line["answer"]
    specific = {"id": line["id"], "kind": kind, "question": question, "answer": line["answer"], "template": template}
    if template == "alpaca":
        query = format_prompt(question, "alpaca")
        header = query.split("\n\n", 1)[0]
        return Doc(task_name=task_name, query=query, choices=[gold], gold_index=0, instruction=header,
                   specific=specific)
    if template == "chat":
        return Doc(task_name=task_name, query=question.strip(), choices=[gold], gold_index=0, specific=specific)
    raise ValueError(f"{TEMPLATE_ENV}={template!r}; valid: alpaca, chat")
