"""The `augmath augment` stage end to end: run folder, provenance of every row, counts that add up,
deterministic reruns, resumption through the engine's log, and bad model output never crashing a run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from augmath.cli import main
from augmath.io import read_jsonl

PROVENANCE = ["id", "query_id", "seed_id", "source", "strategy", "round", "question", "response", "answer", "generator",
              "query_generator", "response_generator", "prompt_hash", "sampling", "path_index", "verification",
              "verified", "agreement"]


def augment(out: Path, *extra: str) -> dict:
    assert main(["augment", "--out", str(out), "--data-dir", "packaged", *extra]) == 0
    return json.loads((out / "report.json").read_text())


def check_run_folder(out: Path, report: dict) -> tuple[list[dict], list[dict]]:
    assert {p.name for p in out.iterdir()} >= {"run.json", "items.jsonl", "dropped.jsonl", "report.json"}
    items, dropped = list(read_jsonl(out / "items.jsonl")), list(read_jsonl(out / "dropped.jsonl"))
    assert report["items"] == len(items) and report["dropped"] == len(dropped)
    assert len({r["id"] for r in items}) == len(items)
    for row in items:
        assert list(row) == PROVENANCE
        assert row["verified"] is True and 0 < row["agreement"] <= 1 and row["answer"]
        assert row["verification"] in ("exact-chain", "gold-match", "majority-vote")
        json.loads(row["sampling"])
        assert (row["generator"] == "exact") == (row["query_generator"] == row["response_generator"] == "exact")
        assert row["id"] == f"{row['query_id']}/{row['path_index']}" and row["round"] >= 0
    for row in dropped:
        assert row["reason"] and row["stage"] in ("query", "paths", "dedup", "decontam") and row["seed_id"]
    for name, counts in report["strategies"].items():
        # every seed of a strategy ends as a kept query or a query-stage drop, or reaches the paths stage
        query_drops = sum(n for reason, n in counts["dropped"].items() if reason.startswith("query: "))
        assert counts["queries_made"] + query_drops == counts["seeds"], name
        assert counts["items"] == sum(r["strategy"] == name for r in items)
    return items, dropped


def test_exact_run_on_packaged_gsm8k_is_deterministic(tmp_path):
    report = augment(tmp_path / "a", "--source", "gsm8k", "--strategies", "numbers,reverse", "--no-llm",
                     "--skip-decontam")
    items, dropped = check_run_folder(tmp_path / "a", report)
    numbers, reverse = report["strategies"]["numbers"], report["strategies"]["reverse"]
    assert numbers["seeds"] == reverse["seeds"] == 200
    assert numbers["acceptance"] >= 0.6 and reverse["acceptance"] >= 0.55
    assert all(r["generator"] == "exact" and r["verification"] == "exact-chain" for r in items)
    assert any(r["reason"] == "needs sampled paths (--no-llm)" for r in dropped)  # reverse without exact chain
    assert report["tokens"] == {}  # no model was started
    # a second run in a fresh folder builds byte-identical items: everything is seeded by seed id and round
    augment(tmp_path / "b", "--source", "gsm8k", "--strategies", "numbers,reverse", "--no-llm", "--skip-decontam")
    assert (tmp_path / "a" / "items.jsonl").read_bytes() == (tmp_path / "b" / "items.jsonl").read_bytes()


def test_rounds_make_distinct_rewrites(tmp_path):
    report = augment(tmp_path, "--source", "gsm8k", "--strategies", "numbers", "--no-llm", "--skip-decontam",
                     "--limit", "20", "--rounds", "3")
    items, _ = check_run_folder(tmp_path, report)
    assert report["strategies"]["numbers"]["seeds"] == 60
    by_seed = {}
    for r in items:
        by_seed.setdefault(r["seed_id"], set()).add(r["question"])
    assert sum(len(qs) >= 2 for qs in by_seed.values()) >= 8  # several rounds kept per seed, all different


def test_decontamination_and_dedup_run_on_the_items(tmp_path):
    report = augment(tmp_path, "--source", "gsm8k", "--strategies", "numbers", "--no-llm", "--limit", "30")
    check_run_folder(tmp_path, report)
    assert "gsm8k/test" in report["decontamination"]["checked"]
    assert isinstance(report["decontamination"]["flagged_per_eval_set"], dict)


def test_wrong_source_or_strategy_is_a_clear_error(tmp_path, capsys):
    assert main(["augment", "--out", str(tmp_path / "n"), "--source", "gsm8k", "--strategies", "nope",
                 "--data-dir", "packaged"]) == 2
    assert "error: --strategies: unknown strategies nope" in capsys.readouterr().err
    assert not (tmp_path / "n").exists()
    augment(tmp_path / "g", "--source", "gsm8k", "--strategies", "numbers", "--no-llm", "--skip-decontam",
            "--limit", "2")
    assert main(["augment", "--out", str(tmp_path / "g"), "--source", "math", "--data-dir", "packaged",
                 "--no-llm"]) == 2
    assert "holds a run with other settings (" in capsys.readouterr().err


@pytest.mark.slow
def test_llm_run_with_embedded_server_resumes_without_new_calls(tmp_path):
    """The real SmolLM2 server writes queries and paths; the rerun sends nothing and builds the same items."""
    args = ["--source", "gsm8k", "--strategies", "numbers,complexity,reverse,paths", "--limit", "2",
            "--paths", "2", "--max-tokens", "160", "--skip-decontam"]
    report = augment(tmp_path, *args)
    items, dropped = check_run_folder(tmp_path, report)
    assert report["tokens"]["completion_tokens"] > 0
    complexity = report["strategies"]["complexity"]
    assert complexity["seeds"] == 2 and sum(complexity["dropped"].values()) + complexity["queries_kept"] >= 2
    assert report["strategies"]["paths"]["paths_sampled"] + sum(
        n for r, n in report["strategies"]["paths"]["dropped"].items() if "not usable" in r) == 4
    log_lines = (tmp_path / "requests.jsonl").read_text().count("\n")
    items_before = (tmp_path / "items.jsonl").read_bytes()
    again = augment(tmp_path, *args)
    assert set(again["engine"]) == {"queries", "paths"}
    assert all(p["samples_ok"] == 0 and p["samples_resumed"] > 0 for p in again["engine"].values())
    assert (tmp_path / "requests.jsonl").read_text().count("\n") == log_lines
    assert (tmp_path / "items.jsonl").read_bytes() == items_before


@pytest.mark.slow
def test_math_run_with_bad_outputs_counts_them(tmp_path, embedded_server):
    """MATH seeds through a proxy that breaks some calls (garbage bodies, 500s): the run finishes and every
    unusable output is a counted drop."""
    from faultproxy import FaultProxy

    with FaultProxy(embedded_server.base_url, rate=0.3, kinds=("garbage", "500"), seed=3, max_faults=6) as proxy:
        report = augment(tmp_path, "--source", "math", "--strategies", "complexity,reverse", "--limit", "2",
                         "--paths", "2", "--max-tokens", "300", "--skip-decontam",
                         "--base-url", proxy.base_url, "--model", embedded_server.model)
    items, dropped = check_run_folder(tmp_path, report)
    assert report["strategies"]["complexity"]["seeds"] == 2 and report["strategies"]["reverse"]["seeds"] == 2
    assert len(dropped) + len(items) > 0
