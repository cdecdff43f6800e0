"""Shared fixtures for the augmentation tests (test_calc, test_numbers, test_strategies, test_augment)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def full_data_dir() -> str:
    """The full benchmark files (CI sets AUGMATH_DATA_DIR=../shared/data). Missing -> the test fails."""
    path = os.environ.get("AUGMATH_DATA_DIR")
    if not path or not Path(path, "gsm8k/train.jsonl.gz").exists():
        pytest.fail("AUGMATH_DATA_DIR must point at the benchmark data (../shared/data); it is missing")
    return path


@pytest.fixture(scope="session")
def gsm8k_train():
    from augmath.sources import load

    return load("gsm8k", "train", data_dir=full_data_dir())


@pytest.fixture(scope="session")
def math_train():
    from augmath.sources import load

    return load("math", "train", data_dir=full_data_dir())


def seed_with(records, text: str):
    """The one record whose question contains `text`."""
    found = [r for r in records if text in r.question]
    assert len(found) == 1, f"{len(found)} seeds contain {text!r}"
    return found[0]


def recorded_outputs(name: str) -> list[dict]:
    """Real model outputs recorded from the embedded SmolLM2 server (tests/fixtures/*.jsonl)."""
    with open(FIXTURES / name, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
