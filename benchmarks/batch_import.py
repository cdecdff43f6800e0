"""How long writing a batch file and importing its results takes (augmath.engine.batchfile), no server involved.

    python benchmarks/batch_import.py [--calls 20000] [--n 4]

Writes the batch JSONL for CALLS prompts of n samples, a synthetic output file in the OpenAI Batch API layout
(every choice usable), and imports it into a fresh request log; prints both times and the rates. A figure for
sizing a fleet-scale phase, not a comparison (no other tool imports into augmath's log)."""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from augmath.engine import Request
from augmath.engine.batchfile import import_results, pending_lines, write_batch_file


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--n", type=int, default=4)
    args = p.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="augmath-batch-bench-"))
    requests = [Request([{"role": "user", "content": f"Question {i}: what is {i} + {i}?"}], args.n,
                        {"temperature": 0.7, "max_tokens": 400}) for i in range(args.calls)]
    start = time.perf_counter()
    lines = pending_lines("m", requests, {})
    write_batch_file(folder / "in.jsonl", lines)
    written = time.perf_counter() - start
    with open(folder / "out.jsonl", "w") as f:
        for x in lines:
            body = {"id": "c", "object": "chat.completion", "created": 0, "model": "m", "choices": [
                {"index": j, "finish_reason": "stop",
                 "message": {"role": "assistant", "content": f"{j}: {j} + {j}. The answer is {2 * j}."}}
                for j in range(args.n)], "usage": {"prompt_tokens": 20, "completion_tokens": 40, "total_tokens": 60}}
            f.write(json.dumps({"id": "r", "custom_id": x.custom_id, "error": None,
                                "response": {"status_code": 200, "request_id": "r", "body": body}}) + "\n")
    start = time.perf_counter()
    counts = import_results(folder / "log.jsonl", folder / "in.jsonl", [folder / "out.jsonl"])
    imported = time.perf_counter() - start
    assert counts["samples_ok"] == args.calls * args.n, counts
    print(f"write {args.calls:,} lines: {written:.1f} s ({args.calls / written:,.0f} lines/s); "
          f"import: {imported:.1f} s ({args.calls / imported:,.0f} lines/s, "
          f"{args.calls * args.n / imported:,.0f} samples/s)")


if __name__ == "__main__":
    main()
