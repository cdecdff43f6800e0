"""Provider batch files: the engine's requests as OpenAI Batch API JSONL, and their results back into the log.

Input file (what `augmath augment --batch-file-only F` writes and `--batch` uploads), one line per call:
    {"custom_id": ..., "method": "POST", "url": "/v1/chat/completions", "body": {model, messages, n?, params...}}
This is the documented OpenAI Batch API input format (platform.openai.com/docs/guides/batch), and the same per-line
object vLLM's `vllm run-batch -i F -o OUT --model M` reads (its BatchRequestInput: custom_id, method, url, body;
docs.vllm.ai, vllm.entrypoints.openai.protocol / run_batch). custom_id is augmath's request key (sha256 of model,
messages, params: augmath.engine.requestlog.request_key); when a prompt's first samples are already done, the line
asks for samples START.. only and its custom_id is `KEY:START` (custom_ids must be unique within a file). The body
is what the engine would send (augmath.engine.calls.build_kwargs, extra params flattened into the body as the
openai client does with extra_body), so sample i of a seeded prompt gets seed + i exactly as in a live run.

Output / error files (the provider's, or vLLM's -o file), one line per finished request:
    {"id", "custom_id", "response": {"status_code", "request_id", "body": <chat completion>} | null,
     "error": {"code", "message"} | null}
import_results() maps every line back through the input file (which holds the messages and params the keys need;
it checks that they hash to the custom_id), checks each choice as the engine does (augmath.engine.calls:
empty / cut off -> rejected) and appends one request-log line per call, so a rerun sends nothing for those samples.
A line that failed or expired is recorded as failed samples: not done, so the next batch file asks for them again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from augmath.engine.requestlog import RequestLog, now_iso, read_log, request_key, sample_key
from augmath.io import DataError, read_jsonl_numbered, write_jsonl_atomic

ENDPOINT = "/v1/chat/completions"


@dataclass(frozen=True)
class BatchLine:
    custom_id: str
    request_key: str
    start: int
    n: int
    model: str
    messages: list
    params: dict
    meta: dict

    def to_json(self) -> dict:
        from augmath.engine.calls import build_kwargs

        kwargs = build_kwargs(self.model, self.messages, self.params, self.n, self.start)
        body = {**{k: v for k, v in kwargs.items() if k != "extra_body"}, **kwargs.get("extra_body", {})}
        return {"custom_id": self.custom_id, "method": "POST", "url": ENDPOINT, "body": body}


def pending_lines(model: str, requests, done: dict) -> list[BatchLine]:
    """One line per run of consecutive samples not done yet, per distinct prompt (identical prompts share)."""
    wanted: dict[str, tuple] = {}
    for r in requests:
        key = request_key(model, r.messages, r.params)
        if key not in wanted or wanted[key][0] < r.n:
            wanted[key] = (r.n, r)
    lines = []
    for key, (n, r) in wanted.items():
        missing = [i for i in range(n) if sample_key(model, r.messages, r.params, i) not in done]
        runs: list[list[int]] = []
        for i in missing:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            cid = key if run[0] == 0 else f"{key}:{run[0]}"
            lines.append(BatchLine(cid, key, run[0], len(run), model, r.messages, r.params, r.meta))
    return lines


def write_batch_file(path: str | os.PathLike, lines: list[BatchLine]) -> int:
    return write_jsonl_atomic(path, (line.to_json() for line in lines))


def read_batch_file(path: str | os.PathLike) -> dict[str, BatchLine]:
    """custom_id -> line, from an input file written here; every line's messages/params must hash to its key."""
    out: dict[str, BatchLine] = {}
    for where, row in read_jsonl_numbered(path):
        body, cid = row.get("body"), row.get("custom_id")
        if not isinstance(cid, str) or not isinstance(body, dict) or row.get("url") != ENDPOINT:
            raise DataError(f"{where}: not a batch input line (custom_id, url {ENDPOINT}, body)")
        key, _, start = cid.partition(":")
        start = int(start) if start.isdigit() else 0
        params = {k: v for k, v in body.items() if k not in ("model", "messages", "n")}
        if start and params.get("seed") is not None:
            params["seed"] = int(params["seed"]) - start  # build_kwargs gave sample `start` seed + start
        model, messages = body.get("model"), body.get("messages")
        if request_key(model, messages, params) != key:
            raise DataError(f"{where}: field 'custom_id' is not the request key of its body (the file was not "
                            "written by augmath, or was edited)")
        if cid in out:
            raise DataError(f"{where}: custom_id {cid} appears twice")
        out[cid] = BatchLine(cid, key, start, int(body.get("n", 1)), model, messages, params, {})
    return out


