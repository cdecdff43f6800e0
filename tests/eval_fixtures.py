"""Shared helpers for the evaluation tests (tests/test_eval_*.py): prepared data folders and task modules."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

from augmath import eval_data

REPO = Path(__file__).resolve().parent.parent
TASKS_DIR = REPO / "eval_tasks"
SAVED_PREDICTIONS = Path(__file__).resolve().parent / "data" / "eval_saved_predictions.jsonl"


def full_data_dir() -> str:
    """The full benchmark files (CI sets AUGMATH_DATA_DIR=../shared/data). Missing -> the test fails."""
    path = os.environ.get("AUGMATH_DATA_DIR")
    if not path or not Path(path).is_dir():
        pytest.fail("AUGMATH_DATA_DIR must point at the benchmark data (../shared/data); it is missing")
    return path


@pytest.fixture(scope="session")
def eval_folders(tmp_path_factory) -> dict[str, str]:
    """Every benchmark prepared from the full data into a session temp root: {benchmark: folder}."""
    root = tmp_path_factory.mktemp("eval_data")
    data_dir = full_data_dir()
    return {name: str(eval_data.prepare(name, data_dir=data_dir, root=root)) for name in eval_data.BENCHMARKS}


def load_task_module(name: str, folders: dict[str, str], template: str = "alpaca"):
    """Import eval_tasks/<name>.py the way `augmath eval` does (by path, under a unique module name)."""
    old = {k: os.environ.get(k) for k in (eval_data.FOLDERS_ENV, eval_data.TEMPLATE_ENV)}
    os.environ[eval_data.FOLDERS_ENV] = json.dumps(folders)
    os.environ[eval_data.TEMPLATE_ENV] = template
    try:
        spec = importlib.util.spec_from_file_location(f"augmath_eval_task_test_{name}", TASKS_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def rows(folder: str, split: str = "test") -> list[dict]:
    import pandas as pd

    return pd.read_parquet(Path(folder) / f"{split}.parquet").to_dict("records")


def docs_for(name: str, folders: dict[str, str], limit: int | None = None, template: str = "alpaca"):
    """Docs built by the task's own prompt function from the prepared rows (with few_shots flag off)."""
    module = load_task_module(name, folders, template)
    config = module.TASKS_TABLE[0]
    old = os.environ.get(eval_data.TEMPLATE_ENV)
    os.environ[eval_data.TEMPLATE_ENV] = template
    try:
        out = []
        for i, row in enumerate(rows(folders[name])[:limit]):
            doc = config.prompt_function({**row, "__few_shots": False, "__index": i}, config.name)
            doc.id = str(i)
            out.append(doc)
        return config, out
    finally:
        if old is None:
            os.environ.pop(eval_data.TEMPLATE_ENV, None)
        else:
            os.environ[eval_data.TEMPLATE_ENV] = old
