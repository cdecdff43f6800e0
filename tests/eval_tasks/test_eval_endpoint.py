"""`augmath eval --backend endpoint` against the real embedded llama-server (SmolLM2-135M-Instruct).

A pass-through recorder sits between lighteval and the server so the tests can check what was really sent
(the training prompt, the stop sequences, the seeds) and that every saved output is the server's answer.
The recorder forwards every request unchanged to the real server; it never answers by itself.
"""

from __future__ import annotations

import json
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from augmath.cli import main
from augmath.eval_tasks.metrics import score_outputs
from augmath.prompts import ALPACA_STOP, format_prompt

pytestmark = pytest.mark.slow


class Recorder:
    """HTTP pass-through to `upstream` recording (path, request body, response body) of every POST."""

    def __init__(self, upstream: str, fail_after: int | None = None, fail_status: int = 400):
        self.upstream = upstream.rstrip("/").removesuffix("/v1")
        self.calls: list[tuple[str, dict, dict]] = []
        self.fail_after = fail_after  # answer fail_status to every completion after this many
        self.fail_status = fail_status  # 400: not retryable; 503: the endpoint is down (retried elsewhere)
        self.lock = threading.Lock()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _refuse(self) -> bool:
                with recorder.lock:
                    if recorder.fail_after is None or recorder.fail_after > 0:
                        recorder.fail_after = None if recorder.fail_after is None else recorder.fail_after - 1
                        return False
                data = json.dumps({"error": {"message": "injected: refused", "type": "invalid_request"}}).encode()
                self.send_response(recorder.fail_status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return True

            def _forward(self, body: bytes | None):
                if body is not None and self._refuse():
                    return
                req = urllib.request.Request(recorder.upstream + self.path, data=body, method=self.command,
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=600) as resp:
                    data, status = resp.read(), resp.status
                if body is not None:
                    recorder.calls.append((self.path, json.loads(body), json.loads(data)))
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._forward(None)

            def do_POST(self):
                self._forward(self.rfile.read(int(self.headers["Content-Length"])))

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def run_eval(server, out, *extra, fail_after=None, expect=0, n=2):
    with Recorder(server.base_url, fail_after) as rec:
        code = main(["eval", "--backend", "endpoint", "--base-url", rec.base_url, "--max-samples", str(n),
                     "--max-new-tokens", "32", "--data-dir", "packaged", "--quiet", "--out", str(out), *extra])
    assert code == expect, (out / "lighteval" / "lighteval.log").read_text()[-3000:]
    if expect:
        return None, None, rec.calls
    results = json.loads((out / "results.json").read_text())
    details = {t: [json.loads(x) for x in (out / "details" / f"{t}.jsonl").read_text().splitlines()]
               for t in results["tasks"]}
    return results, details, rec.calls


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUGMATH_EVAL_DATA_ROOT", str(tmp_path / "eval_data"))


def test_endpoint_sends_the_training_prompt_and_saves_the_servers_answers(embedded_server, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a relative --out (lighteval imports the generated tasks module by path)
    results, details, calls = run_eval(embedded_server, Path("outputs") / "r", "--tasks", "gsm8k,math500")
    assert results["backend"] == "endpoint" and results["model"] == embedded_server.model
    assert {t: v["n"] for t, v in results["tasks"].items()} == {"gsm8k": 2, "math500": 2}
    sent = {body["prompt"]: (body, answer) for path, body, answer in calls if path.endswith("/completions")}
    assert len(sent) == 4 and not any(path.endswith("/chat/completions") for path, _, _ in calls)
    for task, rows in details.items():
        for row in rows:
            body, answer = sent[format_prompt(row["question"])]  # exactly the training prompt went out
            assert row["prompt"] == body["prompt"]
            assert body["stop"] == ALPACA_STOP and body["max_tokens"] == 32 and body["temperature"] == 0
            assert row["output"] == answer["choices"][0]["text"]  # graded what the server said
            kind = "math" if task == "math500" else "gsm8k"
            assert row["correct"] == score_outputs(row["gold"], [row["output"]], kind)["correct"]


def test_endpoint_chat_template_goes_through_the_engine(embedded_server, tmp_path):
    results, details, calls = run_eval(embedded_server, tmp_path / "r", "--tasks", "gsm8k", "--template", "chat")
    chats = [(body, answer) for path, body, answer in calls if path.endswith("/chat/completions")]
    assert len(chats) == 2
    by_question = {body["messages"][-1]["content"]: answer for body, answer in chats}
    for row in details["gsm8k"]:
        answer = by_question[row["question"].strip()]  # the bare question as the user turn
        assert row["output"] == (answer["choices"][0]["message"]["content"] or "")
    assert (tmp_path / "r" / "requests.jsonl").is_file()  # the engine's durable log
    assert results["settings"]["template"] == "chat"


def test_endpoint_majority_vote_over_seeded_samples(embedded_server, tmp_path):
    results, details, calls = run_eval(embedded_server, tmp_path / "r", "--tasks", "gsm8k", "--maj-k", "3",
                                       "--temperature", "0.9", "--seed", "5")
    task = results["tasks"]["gsm8k"]
    assert task["k"] == 3 and 0 <= task["maj@k"] <= 1
    seeds = sorted(body["seed"] for path, body, _ in calls if path.endswith("/completions"))
    assert seeds == [5, 5, 6, 6, 7, 7]  # three distinct, reproducible seeds per question
    for row in details["gsm8k"]:
        assert len(row["outputs"]) == 3 and row["output"] == row["outputs"][0]
        again = score_outputs(row["gold"], row["outputs"], "gsm8k", k=3)
        assert (row["majority"], row["maj_correct"]) == (again["majority"], again["maj_correct"])


def test_resume_reuses_the_answers_a_failed_run_logged(embedded_server, tmp_path):
    """A run cut short keeps every answer it received in OUT/requests.jsonl; --resume asks only for the rest,
    and a run without --resume starts afresh."""
    out, args = tmp_path / "r", ("--tasks", "gsm8k", "--concurrency", "2")
    _, _, first = run_eval(embedded_server, out, *args, n=4, fail_after=2, expect=2)  # 2 answers, then 400s
    answered = {body["prompt"]: answer["choices"][0]["text"] for path, body, answer in first}
    assert len(answered) == 2 and not (out / "results.json").exists()
    logged = [json.loads(line) for line in (out / "requests.jsonl").read_text().splitlines()]
    assert sorted(line["messages"][0]["prompt"] for line in logged) == sorted(answered)

    results, details, second = run_eval(embedded_server, out, *args, "--resume", n=4)
    asked = {body["prompt"] for _, body, _ in second}
    assert len(asked) == 2 and not asked & set(answered)  # only the two that were never answered
    rows = details["gsm8k"]
    assert len(rows) == 4 and results["settings"]["resume"] is True
    for row in rows:
        if row["prompt"] in answered:
            assert row["output"] == answered[row["prompt"]]  # graded the logged answer
    assert len((out / "requests.jsonl").read_text().splitlines()) == 4

    _, _, third = run_eval(embedded_server, out, *args, n=4)  # no --resume: everything is asked again
    assert len(third) == 4 and len((out / "requests.jsonl").read_text().splitlines()) == 4


@pytest.mark.parametrize("template, route", [("alpaca", "/completions"), ("chat", "/chat/completions")])
def test_two_endpoints_share_the_calls_and_one_dying_loses_nothing(embedded_server, tmp_path, template, route):
    """`--base-url A,B`: both endpoints (pass-throughs to the real server) answer; B then answers 503 to every
    completion, is taken out, and its calls are retried on A. Every question is graded on an answer a server
    really gave, each asked and paid once."""
    with Recorder(embedded_server.base_url) as a, Recorder(embedded_server.base_url, 1, 503) as b:
        code = main(["eval", "--backend", "endpoint", "--base-url", f"{a.base_url},{b.base_url}", "--tasks", "gsm8k",
                     "--max-samples", "6", "--max-new-tokens", "24", "--template", template, "--concurrency", "2",
                     "--data-dir", "packaged", "--quiet", "--out", str(tmp_path / "r")])
    log = (tmp_path / "r" / "lighteval" / "lighteval.log").read_text()
    assert code == 0, log[-3000:]
    assert len(b.calls) == 1 and len(a.calls) == 5  # B answered once before it died; A answered the rest
    for path, _, _ in a.calls + b.calls:
        assert path.endswith(route) and (template == "chat" or not path.endswith("/chat/completions"))
    answers = {}
    for _, body, answer in a.calls + b.calls:
        key = body.get("prompt") or body["messages"][-1]["content"]
        choice = answer["choices"][0]
        assert key not in answers  # asked once: nothing paid twice
        answers[key] = choice["text"] if template == "alpaca" else choice["message"]["content"] or ""
    rows = [json.loads(x) for x in (tmp_path / "r" / "details" / "gsm8k.jsonl").read_text().splitlines()]
    assert len(rows) == 6
    for row in rows:
        key = row["prompt"] if template == "alpaca" else row["question"].strip()
        assert row["output"] == answers[key]
    # both paths report their pool: B answered once, then was taken out and its calls went to A
    stats = json.loads(log.rsplit("augmath endpoint backend: ", 1)[1].splitlines()[0])
    pool = {e["url"]: e for e in stats["endpoints"]}
    assert pool[a.base_url]["calls"] == 5 and pool[b.base_url]["calls"] == 1
    assert pool[b.base_url]["failures"] >= 1 and pool[b.base_url]["taken_out"] >= 1
    assert stats["retried_elsewhere"] >= 1
