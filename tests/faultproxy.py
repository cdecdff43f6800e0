"""A fault-injecting HTTP proxy for tests: sits in front of the REAL server and breaks some calls.

Every POST to .../chat/completions draws a fault with probability `rate` (seeded RNG), else is forwarded
unchanged to the upstream server. Faults:
    "429"      status 429 with Retry-After (the engine must wait and retry)
    "500"      status 500 with a JSON error body
    "timeout"  holds the request for `hang_s` seconds (longer than the client's timeout), never forwarded
    "garbage"  status 200 with a body that is not a chat completion (bad JSON / text / no choices)
    "drop"     closes the connection without answering
    "400"      status 400 (not retryable; only when asked for explicitly)
    "401"      status 401 whose message echoes the Authorization header, as careless servers do
`max_faults` caps how many faults are injected in all; `max_choices` trims every real answer to that many
choices (a server that ignores `n`). `injected` counts what was injected by kind, `forwarded` the answers
the server gave to a client still waiting, `client_gone` those the client had stopped waiting for (a
genuine timeout: the server was slower than the client's limit).
It is a fault injector only: every real answer comes from the upstream server.
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections import Counter

import aiohttp
from aiohttp import web

DEFAULT_KINDS = ("429", "500", "timeout", "garbage", "drop")
GARBAGE_BODIES = [
    (b'{"id": "x", "choices": [{"index": 0, "mess', "application/json"),  # truncated JSON
    (b"\xff\xfe not json at all \x00", "application/json"),                 # undecodable bytes
    (b"<html><body>502 Bad Gateway</body></html>", "text/html"),           # a proxy's error page
    (b'{"object": "chat.completion", "choices": []}', "application/json"),  # JSON without choices
]


class FaultProxy:
    def __init__(self, upstream: str, rate: float = 0.0, kinds=DEFAULT_KINDS, seed: int = 0,
                 hang_s: float = 6.0, retry_after: str = "0.2", max_faults: int | None = None,
                 max_choices: int | None = None):
        self.upstream = upstream.rstrip("/")
        if self.upstream.endswith("/v1"):
            self.upstream = self.upstream[: -len("/v1")]
        self.rate = rate
        self.kinds = tuple(kinds)
        self.hang_s = hang_s
        self.retry_after = retry_after
        self.rng = random.Random(seed)
        self.max_faults = max_faults
        self.max_choices = max_choices
        self.injected: Counter = Counter()
        self.forwarded = 0
        self.client_gone = 0
        self.port: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._garbage_turn = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _draw(self) -> str | None:
        if self.max_faults is not None and sum(self.injected.values()) >= self.max_faults:
            return None
        if self.rate > 0 and self.rng.random() < self.rate:
            return self.rng.choice(self.kinds)
        return None

    async def _fault(self, kind: str, request: web.Request) -> web.StreamResponse:
        if kind == "429":
            return web.json_response({"error": {"message": "rate limited (injected)", "type": "rate_limit"}},
                                     status=429, headers={"Retry-After": self.retry_after})
        if kind == "500":
            return web.json_response({"error": {"message": "internal error (injected)"}}, status=500)
        if kind == "400":
            return web.json_response({"error": {"message": "bad request (injected)"}}, status=400)
        if kind == "401":
            echoed = request.headers.get("Authorization", "")
            return web.json_response({"error": {"message": f"invalid credentials: {echoed}"}}, status=401)
        if kind == "timeout":
            await asyncio.sleep(self.hang_s)
            return web.json_response({"error": {"message": "too late (injected)"}}, status=504)
        if kind == "garbage":
            body, content_type = GARBAGE_BODIES[self._garbage_turn % len(GARBAGE_BODIES)]
            self._garbage_turn += 1
            return web.Response(status=200, body=body, headers={"Content-Type": content_type})
        if kind == "drop":
            request.transport.abort()  # the client sees the connection die mid-request
            return web.Response(status=500)
        raise ValueError(f"unknown fault kind {kind!r}")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        if request.method == "POST" and request.path.endswith("/chat/completions"):
            kind = self._draw()
            if kind is not None:
                self.injected[kind] += 1
                return await self._fault(kind, request)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "accept")}
        async with self._session.request(request.method, self.upstream + request.path_qs,
                                         data=body, headers=headers) as resp:
            data = await resp.read()
        if request.path.endswith("/chat/completions"):
            if request.transport is None or request.transport.is_closing():
                self.client_gone += 1
                return web.Response(status=499)
            self.forwarded += 1
            if self.max_choices is not None and resp.status == 200:
                answer = json.loads(data)
                answer["choices"] = answer["choices"][: self.max_choices]
                data = json.dumps(answer).encode()
        return web.Response(status=resp.status, body=data,
                            headers={"Content-Type": resp.headers.get("Content-Type", "application/json")})

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            await self._stop.wait()
        finally:
            await runner.cleanup()
            await self._session.close()

    def start(self) -> "FaultProxy":
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("fault proxy did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
            self._thread.join(10)
            self._loop.close()
            self._loop = None

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
