"""The engine at fleet scale: several endpoints (one killed mid-run and restarted), budgets, the lean client.

Real servers throughout: the session's embedded llama-server, and `augmath serve` processes for the fleet.
"""

from __future__ import annotations

import asyncio
import base64
import json
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from augmath.cli import main
from augmath.engine.budget import Budget
from augmath.engine.engine import Engine, Request
from augmath.engine.pool import parse_base_urls
from augmath.engine.requestlog import RequestLog, read_log, request_key, request_keys, sample_key
from augmath.engine.wire import split_base_url

from serve_helpers import port_closed

REPO = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- no server needed

@pytest.mark.parametrize("value, expected", [
    ("http://a:1/v1", ["http://a:1/v1"]),
    ("http://a:1/v1,http://b:2/v1", ["http://a:1/v1", "http://b:2/v1"]),
    (" http://a:1/v1 , http://b:2/v1 ,", ["http://a:1/v1", "http://b:2/v1"]),
    (["http://a:1/v1", "http://b:2/v1,http://c:3/v1"], ["http://a:1/v1", "http://b:2/v1", "http://c:3/v1"]),
    (None, []),
])
def test_base_urls_parse(value, expected):
    assert parse_base_urls(value) == expected


@pytest.mark.parametrize("value, message", [
    ("", "empty"), (",", "empty"), ("ftp://a/v1", "http"), ("a:1/v1", "http"),
    ("http://a:1/v1,http://a:1/v1", "listed twice"), ([3], "string"),
])
def test_bad_base_urls_are_refused(value, message):
    with pytest.raises(ValueError, match=message):
        parse_base_urls(value)


@pytest.mark.parametrize("url, chat, auth", [
    ("http://127.0.0.1:8080/v1", "http://127.0.0.1:8080/v1/chat/completions", None),
    ("http://127.0.0.1:8080/v1/", "http://127.0.0.1:8080/v1/chat/completions", None),
    ("https://host/openai/v1?api-version=2024", "https://host/openai/v1/chat/completions?api-version=2024", None),
    ("http://user:p%40ss@host:9/v1", "http://host:9/v1/chat/completions", "user:p@ss"),  # as httpx: Basic auth
])
def test_base_url_to_chat_url_and_auth(url, chat, auth):
    chat_url, models_url, headers = split_base_url(url)
    assert chat_url == chat and models_url == chat.replace("chat/completions", "models")
    if auth is None:
        assert headers == {}
    else:
        assert headers == {"Authorization": "Basic " + base64.b64encode(auth.encode()).decode()}


@pytest.mark.parametrize("messages, params", [
    ([{"role": "user", "content": "2+2?"}], {}),
    ([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "héllo \"x\" \n ünïcode"}],
     {"temperature": 0.7, "seed": 3, "top_k": 40, "stop": ["\n\n", "Q:"], "zz": {"b": 2, "a": [1, None]}}),
])
def test_one_serialisation_gives_the_same_keys_as_before(messages, params):
    # the fast path must give exactly the keys existing logs hold, or every old run would be asked again
    rkey, keys = request_keys("m", messages, params, 4)
    assert rkey == request_key("m", messages, params)
    assert keys == [sample_key("m", messages, params, i) for i in range(4)]


def test_budget_reserves_the_worst_case_and_stops_when_nothing_fits():
    async def scenario():
        budget = Budget(tokens=300)
        budget.start({"prompt_tokens": 50, "completion_tokens": 50})  # what the log already spent counts
        payload = {"messages": [{"role": "user", "content": "x" * 40}], "max_tokens": 20}
        first = await budget.reserve(payload, 1)
        assert first[1] == 20 and first[0] >= first[2]  # completion capped exactly; prompt a token per char
        waiting = asyncio.ensure_future(budget.reserve(payload, 1))  # nothing measured yet: one at a time
        await asyncio.sleep(0.01)
        assert not waiting.done()
        budget.settle(first, {"prompt_tokens": 30, "completion_tokens": 20})
        second = await waiting
        assert second[0] == int(30 / first[2] * first[2] * 1.1) + 8  # measured tokens per char, +10%
        budget.settle(second, {"prompt_tokens": 30, "completion_tokens": 20})
        assert budget.spent == {"prompt_tokens": 110, "completion_tokens": 90}
        assert await budget.reserve(payload, 3) is None  # 200 spent + 41 + 60 > 300
        assert "budget reached: 200 of --budget-tokens 300 spent" in budget.stop_line(3, 10)

    asyncio.run(scenario())


