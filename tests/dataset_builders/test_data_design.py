"""The paper's data design (#13): runs by different generators joined in one build, subsets nested by query and by
round, a paths-per-query cap (at build and at train), the card's counts per strategy x round x generator, and
training on mixtures of parts, in a recipe and in the experiment YAML."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import datasets
import pytest
from build_fixtures import make_run
from huggingface_hub import DatasetCard

from augmath.analysis.fit import series_key
from augmath.analysis.results import ResultsFolder, flatten_training_provenance
from augmath.cli import main as cli
from augmath.dataset_builders import build as B
from augmath.dataset_builders import select
from augmath.training.config import RecipeError, SFTConfig, load_recipe
from augmath.training.data import DatasetError, load_rows


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    """Round 0 by generator A (3 paths a query), round 1 by B (queries by Q, 2 paths), and round 0 again by C:
    three run folders whose own ids repeat (same seeds, strategy, round and path index)."""
    root = tmp_path_factory.mktemp("design")
    runs = {"run-r1": make_run(root / "run-r1", "gsm8k", ["reverse", "numbers"], 30, generator="gen-A", paths=3),
            "run-r2": make_run(root / "run-r2", "gsm8k", ["reverse"], 30, generator="gen-B", paths=2, round_number=1,
                               query_generator="gen-Q"),
            "run-r1-c": make_run(root / "run-r1-c", "gsm8k", ["reverse"], 10, generator="gen-C", paths=1)}
    manifest = B.build([root / name for name in runs], root / "ds", data_dir="packaged")
    return root, runs, manifest


def _load(root: Path, config: str) -> datasets.Dataset:
    return datasets.load_dataset(str(root / "ds"), config, split="train")


def test_runs_by_different_generators_join_and_say_who_made_each_row(design):
    root, runs, manifest = design
    assert {r["id"] for r in runs["run-r1"]} & {r["id"] for r in runs["run-r1-c"]}  # the runs' own ids collide
    ds = _load(root, "default")
    assert ds.num_rows == sum(len(rows) for rows in runs.values()) == manifest["configs"]["default"]["rows"]
    assert len(set(ds["id"])) == ds.num_rows
    makers = {(row["id"].split("/")[0], row["round"], row["query_generator"], row["response_generator"]) for row in ds}
    assert makers == {("run-r1", 0, "gen-A", "gen-A"), ("run-r2", 1, "gen-Q", "gen-B"),
                      ("run-r1-c", 0, "gen-C", "gen-C")}
    for row in ds.select(range(20)):
        assert row["id"] == f"{row['query_id']}/{row['path_index']}"


def test_subsets_are_nested_by_query_with_all_their_paths(design):
    root, runs, _ = design
    ds = _load(root, "gsm8k")
    ids = ds["query_id"]
    # each query's rows are together, in path order, and queries follow the seeded order
    starts = [i for i in range(len(ids)) if i == 0 or ids[i] != ids[i - 1]]
    assert len(starts) == len(set(ids))
    order = [ids[i] for i in starts]
    assert order == sorted(order, key=lambda q: B.sort_key(0, q))
    paths = Counter(ids)
    previous: set = set()
    for n in (5, 10, 40, len(order)):
        d_n = select(ds, n)
        assert d_n.queries == n and list(dict.fromkeys(d_n.dataset["query_id"])) == order[:n]
        assert d_n.rows == sum(paths[q] for q in order[:n])  # every kept path of each query, none of the others
        assert previous < set(d_n.dataset["id"])
        previous = set(d_n.dataset["id"])
    with pytest.raises(ValueError, match=rf"asked for the first {len(order) + 1} queries but it has only {len(order)}"):
        select(ds, len(order) + 1)


def test_paths_per_query_makes_a_queries_by_responses_grid(design):
    root, _, _ = design
    ds = _load(root, "gsm8k")
    grid = {k: select(ds, 12, k) for k in (1, 2, 3)}
    queries = {k: list(dict.fromkeys(s.dataset["query_id"])) for k, s in grid.items()}
    assert queries[1] == queries[2] == queries[3] == list(dict.fromkeys(select(ds, 12).dataset["query_id"]))
    assert grid[1].rows == 12 and set(grid[1].dataset["id"]) < set(grid[2].dataset["id"]) < set(grid[3].dataset["id"])
    assert max(Counter(grid[2].dataset["query_id"]).values()) == 2
    assert set(grid[1].dataset["path_index"]) == {0}  # the first kept path of each query


def test_subsets_by_round(design):
    root, runs, _ = design
    ds = _load(root, "gsm8k-reverse")
    d1, d12 = select(ds, rounds=[0]), select(ds, rounds=[0, 1])
    assert set(d1.dataset["round"]) == {0} and set(d12.dataset["round"]) == {0, 1}
    assert set(d1.dataset["id"]) < set(d12.dataset["id"]) and d12.rows == ds.num_rows
    reverse_r1 = [r for name in ("run-r1", "run-r1-c") for r in runs[name] if r["strategy"] == "reverse"]
    assert d1.rows == len(reverse_r1)
    assert select(ds, 3, rounds=[1]).queries == 3 and set(select(ds, 3, rounds=[1]).dataset["round"]) == {1}
    with pytest.raises(ValueError, match="has no 'round' column"):
        select(datasets.Dataset.from_dict({"question": ["q"], "response": ["r"]}), rounds=[0])


def test_card_and_manifest_count_queries_and_rows_per_strategy_round_and_generator(design):
    root, runs, manifest = design
    expected = defaultdict(lambda: [set(), 0])
    for name, rows in runs.items():
        for r in rows:
            key = (f"gsm8k-{r['strategy']}", r["round"], r["query_generator"], r["response_generator"])
            expected[key][0].add(f"{name}/{r['query_id']}")
            expected[key][1] += 1
    made_by = {(m["config"], m["round"], m["query_generator"], m["response_generator"]): (m["queries"], m["rows"])
               for m in manifest["made_by"]}
    assert made_by == {k: (len(q), n) for k, (q, n) in expected.items()}
    text = DatasetCard.load(root / "ds" / "README.md").text
    assert "| `gsm8k-reverse` | 1 | `gen-Q` | `gen-B` | 28 | 56 |" in text  # 28 of 30 seeds have a number
    for (config, rnd, qgen, rgen), (queries, rows) in made_by.items():
        assert f"| `{config}` | {rnd} | `{qgen}` | `{rgen}` | {queries:,} | {rows:,} |" in text
    for name in ("gen-A", "gen-B", "gen-C", "gen-Q"):
        assert f"`{name}`" in text.split("## Configs")[0]  # the generator list at the top
    assert manifest["configs"]["gsm8k"]["queries"] == len({q for k, (qs, _) in expected.items() for q in qs})


def test_build_can_cap_paths_per_query(design, tmp_path, capsys):
    root, runs, manifest = design
    assert cli(["build", *(str(root / n) for n in runs), "--out", str(tmp_path / "k1"), "--data-dir", "packaged",
                "--paths-per-query", "1"]) == 0
    capped = json.loads((tmp_path / "k1" / "manifest.json").read_text())
    ds = datasets.load_dataset(str(tmp_path / "k1"), "gsm8k", split="train")
    assert ds.num_rows == capped["configs"]["gsm8k"]["queries"] == manifest["configs"]["gsm8k"]["queries"]
    assert set(ds["path_index"]) == {0} and capped["paths_per_query"] == 1
    assert capped["rows_over_paths_per_query"] == manifest["configs"]["default"]["rows"] - ds.num_rows
    assert "kept at most 1 paths per query" in " ".join((tmp_path / "k1" / "README.md").read_text().split())
    assert cli(["build", str(root / "run-r1"), "--out", str(tmp_path / "k0"), "--paths-per-query", "0"]) == 2
    assert "error: argument --paths-per-query: 0 is out of range (expected a value >= 1)" in capsys.readouterr().err


def _recipe(root: Path, **data) -> SFTConfig:
    return load_recipe(None, {"model_name_or_path": "m", "output_dir": "o", "dataset": str(root / "ds"), **data})


def test_training_takes_d_n_by_query_with_paths_and_rounds(design):
    root, _, _ = design
    ds = _load(root, "gsm8k")
    rows, prov = load_rows(_recipe(root, dataset_config="gsm8k", num_queries=7, paths_per_query=2, rounds=[0]))
    want = select(ds, 7, 2, [0]).dataset
    assert rows == [{"question": q, "response": r} for q, r in zip(want["question"], want["response"])]
    assert prov["num_queries"] == 7 and prov["num_samples"] == len(want) <= 14
    assert prov["parts"] == [{"config": "gsm8k", "num_queries": 7, "paths_per_query": 2, "rounds": [0],
                              "queries": 7, "rows": len(want)}]


def test_a_mixture_of_parts_keeps_its_nesting_across_n(design):
    root, _, _ = design
    taken = {}
    for n in (4, 8, 16):
        parts = [{"config": "gsm8k-original"}, {"config": "gsm8k", "num_queries": n, "rounds": [0, 1]}]
        rows, prov = load_rows(_recipe(root, dataset_parts=parts))
        originals = prov["parts"][0]["rows"]
        assert originals == _load(root, "gsm8k-original").num_rows and prov["parts"][1]["queries"] == n
        taken[n] = rows
        assert rows[:originals] == taken[4][:originals]  # the whole original part, the same at every N
    assert all(r in taken[8] for r in taken[4]) and all(r in taken[16] for r in taken[8])
    assert len(taken[16]) > len(taken[8]) > len(taken[4])
    flat = [flatten_training_provenance({"dataset": {"id": "d", "num_samples": len(taken[n]), "config": None,
                                                     "mixture": None, "parts": [
                                                         {"config": "gsm8k-original"},
                                                         {"config": "gsm8k", "num_queries": n, "rounds": [0, 1]}]},
                                         "base_model": {"name_or_path": "tiny"}}) for n in (4, 8)]
    assert flat[0]["config"] == flat[1]["config"] == "gsm8k-original+gsm8k" and flat[0]["source"] == "gsm8k"
    series = {series_key(ResultsFolder(Path("r"), "m", None, {}, f)) for f in flat}
    assert series == {("tiny", "gsm8k-original+gsm8k [gsm8k: rounds=0+1]")}  # one curve across N
    grid = [flatten_training_provenance({"dataset": {"id": "d", "num_samples": 8, "config": "gsm8k", "parts": [
        {"config": "gsm8k", "num_queries": 8, "paths_per_query": k}]}, "base_model": {"name_or_path": "tiny"}})
        for k in (1, 2)]
    assert [series_key(ResultsFolder(Path("r"), "m", None, {}, f)) for f in grid] == [
        ("tiny", "gsm8k [paths_per_query=1]"), ("tiny", "gsm8k [paths_per_query=2]")]  # a curve per K
    with pytest.raises(DatasetError, match=r"asked for the first 999 queries but it has only \d+"):
        load_rows(_recipe(root, dataset_parts=[{"config": "gsm8k-original"}, {"config": "gsm8k", "num_queries": 999}]))


@pytest.mark.parametrize("data, message", [
    ({"dataset_config": "gsm8k", "num_queries": 4, "num_samples": 4}, "either 'num_queries'"),
    ({"dataset_config": "gsm8k", "rounds": [-1]}, r"'rounds' must be a non-empty list of round numbers >= 0"),
    ({"dataset_config": "gsm8k", "paths_per_query": 0}, r"'paths_per_query' must be an integer > 0"),
    ({"dataset_parts": [{"config": "gsm8k"}], "dataset_config": "gsm8k"}, r"'dataset_parts' replaces 'dataset_config'"),
    ({"dataset_parts": [{"config": "gsm8k", "amount": 3}]}, r"dataset_parts\[0\] has unknown key\(s\) \['amount'\]"),
    ({"dataset_parts": [{"config": "a"}, {"config": "a"}]}, "names config 'a' twice"),
    ({"dataset_mixture": {"a": 1}, "rounds": [1]}, "for rounds use 'dataset_parts'"),
])
def test_recipe_subset_keys_are_checked(tmp_path, data, message):
    with pytest.raises(RecipeError, match=message):
        load_recipe(None, {"model_name_or_path": "m", "output_dir": "o", "dataset": "d", **data})


@pytest.mark.slow
def test_two_runs_through_one_server_under_two_model_names_join(embedded_server, tmp_path):
    """Two real augment runs, the same seeds, strategies and rounds, each asking the embedded server under another
    model name (as two generators would be asked): their rows join in one build and keep their makers' names."""
    runs = {}
    for alias in ("gen-a", "gen-b"):
        out = tmp_path / f"run-{alias}"
        assert cli(["augment", "--source", "gsm8k", "--strategies", "reverse,rephrase", "--limit", "4", "--paths",
                    "1", "--max-tokens", "96", "--skip-decontam", "--data-dir", "packaged", "--base-url",
                    embedded_server.base_url, "--model", alias, "--out", str(out)]) == 0
        runs[alias] = [json.loads(x) for x in (out / "items.jsonl").read_text().splitlines()]
        log = [json.loads(x) for x in (out / "requests.jsonl").read_text().splitlines()]
        assert log and {e["model"] for e in log if "model" in e} == {alias}  # every call asked for this name
        made = [json.loads(x) for x in (out / "dropped.jsonl").read_text().splitlines()] + runs[alias]
        models = {r.get("query_generator", r["generator"]) for r in made if r["strategy"] == "rephrase"}
        assert models <= {alias, None}  # what the model wrote says so (None: no usable text, e.g. cut off)
    assert {r["id"] for r in runs["gen-a"]} == {r["id"] for r in runs["gen-b"]} != set()  # exact rows: same ids
    manifest = B.build([tmp_path / "run-gen-a", tmp_path / "run-gen-b"], tmp_path / "ds", data_dir="packaged")
    ds = datasets.load_dataset(str(tmp_path / "ds"), "default", split="train")
    assert ds.num_rows == manifest["configs"]["default"]["rows"] == len(runs["gen-a"]) + len(runs["gen-b"])
    assert len(set(ds["id"])) == ds.num_rows
    for row in ds:
        alias = row["id"].split("/")[0].removeprefix("run-")
        assert row["query_generator"] in ("exact", alias) and row["response_generator"] in ("exact", alias)