def _parse_body(body: dict):
    from openai.types.chat import ChatCompletion

    from augmath.engine.calls import MalformedResponse, read_response

    try:
        return read_response(ChatCompletion.model_validate(body))
    except (MalformedResponse, ValueError) as exc:
        return None, f"malformed_response: {str(exc).splitlines()[0][:200]}"


def import_results(log_path: str | os.PathLike, input_path: str | os.PathLike,
                   result_paths: list[str | os.PathLike], batch_id: str | None = None) -> dict:
    """Append the results of output / error files to the durable log. Returns counts."""
    lines = read_batch_file(input_path)
    counts = {"lines": 0, "samples_ok": 0, "samples_rejected": 0, "samples_failed": 0, "already_done": 0,
              "unknown_custom_id": 0}
    # One fsync at the end, not one per line (100K lines would take minutes): a crash mid-import loses only
    # lines that importing the same files again writes back (samples already done are skipped).
    with RequestLog(log_path, fsync=False) as log:
        for path in result_paths:
            for where, row in read_jsonl_numbered(path):
                line = lines.get(row.get("custom_id"))
                if line is None:
                    counts["unknown_custom_id"] += 1
                    continue
                counts["lines"] += 1
                keys = [sample_key(line.model, line.messages, line.params, line.start + i) for i in range(line.n)]
                if all(k in log.loaded.done for k in keys):
                    counts["already_done"] += 1
                    continue
                response, error = row.get("response") or {}, row.get("error")
                body = response.get("body") if "body" in response else (response or None)
                status = response.get("status_code", 200 if body else None)
                choices, usage, reason = None, None, None
                if error or status != 200 or not isinstance(body, dict):
                    detail = error or (body or {}).get("error") or {}
                    reason = f"batch_{detail.get('code') or f'http_{status}'}: {str(detail.get('message', ''))[:200]}"
                else:
                    parsed = _parse_body(body)
                    if parsed[0] is None:
                        reason = parsed[1]
                    else:
                        choices, usage = parsed
                if choices is None:
                    samples = [{"key": k, "index": line.start + i, "status": "failed", "reason": reason,
                                "cause": reason.split(":")[0], "text": None, "finish_reason": None}
                               for i, k in enumerate(keys)]
                else:  # fewer choices than n: the rest stay not done and go into the next batch file
                    samples = [{"key": keys[i], "index": line.start + i, **c} for i, c in enumerate(choices[:line.n])]
                samples = [s for s in samples if s["key"] not in log.loaded.done]
                for s in samples:
                    name = {"ok": "samples_ok", "rejected": "samples_rejected"}.get(s["status"], "samples_failed")
                    counts[name] += 1
                log.append({"request_key": line.request_key, "model": line.model, "params": line.params,
                            "messages": line.messages, "meta": {"batch": batch_id, "custom_id": line.custom_id},
                            "status": "failed" if choices is None else "ok", "reason": reason, "n": line.n,
                            "attempts": 1, "faults": {}, "usage": usage, "latency_s": None, "time": now_iso(),
                            "samples": samples})
    fd = os.open(log_path, os.O_RDONLY)  # fsync flushes the file's data whichever descriptor asks
    try:
        os.fsync(fd)  # durable before the counts say so
    finally:
        os.close(fd)
    return counts


def collect(model: str, requests, log_path: str | os.PathLike):
    """The usable completions of `requests` that the log holds, as Engine.run returns them."""
    from augmath.engine.engine import Completion

    done = read_log(log_path).done if Path(log_path).is_file() else {}
    out = []
    for r in requests:
        rkey = request_key(model, r.messages, r.params)
        for i in range(r.n):
            key = sample_key(model, r.messages, r.params, i)
            entry = done.get(key)
            if entry is None or entry[0]["status"] != "ok":
                continue
            sample, call = entry
            out.append(Completion(key, rkey, i, sample["text"], sample.get("finish_reason"), model, r.params,
                                  r.meta, call.get("usage"), r.messages))
    return out


def add_import_arguments(parser) -> None:
    parser.add_argument("--import-batch-output", nargs="+", default=None, metavar="FILE",
                        help="(after INPUT) INPUT is a batch file written by `augmath augment "
                             "--batch-file-only`: append the results in these output / error files (OpenAI "
                             "Batch API or `vllm run-batch -o`) to --out, the run's request log; nothing is sent")


def run_import(args) -> int:
    import sys

    from augmath.engine.requestlog import RequestLogError

    try:
        counts = import_results(args.out, args.input, args.import_batch_output)
    except (OSError, RequestLogError) as exc:
        print(f"augmath generate: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(counts))
    return 0
