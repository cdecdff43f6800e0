"""Shared helpers for the evaluation tests (tests/test_eval_*.py): prepared data folders and task modules."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import tempfile
from pathlib import Path

import pytest

import augmath.eval_tasks
from augmath.eval_tasks import data as eval_data
from augmath.eval_tasks import settings as eval_settings

REPO = Path(__file__).resolve().parent.parent
TASKS_DIR = Path(augmath.eval_tasks.__file__).resolve().parent  # eval_tasks/ in the checkout
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


@contextlib.contextmanager
def settings_file(**fields):
    """$AUGMATH_EVAL_SETTINGS pointing at a settings file with `fields`, as `augmath eval` hands it to lighteval."""
    old = os.environ.get(eval_settings.SETTINGS_ENV)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ[eval_settings.SETTINGS_ENV] = str(eval_settings.write(Path(tmp) / "settings.json", **fields))
        try:
            yield
        finally:
            if old is None:
                os.environ.pop(eval_settings.SETTINGS_ENV, None)
            else:
                os.environ[eval_settings.SETTINGS_ENV] = old


def load_task_module(name: str, folders: dict[str, str], template: str = "alpaca", **settings):
    """A fresh copy of augmath.eval_tasks.<name> (its config is built on import) under these settings."""
    with settings_file(tasks=folders, template=template, **settings):
        spec = importlib.util.spec_from_file_location(f"augmath_eval_task_test_{name}", TASKS_DIR / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


def rows(folder: str, split: str = "test") -> list[dict]:
    import pandas as pd

    return pd.read_parquet(Path(folder) / f"{split}.parquet").to_dict("records")


def docs_for(name: str, folders: dict[str, str], limit: int | None = None, template: str = "alpaca"):
    """Docs built by the task's own prompt function from the prepared rows (with few_shots flag off)."""
    module = load_task_module(name, folders, template)
    config = module.TASKS_TABLE[0]
    with settings_file(tasks=folders, template=template):
        out = []
        for i, row in enumerate(rows(folders[name])[:limit]):
            doc = config.prompt_function({**row, "__few_shots": False, "__index": i}, config.name)
            doc.id = str(i)
            out.append(doc)
        return config, out
