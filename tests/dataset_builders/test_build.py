"""`augmath build`: real run folders (real GSM8K / MATH train seeds) -> a dataset folder loaded back with datasets."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest
from build_fixtures import make_run
from huggingface_hub import DatasetCard

from augmath.dataset_builders import build as B
from augmath.cli import main as cli
from augmath.io import DataError
from augmath.sources import load


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): _sha(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def as_built(run: str, rows: list[dict]) -> list[dict]:
    """A run's rows as the dataset holds them: id and query_id start with the run folder's name."""
    return [{**r, "id": f"{run}/{r['id']}", "query_id": f"{run}/{r['query_id']}"} for r in rows]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    rows = as_built("run-gsm8k", make_run(root / "run-gsm8k", "gsm8k", ["reverse", "numbers"], 30))
    rows += as_built("run-math", make_run(root / "run-math", "math", ["complexity"], 20))
    return root, rows


@pytest.fixture(scope="module")
def built(runs, tmp_path_factory):
    root, rows = runs
    out = tmp_path_factory.mktemp("out") / "augmath"
    manifest = B.build([root / "run-gsm8k", root / "run-math"], out, version="1.0.0", seed=0, data_dir="packaged")
    return out, manifest, rows


def _load(folder: Path, config: str) -> datasets.Dataset:
    return datasets.load_dataset(str(folder), config, split="train")


def test_every_config_loads_offline_with_its_rows(built):
    out, manifest, rows = built
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # conftest: no Hub, a throwaway HF_HOME
    assert list(manifest["configs"]) == ["default", "gsm8k", "gsm8k-numbers", "gsm8k-reverse", "gsm8k-original",
                                         "math", "math-complexity", "math-original"]
    for config, info in manifest["configs"].items():
        ds = _load(out, config)
        assert ds.features == B.FEATURES, config
        assert ds.num_rows == info["rows"] > 0, config
        assert len(set(ds["id"])) == ds.num_rows, f"{config}: duplicate ids"
        if info["kind"] == "original":
            continue
        expected = {r["id"] for r in rows if r["source"] in info["sources"] and r["strategy"] in info["strategies"]}
        assert set(ds["id"]) == expected, config
    assert manifest["configs"]["default"]["rows"] == len(rows)
    # the rows are the run's rows, field for field
    by_id = {r["id"]: r for r in rows}
    for got in _load(out, "gsm8k-reverse").select(range(5)):
        assert got == by_id[got["id"]]
    # no config name -> the default config
    assert datasets.load_dataset(str(out))["train"].num_rows == len(rows)


def test_original_configs_hold_the_untouched_seeds_that_were_used(built):
    out, _, rows = built
    for source in ("gsm8k", "math"):
        ds = _load(out, f"{source}-original")
        used = {r["seed_id"] for r in rows if r["source"] == source}
        assert set(ds["id"]) == used
        records = {r.id: r for r in load(source, "train", data_dir="packaged")}
        for row in ds:
            rec = records[row["id"]]
            assert (row["question"], row["response"], row["answer"]) == (rec.question, rec.solution, rec.answer)
            assert row["strategy"] == "original" and row["verification"] == "gold" and row["generator"] is None
    # a GSM8K seed without any number could not be reversed or renumbered: it was not used, so it is not there
    assert _load(out, "gsm8k-original").num_rows < 30


def test_seeded_order_gives_nested_subsets(built, runs, tmp_path):
    out, manifest, _ = built
    for config in manifest["configs"]:
        ds = _load(out, config)
        keys = list(zip(ds["query_id"], ds["path_index"]))
        assert keys == sorted(keys, key=lambda k: (B.sort_key(0, k[0]), k[1])), config
    whole = _load(out, "gsm8k")["id"]
    # D_N is the first N queries with all their paths (2 per query here)
    d10, d40 = B.take_subset(out, "gsm8k", 10)["id"], B.take_subset(out, "gsm8k", 40)["id"]
    assert d10 == whole[:20] and d40 == whole[:80] and set(d10) < set(d40)
    # strategy configs follow the same global order, so D_N of a strategy is D_M of its source restricted to it
    reverse = _load(out, "gsm8k-reverse")["id"]
    assert [i for i in whole if "/reverse/" in i] == reverse
    with pytest.raises(ValueError, match=r"asked for the first 57 queries but it has only 56"):
        B.take_subset(out, "gsm8k", len(whole) // 2 + 1)
    assert B.subset_sizes(5000) == [1000, 2000, 4000, 5000] and B.subset_sizes(800) == [800]
    # another seed: same rows, another order
    root, _ = runs
    other = B.build([root / "run-gsm8k"], tmp_path / "seed7", seed=7, data_dir="packaged")
    ids7 = _load(tmp_path / "seed7", "gsm8k")["id"]
    assert other["seed"] == 7 and sorted(ids7) == sorted(whole) and ids7 != whole


def test_card_says_what_it_is_and_how_to_load_it(built, runs):
    out, manifest, rows = built
    card = DatasetCard.load(out / "README.md")
    assert card.data.license == "mit" and card.data.pretty_name == "augmath"
    assert card.data.source_datasets == ["openai/gsm8k", "EleutherAI/hendrycks_math"]
    yaml_configs = {c["config_name"]: c for c in card.data.configs}
    assert set(yaml_configs) == set(manifest["configs"]) and yaml_configs["default"]["default"] is True
    text = card.text
    for config, info in manifest["configs"].items():
        assert f"| `{config}` | {info['queries']:,} | {info['rows']:,} |" in text
        assert f'"{config}"' in text  # in the load_dataset loop
    assert "version 1.0.0" in text and "`v1.0.0`" in text
    assert "SmolLM2-135M-Instruct" in text and "arXiv:2310.05506" in text and "MIT" in text
    for prompt_hash in {r["prompt_hash"] for r in rows}:
        assert f"`{prompt_hash}`" in text
    for run in manifest["inputs"]:
        assert run["items_sha256"][:16] in text
    assert "dropped.total | 4" in text
    for run in ("run-gsm8k", "run-math"):  # decontamination has its own table: sets, rows checked, removed, rate
        checked = json.loads((out / "runs" / run / "report.json").read_text())["decontamination"]["checked"]
        assert f"| `{run}` | gsm8k/test, math/test, svamp/test | — | {checked:,} | 0 | 0.00 |" in text
    assert manifest["summary"]["verified_rate"] == 1.0 and manifest["summary"]["decontamination"]["removed"] == 0
    assert "| `gsm8k-reverse` | 56 | 56 | 100.0 | 1.000 | exact (56) |" in text
    assert 'take_subset("<org>/augmath"' in text
    # the runs' provenance travels with the dataset, byte for byte
    root, _ = runs
    for run in ("run-gsm8k", "run-math"):
        for name in ("run.json", "report.json"):
            assert (out / "runs" / run / name).read_bytes() == (root / run / name).read_bytes()


def test_manifest_hashes_and_counts(built):
    out, manifest, _ = built
    assert (manifest["version"], manifest["seed"], manifest["kind"]) == ("1.0.0", 0, "dataset")
    on_disk = _tree(out)
    assert set(manifest["files"]) == set(on_disk) - {"manifest.json"}
    for rel, info in manifest["files"].items():
        assert info["sha256"] == on_disk[rel] and info["bytes"] == (out / rel).stat().st_size
        if rel.endswith(".parquet"):
            assert pq.ParquetFile(out / rel).metadata.num_rows == info["rows"]
    assert {i["run"] for i in manifest["inputs"]} == {"run-gsm8k", "run-math"}


def test_rebuild_is_byte_identical_whatever_the_argument_order(built, runs, tmp_path):
    out, manifest, _ = built
    root, _ = runs
    again = B.build([root / "run-math", root / "run-gsm8k"], tmp_path / "again", data_dir="packaged")
    assert _tree(tmp_path / "again") == _tree(out) and again == manifest
    # rebuilding the same version into the same folder is allowed: same content
    before = _tree(out)
    B.build([root / "run-gsm8k", root / "run-math"], out, data_dir="packaged")
    assert _tree(out) == before


def test_same_version_with_other_content_is_refused_and_leaves_the_folder(runs, tmp_path):
    root, _ = runs
    run = tmp_path / "run-gsm8k"
    shutil.copytree(root / "run-gsm8k", run)
    out = tmp_path / "ds"
    B.build([run], out, version="1.0.0", data_dir="packaged")
    before = _tree(out)
    lines = (run / "items.jsonl").read_text().splitlines(keepends=True)
    (run / "items.jsonl").write_text("".join(lines[:-1]))
    with pytest.raises(B.BuildError, match=r"version 1\.0\.0 already exists in .* with different content"):
        B.build([run], out, version="1.0.0", data_dir="packaged")
    assert _tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ds", "run-gsm8k"]
    manifest = B.build([run], out, version="1.1.0", data_dir="packaged")
    assert manifest["version"] == "1.1.0" and manifest["configs"]["gsm8k"]["rows"] == len(lines) - 1


def _bad_run(tmp_path: Path, runs, edit) -> Path:
    root, _ = runs
    run = tmp_path / "run-bad"
    shutil.copytree(root / "run-gsm8k", run)
    rows = [json.loads(x) for x in (run / "items.jsonl").read_text().splitlines()]
    text = edit(rows, run)
    if text is not None:
        (run / "items.jsonl").write_text(text)
    return run


@pytest.mark.parametrize("edit, message", [
    (lambda rows, run: "", r"items.jsonl: no items \(an empty run folder\)"),
    (lambda rows, run: (run / "report.json").unlink(), r"not a finished `augmath augment` run folder \(missing report.json\)"),
    (lambda rows, run: "".join(json.dumps({**r, "strategy": "Add-Fractions"} if i == 2 else r) + "\n"
                               for i, r in enumerate(rows)), r"items.jsonl:3: strategy 'Add-Fractions' is not a valid config name"),
    # an imported seed row may be strategy `original` (augmath import); no source may be named so
    (lambda rows, run: "".join(json.dumps({**r, "source": "original"}) + "\n" for r in rows), r":1: source 'original'"),
    (lambda rows, run: "".join(json.dumps({k: v for k, v in r.items() if k != "response"}) + "\n" for r in rows),
     r"items.jsonl:1: missing field 'response'"),
    (lambda rows, run: "".join(json.dumps({**r, "path_index": "0"}) + "\n" for r in rows), r":1: field 'path_index' should be int"),
    (lambda rows, run: "".join(json.dumps({**r, "sampling": "{temperature"}) + "\n" for r in rows), r":1: field 'sampling' is not a JSON"),
    (lambda rows, run: "".join(json.dumps(r) + "\n" for r in rows) + '{"id": "torn', r"invalid JSON .*torn last line"),
    (lambda rows, run: "".join(json.dumps(r) + "\n" for r in rows + rows[:1]),
     r"query_id 'gsm8k/train/\d+/reverse/0' has path_index 0 twice, at .*items.jsonl:1 and .*items.jsonl:\d+"),
    (lambda rows, run: "".join(json.dumps({k: v for k, v in r.items() if k != "query_id"}) + "\n" for r in rows),
     r"items.jsonl:1: missing field 'query_id' \(a run folder written before rows carried query ids"),
    (lambda rows, run: "".join(json.dumps({**r, "round": -1}) + "\n" for r in rows),
     r"items.jsonl:1: field 'round' is -1; rounds are numbered from 0"),
    (lambda rows, run: "".join(json.dumps({**r, "seed_id": "gsm8k/train/999999"}) + "\n" for r in rows),
     r"items.jsonl:1: seed_id 'gsm8k/train/999999' is not a gsm8k train record"),
])
def test_bad_input_is_a_clear_error_and_writes_nothing(tmp_path, runs, edit, message):
    run = _bad_run(tmp_path, runs, edit)
    with pytest.raises(DataError, match=message):
        B.build([run], tmp_path / "ds", data_dir="packaged")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run-bad"]  # no dataset, no temp folder


def test_a_run_that_kept_nothing_is_listed_with_zero_rows(tmp_path, runs):
    """A small model can lose every MATH item to verification; the build goes on with the other runs."""
    root, _ = runs
    empty = tmp_path / "run-math-empty"
    shutil.copytree(root / "run-math", empty)
    (empty / "items.jsonl").write_text("")
    manifest = B.build([root / "run-gsm8k", empty], tmp_path / "ds", data_dir="packaged")
    rows = {r["run"]: r["rows"] for r in manifest["inputs"]}
    assert rows["run-math-empty"] == 0 and rows["run-gsm8k"] > 0
    assert not any(c.startswith("math") for c in manifest["configs"])
    assert _load(tmp_path / "ds", "gsm8k").num_rows == manifest["configs"]["gsm8k"]["rows"] > 0


def test_unknown_folders_and_arguments(tmp_path, runs):
    root, _ = runs
    with pytest.raises(DataError, match="no such run folder"):
        B.build([tmp_path / "nope"], tmp_path / "ds")
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff/notes.txt").write_text("mine")
    with pytest.raises(B.BuildError, match="not an augmath dataset folder"):
        B.build([root / "run-math"], tmp_path / "stuff", data_dir="packaged")
    assert (tmp_path / "stuff/notes.txt").read_text() == "mine"
    with pytest.raises(B.BuildError, match="not X.Y.Z"):
        B.build([root / "run-math"], tmp_path / "ds", version="v1")
    with pytest.raises(DataError, match="two input run folders are named 'run-math'"):
        B.build([root / "run-math", root / "run-math"], tmp_path / "ds", data_dir="packaged")


def test_a_crash_mid_write_leaves_the_old_version_whole(runs, tmp_path, monkeypatch):
    root, _ = runs
    out = tmp_path / "ds"
    B.build([root / "run-math"], out, data_dir="packaged")
    before = _tree(out)
    calls = {"n": 0}
    real_add = B.ConfigWriter.add

    def failing_add(self, row):  # fault injection: the disk "fills up" half-way through the rows
        calls["n"] += 1
        if calls["n"] == 50:
            raise OSError(28, "No space left on device")
        real_add(self, row)

    monkeypatch.setattr(B.ConfigWriter, "add", failing_add)
    with pytest.raises(OSError, match="No space left"):
        B.build([root / "run-gsm8k", root / "run-math"], out, version="2.0.0", data_dir="packaged")
    assert _tree(out) == before and sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_secrets_in_a_run_folder_are_refused(runs, tmp_path, monkeypatch):
    token = "hf_" + "Qx7" * 12
    monkeypatch.setenv("HF_TOKEN", token)
    run = _bad_run(tmp_path, runs, lambda rows, run: (run / "run.json").write_text(json.dumps({"api_key": token})) and None)
    with pytest.raises(B.BuildError, match=r"runs/run-bad/run.json contains the value of \$HF_TOKEN") as err:
        B.build([run], tmp_path / "ds", data_dir="packaged")
    assert token not in str(err.value) and not (tmp_path / "ds").exists()


def test_cli_build(runs, tmp_path, capsys):
    root, _ = runs
    out = tmp_path / "ds"
    assert cli(["build", str(root / "run-math"), "--out", str(out), "--version", "0.2.0", "--seed", "3",
                "--data-dir", "packaged", "--name", "augmath-mini"]) == 0
    printed = capsys.readouterr().out
    assert "math-complexity" in printed and "version 0.2.0, seed 3" in printed
    assert json.loads((out / "manifest.json").read_text())["name"] == "augmath-mini"
    assert cli(["build", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    assert "no such run folder" in capsys.readouterr().err


def test_two_rounds_of_the_same_strategy_merge_into_one_config(runs, tmp_path):
    root, _ = runs
    second = make_run(tmp_path / "run-gsm8k-round2", "gsm8k", ["reverse"], 10, offset=100, round_number=1)
    manifest = B.build([root / "run-gsm8k", tmp_path / "run-gsm8k-round2"], tmp_path / "ds", data_dir="packaged")
    ds = _load(tmp_path / "ds", "gsm8k-reverse")
    ids = set(ds["id"])
    assert {r["id"] for r in as_built("run-gsm8k-round2", second)} < ids and len(ids) == 56 + len(second)
    assert sorted(set(ds["round"])) == [0, 1] and ds["round"].count(1) == len(second)
    assert manifest["configs"]["gsm8k-original"]["rows"] == 28 + len({r["seed_id"] for r in second})
