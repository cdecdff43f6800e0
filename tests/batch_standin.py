"""A loopback stand-in for an OpenAI-compatible provider's Files + Batch API (no provider is reachable here).

It follows the published API (platform.openai.com/docs/api-reference/batch, /files):
    POST /v1/files (multipart: purpose=batch, file)     -> File object {id, object: "file", bytes, purpose, ...}
    GET  /v1/files/{id}/content                         -> the file's bytes
    POST /v1/batches {input_file_id, endpoint, completion_window}  -> Batch object, status "validating"
    GET  /v1/batches/{id}                               -> Batch: validating -> in_progress -> completed | expired
Output file lines: {id, custom_id, response: {status_code, request_id, body}, error: null}; error file lines:
{id, custom_id, response: null | {status_code, ...}, error: {code, message}}; on expiry the unfinished lines are in
the error file with code "batch_expired" and the batch's status is "expired", as the docs describe.
Each line's body is answered by a real OpenAI-compatible server (`upstream`: the embedded llama-server), so the
completions are a real model's. Faults to inject: `expire_after` (the first batch finishes only its first K lines,
then expires), `fail_custom_ids` (those lines get a 500 in the error file), `fail_validation` (the batch fails
as a whole: status "failed", errors.data, no output file).
"""

from __future__ import annotations

import email.parser
import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class BatchStandIn:
    def __init__(self, upstream: str, expire_after: int | None = None, fail_custom_ids=(), slow_s: float = 0.0,
                 fail_validation: bool = False):
        self.upstream, self.expire_after, self.fail = upstream.rstrip("/"), expire_after, set(fail_custom_ids)
        self.fail_validation = fail_validation
        self.slow_s = slow_s
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, dict] = {}
        self.lines_per_batch: list[int] = []
        self.upstream_calls = 0
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    # --- the batch itself ---

    def _new_file(self, data: bytes, purpose: str, name: str) -> dict:
        with self._lock:
            fid = f"file-{len(self.files)}"
            self.files[fid] = data
        return {"id": fid, "object": "file", "bytes": len(data), "created_at": int(time.time()), "filename": name,
                "purpose": purpose, "status": "processed"}

    def _answer(self, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(f"{self.upstream}/chat/completions", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        with self._lock:
            self.upstream_calls += 1
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, json.loads(response.read())

    def _process(self, batch: dict) -> None:
        time.sleep(self.slow_s)
        if self.fail_validation:  # the whole file refused, as the API reports it: errors.data, no output file
            batch["errors"] = {"object": "list", "data": [
                {"code": "invalid_request", "line": 1, "message": "stand-in: model not available for batch",
                 "param": "body.model"}]}
            batch["status"], batch["failed_at"] = "failed", int(time.time())
            return
        lines = [json.loads(x) for x in self.files[batch["input_file_id"]].splitlines() if x.strip()]
        number = len(self.lines_per_batch)
        self.lines_per_batch.append(len(lines))
        batch["status"], batch["in_progress_at"] = "in_progress", int(time.time())
        batch["request_counts"]["total"] = len(lines)
        limit = self.expire_after if number == 0 and self.expire_after is not None else len(lines)
        out, err = [], []
        for i, line in enumerate(lines):
            rid = f"batch_req_{batch['id']}_{i}"
            if i >= limit:
                err.append({"id": rid, "custom_id": line["custom_id"], "response": None, "error": {
                    "code": "batch_expired",
                    "message": "This request could not be executed before the completion window expired."}})
                continue
            if line["custom_id"] in self.fail:
                err.append({"id": rid, "custom_id": line["custom_id"], "response": {
                    "status_code": 500, "request_id": rid, "body": {"error": {"message": "upstream error"}}},
                    "error": {"code": "server_error", "message": "upstream error"}})
                batch["request_counts"]["failed"] += 1
                continue
            status, body = self._answer(line["body"])
            out.append({"id": rid, "custom_id": line["custom_id"],
                        "response": {"status_code": status, "request_id": rid, "body": body}, "error": None})
            batch["request_counts"]["completed"] += 1
        jsonl = lambda rows: "".join(json.dumps(r) + "\n" for r in rows).encode()  # noqa: E731
        if out:
            batch["output_file_id"] = self._new_file(jsonl(out), "batch_output", "output.jsonl")["id"]
        if err:
            batch["error_file_id"] = self._new_file(jsonl(err), "batch_output", "errors.jsonl")["id"]
        expired = limit < len(lines)
        batch["status"] = "expired" if expired else "completed"
        batch["expired_at" if expired else "completed_at"] = int(time.time())

    def _create_batch(self, request: dict) -> dict:
        with self._lock:
            bid = f"batch_{len(self.batches)}"
            batch = self.batches[bid] = {
                "id": bid, "object": "batch", "endpoint": request["endpoint"], "errors": None,
                "input_file_id": request["input_file_id"], "completion_window": request["completion_window"],
                "status": "validating", "output_file_id": None, "error_file_id": None,
                "created_at": int(time.time()), "request_counts": {"total": 0, "completed": 0, "failed": 0}}
        threading.Thread(target=self._process, args=(batch,), daemon=True).start()
        return batch

    # --- HTTP ---

    def _handler(self):
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, payload, raw: bytes | None = None):
                data = raw if raw is not None else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/octet-stream" if raw is not None else "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.path == "/v1/files":
                    message = email.parser.BytesParser().parsebytes(
                        b"Content-Type: " + self.headers["Content-Type"].encode() + b"\r\n\r\n" + body)
                    parts = {p.get_param("name", header="content-disposition"): p for p in message.get_payload()}
                    file_part = parts["file"]
                    return self._send(200, standin._new_file(
                        file_part.get_payload(decode=True), parts["purpose"].get_payload(), file_part.get_filename()))
                if self.path == "/v1/batches":
                    return self._send(200, standin._create_batch(json.loads(body)))
                self._send(404, {"error": {"message": f"no route {self.path}"}})

            def do_GET(self):
                parts = self.path.strip("/").split("/")
                if parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content":
                    data = standin.files.get(parts[2])
                    return self._send(200, None, data) if data is not None else self._send(404, {"error": {}})
                if parts[:2] == ["v1", "batches"] and len(parts) == 3 and parts[2] in standin.batches:
                    return self._send(200, standin.batches[parts[2]])
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        return Handler
