"""The generation engine: resumable, fault-tolerant sampling from any OpenAI-compatible endpoint.

    engine = Engine(base_url=server.base_url, model=server.model, concurrency=8, log_path="run/requests.jsonl")
    completions = engine.run([Request(messages=[{"role": "user", "content": "2+2?"}], n=4,
                                      params={"temperature": 0.8, "max_tokens": 128, "seed": 1},
                                      meta={"id": "gsm8k/train/0"})])

- Each sample has a stable key sha256(model, messages, params, sample index); the log (augmath.engine.requestlog)
  records every finished call durably, and running the same requests again sends only what is missing.
- `n > 1` is asked in one call; when the server returns fewer choices (llama-cpp-python, transformers
  serve) the engine asks for the rest separately and stops using `n` for the rest of the run.
- Usable completions come back; empty / cut-off (finish_reason "length") / malformed ones are recorded
  and counted by reason in `engine.stats`, never returned. Calls that exhaust their retries are recorded
  as failed (with the reason) and asked again by the next run.
- The API key comes from the argument or OPENAI_API_KEY and is never written anywhere.
- Calls go out through augmath.engine.wire (aiohttp, the JSON body as is), not the openai SDK, whose per-call
  CPU cost capped a process at ~150 calls/s (docs/engine.md, benchmarks/generation.py --instant).
- Memory is bounded by concurrency, not run size: requests are planned as a stream (at most ~2x concurrency
  jobs exist at once), the open log keeps only an offset per done sample, and completions are read back
  from the log (`run(collect=False)` + `completions(requests)` streams them; `run()` returns the list).
- Several base URLs (a list, or "URL1,URL2"): augmath.engine.pool sends each call to the least-loaded live
  endpoint and takes a failing one out until it answers again. A Budget (augmath.engine.budget) stops the
  run before the call that would cross it; a rerun with a raised budget goes on from there.
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from augmath.engine.budget import Budget
from augmath.engine.calls import MalformedResponse, RetryPolicy, build_payload, call_with_retries, describe, read_payload
from augmath.engine.pool import EndpointPool, parse_base_urls
from augmath.engine.counters import Progress, RunStats
from augmath.engine.requestlog import LoadedLog, RequestLog, now_iso, request_keys
from augmath.redaction import redact_url

OPENAI_URL = "https://api.openai.com/v1"  # the SDK's default endpoint, when no base URL is given
LOCAL_DUMMY_KEY = "sk-local-no-key"  # local servers need *a* key for the client; they ignore it
_RETRIED_4XX = {"http_408", "http_409", "http_429"}


@dataclass(frozen=True)
class Request:
    messages: list[dict]
    n: int = 1
    params: dict = field(default_factory=dict)  # temperature, top_p, max_tokens, seed, stop, top_k, ...
    meta: dict = field(default_factory=dict)    # carried to the completions; not part of the key

    def __post_init__(self):
        validate_request(self.messages, self.n, self.params, self.meta)


@dataclass(frozen=True)
class Completion:
    key: str             # sample key: sha256(model, messages, params, index)
    request_key: str     # sha256(model, messages, params)
    index: int           # sample index within the request, 0..n-1
    text: str
    finish_reason: str | None
    model: str
    params: dict
    meta: dict
    usage: dict | None   # usage of the API call that produced it (shared by the choices of one n>1 call)
    messages: list[dict]


# Checked here, not by a 400 from the server: n is capped at OpenAI's own limit for one request (128; ask for more
# samples of a prompt as several requests), message roles/content and the well-known sampling params are typed.
MAX_SAMPLES_PER_REQUEST = 128
ROLES = ("system", "developer", "user", "assistant", "tool")
_NUM = (int, float)
PARAM_TYPES = {  # name -> (types, (low, high) or None); other params pass through to the server unchecked
    "temperature": (_NUM, (0, 2)), "top_p": (_NUM, (0, 1)), "max_tokens": (int, (1, None)),
    "max_completion_tokens": (int, (1, None)), "seed": (int, None), "presence_penalty": (_NUM, (-2, 2)),
    "frequency_penalty": (_NUM, (-2, 2)), "top_k": (int, (0, None)), "min_p": (_NUM, (0, 1)),
    "logprobs": (bool, None), "top_logprobs": (int, (0, 20)), "stop": ((str, list), None),
}


def validate_request(messages, n, params, meta, where: str = "request") -> None:
    if not isinstance(messages, list) or not messages:
        raise ValueError(f"{where}: field 'messages' must be a non-empty list of {{role, content}} objects")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str) or "content" not in message:
            raise ValueError(f"{where}: field 'messages[{i}]' must be an object with 'role' and 'content'")
        if message["role"] not in ROLES:
            raise ValueError(f"{where}: field 'messages[{i}].role' is {message['role']!r}; valid: {', '.join(ROLES)}")
        content = message["content"]
        if not (isinstance(content, str) or (isinstance(content, list) and all(
                isinstance(part, dict) and isinstance(part.get("type"), str) for part in content))):
            raise ValueError(f"{where}: field 'messages[{i}].content' must be a string (or a list of "
                             f"{{type, ...}} parts), got {type(content).__name__}")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_SAMPLES_PER_REQUEST:
        raise ValueError(f"{where}: field 'n' must be an integer from 1 to {MAX_SAMPLES_PER_REQUEST}, got {n!r}")
    if not isinstance(params, dict):
        raise ValueError(f"{where}: field 'params' must be an object, got {type(params).__name__}")
    if "n" in params or "model" in params or "messages" in params:
        raise ValueError(f"{where}: field 'params' must not set n/model/messages (use the request's own fields)")
    for name, value in params.items():
        types, bounds = PARAM_TYPES.get(name, (object, None))
        if value is None:
            continue
        if not isinstance(value, types) or (isinstance(value, bool) and types is not bool):
            raise ValueError(f"{where}: field 'params.{name}' has the wrong type ({type(value).__name__}: {value!r})")
        if bounds and not ((bounds[0] is None or value >= bounds[0]) and (bounds[1] is None or value <= bounds[1])):
            raise ValueError(f"{where}: field 'params.{name}' is {value!r}, outside "
                             f"[{bounds[0]}, {'inf' if bounds[1] is None else bounds[1]}]")
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: field 'meta' must be an object, got {type(meta).__name__}")


@dataclass
class _Job:
    """One distinct (messages, params) prompt and the sample indices it still needs."""

    request_key: str
    messages: list[dict]
    params: dict
    meta: dict
    keys: list[str]
    pending: list[int]


class _MemoryLog:
    """Stand-in for RequestLog when no log_path is given: same interface, nothing durable."""

    def __init__(self):
        self.loaded = LoadedLog()

    async def append_async(self, call: dict) -> None:
        self.loaded.add_usage(call.get("usage"))
        for sample in call["samples"]:
            if sample["status"] in ("ok", "rejected"):
                self.loaded.done.setdefault(sample["key"], (sample, call))
                self.loaded.failed.pop(sample["key"], None)
            elif sample["key"] not in self.loaded.done:
                self.loaded.failed[sample["key"]] = sample["reason"]

    def entry(self, key: str):
        return self.loaded.done.get(key)

    def close(self) -> None:
        pass


class _DiskEntries:
    """Reads done samples back from a closed log by the offsets its index kept (for completions())."""

    def __init__(self, log: RequestLog):
        self.done = log.loaded.done
        self._log = log  # closed: line_at opens a reader of its own

    def entry(self, key: str):
        offset = self.done.get(key)
        if offset is None:
            return None
        if offset != getattr(self, "_cached_offset", None):  # the samples of one n call share a line
            self._cached = self._log.line_at(offset)
            self._cached_offset = offset
        call = self._cached
        sample = next(s for s in call["samples"] if s["key"] == key)
        return sample, call

    def close(self) -> None:
        self._log.close()


def _reusable(requests):
    """Requests as something we can walk twice (plan, then collect): a list, or a callable giving an iterator."""
    if callable(requests):
        return lambda: (r if isinstance(r, Request) else Request(**r) for r in requests())
    requests = [r if isinstance(r, Request) else Request(**r) for r in requests]  # dicts are checked now
    return lambda: iter(requests)


class _Keyed:
    """(request, (request key, sample keys)) for each request, walk after walk. A list's keys are computed once and
    kept beside it (the list is in memory anyway); a stream's are computed on each walk (nothing held)."""

    def __init__(self, requests, keys_of):
        self.listed = not callable(requests)  # a list, or an iterable made one by _reusable
        self.requests = _reusable(requests)
        self.keys_of = keys_of
        self._keys = None

    def __call__(self):
        if not self.listed:
            return ((r, self.keys_of(r)) for r in self.requests())
        if self._keys is None:
            self._keys = [self.keys_of(r) for r in self.requests()]
        return zip(self.requests(), self._keys)


