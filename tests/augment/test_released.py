"""`augmath import` / `augmath export` (#13): published data (MuggleMath, MetaMathQA, Alpaca; fixture files in
tests/fixtures/released/) becomes a run folder that builds and trains like a native one, and a built dataset
written out in those formats reads back to the same rows."""

from __future__ import annotations

import json
import re
from pathlib import Path

import datasets
import pytest

from augmath.cli import main as cli
from augmath.dataset_builders import build as B

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "released"
FILES = {"mugglemath": ("mugglemath_gsm8k.jsonl", "gsm8k"), "metamathqa": ("metamathqa_gsm8k.jsonl", "gsm8k"),
         "alpaca": ("alpaca_math.json", "math")}


def do_import(out: Path, fmt: str, *extra: str, file: Path | None = None, source: str | None = None) -> int:
    name, default_source = FILES[fmt]
    return cli(["import", str(file or FIXTURES / name), "--format", fmt, "--source", source or default_source,
                "--out", str(out), "--data-dir", "packaged", "--query-generator", f"q-{fmt}",
                "--response-generator", f"r-{fmt}", *extra])


def rows_of(run: Path, name: str = "items") -> list[dict]:
    return [json.loads(x) for x in (run / f"{name}.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def imported(tmp_path_factory):
    root = tmp_path_factory.mktemp("imported")
    for fmt in FILES:  # decontamination runs on the MuggleMath import, as on a native run
        assert do_import(root / fmt, fmt, *([] if fmt == "mugglemath" else ["--skip-decontam"])) == 0
    return root


# format -> (records, queries kept, items, no-answer drops, link counts, strategies of the items)
EXPECTED = {
    "mugglemath": (6, 3, 4, 1, {"nearest": 3, "unlinked (dropped)": 1}, {"imported"}),
    "metamathqa": (6, 4, 5, 0, {"exact": 3, "nearest": 1}, {"paths", "rephrase", "selfverify", "reverse"}),
    "alpaca": (3, 2, 3, 0, {"nearest": 2}, {"imported"}),
}


@pytest.mark.parametrize("fmt", list(FILES))
def test_each_format_becomes_a_run_folder(imported, fmt):
    records, queries, n_items, no_answer, links, strategies = EXPECTED[fmt]
    report = json.loads((imported / fmt / "report.json").read_text())
    items = rows_of(imported / fmt)
    assert (report["records"], report["items"], report["no_answer"]) == (records, n_items, no_answer)
    assert report["linking"]["counts"] == links and len({r["query_id"] for r in items}) == queries
    assert {r["strategy"] for r in items} == strategies and len(items) == n_items
    for r in items:
        assert (r["query_generator"], r["response_generator"]) == (f"q-{fmt}", f"r-{fmt}")
        assert r["verification"] == "released" and r["verified"] is False and r["agreement"] is None
        assert r["seed_id"].startswith(f"{FILES[fmt][1]}/train/") and r["seed_link"] in ("exact", "nearest")
        assert r["id"] == f"{r['query_id']}/{r['path_index']}" and r["round"] == 0
    config = json.loads((imported / fmt / "run.json").read_text())["config"]
    assert config["file_sha256"] == report["file_sha256"] and config["format"] == fmt


def test_what_each_importer_reads(imported):
    muggle = {r["question"][:20]: r for r in rows_of(imported / "mugglemath")}
    assert muggle["Natalia sold clips t"]["answer"] == "84" and muggle["Weng earns $12 an ho"]["answer"] == "13"
    betty = muggle["Betty is saving mone"]
    assert betty["seed_id"] == "gsm8k/train/2" and "\n" in betty["question"]  # a multi-line query stays whole
    dropped = rows_of(imported / "mugglemath", "dropped")
    assert {d["reason"] for d in dropped} == {"no final answer in the response",
                                              "linked to no gsm8k train question (best score 0.1274 < 0.5)"}
    report = json.loads((imported / "mugglemath" / "report.json").read_text())
    assert "gsm8k/test" in report["decontamination"]["checked"]
    meta = rows_of(imported / "metamathqa")
    assert json.loads((imported / "metamathqa" / "report.json").read_text())["skipped"] == {"source math, not gsm8k": 1}
    by_strategy = {r["strategy"]: r for r in meta}
    assert [r["path_index"] for r in meta if r["strategy"] == "paths"] == [0, 1]  # two answers to one question
    assert (by_strategy["reverse"]["seed_id"], by_strategy["reverse"]["seed_link"]) == ("gsm8k/train/3", "nearest")
    assert (by_strategy["reverse"]["answer"], by_strategy["selfverify"]["answer"]) == ("120", "15")
    alpaca = rows_of(imported / "alpaca")
    assert [r["answer"] for r in alpaca] == ["9+3i", "9+3i", "81"]
    assert alpaca[2]["question"] == ("The perimeter of a rectangle is 36 inches.\nWhat is the number of square inches "
                                     "in the maximum possible area for this rectangle?")


def test_unlinked_queries_are_kept_only_when_asked_and_have_no_original(tmp_path):
    assert do_import(tmp_path / "run-m", "mugglemath", "--skip-decontam", "--allow-unlinked") == 0
    items = rows_of(tmp_path / "run-m")
    unlinked = [r for r in items if r["seed_link"] == "unlinked"]
    assert len(unlinked) == 1 and unlinked[0]["seed_id"].startswith("unlinked/gsm8k/")
    report = json.loads((tmp_path / "run-m" / "report.json").read_text())
    assert report["linking"]["counts"] == {"nearest": 3, "unlinked": 1}
    B.build([tmp_path / "run-m"], tmp_path / "ds", data_dir="packaged")
    originals = datasets.load_dataset(str(tmp_path / "ds"), "gsm8k-original", split="train")
    assert set(originals["id"]) == {r["seed_id"] for r in items} - {unlinked[0]["seed_id"]}


@pytest.mark.parametrize("content, message", [
    ('{"query": "q", "response": "r"}\n{"query": "q2"}\n', r"bad.jsonl:2: missing field 'response'"),
    ('{"query": "q", "response": 5}\n', r"bad.jsonl:1: field 'response' should be a string, got int"),
    ('{"query": "  ", "response": "r"}\n', r"bad.jsonl:1: field 'query' is empty"),
    ('{"query": "q", "response": "r"}\n{"query": \n', r"bad.jsonl:2: invalid JSON"),
    ('["query", "response"]\n', r"bad.jsonl:1: expected a JSON object, got list"),
])
def test_bad_files_name_file_line_and_field_and_write_nothing(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content)
    assert do_import(tmp_path / "run", "mugglemath", file=bad) == 2
    err = capsys.readouterr().err
    assert re.search(message, err), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.jsonl"]  # no run folder, no temp folder


@pytest.mark.parametrize("fmt, record, message", [
    ("metamathqa", {"query": "q", "response": "r", "type": "GSM_Evolved", "original_question": "q"},
     r"item 1: field 'type' is 'GSM_Evolved'; valid: GSM_AnsAug"),
    ("alpaca", {"instruction": "q", "output": "r"}, r"item 1: missing field 'input'"),
])
def test_bad_records_in_a_json_array_are_named(tmp_path, fmt, record, message):
    from augmath.augment.released import read_released
    from augmath.io import DataError

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([record]))
    with pytest.raises(DataError, match=message):
        list(read_released(bad, fmt))


def test_an_existing_run_folder_is_never_written_into(imported, capsys):
    assert do_import(imported / "mugglemath", "mugglemath") == 2
    assert "exists and is not empty" in capsys.readouterr().err


def test_export_then_import_gives_back_the_rows(tmp_path):
    assert cli(["augment", "--source", "gsm8k", "--strategies", "numbers,reverse", "--no-llm", "--skip-decontam",
                "--data-dir", "packaged", "--limit", "30", "--rounds", "2", "--out", str(tmp_path / "native")]) == 0
    B.build([tmp_path / "native"], tmp_path / "ds", data_dir="packaged")
    ds = datasets.load_dataset(str(tmp_path / "ds"), "gsm8k", split="train")
    for fmt in ("mugglemath", "alpaca"):
        out = tmp_path / f"{fmt}.jsonl"
        assert cli(["export", str(tmp_path / "ds"), "--config", "gsm8k", "--format", fmt, "--out", str(out)]) == 0
        assert len(out.read_text().splitlines()) == ds.num_rows
        assert do_import(tmp_path / f"back-{fmt}", fmt, "--skip-decontam", file=out, source="gsm8k") == 0
        back = rows_of(tmp_path / f"back-{fmt}")
        assert sorted((r["question"], r["response"], r["answer"]) for r in back) == sorted(
            zip(ds["question"], ds["response"], ds["answer"]))
        assert sorted(r["seed_id"] for r in back) == sorted(ds["seed_id"])  # every seed found again
    # D_N of the export: the first 5 queries of the second round (round 1)
    assert cli(["export", str(tmp_path / "ds"), "--config", "gsm8k", "--format", "mugglemath", "--num-queries", "5",
                "--rounds", "1", "--out", str(tmp_path / "d5.jsonl")]) == 0
    d5 = [json.loads(x) for x in (tmp_path / "d5.jsonl").read_text().splitlines()]
    second = [q for q, r in zip(ds["question"], ds["round"]) if r == 1]
    assert [r["query"] for r in d5] == list(dict.fromkeys(second))[:5]
    assert cli(["export", str(tmp_path / "ds"), "--config", "nope", "--format", "alpaca", "--out", "x.jsonl"]) == 2


@pytest.mark.slow
def test_imports_of_every_format_build_and_train(imported, tmp_path):
    """The three imported run folders build into one dataset, and `augmath train` (accelerate launch, a tiny
    random Llama) trains on a mixture holding rows of each format."""
    import subprocess
    import sys

    from augmath.tiny import make_tiny_llama
    from training_helpers import env

    manifest = B.build([imported / fmt for fmt in FILES], tmp_path / "ds", data_dir="packaged")
    assert {"gsm8k-imported", "gsm8k-paths", "gsm8k-reverse", "math-imported"} <= set(manifest["configs"])
    parts = [{"config": "gsm8k-imported"}, {"config": "gsm8k-reverse"}, {"config": "math-imported"}]
    cmd = [sys.executable, "-m", "augmath.cli", "train", "cpu_tiny", "--model_name_or_path",
           str(make_tiny_llama(tmp_path / "tiny")), "--dataset", str(tmp_path / "ds"), "--dataset_config", "null",
           "--num_samples", "null", "--dataset_parts", json.dumps(parts), "--global_batch_size", "4",
           "--per_device_train_batch_size", "4", "--num_train_epochs", "1", "--output_dir", str(tmp_path / "model")]
    proc = subprocess.run(cmd, env=env(tmp_path), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((tmp_path / "model" / "augmath_train.json").read_text())
    assert record["status"] == "complete"
    assert [(p["config"], p["rows"]) for p in record["dataset"]["parts"]] == [
        ("gsm8k-imported", 4), ("gsm8k-reverse", 1), ("math-imported", 3)]


def test_the_papers_gsm8k_train_file_is_imported_whole(tmp_path):
    """OFA-Sys/gsm8k-ScRel's data/train_use.jsonl is GSM8K train itself ({query, response}, `#### N`): the fixture
    holds the first six real train items as released, one of them twice, and item 4 answered in other words.
    Its rows are the seeds: kept as `original` (paths where the response differs), never "dedup: same-as-seed";
    the repeated row alone is dropped as a duplicate. The build's gsm8k-original config then holds the six seeds."""
    fixture = FIXTURES / "gsm8k_train_use.jsonl"
    assert do_import(tmp_path / "run", "mugglemath", file=fixture) == 0
    items, dropped = rows_of(tmp_path / "run"), rows_of(tmp_path / "run", "dropped")
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert [(r["seed_id"], r["strategy"], r["seed_link"]) for r in items] == [  # query by query, in file order
        *((f"gsm8k/train/{i}", "original", "exact") for i in range(5)), ("gsm8k/train/4", "paths", "exact"),
        ("gsm8k/train/5", "original", "exact")]
    assert [(d["stage"], d["reason"], d["seed_id"]) for d in dropped] == [
        ("dedup", "duplicate-exact response", "gsm8k/train/3")]
    assert (report["records"], report["items"], report["dropped"], report["duplicate_responses"]) == (8, 7, 1, 1)
    strategies = {k: (v["queries_kept"], v["items"]) for k, v in report["strategies"].items()}
    assert report["dedup"] == {} and strategies == {"original": (6, 6), "paths": (1, 1)}
    manifest = B.build([tmp_path / "run"], tmp_path / "ds", data_dir="packaged")
    originals = datasets.load_dataset(str(tmp_path / "ds"), "gsm8k-original", split="train")
    assert sorted(originals["id"]) == [f"gsm8k/train/{i}" for i in range(6)]
    released = [json.loads(x) for x in fixture.read_text().splitlines()]
    assert {(q, r) for q, r in zip(originals["question"], originals["response"])} == {
        (r["query"], r["response"]) for r in released[:6]}
    assert "gsm8k-paths" in manifest["configs"] and manifest["configs"]["gsm8k"]["rows"] == 7