GENERATE = ["generate", "{in}", "--out", "{out}/log.jsonl"]
AUGMENT = ["augment", "--source", "gsm8k", "--data-dir", "packaged", "--limit", "2", "--strategies", "rephrase",
           "--out", "{out}"]


@pytest.mark.parametrize("argv, message", [
    (GENERATE + ["--base-url", "http://127.0.0.1:9/v1", "--budget-usd", "1"], "--budget-usd needs prices"),
    (GENERATE + ["--base-url", "http://127.0.0.1:9/v1", "--budget-tokens", "0"], "--budget-tokens must be a positive"),
    (GENERATE + ["--base-url", "http://127.0.0.1:9/v1,127.0.0.1:8/v1"], "'127.0.0.1:8/v1' is not an endpoint URL"),
    (GENERATE + ["--base-url", "http://127.0.0.1:9/v1", "--base-url", "http://127.0.0.1:9/v1"], "listed twice"),
    (AUGMENT + ["--budget-usd", "5", "--price-in", "1"], "--budget-usd needs prices"),
    (AUGMENT + ["--base-url", "http://127.0.0.1:9/v1,,ftp://h/v1"], "'ftp://h/v1' is not an endpoint URL"),
])
def test_bad_budget_or_endpoint_flags_fail_before_anything_is_written(argv, message, tmp_path, capsys):
    requests = tmp_path / "in.jsonl"
    requests.write_text(json.dumps({"messages": [{"role": "user", "content": "2+2?"}]}) + "\n")
    out = tmp_path / "out"
    code = main([a.replace("{in}", str(requests)).replace("{out}", str(out)) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and message in err[0], err
    assert not out.exists()


# --------------------------------------------------------------------------- budget, real server

def _write_requests(path: Path, count: int, max_tokens: int = 12) -> None:
    with path.open("w") as handle:
        for i in range(count):
            handle.write(json.dumps({"messages": [{"role": "user", "content": f"What is {i} + {i + 2}?"}],
                                     "params": {"temperature": 0.8, "max_tokens": max_tokens, "seed": i},
                                     "meta": {"i": i}}) + "\n")


def _generate(capsys, inp, log, base_url, *extra) -> tuple[int, dict, str]:
    code = main(["generate", str(inp), "--out", str(log), "--base-url", base_url, "--concurrency", "4",
                 "--no-progress", *map(str, extra)])
    out = capsys.readouterr()
    return code, json.loads(out.out.strip().splitlines()[-1]), out.err


def test_generate_budget_stops_cleanly_then_resumes_with_a_raised_budget(embedded_server, tmp_path, capsys):
    inp, log = tmp_path / "in.jsonl", tmp_path / "log.jsonl"
    _write_requests(inp, 10)
    code, summary, err = _generate(capsys, inp, log, embedded_server.base_url, "--budget-tokens", 400)
    spent = read_log(log).usage["total_tokens"]
    first_done = len(read_log(log).done)
    assert code == 1 and 0 < first_done < 10 and spent <= 400  # stopped before crossing it
    (line,) = [x for x in err.splitlines() if "budget reached" in x]
    assert f"{spent} of --budget-tokens 400 spent" in line.replace(",", "")
    assert f"{10 - first_done} of 10 samples not asked" in line and "higher --budget-tokens" in line
    assert summary["samples_not_asked"] == 10 - first_done and summary["samples_still_failed"] == 0

    # the same budget again: nothing fits, nothing is sent
    code, summary, _ = _generate(capsys, inp, log, embedded_server.base_url, "--budget-tokens", 400)
    assert code == 1 and summary["calls"] == 0 and len(read_log(log).done) == first_done

    # raised: goes on from where it stopped, asks only what is missing, and finishes
    code, summary, err = _generate(capsys, inp, log, embedded_server.base_url, "--budget-tokens", 100_000)
    assert code == 0 and "budget reached" not in err
    assert summary["samples_resumed"] == first_done and summary["calls"] == 10 - first_done
    loaded = read_log(log)
    assert len(loaded.done) == 10 and loaded.duplicates == 0 and loaded.lines == 10


def test_augment_budget_stops_before_items_then_resumes(embedded_server, tmp_path, capsys):
    # 6 rephrase queries of ~240 tokens each; the first call reserves a token per prompt character (~900)
    argv = ["augment", "--source", "gsm8k", "--data-dir", "packaged", "--skip-decontam", "--limit", "6",
            "--strategies", "rephrase", "--paths", "1", "--max-tokens", "48", "--base-url",
            embedded_server.base_url, "--model", embedded_server.model, "--out", str(tmp_path / "run")]
    assert main(argv + ["--budget-tokens", "1100"]) == 1
    err = capsys.readouterr().err
    assert "augment: budget reached" in err and not (tmp_path / "run" / "items.jsonl").exists()
    spent = read_log(tmp_path / "run" / "requests.jsonl")
    assert 0 < spent.lines < 6 and spent.usage["total_tokens"] <= 1100
    assert main(argv + ["--budget-tokens", "1000000"]) in (0, 1)  # 1 only if a call failed for good
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    assert report["engine"]["queries"]["samples_resumed"] == spent.lines  # nothing asked twice
    assert read_log(tmp_path / "run" / "requests.jsonl").duplicates == 0


# --------------------------------------------------------------------------- the lean client's log

def test_open_log_keeps_offsets_and_reads_completions_back(embedded_server, tmp_path):
    log = tmp_path / "log.jsonl"
    requests = [Request([{"role": "user", "content": f"Say {w}."}], 2, {"max_tokens": 16, "seed": 3}, {"w": w})
                for w in ("yes", "no", "maybe")]
    engine = Engine(base_url=embedded_server.base_url, model=embedded_server.model, log_path=log, progress=False)
    out = engine.run(requests)
    with RequestLog(log) as opened:
        assert all(isinstance(v, int) for v in opened.loaded.done.values())  # an offset, not the line
        assert len(opened.loaded.done) == 6
    reread = Engine(base_url=embedded_server.base_url, model=embedded_server.model, log_path=log, progress=False)
    reread.run(requests, collect=False)
    streamed = list(reread.completions(requests))
    reread.close()
    assert reread.stats.calls == 0 and [(c.key, c.text, c.meta) for c in streamed] == [
        (c.key, c.text, c.meta) for c in out]


# --------------------------------------------------------------------------- a fleet, one endpoint killed

def _serve(port: int | None = None):
    cmd = [sys.executable, "-m", "augmath.cli", "serve", "--parallel", "2"] + (["--port", str(port)] if port else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=REPO)
    base_url = proc.stdout.readline().strip()  # printed once /health answers
    assert base_url.startswith("http://127.0.0.1:"), f"augmath serve did not start ({proc.poll()})"
    return proc, base_url


@pytest.mark.slow
def test_fleet_endpoint_killed_mid_run_and_restarted_loses_nothing_pays_nothing_twice(tmp_path):
    inp, log = tmp_path / "in.jsonl", tmp_path / "log.jsonl"
    count = 80
    _write_requests(inp, count, max_tokens=16)
    (a, url_a), (b, url_b) = _serve(), _serve()
    port_a = int(url_a.rsplit(":", 1)[1].split("/")[0])
    gen = None
    try:
        gen = subprocess.Popen([sys.executable, "-m", "augmath.cli", "generate", str(inp), "--out", str(log),
                                "--base-url", f"{url_a},{url_b}", "--model", "smol", "--concurrency", "4",
                                "--no-progress"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)
        deadline = time.monotonic() + 120
        while (not log.exists() or log.read_bytes().count(b"\n") < 6) and time.monotonic() < deadline:
            time.sleep(0.05)
        a.send_signal(signal.SIGKILL)  # mid-run: A has calls in flight (least-loaded spreads them)
        a.wait()
        assert port_closed(port_a)
        lines_at_kill = log.read_bytes().count(b"\n")
        a, _ = _serve(port_a)  # back on the same address
        stdout, stderr = gen.communicate(timeout=600)
    finally:
        for proc in (gen, a, b):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    assert gen.returncode == 0, stderr[-3000:]
    assert lines_at_kill < count  # the kill really came mid-run
    summary = json.loads(stdout.strip().splitlines()[-1])
    first, second = summary["endpoints"]
    assert first["taken_out"] >= 1 and first["put_back"] >= 1  # out, then back
    assert second["taken_out"] == 0 and first["calls"] > 0 and second["calls"] > 0
    assert summary["retried_elsewhere"] >= 1 and summary["faults"].get("connection", 0) >= 1
    assert summary["retried_elsewhere"] == first["failures"]  # every failure on A was retried on B, counted
    # nothing lost: every sample done once; nothing paid twice: one logged answer per sample, no duplicates
    loaded = read_log(log)
    assert len(loaded.done) == count and loaded.duplicates == 0 and not loaded.failed
    answered = Counter(s["key"] for raw in log.read_text().splitlines() for s in json.loads(raw)["samples"]
                       if s["status"] != "failed")
    assert len(answered) == count and set(answered.values()) == {1}
    assert summary["calls"] == count and summary["samples_failed"] == {}