class Engine:
    def __init__(
        self,
        base_url: str | list[str] | None = None,
        api_key: str | None = None,
        model: str | None = None,
        concurrency: int = 8,
        log_path: str | os.PathLike | None = None,
        timeout: float = 120.0,
        max_attempts: int = 6,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        use_n: bool = True,
        max_n: int | None = None,
        prices: dict | None = None,
        progress: bool | None = None,
        store_messages: bool = True,
        fsync: bool = True,
        budget: Budget | None = None,
        probe_interval: float = 1.0,
    ):
        self.base_urls = parse_base_urls(base_url or os.environ.get("OPENAI_BASE_URL") or None)
        self.base_url = self.base_urls[0] if self.base_urls else None
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url is None:
                raise ValueError("no API key: set OPENAI_API_KEY (or pass api_key), or point base_url at a local server")
            key = LOCAL_DUMMY_KEY
        if self.base_url is None:
            self.base_urls = [OPENAI_URL]
        self._api_key = key  # kept in memory only; redacted from every error we record
        self.model = model
        if concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {concurrency}")
        self.concurrency = concurrency
        self.log_path = Path(log_path) if log_path else None
        self.timeout = timeout
        self.policy = RetryPolicy(max_attempts=max_attempts, base_delay=base_delay, max_delay=max_delay)
        self.use_n = use_n
        self.max_n = max_n  # most choices asked in one call (llama-server: at most its --parallel slots)
        self.prices = prices
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.store_messages = store_messages
        self.fsync = fsync
        self.budget = budget
        self.probe_interval = probe_interval
        self.stats = RunStats()
        self.failures: dict[str, str] = {}  # sample key -> reason, for samples still failed after this run
        self.stopped: str | None = None     # why the run stopped before asking everything (the budget), if it did
        self.unsent = 0                     # samples not asked because of that stop
        self._n_supported: bool | None = None
        self._entries = None

    def __repr__(self) -> str:  # never show the key
        urls = ",".join(redact_url(u) for u in self.base_urls)
        return f"Engine(base_url={urls!r}, model={self.model!r}, concurrency={self.concurrency})"

    def run(self, requests, collect: bool = True) -> list[Completion]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun(requests, collect))
        raise RuntimeError("Engine.run() was called inside a running event loop; use `await engine.arun(...)`")

    async def arun(self, requests, collect: bool = True) -> list[Completion]:
        """Send what the log lacks; return the usable completions (collect=False: none; see completions())."""
        pool = EndpointPool(self.base_urls, self._api_key, self.timeout, self.concurrency, self.probe_interval)
        log = None
        try:
            if not self.model:
                self.model = await self._discover_model(pool)
            self.stats = RunStats(model=self.model)
            keyed = _Keyed(requests, self._keys)  # keys depend on the model: made once it is known
            self.stopped, self.unsent, self.failures = None, 0, {}
            if self.budget is not None and self.budget.active:
                self.budget.resolve_prices(self.model, self.prices)  # before the log is opened or created
            log = RequestLog(self.log_path, fsync=self.fsync).open() if self.log_path else _MemoryLog()
            self.stats.usage_in_log = dict(log.loaded.usage)
            pending = self._count(keyed(), log.loaded)
            if self.budget is not None and self.budget.active:
                self.budget.start(log.loaded.usage)
            progress = Progress(pending, self.progress, self.stats)
            self._t0 = asyncio.get_running_loop().time()
            try:
                await self._work(pool, log, keyed(), progress)
            finally:
                progress.close()
                self.stats.elapsed_s = asyncio.get_running_loop().time() - self._t0
                self.stats.endpoints = pool.summary()
                self.stats.retried_elsewhere = pool.retried_elsewhere
            self.failures = {k: r for k, r in self._failed.items() if k not in log.loaded.done}
            if self.stopped:
                recorded = self.stats.samples_ok + sum(self.stats.samples_rejected.values()) + sum(
                    self.stats.samples_failed.values())
                self.unsent = max(0, pending - recorded)
                self.stopped = self.budget.stop_line(self.unsent, self.stats.samples_wanted)
                self.stats.budget_stop = self.stopped
            if self.progress:
                print(self.stats.format_summary(self.prices), file=sys.stderr)
            if self.stopped:
                print(f"generate: {self.stopped}", file=sys.stderr)
            log.close()  # the lock goes now; the index stays, to read completions back by offset
            self._entries = _DiskEntries(log) if self.log_path else log
            if not collect:
                return []
            try:
                return list(self._completions(keyed))
            finally:
                self.close()
        finally:
            if log is not None:
                log.close()
            await pool.close()

    async def _discover_model(self, pool) -> str:
        """No model named: take the server's first (local servers serve one)."""
        try:
            ids = await pool.models()
        except Exception as exc:  # transport, status and body errors alike: one clear line
            raise ValueError(f"no model given and listing the models at {redact_url(self.base_url)} failed "
                             f"({describe(exc, self._api_key)}); pass the model name") from None
        if not ids:
            raise ValueError(f"no model given and the server at {redact_url(self.base_url)} lists none")
        return ids[0]

    def _keys(self, request: Request) -> tuple[str, list[str]]:
        return request_keys(self.model, request.messages, request.params, request.n)

    def _count(self, requests, loaded) -> int:
        """Samples wanted / resumed / pending, distinct (identical prompts share samples; the larger n wins).
        Streams the requests; what it holds meanwhile is 16 bytes + an int per distinct prompt."""
        counted: dict[bytes, int] = {}
        wanted = pending = 0
        for request, (rkey, keys) in requests:
            rkey = bytes.fromhex(rkey)[:16]
            have = counted.get(rkey, 0)
            if request.n > have:
                counted[rkey] = request.n
                wanted += request.n - have
                pending += sum(key not in loaded.done for key in keys[have:])
        self.stats.samples_wanted, self.stats.samples_resumed = wanted, wanted - pending
        return pending

    async def _work(self, pool, log, requests, progress: Progress) -> None:
        """A producer plans jobs one request at a time into a bounded queue; workers take them."""
        queue: asyncio.Queue = asyncio.Queue(maxsize=2 * self.concurrency)
        slots = asyncio.Semaphore(self.concurrency)
        self._failed: dict[str, str] = {}
        inflight: set[str] = set()  # sample keys planned and not yet recorded (dedup within the run)
        workers = 2 * self.concurrency  # more workers than slots, so one backing off leaves no slot idle

        async def produce():
            for request, (rkey, keys) in requests:
                if self.stopped:
                    break
                todo = [i for i, k in enumerate(keys) if k not in log.loaded.done and k not in inflight
                        and k not in self._failed]
                if todo:
                    inflight.update(keys[i] for i in todo)
                    await queue.put(_Job(rkey, request.messages, request.params, request.meta, keys, todo))
            for _ in range(workers):
                await queue.put(None)

        async def worker():
            while (job := await queue.get()) is not None:
                if not self.stopped:  # budget reached: what is still queued is not asked
                    await self._process(pool, log, job, slots, progress)
                inflight.difference_update(job.keys[i] for i in job.pending)

        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(produce())
                for _ in range(workers):
                    group.create_task(worker())
        except BaseExceptionGroup as group_error:  # e.g. the disk filled up: surface the error itself
            raise group_error.exceptions[0] from None

    async def _process(self, pool, log, job: _Job, slots, progress) -> None:
        pending = list(job.pending)
        if len(pending) > 1 and self.use_n and self._n_supported is not False:
            size = self.max_n or len(pending)
            chunks = [pending[i:i + size] for i in range(0, len(pending), size)]
            rests = await asyncio.gather(*(self._n_call(pool, log, job, chunk, slots, progress) for chunk in chunks))
            pending = [i for rest in rests for i in rest]
        if len(pending) == 1:  # the common case: no gather, no extra task
            await self._single(pool, log, job, pending[0], slots, progress)
        elif pending:
            await asyncio.gather(*(self._single(pool, log, job, i, slots, progress) for i in pending))

    async def _single(self, pool, log, job: _Job, index: int, slots, progress) -> None:
        result = await self._call(pool, job, 1, index, slots, progress)
        if result is not None:
            await self._record(log, job, [index], result, 1, progress)

    async def _n_call(self, pool, log, job: _Job, chunk: list[int], slots, progress) -> list[int]:
        """Ask for the samples `chunk` in one call with n; returns the indices still to ask for singly."""
        if len(chunk) == 1 or self._n_supported is False:
            return chunk
        result = await self._call(pool, job, len(chunk), chunk[0], slots, progress)
        if result is None:  # the budget stopped it
            return []
        if result.error is None:
            got = result.choices[: len(chunk)]
            await self._record(log, job, chunk[: len(got)], result, len(chunk), progress)
            if len(got) == len(chunk):
                self._n_supported = True
                return []
            self._n_supported = False  # this server ignores n: ask separately from now on
            self.stats.n_fallbacks += 1
            return chunk[len(got):]
        if (result.cause or "").startswith("http_4") and result.cause not in _RETRIED_4XX:
            # A client error on an n>1 call (e.g. llama-server refuses n > its slots): perhaps n itself
            # is the problem, so ask singly; a real client error will fail those calls too and be recorded.
            self._n_supported = False
            self.stats.n_fallbacks += 1
            return chunk
        await self._record(log, job, chunk, result, len(chunk), progress)
        return []

    async def _call(self, pool, job: _Job, n: int, seed_offset: int, slots, progress):
        """One call with retries; None when the budget does not allow it (the samples stay unsent)."""
        def on_fault(cause: str) -> None:
            self.stats.faults[cause] += 1
            progress.refresh()

        payload = build_payload(self.model, job.messages, job.params, n, seed_offset)
        reservation = None
        if self.budget is not None and self.budget.active:
            if self.stopped or (reservation := await self.budget.reserve(payload, n)) is None:
                self.stopped = self.stopped or "budget"
                return None
        result = None
        try:
            result = await call_with_retries(lambda: pool.chat(payload, self.timeout), self.policy, slots,
                                             self._api_key, on_fault, read=read_payload)
        finally:
            if reservation is not None:
                self.budget.settle(reservation, result.usage if result is not None else None)
        return result

    async def _record(self, log, job: _Job, indices: list[int], result, asked: int, progress) -> None:
        if result.error is None:
            samples = [{"key": job.keys[i], "index": i, **choice} for i, choice in zip(indices, result.choices)]
        else:
            samples = [{"key": job.keys[i], "index": i, "status": "failed", "reason": result.error,
                        "cause": result.cause, "text": None, "finish_reason": None} for i in indices]
            for sample in samples:
                self._failed[sample["key"]] = result.error
        call = {
            "request_key": job.request_key, "model": self.model, "params": job.params,
            "messages": job.messages if self.store_messages else None, "meta": job.meta,
            "status": "ok" if result.error is None else "failed", "reason": result.error, "n": asked,
            "attempts": result.attempts, "faults": result.faults, "usage": result.usage,
            "latency_s": round(result.latency_s, 3), "time": now_iso(), "samples": samples,
        }
        await log.append_async(call)  # a sample counts as done only once an fsync covers its line
        self.stats.record_call(result, samples)
        progress.update(len(samples))

    def completions(self, requests):
        """The usable completions of `requests` after run(), in request order, read back from the log."""
        return self._completions(_Keyed(requests, self._keys))

    def _completions(self, keyed: _Keyed):
        entries = self._entries
        if entries is None:
            raise RuntimeError("completions() comes after run()")
        for request, (rkey, keys) in keyed():
            for index, key in enumerate(keys):
                entry = entries.entry(key)
                if entry is None or entry[0]["status"] != "ok":
                    continue
                sample, call = entry
                yield Completion(key, rkey, index, sample["text"], sample.get("finish_reason"), self.model,
                                 request.params, request.meta, call.get("usage"), request.messages)

    def close(self) -> None:
        """Close the file completions() reads (run() with collect=True does it itself)."""
        if self._entries is not None:
            self._entries.close()
