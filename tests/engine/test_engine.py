"""The generation engine against the real embedded llama-server, directly and through a fault proxy."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from augmath.engine.engine import Engine, Request
from augmath.engine.calls import RetryPolicy, parse_retry_after, redact
from augmath.engine.cli import read_requests
from augmath.engine.requestlog import RequestLog, RequestLogError, read_log, sample_key
from faultproxy import FaultProxy

# Short questions the 135M model usually answers within 64 tokens (so some samples are usable)...
SHORT = ["What is 12 times 3? Answer with the number only.", "Is 9 a prime number? Answer yes or no.",
         "What is 7 + 5? Answer with the number only."]
# ...and real GSM8K test questions (the first three of the test split).
QUESTIONS = [
    "Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins for her "
    "friends every day with four. She sells the remainder at the farmers' market daily for $2 per fresh duck "
    "egg. How much in dollars does she make every day at the farmers' market?",
    "A robe takes 2 bolts of blue fiber and half that much white fiber. How many bolts in total does it take?",
    "Josh decides to try flipping a house. He buys a house for $80,000 and then puts in $50,000 in repairs. "
    "This increased the value of the house by 150%. How much profit did he make?",
]
# The injected fault kind -> the cause the engine records for it.
CAUSE = {"429": "http_429", "500": "http_500", "timeout": "timeout", "garbage": "malformed_response",
         "drop": "connection"}


def requests_for(questions, n=1, max_tokens=48, **extra):
    params = {"temperature": 0.8, "max_tokens": max_tokens, "seed": 7, **extra}
    return [Request(messages=[{"role": "user", "content": q}], n=n, params=params, meta={"row": i})
            for i, q in enumerate(questions)]


def done_keys(path):
    return set(read_log(path).done)


# --------------------------------------------------------------------------- no server needed


def test_sample_key_depends_on_every_part():
    messages = [{"role": "user", "content": "2+2?"}]
    base = sample_key("m", messages, {"temperature": 0.7}, 0)
    assert base == sample_key("m", [{"content": "2+2?", "role": "user"}], {"temperature": 0.7}, 0)
    assert len({base, sample_key("m2", messages, {"temperature": 0.7}, 0),
                sample_key("m", [{"role": "user", "content": "2+3?"}], {"temperature": 0.7}, 0),
                sample_key("m", messages, {"temperature": 0.8}, 0),
                sample_key("m", messages, {"temperature": 0.7}, 1)}) == 5


def test_torn_last_line_is_cut_and_appends_stay_valid(tmp_path):
    path = tmp_path / "log.jsonl"
    line = {"request_key": "r", "status": "ok", "usage": None,
            "samples": [{"key": "k0", "index": 0, "status": "ok", "reason": None, "text": "4"}]}
    with RequestLog(path) as log:
        log.append(line)
    with open(path, "ab") as handle:  # what kill -9 in the middle of a write leaves behind
        handle.write(b'{"v": 1, "request_key": "r", "samples": [{"key": "k1", "ind')
    assert done_keys(path) == {"k0"}
    with RequestLog(path) as log:
        assert log.loaded.torn_bytes > 0
        log.append({**line, "samples": [{**line["samples"][0], "key": "k1", "index": 1}]})
    lines = path.read_bytes().splitlines()
    assert len(lines) == 2 and all(json.loads(raw)["samples"] for raw in lines)
    assert done_keys(path) == {"k0", "k1"}


def test_concurrent_appends_share_fsyncs_and_all_land(tmp_path, monkeypatch):
    import asyncio
    import os

    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), time.sleep(0.01), real_fsync(fd)))
    path = tmp_path / "log.jsonl"

    async def main():
        with RequestLog(path) as log:
            lines = [{"request_key": f"r{i}", "status": "ok", "usage": {"completion_tokens": 2},
                      "samples": [{"key": f"k{i}", "index": 0, "status": "ok", "reason": None, "text": "x"}]}
                     for i in range(50)]
            await asyncio.gather(*(log.append_async(line) for line in lines))
            assert len(log.loaded.done) == 50

    asyncio.run(main())
    assert done_keys(path) == {f"k{i}" for i in range(50)} and read_log(path).usage["completion_tokens"] == 100
    assert 1 <= len(synced) < 10  # group commit: 50 lines, a handful of fsyncs


def test_corrupt_line_in_the_middle_names_file_and_line(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"samples": []}\nnot json\n{"samples": []}\n')
    with pytest.raises(RequestLogError, match=r"log.jsonl:2"):
        read_log(path)


def test_a_log_has_one_writer(tmp_path):
    with RequestLog(tmp_path / "log.jsonl"):
        with pytest.raises(RequestLogError, match="in use"):
            RequestLog(tmp_path / "log.jsonl").open()


def test_bad_input_rows_name_file_line_and_field(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n{"messages": [{"role": "user", '
                    '"content": "hi"}], "n": 0}\n')
    with pytest.raises(ValueError, match=r"in.jsonl:2: field 'n'"):
        read_requests(path)
    path.write_text('{"messages": "hi"}\n')
    with pytest.raises(ValueError, match=r"in.jsonl:1: field 'messages'"):
        read_requests(path)


def test_backoff_grows_with_jitter_and_honours_retry_after():
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 4.0)]:
        waits = [policy.backoff(attempt, None) for _ in range(200)]
        assert ceiling / 2 <= min(waits) and max(waits) <= ceiling and len(set(waits)) > 1
    assert 3.0 <= policy.backoff(1, 3.0) <= 3.1
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({}) is None


def test_redact_removes_the_key_and_key_shaped_strings():
    text = "invalid credentials: Bearer sk-live-abcdef123456 for sk-other-998877665544"
    out = redact(text, "sk-live-abcdef123456")
    assert "abcdef123456" not in out and "998877665544" not in out


def test_no_key_and_no_base_url_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        Engine()


# --------------------------------------------------------------------------- real server


def test_generates_n_samples_and_resumes_without_sending(embedded_server, tmp_path):
    log = tmp_path / "requests.jsonl"
    engine = Engine(base_url=embedded_server.base_url, concurrency=4, log_path=log, progress=False)
    out = engine.run(requests_for(SHORT, n=2, max_tokens=64))
    stats = engine.stats
    assert stats.model == embedded_server.model  # discovered from /v1/models
    assert stats.samples_wanted == 6 and stats.samples_resumed == 0
    assert stats.samples_ok + sum(stats.samples_rejected.values()) == 6 and stats.samples_ok >= 1
    assert stats.calls == 3 and stats.n_fallbacks == 0  # llama-server honours n: one call per prompt
    assert stats.usage["completion_tokens"] > 0 and stats.usage["prompt_tokens"] > 0
    assert stats.usage_partial_calls == 3  # llama.cpp: usage of an n call covers its first choice only
    assert len(out) == stats.samples_ok and len({c.key for c in out}) == len(out)
    for c in out:
        assert c.text.strip() and c.finish_reason == "stop" and c.meta == {"row": SHORT.index(
            c.messages[0]["content"])} and c.index in (0, 1) and c.usage["completion_tokens"] > 0
    assert engine.failures == {}

    again = Engine(base_url=embedded_server.base_url, concurrency=4, log_path=log, progress=False)
    out2 = again.run(requests_for(SHORT, n=2, max_tokens=64))
    assert again.stats.calls == 0 and again.stats.samples_resumed == 6
    assert [(c.key, c.text) for c in out2] == [(c.key, c.text) for c in out]
    assert len(log.read_text().splitlines()) == 3


def test_cut_off_completions_are_counted_not_returned(embedded_server, tmp_path):
    engine = Engine(base_url=embedded_server.base_url, model=embedded_server.model, progress=False)
    out = engine.run(requests_for(QUESTIONS[:2], n=1, max_tokens=3))
    assert out == []
    assert engine.stats.samples_rejected == Counter({"length": 2})


def test_falls_back_to_separate_requests_when_n_is_ignored(embedded_server, tmp_path):
    with FaultProxy(embedded_server.base_url, max_choices=1) as proxy:
        engine = Engine(base_url=proxy.base_url, model=embedded_server.model, concurrency=4,
                        log_path=tmp_path / "log.jsonl", progress=False)
        out = engine.run(requests_for(QUESTIONS[:1], n=3, max_tokens=32))
    assert engine.stats.n_fallbacks == 1 and engine.stats.calls == 3  # 1 call with n=3, then 2 single calls
    assert engine.stats.samples_ok + sum(engine.stats.samples_rejected.values()) == 3
    lines = [json.loads(raw) for raw in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [line["n"] for line in lines][0] == 3 and sorted(line["n"] for line in lines) == [1, 1, 3]
    assert sorted(s["index"] for line in lines for s in line["samples"]) == [0, 1, 2]
    assert len(done_keys(tmp_path / "log.jsonl")) == 3 and {c.index for c in out} <= {0, 1, 2}


@pytest.mark.slow
def test_injected_faults_are_retried_and_counted_exactly(embedded_server, tmp_path):
    questions = [f"What is {a} + {b}? Answer with the number only." for a, b in zip(range(11, 27), range(40, 56))]
    # Real calls are tiny (6 tokens) so that, normally, only the injected hangs reach the client timeout.
    with FaultProxy(embedded_server.base_url, rate=0.35, seed=9, hang_s=21.0) as proxy:
        engine = Engine(base_url=proxy.base_url, model=embedded_server.model, concurrency=4, timeout=20.0,
                        max_attempts=12, base_delay=0.05, max_delay=0.5, log_path=tmp_path / "log.jsonl",
                        progress=False)
        out = engine.run(requests_for(questions, n=1, max_tokens=6, temperature=0.0))
    stats = engine.stats
    assert set(proxy.injected) == set(CAUSE), proxy.injected  # seed 9 draws every kind of fault
    expected = Counter({CAUSE[k]: v for k, v in proxy.injected.items()})
    expected["timeout"] += proxy.client_gone  # on a very busy machine a real call can outlast the timeout too
    assert stats.faults == +expected and proxy.client_gone <= 2
    assert stats.retries == sum(expected.values()) and stats.calls == proxy.forwarded == len(questions)
    assert stats.samples_ok + sum(stats.samples_rejected.values()) == len(questions) and not engine.failures
    assert len(out) == stats.samples_ok


def test_retry_budget_then_failed_with_reason_then_rerun_completes(embedded_server, tmp_path):
    log = tmp_path / "log.jsonl"
    with FaultProxy(embedded_server.base_url, rate=1.0, kinds=("500",)) as proxy:
        engine = Engine(base_url=proxy.base_url, model=embedded_server.model, max_attempts=3, base_delay=0.01,
                        log_path=log, progress=False)
        assert engine.run(requests_for(QUESTIONS[:2], max_tokens=16)) == []
    assert proxy.injected["500"] == 6 and engine.stats.faults == Counter({"http_500": 6})
    assert engine.stats.samples_failed == Counter({"http_500": 2})
    assert len(engine.failures) == 2
    assert all(r.startswith("retry budget exhausted after 3 attempts; last http_500") for r in engine.failures.values())
    rerun = Engine(base_url=embedded_server.base_url, model=embedded_server.model, log_path=log, progress=False)
    rerun.run(requests_for(QUESTIONS[:2], max_tokens=16))
    assert rerun.stats.calls == 2 and rerun.failures == {} and len(done_keys(log)) == 2


def test_retry_after_is_honoured(embedded_server):
    with FaultProxy(embedded_server.base_url, rate=1.0, kinds=("429",), retry_after="1", max_faults=1) as proxy:
        engine = Engine(base_url=proxy.base_url, model=embedded_server.model, base_delay=0.01, progress=False)
        started = time.monotonic()
        engine.run(requests_for(QUESTIONS[:1], max_tokens=8))
        elapsed = time.monotonic() - started
    assert proxy.injected["429"] == 1 and engine.stats.faults == Counter({"http_429": 1})
    assert elapsed >= 1.0  # base_delay alone would have retried after ~0.01 s


def test_client_errors_fail_at_once_and_the_key_never_reaches_disk(embedded_server, tmp_path, capsys):
    secret = "sk-test-DO-NOT-LEAK-0123456789abcdef"
    log = tmp_path / "log.jsonl"
    with FaultProxy(embedded_server.base_url, rate=1.0, kinds=("401",), max_faults=1) as proxy:
        engine = Engine(base_url=proxy.base_url, api_key=secret, model=embedded_server.model, log_path=log,
                        progress=True)
        engine.run(requests_for(QUESTIONS[:1], max_tokens=8))
    assert engine.stats.attempts == 1 and engine.stats.faults == Counter({"http_401": 1})
    (reason,) = engine.failures.values()
    assert "http_401" in reason and "invalid credentials" in reason
    captured = capsys.readouterr()
    for text in (log.read_text(), reason, captured.err, captured.out, repr(engine)):
        assert "DO-NOT-LEAK" not in text and "0123456789abcdef" not in text


# --------------------------------------------------------------------------- crash / resume


def _generate_cmd(inp, log, server, concurrency=2):
    return [sys.executable, "-m", "augmath.cli", "generate", str(inp), "--out", str(log), "--base-url",
            server.base_url, "--model", server.model, "--concurrency", str(concurrency), "--no-progress"]


def _log_lines(path) -> int:
    return path.read_bytes().count(b"\n") if path.exists() else 0


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_matches_an_uninterrupted_run(embedded_server, tmp_path):
    rng = random.Random(11)
    inp = tmp_path / "in.jsonl"
    with inp.open("w") as handle:
        for a in range(10):
            handle.write(json.dumps({"messages": [{"role": "user", "content": f"What is {a} times {a + 3}?"}],
                                     "n": 2, "params": {"temperature": 0.9, "max_tokens": 16, "seed": a},
                                     "meta": {"a": a}}) + "\n")
    reference = tmp_path / "reference.jsonl"
    subprocess.run(_generate_cmd(inp, reference, embedded_server, 4), check=True, capture_output=True, timeout=300)
    assert len(done_keys(reference)) == 20

    log = tmp_path / "crashed.jsonl"
    kills_with_progress = 0
    for _ in range(4):
        before = _log_lines(log)
        proc = subprocess.Popen(_generate_cmd(inp, log, embedded_server), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while _log_lines(log) == before and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # kill only once this run has written something: a kill in mid-run
        time.sleep(rng.uniform(0.0, 0.3))
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        kills_with_progress += proc.returncode == -9 and _log_lines(log) > before
        loaded = read_log(log)  # readable after every kill; no sample recorded twice
        assert loaded.duplicates == 0
    assert kills_with_progress >= 2
    done_before = len(done_keys(log))
    assert 0 < done_before < 20

    final = subprocess.run(_generate_cmd(inp, log, embedded_server), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout.strip().splitlines()[-1])
    assert summary["samples_resumed"] == done_before  # nothing completed was asked for again
    assert summary["calls"] * 2 >= 20 - done_before
    loaded = read_log(log)
    assert set(loaded.done) == done_keys(reference) and loaded.duplicates == 0 and loaded.torn_bytes == 0
    assert not loaded.failed
