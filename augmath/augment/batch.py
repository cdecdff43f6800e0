"""An augment run through a provider's Batch API, or through batch files run elsewhere.

    augmath augment ... --model M --batch-file-only F.jsonl   # writes the next phase's calls; exit 3
    vllm run-batch -i F.jsonl -o OUT.jsonl --model M          # or the provider's Batch API, by hand
    augmath generate F.jsonl --import-batch-output OUT.jsonl --out RUN/requests.jsonl
    augmath augment ... (the same command)                    # resumes: the next phase, or the finished run

    augmath augment ... --base-url URL --model M --batch      # upload, create, poll, download, import: all of it

A run has two phases that depend on each other (queries, then the paths of the queries that came back), so a batch
covers one phase. BatchEngine stands in for the engine in augment (same run / stats / failures / model): it sends
only the samples the durable log RUN/requests.jsonl does not hold (augmath.engine.batchfile), and returns the
usable completions from that log, so everything after (parsing, verification, items) is the ordinary run.

--batch, with the openai client's files and batches endpoints: the input file is kept as RUN/batches/<n>.input.jsonl
and the batch's id is written to RUN/batches.json BEFORE polling, so a run cut while a batch is in flight (or stopped
by --batch-wait) resumes polling that batch on the next run instead of submitting it again. When the batch ends
(completed, expired, failed, cancelled) its output and error files are downloaded next to the input and imported;
lines that failed or expired are not done and go into the next submission, at most --batch-rounds per run.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from augmath.io import DataError, read_json_object, write_json_atomic

TERMINAL = ("completed", "failed", "expired", "cancelled")
WAITING_EXIT = 3  # augment's exit status while calls are out in a batch: run the same command again later


class BatchPending(Exception):
    """Calls are out in a batch (a file to run elsewhere, or a provider batch still running)."""


def add_batch_arguments(p) -> None:
    p.add_argument("--batch-file-only", default=None, metavar="F.jsonl",
                   help="write the calls the run still needs as an OpenAI Batch API / `vllm run-batch` input file "
                        "and stop (exit 3); import the results with `augmath generate F --import-batch-output`")
    p.add_argument("--batch", action="store_true",
                   help="send the calls through the endpoint's Batch API (files + batches), poll, import; a rerun "
                        "resumes a submitted batch")
    p.add_argument("--batch-poll", type=float, default=30.0, help="--batch: seconds between status checks")
    p.add_argument("--batch-wait", type=float, default=None,
                   help="--batch: stop waiting after this many seconds (exit 3; the rerun resumes the batch)")
    p.add_argument("--batch-rounds", type=int, default=3,
                   help="--batch: submissions per run for lines that failed or expired (default 3)")
    p.add_argument("--batch-window", default="24h", help="--batch: completion_window (the provider's; 24h)")


def check_batch_arguments(args) -> None:
    if args.batch and args.batch_file_only:
        raise DataError("--batch and --batch-file-only: choose one")
    if (args.batch or args.batch_file_only) and not (args.model or args.query_model or args.response_model):
        raise DataError("--batch/--batch-file-only need --model (the request keys name the model; no server is "
                        "asked which it serves)")
    if args.batch and not (args.base_url or args.query_base_url or args.response_base_url):
        raise DataError("--batch needs --base-url: the endpoint whose files/batches API runs the batch")


class BatchEngine:
    def __init__(self, args, out: Path, base_url: str | None, model: str):
        from augmath.engine.counters import RunStats

        self.args, self.out, self.base_url, self.model = args, out, base_url, model
        self.log_path = out / "requests.jsonl"
        self.stats = RunStats(model=model)
        self.failures: dict[str, str] = {}
        self.stopped = None  # the Engine's budget stop; a batch file is priced by `augment --plan`, not capped

    def run(self, requests) -> list:
        from augmath.engine.batchfile import collect, pending_lines, write_batch_file
        from augmath.engine.requestlog import read_log

        if self.args.batch:
            import openai

            from augmath.redaction import redact, redact_url

            try:
                self._run_batches(requests)
            except openai.APIError as exc:  # the batch id (if any) is recorded: the rerun resumes it
                raise BatchPending(f"the Batch API at {redact_url(self.base_url)} failed ("
                                   f"{redact(type(exc).__name__ + ': ' + str(exc).splitlines()[0][:200])}); "
                                   "run the same command again") from None
        loaded = read_log(self.log_path)
        lines = pending_lines(self.model, requests, loaded.done)
        self.stats.usage_in_log = dict(loaded.usage)
        self.stats.samples_wanted = sum(r.n for r in requests)
        if lines and self.args.batch_file_only:
            n = write_batch_file(self.args.batch_file_only, lines)
            raise BatchPending(
                f"wrote {n} calls ({sum(line.n for line in lines)} samples) to {self.args.batch_file_only}; run "
                f"them (the provider's Batch API, or `vllm run-batch -i {self.args.batch_file_only} -o OUT.jsonl "
                f"--model {self.model}`), then `augmath generate {self.args.batch_file_only} --import-batch-output "
                f"OUT.jsonl --out {self.log_path}` and run this command again")
        # calls a batch could not finish within --batch-rounds: augment exits 1, and a rerun asks again
        self.failures = {line.custom_id: "not done after the batch rounds of this run" for line in lines}
        return collect(self.model, requests, self.log_path)

    # --- --batch: the provider's files + batches endpoints ---

    def _state(self) -> dict:
        path = self.out / "batches.json"
        return read_json_object(path) if path.is_file() else {"batches": []}

    def _save(self, state: dict) -> None:
        write_json_atomic(self.out / "batches.json", state)

    def _run_batches(self, requests) -> None:
        import openai

        from augmath.engine.batchfile import import_results, pending_lines, write_batch_file
        from augmath.engine.requestlog import read_log

        client = openai.OpenAI(base_url=self.base_url, max_retries=3, timeout=120,
                               api_key=os.environ.get("OPENAI_API_KEY") or "sk-local-no-key")
        started, submitted = time.monotonic(), 0
        folder = self.out / "batches"
        folder.mkdir(exist_ok=True)
        while True:
            state = self._state()
            active = next((b for b in state["batches"] if not b.get("imported")), None)
            if active is None:
                lines = pending_lines(self.model, requests, read_log(self.log_path).done)
                if not lines or submitted >= self.args.batch_rounds:
                    return
                number = len(state["batches"])
                input_path = folder / f"{number}.input.jsonl"
                write_batch_file(input_path, lines)
                with open(input_path, "rb") as f:
                    uploaded = client.files.create(file=f, purpose="batch")
                batch = client.batches.create(input_file_id=uploaded.id, endpoint="/v1/chat/completions",
                                              completion_window=self.args.batch_window)
                active = {"id": batch.id, "input": input_path.name, "input_file_id": uploaded.id,
                          "lines": len(lines), "status": batch.status}
                state["batches"].append(active)
                self._save(state)  # recorded before any wait: a cut run resumes this batch
                submitted += 1
                print(f"augment: submitted batch {batch.id} ({len(lines)} calls)", file=sys.stderr)
            else:
                print(f"augment: resuming batch {active['id']} ({active['lines']} calls)", file=sys.stderr)
            batch = self._wait(client, active["id"], started)
            results = []
            for kind, file_id in (("output", batch.output_file_id), ("errors", batch.error_file_id)):
                if file_id:
                    path = folder / f"{Path(active['input']).stem.split('.')[0]}.{kind}.jsonl"
                    path.write_bytes(client.files.content(file_id).read())
                    results.append(path)
            counts = import_results(self.log_path, folder / active["input"], results, batch.id) if results else {}
            active.update(status=batch.status, imported=True, counts=counts,
                          request_counts=getattr(batch.request_counts, "model_dump", dict)())
            self._save(state)  # settled: a rerun does not poll it again
            if batch.status == "failed" and not results:
                errors = getattr(getattr(batch, "errors", None), "data", None) or []
                raise DataError(f"batch {batch.id} failed validation: "
                                f"{'; '.join(f'line {e.line}: {e.message}' for e in errors[:3]) or 'no detail'}")
            print(f"augment: batch {batch.id} {batch.status}: {json.dumps(counts)}", file=sys.stderr)

    def _wait(self, client, batch_id: str, started: float):
        while True:
            batch = client.batches.retrieve(batch_id)
            if batch.status in TERMINAL:
                return batch
            if self.args.batch_wait is not None and time.monotonic() - started > self.args.batch_wait:
                raise BatchPending(f"batch {batch_id} is {batch.status}; run the same command again to resume it")
            time.sleep(self.args.batch_poll)
