"""`augmath augment` faithful to the paper, as options: the `numbers` modes, `--first-round`, and one real run in
the `paper` prompt style with separate query and response endpoints (the embedded server under two names),
two rounds, tokens per strategy, and every drop counted."""

from __future__ import annotations

import json

import pytest

from augmath.augment.strategies import EVOLUTION
from augmath.augment.strategies.paper import PAPER
from augmath.augment.verify import solver_messages
from augmath.cli import main
from augmath.io import read_jsonl
from augmath.sources import load
from test_augment import augment, check_run_folder

EXACT_REASONS = {"operand not traceable", "unannotated computation in solution", "no number can change",
                 "number in solution text not traceable", "no annotations", "no valid change found",
                 "answer is not an annotation result", "rewritten solution failed its own check"}


def test_numbers_modes_choose_the_exact_chain_the_llm_or_both(tmp_path):
    """On 30 packaged GSM8K seeds without a model: exact keeps the traced seeds and drops the rest with the chain's
    reason; exact+llm sends exactly those untraceable seeds to the LLM (here: dropped for --no-llm, and counted);
    llm sends every seed to the LLM."""
    common = ["--source", "gsm8k", "--strategies", "numbers", "--no-llm", "--skip-decontam", "--limit", "30"]
    exact = augment(tmp_path / "exact", *common)
    both = augment(tmp_path / "both", *common, "--numbers", "exact+llm")
    llm = augment(tmp_path / "llm", *common, "--numbers", "llm")
    for name, report in (("exact", exact), ("both", both), ("llm", llm)):
        check_run_folder(tmp_path / name, report)
    traced = exact["strategies"]["numbers"]["queries_made"]
    assert 15 <= traced < 30  # both kinds of seed are in the sample
    assert {r.removeprefix("query: ") for r in exact["strategies"]["numbers"]["dropped"]} <= EXACT_REASONS
    assert both["strategies"]["numbers"]["queries_made"] == traced
    assert both["strategies"]["numbers"]["dropped"] == {"query: needs an LLM (--no-llm)": 30 - traced}
    assert both["query_generation"] == {"prompt_style": "per-strategy", "numbers": "exact+llm", "temperature": 0.7,
                                        "top_p": 0.95, "first_round": 0, "numbers_llm_fallback": 30 - traced}
    assert llm["strategies"]["numbers"]["queries_made"] == 0
    assert llm["strategies"]["numbers"]["dropped"] == {"query: needs an LLM (--no-llm)": 30}
    # exact rows are the same in both runs; the untraceable seeds' rows are the LLM's business
    assert (tmp_path / "exact" / "items.jsonl").read_bytes() == (tmp_path / "both" / "items.jsonl").read_bytes()


def test_first_round_numbers_the_rounds_of_a_run(tmp_path):
    report = augment(tmp_path, "--source", "gsm8k", "--strategies", "numbers", "--no-llm", "--skip-decontam",
                     "--limit", "10", "--first-round", "2", "--rounds", "2")
    items, _ = check_run_folder(tmp_path, report)
    assert {r["round"] for r in items} == {2, 3} and all(f"/numbers/{r['round']}/" in r["id"] for r in items)
    # round 2 of this run is round 2 of a run that starts at 0: the same seeded rewrite
    again = augment(tmp_path / "from0", "--source", "gsm8k", "--strategies", "numbers", "--no-llm",
                    "--skip-decontam", "--limit", "10", "--rounds", "3")
    from0 = [r for r in read_jsonl(tmp_path / "from0" / "items.jsonl") if r["round"] == 2]
    assert again["items"] > 0 and from0 == [r for r in items if r["round"] == 2]


