"""`augmath generate IN.jsonl --out LOG.jsonl`: run the engine over a JSONL of requests, resumably.

Each input line: {"messages": [...], "n": 1, "params": {...}, "meta": {...}} (n, params, meta optional;
--params gives defaults that a row's own params override). The log is the engine's durable request log;
running the same command again sends only what is missing. --results writes the usable completions as
JSONL (key, request_key, index, text, finish_reason, meta) once the run is over. The JSON summary is
printed on stdout. Exit status: 0 all done, 1 some samples failed (re-run to retry them), 2 bad input.
Every row is checked before any call: n from 1 to 128 (OpenAI's own cap for one request; more samples of one
prompt are several rows), message roles and string content, the types and ranges of the well-known params
(augmath.engine.engine.PARAM_TYPES); an input without any request is refused.
The input is read twice as a stream (checked, then run), never held whole, and --results is written from the
log as a stream, so memory stays bounded by --concurrency whatever the run's size (docs/engine.md).
--base-url takes several endpoints of one model (comma-separated or repeated; augmath.engine.pool);
--budget-tokens / --budget-usd stop the run before the call that would cross them (augmath.engine.budget).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os

from augmath.engine.batchfile import add_import_arguments, run_import
from augmath.engine.budget import add_budget_arguments, budget_from_args
from augmath.errors import UserError
from augmath.io import DataError, decode_utf8, from_json, read_json_object, read_jsonl_numbered, write_jsonl_atomic
from augmath.options import POSITIVE, SECONDS
from augmath.urls import parse_base_url_list


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", help="JSONL of requests: {messages, n?, params?, meta?} per line")
    parser.add_argument("--out", required=True, help="the durable request log (JSONL; re-running resumes it)")
    parser.add_argument("--results", default=None, help="also write the usable completions here (JSONL)")
    parser.add_argument("--base-url", action="append", type=parse_base_url_list, default=None,
                        help="OpenAI-compatible endpoint (default: $OPENAI_BASE_URL); several serving one model: "
                             "comma-separated or repeated, each call goes to the least-loaded live one")
    parser.add_argument("--api-key", default=None,
                        help="API key (default: $OPENAI_API_KEY; prefer the variable, arguments show up in ps)")
    parser.add_argument("--model", default=None, help="model name (default: the server's first model)")
    parser.add_argument("--embedded", action="store_true",
                        help="start the embedded llama-server for this run (ignores --base-url)")
    parser.add_argument("--concurrency", type=POSITIVE, default=8, help="API calls in flight (default: 8)")
    parser.add_argument("--params", default=None, help='default sampling params as JSON, e.g. \'{"temperature": 0.7}\'')
    parser.add_argument("--timeout", type=SECONDS, default=120.0, help="seconds per API call attempt")
    parser.add_argument("--max-attempts", type=POSITIVE, default=6,
                        help="attempts per call before it is recorded failed")
    parser.add_argument("--no-n", action="store_true", help="never ask for n>1 in one call")
    parser.add_argument("--max-n", type=POSITIVE, default=None,
                        help="most samples asked in one call (default: all of a request's; --embedded: its slots)")
    parser.add_argument("--prices", default=None,
                        help='JSON file {model: {"input": USD per 1M tokens, "output": USD per 1M tokens}}')
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_budget_arguments(parser)
    add_import_arguments(parser)  # --import-batch-output (augmath.engine.batchfile)


class GenerateError(UserError):
    """Bad requests, --params or --prices, an unusable endpoint or request log: one line, exit 2."""


def _numbered_rows(path):
    """("FILE:LINE", object) per line, streamed from disk (.gz files go through augmath.io whole)."""
    if str(path).endswith(".gz"):
        yield from read_jsonl_numbered(path)
        return
    with open(path, "rb") as handle:
        for i, raw in enumerate(handle, start=1):
            line = decode_utf8(raw, path, i)
            if not line.strip():
                continue
            obj = from_json(line, path, i)  # NaN, too deep, invalid: one DataError naming the line (augmath.io)
            if not isinstance(obj, dict):
                raise DataError(f"{path}:{i}: expected a JSON object, got {type(obj).__name__}")
            yield f"{path}:{i}", obj


def _parse_rows(path, default_params):
    from augmath.engine.engine import Request, validate_request

    for where, row in _numbered_rows(path):
        unknown = set(row) - {"messages", "n", "params", "meta"}
        if unknown:
            raise ValueError(f"{where}: unknown field(s) {sorted(unknown)}; allowed: messages, n, params, meta")
        params = {**(default_params or {}), **(row.get("params") or {})}
        n, meta = row.get("n", 1), row.get("meta", {})
        validate_request(row.get("messages"), n, params, meta, where)
        yield Request(messages=row["messages"], n=n, params=params, meta=meta)


def stream_requests(path: str | os.PathLike, default_params: dict | None = None):
    """Check every row now (a bad one raises naming FILE:LINE; an empty input is refused), keeping none; return
    a callable that reads them again as a stream, which the engine walks to plan and then to collect."""
    count = sum(1 for _ in _parse_rows(path, default_params))
    if not count:
        raise ValueError(f"{path}: no requests (the file is empty)")
    return lambda: _parse_rows(path, default_params)


def read_requests(path: str | os.PathLike, default_params: dict | None = None):
    requests = list(_parse_rows(path, default_params))
    if not requests:
        raise ValueError(f"{path}: no requests (the file is empty)")
    return requests


def write_results(path: str | os.PathLike, completions) -> None:
    write_jsonl_atomic(path, ({"key": c.key, "request_key": c.request_key, "index": c.index, "text": c.text,
                               "finish_reason": c.finish_reason, "model": c.model, "meta": c.meta}
                              for c in completions))


def run(args: argparse.Namespace) -> int:
    from augmath.engine.engine import Engine
    from augmath.engine.requestlog import RequestLogError

    if args.import_batch_output:
        return run_import(args)
    try:
        default_params = json.loads(args.params) if args.params else None
        if default_params is not None and not isinstance(default_params, dict):
            raise ValueError("--params must be a JSON object")
        requests = stream_requests(args.input, default_params)
        prices = read_json_object(args.prices) if args.prices else None
        budget = budget_from_args(args)
    except (OSError, ValueError) as exc:
        if isinstance(exc, (UserError, FileNotFoundError)):
            raise
        raise GenerateError(str(exc)) from None

    with contextlib.ExitStack() as stack:
        base_url, model, max_n = args.base_url, args.model, args.max_n
        if args.embedded:
            from augmath.engine.server import EmbeddedServer

            server = stack.enter_context(EmbeddedServer(parallel=max(1, min(args.concurrency, 16))))
            base_url, model, max_n = server.base_url, model or server.model, max_n or server.parallel
        try:
            engine = Engine(base_url=base_url, api_key=args.api_key, model=model, concurrency=args.concurrency,
                            log_path=args.out, timeout=args.timeout, max_attempts=args.max_attempts,
                            use_n=not args.no_n, max_n=max_n, prices=prices, progress=not args.no_progress,
                            budget=budget)
            engine.run(requests, collect=False)
        except (ValueError, RequestLogError) as exc:
            raise GenerateError(str(exc)) from None
        try:
            if args.results:
                write_results(args.results, engine.completions(requests))
        finally:
            engine.close()
    summary = engine.stats.summary(prices)
    summary["samples_still_failed"] = len(engine.failures)
    summary["samples_not_asked"] = engine.unsent
    print(json.dumps(summary))
    return 1 if engine.failures or engine.stopped else 0
