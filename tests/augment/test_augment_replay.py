"""`augmath augment` end to end on strong-generator replies (issue #27): a small OpenAI-compatible replay server
on loopback answers /v1/chat/completions with replies from the corpus (tests/data/query_replies.jsonl), one
format per (seed, strategy), and solves the sampled paths with the answers the test knows; the real command
must store exactly the corpus' questions, none polluted, and count the tie the server makes."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from augmath.augment.replies import framing
from augmath.augment.strategies import EVOLUTION, REGISTRY
from augmath.augment.strategies.evolve import split_math
from augmath.augment.strategies.paper import PAPER
from augmath.augment.verify import SOLVER_SYSTEM
from augmath.cli import main
from augmath.grading import last_boxed
from augmath.io import read_jsonl
from augmath.sources import load

_DATA = next(p / "data" for p in Path(__file__).resolve().parents if (p / "data" / "query_replies.jsonl").exists())
CORPUS = [json.loads(line) for line in (_DATA / "query_replies.jsonl").read_text().splitlines() if line]
REFUSAL = "I'm sorry, but I can't help with that."


class ReplayServer:
    """Answers a chat completion with the reply recorded for its exact messages (a refusal for any other),
    and a solver request with n paths that reach the answer recorded for its question."""

    def __init__(self, replies: dict[str, str], answers: dict[str, list[str]], kind: str):
        self.replies, self.answers, self.kind = replies, answers, kind
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self._send({"object": "list", "data": [{"id": "replay", "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                texts = server.answer(body)
                self._send({"id": "r", "object": "chat.completion", "model": body.get("model", "replay"),
                            "choices": [{"index": i, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": t}} for i, t in enumerate(texts)],
                            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}})

            def _send(self, obj):
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def answer(self, body: dict) -> list[str]:
        n = int(body.get("n") or 1)
        messages = body["messages"]
        if messages[0]["content"] in SOLVER_SYSTEM.values():
            wanted = self.answers.get(messages[-1]["content"].strip(), ["7"] * n)
            return [_path(wanted[i % len(wanted)], self.kind) for i in range(n)]
        return [self.replies.get(json.dumps(messages, sort_keys=True), REFUSAL)] * n

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _path(answer: str, kind: str) -> str:
    if kind == "math":
        return f"Working through it step by step gives $\\boxed{{{answer}}}$."
    return f"Adding up: 0 + {answer} = <<0+{answer}={answer}>>{answer}.\n#### {answer}"


def _plan(source: str, style: str, strategies: list[str], limit: int):
    """(replies by messages, answers by question, expected {(seed id, strategy): question}): one corpus format
    per (seed, strategy), a different one for each, so a run covers many formats."""
    seeds = {r.id: r for r in load(source, "train", "packaged", limit)}
    replies, answers, expected = {}, {}, {}
    rows = defaultdict(list)
    for row in CORPUS:
        if row["source"] == source and row["style"] == style and row["seed_id"] in seeds \
                and all(v is not None for v in row["expected"].values()):
            rows[(row["seed_id"], row["strategy"])].append(row)
    for k, ((seed_id, name), options) in enumerate(sorted(rows.items())):
        if name != "paper" and name not in strategies:
            continue
        row = options[k % len(options)]
        seed = seeds[seed_id]
        messages = PAPER.messages(seed) if name == "paper" else REGISTRY[name].messages(seed, 0)
        replies[json.dumps(messages, sort_keys=True)] = row["reply"]
        for strategy, question in row["expected"].items():
            if strategy not in strategies:
                continue
            expected[(seed_id, strategy)] = question
            if strategy == "rephrase":
                answers[question] = [seed.answer]
            elif strategy == "selfverify":
                answers[question] = [REGISTRY["selfverify"]._masked(seed, 0)[1]]
            elif source == "math":  # the paths agree with the generator's own solution
                answers[question] = [last_boxed(split_math(row["reply"])[1])]
    return replies, answers, expected


@pytest.mark.parametrize("source, style, strategies, limit", [
    ("gsm8k", "per-strategy", EVOLUTION + ["rephrase", "selfverify"], 5),
    ("gsm8k", "paper", EVOLUTION, 5),
    ("math", "per-strategy", ["fraction", "conditional", "rephrase", "selfverify"], 19),
])
def test_replayed_replies_store_exactly_the_models_questions(tmp_path, source, style, strategies, limit):
    replies, answers, expected = _plan(source, style, strategies, limit)
    tie = sorted(q for (_, name), q in expected.items() if name in ("combine", "fraction"))[0]
    # a 2-2 vote (MATH: the generator's solution is one more voter, so 2-2-1): never a majority
    answers[tie] = ["5", "5", "9", "9"] if source == "gsm8k" else [answers[tie][0], "9", "9", "8"]
    with ReplayServer(replies, answers, source) as server:
        code = main(["augment", "--source", source, "--strategies", ",".join(strategies), "--limit", str(limit),
                     "--data-dir", "packaged", "--out", str(tmp_path), "--base-url", server.base_url,
                     "--model", "replay", "--prompt-style", style, "--numbers", "llm", "--paths", "4",
                     "--min-agreement", "0.5", "--concurrency", "4"])
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    items = list(read_jsonl(tmp_path / "items.jsonl"))
    dropped = list(read_jsonl(tmp_path / "dropped.jsonl"))
    seeds = {r.id: r for r in load(source, "train", "packaged", limit)}
    # every query that got past query parsing (kept, or removed later by the vote, dedup or decontamination)
    made = {(r["seed_id"], r["strategy"]): r["question"] for r in items + dropped
            if r.get("stage") != "query" and r["question"]}
    assert made, "no query kept"
    for key, question in made.items():
        assert " ".join(question.split()) == " ".join(expected[key].split()), key
        assert framing(question, seeds[key[0]].question) is None
    # replies holding a valid question were all kept at the query stage; only the seeds without one dropped
    query_drops = {(r["seed_id"], r["strategy"]) for r in dropped if r["stage"] == "query"}
    assert not (query_drops & set(expected)), sorted(query_drops & set(expected))
    assert set(made) == set(expected)
    # the tie is refused and counted
    assert report["votes"]["tied vote"] >= 1 and tie not in {r["question"] for r in items}
    assert any(r["reason"] == "tied vote" for r in dropped)
    assert len(server.requests) >= len(replies)
    # a model at a URL gets room for verbose replies: 1024 / 2048 new tokens per call, 5x for a paper reply
    limit = {"gsm8k": 1024, "math": 2048}[source]
    sent = {(r["messages"][0]["content"] in SOLVER_SYSTEM.values(), r["max_tokens"]) for r in server.requests}
    assert sent == {(True, limit), (False, limit * (5 if style == "paper" else 1))}


@pytest.mark.parametrize("flags, role, expected", [
    ([], "query", 400), ([], "response", 400),  # the embedded server: its 2048-token slots
    (["--base-url", "http://127.0.0.1:9/v1"], "query", 1024),
    (["--query-base-url", "http://127.0.0.1:9/v1"], "query", 1024),
    (["--query-base-url", "http://127.0.0.1:9/v1"], "response", 400),  # paths still from the embedded server
    (["--base-url", "http://127.0.0.1:9/v1", "--max-tokens", "300"], "response", 300),
])
def test_max_tokens_default_depends_on_the_server(flags, role, expected):
    import argparse

    from augmath.augment.run import add_arguments, max_tokens_for

    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--source", "gsm8k", "--out", "x", *flags])
    assert max_tokens_for(args, role, "gsm8k") == expected
    assert max_tokens_for(args, role, "math") == {400: 1024, 1024: 2048, 300: 300}[expected]