def test_keep_paths_must_be_positive(tmp_path, capsys):
    assert main(["augment", "--out", str(tmp_path / "run"), "--source", "gsm8k", "--data-dir", "packaged", "--no-llm",
                 "--strategies", "numbers", "--keep-paths", "0"]) == 2
    assert "error: argument --keep-paths: 0 is out of range (expected a value >= 1)" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_paper_style_run_with_separate_query_and_response_models(tmp_path, embedded_server):
    """Two seeds, two rounds, the paper prompt from `query-alias` and paths from `response-alias` (one real
    llama-server under two names). SmolLM2 writes poor questions, so most evolutions are dropped: the run must
    still finish, count every drop with its reason, and say who made what and what it cost."""
    url = embedded_server.base_url
    report = augment(tmp_path, "--source", "gsm8k", "--strategies", ",".join(EVOLUTION + ["paths"]),
                     "--prompt-style", "paper", "--numbers", "exact+llm", "--limit", "2", "--rounds", "2",
                     "--paths", "2", "--max-tokens", "120", "--skip-decontam",
                     "--query-base-url", url, "--query-model", "query-alias",
                     "--response-base-url", url, "--response-model", "response-alias")
    items, dropped = check_run_folder(tmp_path, report)
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["generators"] == report["generators"] == {"query": "query-alias", "response": "response-alias"}
    assert run["config"]["prompt_style"] == "paper" and run["prompt_hashes"]["paper"] == PAPER.prompt_hash
    assert run["config"]["query_model"] == "query-alias" and run["config"]["response_model"] == "response-alias"

    # the log: one paper request per seed and round from the query model, solver requests from the response model
    calls = list(read_jsonl(tmp_path / "requests.jsonl"))
    seeds = load("gsm8k", "train", "packaged")[:2]
    paper_calls = [c for c in calls if c["model"] == "query-alias"]
    assert sorted((c["messages"][0]["content"], c["params"]["seed"]) for c in paper_calls) == sorted(
        (PAPER.messages(s)[0]["content"], 1000 + r) for s in seeds for r in (0, 1))
    assert all(c["params"]["max_tokens"] == 600 and c["params"]["temperature"] == 0.7 for c in paper_calls)
    path_calls = [c for c in calls if c["model"] == "response-alias"]
    assert path_calls and len(paper_calls) + len(path_calls) == len(calls)
    assert {c["messages"][-1]["content"] for c in path_calls} >= {s.question for s in seeds}  # `paths` strategy
    assert all(c["messages"][:-1] == solver_messages("q", "gsm8k")[:-1] for c in path_calls)

    # every evolution: 2 seeds x 2 rounds, each a kept query or a counted drop; numbers exact where traced
    for name in EVOLUTION:
        assert report["strategies"][name]["seeds"] == 4
    query_drops = [d for d in dropped if d["stage"] == "query"]
    assert query_drops and all(d["generator"] == "query-alias" and d["detail"] for d in query_drops
                               if not d["reason"].startswith("no usable completion"))  # a cut-off reply has no text
    for row in items:
        if row["strategy"] in EVOLUTION and row["query_generator"] != "exact":
            assert row["query_generator"] == "query-alias" and row["response_generator"] == "response-alias"
            assert row["prompt_hash"] == PAPER.prompt_hash
        if row["strategy"] == "paths":
            assert row["response_generator"] == "response-alias"

    # tokens per strategy: the paper requests split evenly among the evolutions they asked for, paths their own;
    # together they are every call in this fresh log
    tokens = {name: s["tokens"]["total_tokens"] for name, s in report["strategies"].items()}
    assert tokens["fraction"] == tokens["combine"] == tokens["conditional"] == tokens["complexity"] > 0
    assert tokens["paths"] > 0 and tokens["numbers"] <= tokens["fraction"]
    assert abs(sum(tokens.values()) - sum((c["usage"] or {}).get("total_tokens", 0) for c in calls)) <= len(tokens)
    for s in report["strategies"].values():
        assert s["tokens_per_kept_row"] == (round(s["tokens"]["total_tokens"] / s["items"], 1) if s["items"] else None)
