"""eval_tasks/: one lighteval task per benchmark, prompts identical to the training prompts, prepared data folders."""

from __future__ import annotations

import re

import pytest

from augmath.evalsets import LIKELIHOOD_TASKS
from augmath.eval_tasks import data as eval_data
from augmath.prompts import ALPACA_STOP, format_prompt
from eval_fixtures import TASKS_DIR, docs_for, eval_folders, full_data_dir, load_task_module, rows, settings_file  # noqa: F401

EXPECTED_ROWS = {"gsm8k": 1319, "math": 5000, "math500": 500, "svamp": 1000, "asdiv": 2305, "mawps": 2065}


def test_every_benchmark_has_exactly_one_task_file():
    # a task file is a module with lighteval's task-file docstring header (the others are the code around them)
    files = sorted(p.stem for p in TASKS_DIR.glob("*.py") if p.read_text().startswith('"""\nname:\n'))
    assert files == sorted(b.name for b in eval_data.BENCHMARKS.values())


@pytest.mark.parametrize("name", list(eval_data.BENCHMARKS))
def test_task_module_shape(name, eval_folders):
    module = load_task_module(name, eval_folders)
    text = (TASKS_DIR / f"{name}.py").read_text()
    assert text.startswith('"""\nname:\n'), "lighteval task-file docstring header"
    # the generative task, then (benchmarks with a reference solution) the likelihood task
    assert [c.name for c in module.TASKS_TABLE] == [f"augmath_{name}"] + (
        [f"augmath_{name}_bpb"] if f"{name}_bpb" in LIKELIHOOD_TASKS else [])
    config = module.TASKS_TABLE[0]
    assert config.name == f"augmath_{name}" == eval_data.BENCHMARKS[name].task
    assert config.hf_repo == eval_folders[name]
    assert list(config.stop_sequence) == ALPACA_STOP
    assert config.generation_size == (1024 if eval_data.BENCHMARKS[name].kind == "math" else 512)
    assert [m.metric_name for m in config.metrics] == ["acc", "maj@k"]
    assert config.evaluation_splits == ("test",) and config.few_shots_split == "train"


def test_task_names_do_not_collide_with_lighteval_builtins(eval_folders):
    from lighteval.tasks.registry import Registry

    builtin = set(Registry.load_all_task_configs())
    ours = {c.name for n in eval_data.BENCHMARKS for c in load_task_module(n, eval_folders).TASKS_TABLE}
    assert "gsm8k" in builtin and "math_500" in builtin  # the names we must avoid really are taken
    assert not ours & builtin


@pytest.mark.parametrize("name", list(eval_data.BENCHMARKS))
def test_prepared_folder_loads_with_datasets_like_lighteval_does(name, eval_folders):
    from datasets import load_dataset

    ds = load_dataset(path=eval_folders[name], name="default", revision=None)
    assert ds["test"].num_rows == EXPECTED_ROWS[name]
    assert {"id", "question", "answer", "solution"} <= set(ds["test"].column_names)
    pool = "gsm8k" if eval_data.BENCHMARKS[name].kind == "gsm8k" else "math"
    assert ds["train"].num_rows == {"gsm8k": 7473, "math": 7500}[pool]
    manifest = eval_data.manifest(eval_folders[name])
    assert manifest["test"]["rows"] == EXPECTED_ROWS[name] and manifest["benchmark"] == name


def test_prepare_is_idempotent_and_keyed_on_the_rows(tmp_path):
    data_dir = full_data_dir()
    a = eval_data.prepare("svamp", data_dir=data_dir, root=tmp_path)
    assert eval_data.prepare("svamp", data_dir=data_dir, root=tmp_path) == a
    b = eval_data.prepare("svamp", data_dir="packaged", root=tmp_path)  # other rows -> another folder
    assert a != b and re.fullmatch(r"svamp-[0-9a-f]{16}", b.name)
    assert eval_data.manifest(b)["test"]["rows"] == len(rows(str(b)))
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no temp folders left behind"


