"""`augmath augment --shard I/N` + `augmath build` of the N shard folders == one unsharded run (issue #25).

The seeds are real GSM8K train records, with three rows overwritten so that the dedup has work across shards:
seed 1 (shard 1 of 3) is a copy of seed 0 (shard 0), so their `reverse` queries collide; seed 4 (shard 2) is
seed 0's `numbers` query, so that query copies a seed of ANOTHER shard. A shard that compared only with its own
seeds, or build that did not deduplicate across shards, gives a different dataset and fails the byte check.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from augmath.augment.shards import group_name, in_shard
from augmath.cli import main
from tests.augment_fixtures import full_data_dir

EXACT = ["--source", "gsm8k", "--strategies", "numbers,reverse", "--limit", "60", "--no-llm", "--skip-decontam"]


def _data_dir(tmp_path: Path) -> str:
    """A data folder like the shared one whose GSM8K train holds the crafted duplicates (same row count)."""
    src = Path(full_data_dir())
    rows = [json.loads(line) for line in gzip.open(src / "gsm8k/train.jsonl.gz", "rt", encoding="utf-8")]
    rows[1] = dict(rows[0])
    root = tmp_path / "data"
    (root / "gsm8k").mkdir(parents=True)
    for entry in src.iterdir():
        if entry.name != "gsm8k":
            os.symlink(entry, root / entry.name)
    for entry in (src / "gsm8k").iterdir():
        if entry.name != "train.jsonl.gz":
            os.symlink(entry, root / "gsm8k" / entry.name)

    def write():
        with gzip.open(root / "gsm8k/train.jsonl.gz", "wt", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)

    write()
    probe = tmp_path / "probe"
    assert main(["augment", *EXACT, "--limit", "1", "--data-dir", str(root), "--out", str(probe)]) == 0
    numbers0 = next(r for r in map(json.loads, open(probe / "items.jsonl")) if r["strategy"] == "numbers")
    rows[4] = {"question": numbers0["question"], "answer": rows[4]["answer"]}
    write()
    return str(root)


def _parquets(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.parquet"))}


def test_shards_build_the_unsharded_dataset_byte_for_byte(tmp_path):
    data = _data_dir(tmp_path)
    assert [in_shard(f"gsm8k/train/{i}", s, 3) for i, s in ((0, 0), (1, 1), (4, 2))] == [True] * 3
    common = [*EXACT, "--data-dir", data]
    assert main(["augment", *common, "--out", str(tmp_path / "runs/gsm8k")]) == 0
    for i in range(3):
        assert main(["augment", *common, "--shard", f"{i}/3", "--out", str(tmp_path / f"shards/gsm8k-{i}")]) == 0
    dropped = [json.loads(line) for line in open(tmp_path / "runs/gsm8k/dropped.jsonl")]
    reasons = {(d["seed_id"], d["strategy"], d["reason"]) for d in dropped if d["stage"] == "dedup"}
    assert ("gsm8k/train/1", "reverse", "duplicate-exact") in reasons  # the cross-shard pair
    assert ("gsm8k/train/0", "numbers", "same-as-seed") in reasons     # a seed of another shard
    seeds = [json.load(open(tmp_path / f"shards/gsm8k-{i}/run.json"))["seeds"] for i in range(3)]
    assert sum(seeds) == 60 and min(seeds) > 0

    assert main(["build", str(tmp_path / "runs/gsm8k"), "--data-dir", data, "--out", str(tmp_path / "a")]) == 0
    shards = [str(tmp_path / f"shards/gsm8k-{i}") for i in (2, 0, 1)]  # any order on the command line
    assert main(["build", *shards, "--data-dir", data, "--out", str(tmp_path / "b")]) == 0
    a, b = _parquets(tmp_path / "a"), _parquets(tmp_path / "b")
    assert len(a) == 5 and a == b
    # the shards alone (no cross-shard dedup) hold the duplicate that the joined build leaves out
    shard_items = [json.loads(line) for s in shards for line in open(Path(s) / "items.jsonl")]
    assert any(r["seed_id"] == "gsm8k/train/1" and r["strategy"] == "reverse" for r in shard_items)

    assert main(["build", *shards[:2], "--data-dir", data, "--out", str(tmp_path / "c")]) == 2
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("spec, why", [
    ("3/3", "I must be from 0 to N-1"), ("-1/3", "expected I/N"), ("1", "expected I/N"), ("a/b", "expected I/N"),
    ("0/0", "I must be from 0 to N-1"), ("1/3", "name the run folder after its shard"),
])
def test_bad_shard_is_one_line_exit_2_and_creates_nothing(tmp_path, capsys, spec, why):
    out = tmp_path / "run-0"
    assert main(["augment", *EXACT, "--data-dir", "packaged", f"--shard={spec}", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and why in err[0] and "--shard" in err[0]
    assert not out.exists()


def test_partition_is_fixed_by_the_seed_id():
    ids = [f"gsm8k/train/{i}" for i in range(500)]
    parts = [[s for s in ids if in_shard(s, i, 4)] for i in range(4)]
    assert sorted(x for p in parts for x in p) == sorted(ids) and all(len(p) > 80 for p in parts)
    assert [s for s in reversed(ids) if in_shard(s, 2, 4)] == list(reversed(parts[2]))


@pytest.mark.parametrize("folder, i, n, name", [
    ("gsm8k-3", 3, 8, "gsm8k"), ("gsm8k.shard-3", 3, 8, "gsm8k"), ("gsm8k_3-of-8", 3, 8, "gsm8k"),
    ("run-a-shard12", 12, 16, "run-a"), ("x-007", 7, 8, "x"),
])
def test_group_name(folder, i, n, name):
    assert group_name(folder, i, n) == name


@pytest.mark.slow
def test_llm_strategy_shards_build_the_unsharded_dataset(tmp_path, embedded_server):
    """rephrase (model-written queries, majority vote) + reverse (paths against a gold) on the real server.
    A sampling server is not bit-reproducible across runs (temperature 0.7, concurrent slots), so the shards start
    from the unsharded run's request log: they send nothing (asserted) and everything after the calls (parsing,
    voting, verification, dedup, ids, order) must give the unsharded dataset byte for byte."""
    import shutil

    from augmath.engine import read_log

    common = ["--source", "gsm8k", "--strategies", "rephrase,reverse", "--limit", "6", "--paths", "2",
              "--max-tokens", "128", "--skip-decontam", "--data-dir", "packaged",
              "--base-url", embedded_server.base_url, "--model", embedded_server.model]
    assert main(["augment", *common, "--out", str(tmp_path / "runs/mix")]) in (0, 1)
    log = tmp_path / "runs/mix/requests.jsonl"
    done = len(read_log(log).done)
    for i in range(2):
        shard = tmp_path / f"shards/mix-{i}"
        shard.mkdir(parents=True)
        shutil.copyfile(log, shard / "requests.jsonl")
        assert main(["augment", *common, "--shard", f"{i}/2", "--out", str(shard)]) in (0, 1)
        assert len(read_log(shard / "requests.jsonl").done) == done  # nothing sent
        report = json.loads((shard / "report.json").read_text())
        assert all(p["samples_wanted"] == p["samples_resumed"] for p in report["engine"].values())
    assert main(["build", str(tmp_path / "runs/mix"), "--data-dir", "packaged", "--out", str(tmp_path / "a")]) == 0
    assert main(["build", *(str(tmp_path / f"shards/mix-{i}") for i in range(2)), "--data-dir", "packaged",
                 "--out", str(tmp_path / "b")]) == 0
    a, b = _parquets(tmp_path / "a"), _parquets(tmp_path / "b")
    assert a and a == b
