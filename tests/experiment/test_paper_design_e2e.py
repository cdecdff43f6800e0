"""Issue #13's designs in one experiment, end to end through the real embedded server: the `paper` prompt style
with the query and the response model under two different names, two query rounds, a build nested by round and
by query, a training grid by round plus a mixture of the original seeds with augmented data, and both evaluation
profiles on a few items."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from augmath.experiment import ExperimentConfig, plan, run_experiment
from augmath.experiment.stages import resolve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def study(tmp_path_factory, embedded_server):
    tmp = tmp_path_factory.mktemp("paper-e2e")
    cfg = {
        "name": "paper-e2e", "workdir": str(tmp / "work"), "data_dir": "packaged",
        # One server, two model names: the runs record who wrote the queries and who wrote the responses.
        "generator": {"base_url": embedded_server.base_url, "query": {"model": "query-alias"},
                      "response": {"model": "response-alias"}},
        "augment": [
            {"source": "gsm8k", "name": "gsm8k-paper", "strategies": ["fraction", "paths"], "prompt_style": "paper",
             "limit": 1, "rounds": 2, "paths": 2, "max_tokens": 48, "skip_decontam": True},
            {"source": "gsm8k", "name": "gsm8k-exact", "strategies": ["numbers", "reverse"], "no_llm": True,
             "limit": 8, "rounds": 2},
        ],
        "dataset": {"name": "paper-e2e", "version": "0.1.0", "seed": 0},
        "base_models": ["tiny"],
        "train": {"recipe": "cpu_tiny",
                  "overrides": {"num_train_epochs": 1, "global_batch_size": 4, "per_device_train_batch_size": 4},
                  "runs": [{"config": "gsm8k", "rounds": [[0], [0, 1]]},            # D1, then D1+D2
                           {"mixture": [{"config": "gsm8k-original", "amount": 4}, {"config": "gsm8k"}],
                            "amounts": [3]}]},                                     # originals + D_3 by query
        # no --max-new-tokens: the paper profile fixes its own generation size (the schema refuses the pair)
        "eval": {"tasks": ["gsm8k"], "max_samples": 2, "include_base": False, "profiles": ["lenient", "paper"]},
        "push": {"org": "augmath-test", "dry_run": True},
    }
    path = tmp / "paper-e2e.yaml"
    path.write_text(yaml.safe_dump(cfg))
    where = run_experiment(path)
    stages = {s.name: s for s in resolve(plan(ExperimentConfig.from_yaml(path)), Path(cfg["workdir"]) / "stages")}
    return stages, where


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_the_paper_style_run_records_both_models(study):
    stages, _ = study
    run = stages["augment-gsm8k-paper"].out / "augment-gsm8k-paper"
    record = json.loads((run / "run.json").read_text())
    assert record["generators"] == {"query": "query-alias", "response": "response-alias"}
    report = json.loads((run / "report.json").read_text())
    assert report["strategies"]["fraction"]["tokens"]["total_tokens"] > 0  # paper requests really sent, counted
    made = _rows(run / "items.jsonl") + _rows(run / "dropped.jsonl")
    assert {r["round"] for r in made} == {0, 1}
    paths = [r for r in _rows(run / "items.jsonl") if r["strategy"] == "paths"]
    assert all(r["response_generator"] == "response-alias" for r in paths)


def test_the_build_is_nested_by_round_and_by_query(study):
    from datasets import load_dataset

    stages, _ = study
    ds = load_dataset(str(stages["build"].out / "dataset"), "gsm8k", split="train")
    assert {"query_id", "round", "query_generator", "response_generator", "path_index"} <= set(ds.column_names)
    assert set(ds["round"]) == {0, 1}
    order = list(dict.fromkeys(ds["query_id"]))  # stored query by query: each query's paths sit together
    assert [q for q, nxt in zip(ds["query_id"], ds["query_id"][1:]) if q != nxt] == order[:-1]
    card = (stages["build"].out / "dataset" / "README.md").read_text()
    assert "query-alias" in card or "exact" in card  # counts per strategy x round x generator


def test_training_by_round_and_the_mixture_keep_their_nesting(study):
    stages, _ = study
    train = {name: json.loads((s.out / "model" / "augmath_train.json").read_text())
             for name, s in stages.items() if s.kind == "train"}
    by_round = {tuple(r["dataset"]["parts"][0]["rounds"]): r for r in train.values()
                if len(r["dataset"]["parts"]) == 1 and r["dataset"]["parts"][0]["rounds"]}
    assert set(by_round) == {(0,), (0, 1)}
    assert by_round[(0,)]["dataset"]["num_samples"] < by_round[(0, 1)]["dataset"]["num_samples"]
    mixture = next(r for r in train.values() if len(r["dataset"]["parts"]) == 2)
    originals, part = mixture["dataset"]["parts"]
    assert originals["config"] == "gsm8k-original" and part["config"] == "gsm8k" and part["queries"] == 3
    assert all(r["status"] == "complete" for r in train.values())


def test_both_profiles_scored_every_model(study):
    stages, where = study
    profiles = {}
    for name, s in stages.items():
        if s.kind == "eval":
            results = json.loads((s.out / "results" / "results.json").read_text())
            profiles.setdefault(results["profile"], []).append(name)
            assert results["tasks"]["gsm8k"]["n"] == 2
    trained = sum(s.kind == "train" for s in stages.values())
    assert {k: len(v) for k, v in profiles.items()} == {"lenient": trained, "paper": trained}
    report = Path(where["report"]).parent
    assert len(list((report / "results").glob("*/results.json"))) == 2 * trained
    # every evaluation forked from the experiment's one warm lighteval (lighteval imported once, not per model)
    logs = Path(where["logs"])
    assert "ready on" in (logs / "warm-lighteval.log").read_text()
    for name in profiles["lenient"] + profiles["paper"]:
        assert "lighteval forked from the warm lighteval" in (logs / f"{name}.log").read_text(), name
