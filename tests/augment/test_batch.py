"""Provider batch files and --batch mode (issue #25), end to end on the real embedded llama-server.

No provider is reachable, so the Files + Batch API is tests/batch_standin.py (loopback, the published API), whose
lines are answered by the real embedded server. What is exercised: the JSONL written, custom_id = request key,
upload, create, poll, resume of a submitted batch, output + error files, expiry, import into the durable log,
resubmission of only the expired lines, and 0 requests on a rerun.
"""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

from augmath.cli import main
from augmath.engine import read_log, request_key
from tests.batch_standin import BatchStandIn

pytestmark = pytest.mark.slow
# reverse on GSM8K: exact queries, some of which need sampled paths (one phase of calls)
RUN = ["augment", "--source", "gsm8k", "--strategies", "reverse", "--limit", "12", "--paths", "2", "--max-tokens",
       "96", "--skip-decontam", "--data-dir", "packaged"]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _run_by_hand(standin: BatchStandIn, batch_file: Path, out: Path) -> None:
    """What a user does with the file: upload it to a Batch API, wait, download the output and error files."""
    client = openai.OpenAI(base_url=standin.base_url, api_key="sk-local-no-key")
    uploaded = client.files.create(file=batch_file.open("rb"), purpose="batch")
    batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h")
    while batch.status not in ("completed", "expired", "failed"):
        batch = client.batches.retrieve(batch.id)
    out.write_bytes(b"".join(client.files.content(f).read() for f in (batch.output_file_id, batch.error_file_id) if f))


def test_batch_file_only_then_import_then_rerun_sends_nothing(tmp_path, embedded_server, capsys):
    run, batch_file = tmp_path / "run", tmp_path / "calls.jsonl"
    cmd = [*RUN, "--model", embedded_server.model, "--out", str(run)]
    assert main([*cmd, "--batch-file-only", str(batch_file)]) == 3
    assert not (run / "items.jsonl").exists()
    lines = _lines(batch_file)
    assert lines and all(set(x) == {"custom_id", "method", "url", "body"} and x["method"] == "POST"
                         and x["url"] == "/v1/chat/completions" for x in lines)
    for x in lines:  # custom_id is augmath's request key of (model, messages, params)
        params = {k: v for k, v in x["body"].items() if k not in ("model", "messages", "n")}
        assert x["custom_id"] == request_key(x["body"]["model"], x["body"]["messages"], params)
        assert x["body"]["n"] == 2
    with BatchStandIn(embedded_server.base_url, expire_after=len(lines) - 1) as standin:
        _run_by_hand(standin, batch_file, tmp_path / "out.jsonl")
    capsys.readouterr()
    assert main(["generate", str(batch_file), "--import-batch-output", str(tmp_path / "out.jsonl"),
                 "--out", str(run / "requests.jsonl")]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["lines"] == len(lines) and counts["samples_failed"] == 2  # the expired line: 2 samples
    assert counts["samples_ok"] + counts["samples_rejected"] == 2 * (len(lines) - 1)
    # the expired line is the only one the next batch file asks for
    assert main([*cmd, "--batch-file-only", str(batch_file)]) == 3
    assert [x["custom_id"] for x in _lines(batch_file)] == [lines[-1]["custom_id"]]
    with BatchStandIn(embedded_server.base_url) as standin:
        _run_by_hand(standin, batch_file, tmp_path / "out2.jsonl")
    assert main(["generate", str(batch_file), "--import-batch-output", str(tmp_path / "out2.jsonl"),
                 "--out", str(run / "requests.jsonl")]) == 0
    assert main([*cmd, "--batch-file-only", str(batch_file)]) == 0
    logged = len(read_log(run / "requests.jsonl").done)
    # a live run of the same command at a dead address: nothing left to send, so it finishes without a call
    assert main([*cmd, "--base-url", "http://127.0.0.1:9/v1"]) == 0
    assert len(read_log(run / "requests.jsonl").done) == logged
    assert (run / "items.jsonl").exists() and json.loads((run / "report.json").read_text())["failed_calls"] == 0


def test_batch_mode_resumes_a_submitted_batch_and_resends_only_expired_lines(tmp_path, embedded_server):
    run = tmp_path / "run"
    with BatchStandIn(embedded_server.base_url, expire_after=2, slow_s=1.0) as standin:
        cmd = [*RUN, "--model", embedded_server.model, "--base-url", standin.base_url, "--out", str(run), "--batch",
               "--batch-poll", "0.2"]
        assert main([*cmd, "--batch-wait", "0"]) == 3  # submitted, still validating: stop waiting
        state = json.loads((run / "batches.json").read_text())
        assert len(state["batches"]) == 1 and not state["batches"][0].get("imported")
        assert main(cmd) == 0
        assert len(standin.batches) == 2  # the first was resumed, not submitted again
        first, second = standin.lines_per_batch
        assert second == first - 2  # only the expired lines went again
        state = json.loads((run / "batches.json").read_text())
        assert [b["status"] for b in state["batches"]] == ["expired", "completed"]
        assert (run / "items.jsonl").exists()
        calls = standin.upstream_calls
        assert main(cmd) == 0  # a rerun: no batch, no call
        assert len(standin.batches) == 2 and standin.upstream_calls == calls == first
