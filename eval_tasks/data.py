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
import random
from pathlib import Path

from augmath import sources
from augmath.evalsets import BENCHMARKS, benchmark, benchmark_of
from augmath.eval_tasks import settings
from augmath.io import atomic_folder, read_json_object, write_json_atomic
from augmath.prompts import PLAIN_TEMPLATES, TEMPLATES, format_prompt


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

    data_dir as in augmath.sources.load: a folder of benchmark files (augmath.sources.FILES, docs/data.md),
    "packaged", or None for $AUGMATH_DATA_DIR and then the public Hub datasets.
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
    # Built in `.FOLDER.prepare-*` beside the target and renamed in (a killed run's is removed by the next); a
    # twin that finished first wins ("keep"): its folder holds the same data (same fingerprint).
    with atomic_folder(folder, tag="prepare", replace="keep") as tmp:
        pd.DataFrame(test).to_parquet(tmp / "test.parquet", index=False)
        pd.DataFrame(pool).to_parquet(tmp / "train.parquet", index=False)
        resolved = sources.resolve_data_dir(data_dir)
        write_json_atomic(tmp / "manifest.json", {
            "benchmark": name, "task": b.task, "kind": b.kind, "fingerprint": fp,
            "data_dir": str(resolved) if resolved is not None else "hub",
            "test": {"source": b.source, "split": b.split, "rows": len(test)},
            "fewshot_pool": {"source": b.fewshot[0], "split": b.fewshot[1], "rows": len(pool)},
        })
    return folder


def task_folder(name: str) -> str:
    """The `hf_repo` of task `name` (gsm8k or gsm8k_bpb: both read the benchmark's one prepared folder): the folder
    `augmath eval` prepared (settings file), else one prepared now."""
    folders = settings.current().get("tasks") or {}
    bench = benchmark_of(name)
    for key in (name, bench, *(k for k in folders if benchmark_of(k) == bench)):
        if key in folders:
            return str(folders[key])
    return str(prepare(bench))


def sample_filter(task: str):
    """The `hf_filter` that limits task `task` to its own number of items (settings `max_samples`, from
    `augmath eval --max-samples gsm8k_bpb=24,math500_bpb=8`), or None.

    The items kept are exactly those `lighteval --max-samples K` would pick: lighteval shuffles the evaluation
    docs with random.Random(42) (a permutation that depends only on their number) and takes the first K. Rows
    outside the evaluation split (the few-shot pool) are kept. The function's name carries K and a digest of the
    kept ids: lighteval's answer cache keys on the task config (where the filter appears by name) and on each
    doc's index, which filtering changes, so different subsets must never share a cache entry."""
    import pandas as pd

    limit = (settings.current().get("max_samples") or {}).get(task)
    if limit is None:
        return None
    ids = pd.read_parquet(Path(task_folder(task)) / "test.parquet", columns=["id"])["id"].tolist()
    order = list(range(len(ids)))
    random.Random(42).shuffle(order)
    keep = {ids[i] for i in order[: int(limit)]}
    test_ids = set(ids)

    def keep_row(row: dict) -> bool:
        return row["id"] not in test_ids or row["id"] in keep

    digest = hashlib.sha256("\n".join(sorted(keep)).encode()).hexdigest()[:12]
    keep_row.__name__ = f"first_{len(keep)}_of_{len(ids)}_{digest}"
    return keep_row


def data_config(task: str, **fields):
    """A LightevalTaskConfig reading task `task`'s prepared folder: scored on test, few-shot examples from train,
    the items of its --max-samples (sample_filter); `fields` add the rest (name, prompt, generation, metrics).
    The generative tasks (task_config) and the likelihood tasks (augmath.eval_tasks.likelihood) share it."""
    from lighteval.tasks.lighteval_task import LightevalTaskConfig

    return LightevalTaskConfig(hf_repo=task_folder(task), hf_subset="default", hf_avail_splits=["train", "test"],
                               evaluation_splits=["test"], few_shots_split="train",
                               few_shots_select="random_sampling_from_train", hf_filter=sample_filter(task),
                               **fields)


def task_config(name: str, prompt_function):
    """The LightevalTaskConfig every task module declares: task `augmath_<name>` on the prepared folder, scored
    on test with few-shot examples drawn from train, the registry's generation size (or the settings file's
    max_new_tokens, or the evaluation profile's), the training template's stop sequences, and augmath's grader
    as metrics. One place for these settings, so the six tasks cannot drift apart."""
    from augmath.eval_tasks import profiles
    from augmath.eval_tasks.metrics import task_metrics
    from augmath.prompts import stop_sequences

    b = benchmark(name)
    return data_config(
        name,
        name=b.task,
        prompt_function=prompt_function,
        generation_size=profiles.generation_size(b.kind, b.max_new_tokens, settings.current()),
        stop_sequence=stop_sequences("alpaca"),
        metrics=task_metrics(),
        version=0,
    )


def manifest(folder: str | os.PathLike) -> dict:
    return read_json_object(Path(folder) / "manifest.json")


# ---------------------------------------------------------------------------------------------- prompts

def make_doc(line: dict, task_name: str | None, name: str):
    """One prepared row of benchmark `name` -> a lighteval Doc whose prompt is the training prompt.

    Alpaca (default; also alpaca-input, the paper's Instruction/Input split): the query is
    format_prompt(question, template), and its fixed header is also passed as the Doc's
    `instruction`: lighteval's plain-text prompt manager then prints the header once, followed by the few-shot
    blocks and the question, so zero-shot prompts are byte-identical to training prompts and few-shot prompts
    do not repeat the header. Chat: the query is the bare question; the backend applies the chat template.
    Eval rows carry the canonical answer as gold; few-shot rows carry the reference solution (what a few-shot
    example should show). The template comes from the settings file (augmath.eval_tasks.settings).
    """
    from lighteval.tasks.requests import Doc

    template = settings.current().get("template") or "alpaca"
    kind = BENCHMARKS[name].kind
    question = line["question"]
    fewshot = bool(line.get("__few_shots"))
    gold = (line.get("solution") or line["answer"]) if fewshot else line["answer"]
    specific = {"id": line["id"], "kind": kind, "question": question, "answer": line["answer"], "template": template}
    if template in PLAIN_TEMPLATES:
        query = format_prompt(question, template)
        header = query.split("\n\n", 1)[0]
        return Doc(task_name=task_name, query=query, choices=[gold], gold_index=0, instruction=header,
                   specific=specific)
    if template == "chat":
        return Doc(task_name=task_name, query=question.strip(), choices=[gold], gold_index=0, specific=specific)
    raise ValueError(f"{settings.SETTINGS_ENV}: template {template!r}; valid: {', '.join(TEMPLATES)}")
