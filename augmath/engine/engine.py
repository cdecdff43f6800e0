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
"""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import openai

from augmath.engine.calls import RetryPolicy, build_kwargs, call_with_retries, describe
from augmath.engine.counters import Progress, RunStats
from augmath.engine.requestlog import LoadedLog, RequestLog, now_iso, request_key, sample_key
from augmath.redaction import redact_url

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

    def close(self) -> None:
        pass


class Engine:
    def __init__(
        self,
        base_url: str | None = None,
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
    ):
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or None
        key = api_key or os.environ.get("OPENAI_API_KEY")
        if not key:
            if self.base_url is None:
                raise ValueError("no API key: set OPENAI_API_KEY (or pass api_key), or point base_url at a local server")
            key = LOCAL_DUMMY_KEY
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
        self.stats = RunStats()
        self.failures: dict[str, str] = {}  # sample key -> reason, for samples still failed after this run
        self._n_supported: bool | None = None

    def __repr__(self) -> str:  # never show the key
        return f"Engine(base_url={redact_url(self.base_url)!r}, model={self.model!r}, concurrency={self.concurrency})"

    def run(self, requests) -> list[Completion]:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.arun(requests))
        raise RuntimeError("Engine.run() was called inside a running event loop; use `await engine.arun(...)`")

    async def arun(self, requests) -> list[Completion]:
        requests = [r if isinstance(r, Request) else Request(**r) for r in requests]
        client = openai.AsyncOpenAI(base_url=self.base_url, api_key=self._api_key, max_retries=0, timeout=self.timeout)
        log = None
        try:
            if not self.model:
                self.model = await self._discover_model(client)
            self.stats = RunStats(model=self.model)
            log = RequestLog(self.log_path, fsync=self.fsync).open() if self.log_path else _MemoryLog()
            self.stats.usage_in_log = dict(log.loaded.usage)
            jobs, per_request = self._plan(requests, log.loaded)
            pending = sum(len(job.pending) for job in jobs)
            progress = Progress(pending, self.progress, self.stats)
            self._t0 = asyncio.get_running_loop().time()
            try:
                await self._work(client, log, [job for job in jobs if job.pending], progress)
            finally:
                progress.close()
                self.stats.elapsed_s = asyncio.get_running_loop().time() - self._t0
            wanted = {key for job in jobs for key in job.keys}
            self.failures = {k: r for k, r in log.loaded.failed.items() if k in wanted}
            if self.progress:
                print(self.stats.format_summary(self.prices), file=sys.stderr)
            return self._collect(requests, per_request, log.loaded)
        finally:
            if log is not None:
                log.close()
            await client.close()

    async def _discover_model(self, client) -> str:
        """No model named: take the server's first (local servers serve one)."""
        try:
            models = await client.models.list()
        except openai.APIError as exc:
            raise ValueError(f"no model given and listing the models at {redact_url(self.base_url)} failed "
                             f"({describe(exc, self._api_key)}); pass the model name") from None
        ids = [m.id for m in models.data]
        if not ids:
            raise ValueError(f"no model given and the server at {redact_url(self.base_url)} lists none")
        return ids[0]

    def _plan(self, requests: list[Request], loaded: LoadedLog):
        jobs: dict[str, _Job] = {}
        per_request: list[tuple[str, list[str]]] = []
        for request in requests:
            rkey = request_key(self.model, request.messages, request.params)
            job = jobs.get(rkey)
            if job is None:
                job = jobs[rkey] = _Job(rkey, request.messages, request.params, request.meta, [], [])
            while len(job.keys) < request.n:  # identical prompts share samples; the larger n wins
                job.keys.append(sample_key(self.model, request.messages, request.params, len(job.keys)))
            per_request.append((rkey, job.keys[: request.n]))
        for job in jobs.values():
            job.pending = [i for i, key in enumerate(job.keys) if key not in loaded.done]
        self.stats.samples_wanted = sum(len(job.keys) for job in jobs.values())
        self.stats.samples_resumed = self.stats.samples_wanted - sum(len(job.pending) for job in jobs.values())
        return list(jobs.values()), per_request

    async def _work(self, client, log, jobs: list[_Job], progress: Progress) -> None:
        slots = asyncio.Semaphore(self.concurrency)
        queue = iter(jobs)

        async def worker():
            for job in queue:  # one event loop thread: next() on a shared iterator is safe
                await self._process(client, log, job, slots, progress)

        # More workers than slots, so a worker backing off does not leave a slot idle.
        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(len(jobs), 2 * self.concurrency)):
                    group.create_task(worker())
        except BaseExceptionGroup as group_error:  # e.g. the disk filled up: surface the error itself
            raise group_error.exceptions[0] from None

    async def _process(self, client, log, job: _Job, slots, progress) -> None:
        pending = list(job.pending)
        if len(pending) > 1 and self.use_n and self._n_supported is not False:
            size = self.max_n or len(pending)
            chunks = [pending[i:i + size] for i in range(0, len(pending), size)]
            rests = await asyncio.gather(*(self._n_call(client, log, job, chunk, slots, progress) for chunk in chunks))
            pending = [i for rest in rests for i in rest]

        async def single(index: int):
            result = await self._call(client, job, 1, index, slots, progress)
            await self._record(log, job, [index], result, 1, progress)

        await asyncio.gather(*(single(i) for i in pending))

    async def _n_call(self, client, log, job: _Job, chunk: list[int], slots, progress) -> list[int]:
        """Ask for the samples `chunk` in one call with n; returns the indices still to ask for singly."""
        if len(chunk) == 1 or self._n_supported is False:
            return chunk
        result = await self._call(client, job, len(chunk), chunk[0], slots, progress)
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

    async def _call(self, client, job: _Job, n: int, seed_offset: int, slots, progress):
        def on_fault(cause: str) -> None:
            self.stats.faults[cause] += 1
            progress.refresh()

        kwargs = build_kwargs(self.model, job.messages, job.params, n, seed_offset)
        return await call_with_retries(lambda: client.chat.completions.create(**kwargs, timeout=self.timeout),
                                       self.policy, slots, self._api_key, on_fault)

    async def _record(self, log, job: _Job, indices: list[int], result, asked: int, progress) -> None:
        if result.error is None:
            samples = [{"key": job.keys[i], "index": i, **choice} for i, choice in zip(indices, result.choices)]
        else:
            samples = [{"key": job.keys[i], "index": i, "status": "failed", "reason": result.error,
                        "cause": result.cause, "text": None, "finish_reason": None} for i in indices]
        call = {
            "request_key": job.request_key, "model": self.model, "params": job.params,
            "messages": job.messages if self.store_messages else None, "meta": job.meta,
            "status": "ok" if result.error is None else "failed", "reason": result.error, "n": asked,
            "attempts": result.attempts, "faults": result.faults, "usage": result.usage,
            "latency_s": round(result.latency_s, 3), "time": now_iso(), "samples": samples,
        }
        await log.append_async(call)  # a sample counts as done only once its line is fsync'd
        self.stats.record_call(result, samples)
        progress.update(len(samples))

    def _collect(self, requests, per_request, loaded: LoadedLog) -> list[Completion]:
        out = []
        for request, (rkey, keys) in zip(requests, per_request):
            for index, key in enumerate(keys):
                entry = loaded.done.get(key)
                if entry is None or entry[0]["status"] != "ok":
                    continue
                sample, call = entry
                out.append(Completion(key, rkey, index, sample["text"], sample.get("finish_reason"), self.model,
                                      request.params, request.meta, call.get("usage"), request.messages))
        return out