@pytest.mark.parametrize("name", list(eval_data.BENCHMARKS))
def test_zero_shot_prompt_is_exactly_the_training_prompt(name, eval_folders):
    from lighteval.tasks.prompt_manager import PromptManager

    _, docs = docs_for(name, eval_folders, limit=25)
    manager = PromptManager(use_chat_template=False)
    for doc, row in zip(docs, rows(eval_folders[name])):
        assert manager.prepare_prompt(doc) == format_prompt(row["question"])
        assert doc.get_golds() == [row["answer"]]
        assert doc.specific["id"] == row["id"] and doc.specific["kind"] == eval_data.BENCHMARKS[name].kind


def test_few_shot_prompt_prints_the_header_once_and_shows_solutions(eval_folders):
    from lighteval.tasks.lighteval_task import LightevalTask
    from lighteval.tasks.prompt_manager import PromptManager

    module = load_task_module("math500", eval_folders)
    config = module.TASKS_TABLE[0]
    config.num_fewshots = 2
    with settings_file(tasks=eval_folders):
        task = LightevalTask(config)
        docs = task.get_docs(max_samples=3)
    header = format_prompt("Q").split("\n\n")[0]
    train_ids = {r["id"] for r in rows(eval_folders["math500"], "train")}
    for doc in docs:
        prompt = PromptManager(use_chat_template=False).prepare_prompt(doc)
        assert prompt.count(header) == 1 and prompt.startswith(header)
        assert prompt.count("### Instruction:") == 3 and prompt.endswith(format_prompt(doc.specific["question"]).split("\n\n", 1)[1])
        assert len(doc.fewshot_samples) == 2
        for shot in doc.fewshot_samples:
            assert shot.specific["id"] in train_ids  # shots come from MATH train, never from the test set
            assert "\\boxed" in shot.get_golds()[0]  # a shot shows a worked solution, not a bare answer


def test_chat_template_docs_carry_the_bare_question(eval_folders):
    _, docs = docs_for("gsm8k", eval_folders, limit=3, template="chat")
    for doc, row in zip(docs, rows(eval_folders["gsm8k"])):
        assert doc.query == row["question"].strip() and doc.instruction is None


def test_max_new_tokens_override_reaches_the_task(eval_folders):
    assert load_task_module("gsm8k", eval_folders, max_new_tokens=24).TASKS_TABLE[0].generation_size == 24


def test_unknown_template_is_an_error(eval_folders):
    module = load_task_module("gsm8k", eval_folders)
    row = rows(eval_folders["gsm8k"])[0]
    with settings_file(tasks=eval_folders, template="vicuna"), pytest.raises(ValueError, match="vicuna"):
        module.gsm8k_prompt(row, "augmath_gsm8k")


@pytest.mark.parametrize("name", ["svamp", "math500"])
def test_per_task_sample_limit_keeps_the_items_lighteval_max_samples_picks(name, eval_folders):
    """`--max-samples math500=8`: a filter keeps exactly the K items `lighteval --max-samples K` evaluates (so
    runs with a per-task and a global limit score the same items), the few-shot pool untouched, and a name that
    differs per subset (lighteval's answer cache keys on the config and on each doc's index)."""
    from lighteval.tasks.lighteval_task import LightevalTask

    with settings_file(tasks=eval_folders):
        full = LightevalTask(load_task_module(name, eval_folders).TASKS_TABLE[0])
        expected = {d.specific["id"] for d in full.get_docs(max_samples=8)}
    limited_module = load_task_module(name, eval_folders, max_samples={name: 8})
    config = limited_module.TASKS_TABLE[0]
    assert config.hf_filter.__name__.startswith("first_8_of_")
    with settings_file(tasks=eval_folders, max_samples={name: 8}):
        task = LightevalTask(config)
        assert {d.specific["id"] for d in task.get_docs()} == expected
        assert len(task.dataset["train"]) == len(rows(eval_folders[name], "train"))
    other = load_task_module(name, eval_folders, max_samples={name: 9}).TASKS_TABLE[0]
    assert other.hf_filter.__name__ != config.hf_filter.__name__
    assert load_task_module(name, eval_folders).TASKS_TABLE[0].hf_filter is None
