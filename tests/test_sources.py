"""Benchmark loaders: counts, ids, canonical golds on real data, and bad files named precisely."""

import gzip
import json
import os
from pathlib import Path

import pytest

from augmath import sources
from augmath.io import DataError


@pytest.fixture(scope="module")
def data_dir() -> Path:
    root = os.environ.get("AUGMATH_DATA_DIR")
    assert root and Path(root, "gsm8k/test.jsonl").exists(), "AUGMATH_DATA_DIR must point at the benchmark data"
    return Path(root)


@pytest.mark.parametrize(
    "name,split,count,first_id,first_answer",
    [
        ("gsm8k", "train", 7473, "gsm8k/train/0", "72"),
        ("gsm8k", "test", 1319, "gsm8k/test/0", "18"),
        ("math", "train", 7500, "math/train/algebra/0", "0"),
        ("math", "test", 5000, "math/test/algebra/1", "2"),
        ("math500", "test", 500, "math500/test/precalculus/807", r"\left( 3, \frac{\pi}{2} \right)"),
        ("svamp", "test", 1000, "svamp/test/chal-1", "51"),
        ("asdiv", "test", 2305, "asdiv/test/nluds-0001", "9"),
        ("mawps", "test", 2065, "mawps/test/0", "43"),
    ],
)
def test_full_benchmarks_load_with_counts_and_canonical_golds(data_dir, name, split, count, first_id, first_answer):
    records = sources.load(name, split, data_dir)
    assert len(records) == count
    assert records[0].id == first_id and records[0].answer == first_answer
    assert len({r.id for r in records}) == count, "ids must be unique"
    assert all(r.question.strip() for r in records)
    # Two MATH train solutions really end in an empty \boxed{} (number_theory/7115, 7117); kept as released.
    assert sum(not r.answer for r in records) == (2 if (name, split) == ("math", "train") else 0)


def test_gsm8k_golds_strip_thousands_commas(data_dir):
    test = sources.load("gsm8k", "test", data_dir)
    assert test[146].answer == "2125" and test[611].answer == "1450000"
    assert test[489].answer == "-10" and test[1113].answer == "-3"


def test_math_metadata_and_math500_membership(data_dir):
    test = sources.load("math", "test", data_dir)
    assert sum(r.meta["math500"] for r in test) == 500
    r = next(r for r in test if r.id == "math/test/precalculus/807")
    assert r.meta == {"unique_id": "test/precalculus/807.json", "subject": "precalculus", "level": 2, "math500": True}
    train = sources.load("math", "train", data_dir)
    assert sum(r.meta["level"] is None for r in train) == 2  # the two "Level ?" rows of the original release


def test_svamp_and_asdiv_join_body_and_question(data_dir):
    svamp = sources.load("svamp", data_dir=data_dir)[0]
    assert svamp.question.startswith("Each pack of dvds costs 76 dollars.") and svamp.question.endswith("each pack?")
    asdiv = sources.load("asdiv", data_dir=data_dir)[0]
    assert asdiv.question == "Seven red apples and two green apples are in the basket. How many apples are in the basket?"
    assert asdiv.meta["answer_raw"] == "9 (apples)"


def test_packaged_samples_ship_no_asdiv_or_mawps():
    shipped = sources.available("packaged")
    assert ("gsm8k", "train") in shipped and ("math", "test") in shipped
    assert not any(name in ("asdiv", "mawps") for name, _ in shipped)
    for name, split in shipped:
        assert 0 < len(sources.load(name, split, "packaged")) <= 200


def test_packaged_math_test_sample_is_inside_math500():
    assert all(r.meta["math500"] for r in sources.load("math", "test", "packaged"))


def _copy_layout(tmp_path: Path, data_dir: Path, rel: str, rows: list) -> Path:
    dest = tmp_path / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(r if isinstance(r, str) else json.dumps(r) + "\n" for r in rows)
    if rel.endswith(".gz"):
        with gzip.open(dest, "wt") as f:
            f.write(text)
    else:
        dest.write_text(text)
    return dest


def test_wrong_count_names_file_and_counts(tmp_path, data_dir):
    rows = (data_dir / "gsm8k/test.jsonl").read_text().splitlines(keepends=True)[:10]
    path = _copy_layout(tmp_path, data_dir, "gsm8k/test.jsonl", rows)
    with pytest.raises(DataError, match=rf"{path}: expected 1319 rows for gsm8k/test, found 10"):
        sources.load("gsm8k", "test", tmp_path)


def test_invalid_json_names_line(tmp_path, data_dir):
    rows = (data_dir / "gsm8k/test.jsonl").read_text().splitlines(keepends=True)
    rows[41] = '{"question": "broken\n'
    _copy_layout(tmp_path, data_dir, "gsm8k/test.jsonl", rows)
    with pytest.raises(DataError, match=r"test.jsonl:42: invalid JSON"):
        sources.load("gsm8k", "test", tmp_path)


def test_missing_field_names_line_and_field(tmp_path, data_dir):
    rows = [json.loads(x) for x in (data_dir / "gsm8k/test.jsonl").read_text().splitlines()]
    del rows[6]["answer"]
    _copy_layout(tmp_path, data_dir, "gsm8k/test.jsonl", rows)
    with pytest.raises(DataError, match=r"test.jsonl:7: missing field 'answer'"):
        sources.load("gsm8k", "test", tmp_path)


def test_math_solution_without_boxed_answer_is_named(tmp_path, data_dir):
    with gzip.open(data_dir / "math/test.jsonl.gz", "rt") as f:
        rows = [json.loads(x) for x in f]
    rows[3]["solution"] = "no final answer here"
    _copy_layout(tmp_path, data_dir, "math/test.jsonl.gz", rows)
    with pytest.raises(DataError, match=r"test.jsonl.gz:4: field 'solution' has no \\boxed"):
        sources.load("math", "test", tmp_path)


def test_unknown_names_list_valid_ones(data_dir):
    with pytest.raises(ValueError, match="valid: .*gsm8k"):
        sources.load("gsm9k", data_dir=data_dir)
    with pytest.raises(ValueError, match="valid: test, train"):
        sources.load("gsm8k", "dev", data_dir)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        sources.load("gsm8k", "test", "/nonexistent/folder")
