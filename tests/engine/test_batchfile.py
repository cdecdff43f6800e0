"""The batch JSONL itself (augmath.engine.batchfile): keys, partial prompts, tampered files, bad arguments.
The end-to-end runs (real server behind a Batch API stand-in) are tests/test_batch.py."""

from __future__ import annotations

import json

import pytest

from augmath.cli import main
from augmath.engine import Request, request_key, sample_key
from augmath.engine.batchfile import pending_lines, read_batch_file, write_batch_file

MESSAGES = [{"role": "user", "content": "What is 2 + 2?"}]
PARAMS = {"temperature": 0.7, "max_tokens": 32, "seed": 7, "top_k": 20}


def test_lines_ask_only_for_missing_samples_and_read_back(tmp_path):
    done = {sample_key("m", MESSAGES, PARAMS, i): None for i in (0, 1, 3)}  # 2, 4, 5 missing
    lines = pending_lines("m", [Request(MESSAGES, 6, PARAMS), Request(MESSAGES, 2, PARAMS)], done)
    key = request_key("m", MESSAGES, PARAMS)
    assert [(x.custom_id, x.n) for x in lines] == [(f"{key}:2", 1), (f"{key}:4", 2)]
    path = tmp_path / "calls.jsonl"
    write_batch_file(path, lines)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    # seed + first sample index, as a live call would send it; top_k (not an OpenAI param) in the body itself
    assert rows[1]["body"] == {"model": "m", "messages": MESSAGES, "n": 2, "temperature": 0.7, "max_tokens": 32,
                               "seed": 11, "top_k": 20}
    back = read_batch_file(path)
    assert {cid: (x.start, x.n, x.params) for cid, x in back.items()} == {
        f"{key}:2": (2, 1, PARAMS), f"{key}:4": (4, 2, PARAMS)}


@pytest.mark.parametrize("edit, why", [
    (lambda row: row["body"].update(temperature=0.1), "is not the request key of its body"),
    (lambda row: row.update(url="/v1/completions"), "not a batch input line"),
])
def test_a_tampered_batch_file_is_refused_in_one_line(tmp_path, capsys, edit, why):
    path = tmp_path / "calls.jsonl"
    write_batch_file(path, pending_lines("m", [Request(MESSAGES, 2, PARAMS)], {}))
    row = json.loads(path.read_text())
    edit(row)
    path.write_text(json.dumps(row) + "\n")
    (tmp_path / "out.jsonl").write_text("")
    assert main(["generate", str(path), "--import-batch-output", str(tmp_path / "out.jsonl"),
                 "--out", str(tmp_path / "log.jsonl")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and why in err[0] and "calls.jsonl:1" in err[0]
    assert not (tmp_path / "log.jsonl").exists()


@pytest.mark.parametrize("extra, why", [
    (["--batch-file-only", "f.jsonl"], "need --model"),
    (["--batch", "--model", "m"], "--batch needs --base-url"),
    (["--batch", "--batch-file-only", "f.jsonl", "--model", "m"], "choose one"),
])
def test_bad_batch_arguments_exit_2(tmp_path, capsys, extra, why):
    out = tmp_path / "run"
    assert main(["augment", "--source", "gsm8k", "--strategies", "reverse", "--data-dir", "packaged",
                 "--limit", "2", "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and why in err[0] and not out.exists()


def test_a_batch_that_fails_validation_is_one_line_and_not_polled_again(tmp_path, capsys):
    from tests.batch_standin import BatchStandIn

    out = tmp_path / "run"
    with BatchStandIn("http://127.0.0.1:9/v1", fail_validation=True) as standin:  # no line reaches upstream
        cmd = ["augment", "--source", "gsm8k", "--strategies", "reverse", "--data-dir", "packaged", "--limit", "12",
               "--skip-decontam", "--out", str(out), "--batch", "--batch-poll", "0.05", "--model", "m",
               "--base-url", standin.base_url]
        assert main(cmd) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert "failed validation: line 1: stand-in: model not available" in err[-1]
        state = json.loads((out / "batches.json").read_text())
        assert [(b["status"], b["imported"]) for b in state["batches"]] == [("failed", True)]
        assert main(cmd) == 2 and len(standin.batches) == 2  # a new submission, not the failed one polled again
        assert standin.upstream_calls == 0 and not (out / "items.jsonl").exists()
