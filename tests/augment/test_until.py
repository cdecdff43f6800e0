"""Difficulty-aware paths, `augmath augment --until-correct K --paths-cap C` (DART-Math, arXiv 2407.13690)."""

from __future__ import annotations

import json

import pytest

from augmath.augment.until import good_paths
from augmath.cli import main
from augmath.engine import read_log


class Q:
    def __init__(self, gold, solution=None):
        self.gold, self.solution = gold, solution


@pytest.mark.parametrize("gold, texts, good", [
    ("12", ["3 * 4 = 12. The answer is 12.", "The answer is 12.", "The answer is 13."], 2),
    ("12", ["The answer is 12.", "The answer is 12."], 1),           # the same path twice counts once
    ("12", ["The answer is 11.", "no answer here"], 0),
    (None, ["The answer is 5.", "So 5. The answer is 5.", "The answer is 6."], 2),  # majority 5: two agree
    (None, ["nothing", "still nothing"], 0),
])
def test_good_paths(gold, texts, good):
    assert good_paths(Q(gold), texts, "gsm8k") == good


def test_bad_until_arguments_exit_2(tmp_path, capsys):
    base = ["augment", "--source", "gsm8k", "--strategies", "reverse", "--data-dir", "packaged", "--limit", "2",
            "--out", str(tmp_path / "r")]
    for extra in (["--until-correct", "0"], ["--paths-cap", "4"], ["--until-correct", "2", "--paths", "4",
                                                                   "--paths-cap", "2"]):
        assert main([*base, *extra]) == 2
        assert len(capsys.readouterr().err.strip().splitlines()) == 1 and not (tmp_path / "r").exists()


@pytest.mark.slow
def test_until_correct_samples_hard_queries_more_and_resumes_exactly(tmp_path, embedded_server):
    run = tmp_path / "run"
    cmd = ["augment", "--source", "gsm8k", "--strategies", "reverse", "--limit", "12", "--paths", "2",
           "--until-correct", "2", "--paths-cap", "6", "--max-tokens", "128", "--skip-decontam", "--data-dir",
           "packaged", "--base-url", embedded_server.base_url, "--model", embedded_server.model, "--out", str(run)]
    assert main(cmd) in (0, 1)
    report = json.loads((run / "report.json").read_text())
    until = report["difficulty_aware"]
    assert until["k"] == 2 and until["cap"] == 6 and until["queries"] > 0
    spent = {int(n): c for n, c in until["paths_per_query"].items()}
    assert set(spent) <= {2, 4, 6} and sum(spent.values()) == until["queries"]
    assert until["paths_spent"] == sum(n * c for n, c in spent.items())
    assert sum(b["queries"] for b in until["by_difficulty"].values()) == until["queries"]
    # per query in the log: it stopped at the first round with 2 good paths, or at the cap
    from augmath.augment.verify import solver_messages  # noqa: F401 - the prompt the log's messages hold

    calls = list({id(c): c for _, c in read_log(run / "requests.jsonl").done.values()}.values())
    by_question: dict[str, list] = {}
    for c in calls:
        for s in c["samples"]:
            by_question.setdefault(c["messages"][-1]["content"], []).append((s["index"], s))
    rows = [json.loads(line) for line in (run / "items.jsonl").read_text().splitlines()]
    for row in rows:
        if row["verification"] == "exact-chain":
            continue
        n = json.loads(row["sampling"])["response"]["paths_sampled"]
        assert n in (2, 4, 6)
        samples = sorted(by_question[row["question"]], key=lambda x: x[0])
        assert len(samples) == n  # exactly what was asked, nothing more
        texts = [s["text"] for _, s in samples if s["status"] == "ok"]
        q = Q(row["answer"])
        assert good_paths(q, texts, "gsm8k") >= 2 or n == 6
        if n > 2:  # the round before did not have 2 good paths
            before = [s["text"] for i, s in samples if i < n - 2 and s["status"] == "ok"]
            assert good_paths(q, before, "gsm8k") < 2
    lines = (run / "requests.jsonl").read_bytes()
    items = (run / "items.jsonl").read_bytes()
    assert main(cmd) in (0, 1)  # a rerun: the same decisions from the log, no call
    assert (run / "requests.jsonl").read_bytes() == lines and (run / "items.jsonl").read_bytes() == items


@pytest.mark.slow
def test_rounds_stop_at_k_good_paths_or_the_cap(tmp_path, embedded_server):
    """Easy questions the 135M model answers, a hard one it cannot, and some without gold (majority): the easy
    ones stop after the round that brings k good paths, the hard one at the cap; a rerun reads every round
    from the log (no call). Which easy queries stop early depends on the 135M model's samples, and those move
    between runs even seeded (the shared server batches other tests' requests with these): on one CI run all
    four gold queries needed the cap, so the test asks only that some easy query stopped early, of seven (the
    majority ones nearly always stop at the first round); the loop below checks the stopping rule itself on
    every query, whichever way it went."""
    import argparse

    from augmath.augment.strategies import Query
    from augmath.augment.until import sample_until, until_report
    from augmath.engine import Engine
    from augmath.sources import Record

    def query(question: str, gold: str | None) -> Query:
        seed = Record(f"t/{question}", "gsm8k", "train", question, None, gold or "")
        return Query(seed, "reverse", 0, question, gold, "masked-number" if gold else "majority", "exact", "h")

    queries = [query("Tom has 7 apples. How many apples does Tom have?", "7"), query("What is 10 + 5?", "15"),
               query("What is 48271 * 9137 - 55?", "441052072"), query("What is 3 + 3?", None),
               query("Ann has 12 pens. How many pens does Ann have?", "12"),
               query("A box holds 9 eggs. How many eggs are in the box?", "9"),
               query("What is 1 + 1?", None), query("What is 5 - 2?", None)]
    args = argparse.Namespace(until_correct=2, paths=2, paths_cap=6)
    params = {"temperature": 0.7, "top_p": 0.95, "max_tokens": 96, "seed": 7}

    def sample():
        engine = Engine(base_url=embedded_server.base_url, model=embedded_server.model, concurrency=8,
                        log_path=tmp_path / "requests.jsonl", progress=False)
        return sample_until(engine, queries, args, "gsm8k", params)

    sampled, asked, _ = sample()
    for i, q in enumerate(queries):
        texts = [c.text for c in sampled.get(i, [])]
        assert good_paths(q, texts, "gsm8k") >= 2 or asked[i] == 6
        if asked[i] > 2:
            fewer = [c.text for c in sampled.get(i, []) if c.index < asked[i] - 2]
            assert good_paths(q, fewer, "gsm8k") < 2
    assert asked[2] == 6  # the hard one: the cap
    assert min(asked[i] for i in range(len(queries)) if i != 2) < 6  # an easy one stopped early
    report = until_report(queries, sampled, asked, args, "gsm8k")
    assert report["paths_spent"] == sum(asked.values()) and report["reached_k"] >= 1
    size = (tmp_path / "requests.jsonl").stat().st_size
    assert sample()[1] == asked and (tmp_path / "requests.jsonl").stat().st_size == size
