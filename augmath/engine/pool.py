"""Several endpoints serving one model: each call goes to the least-loaded live one; a dead one is taken out.

    --base-url http://gpu1:8000/v1,http://gpu2:8000/v1      (or repeated, or a YAML list)

Least-loaded = fewest calls in flight (ties go round-robin, so a light load still spreads). An endpoint whose
attempt fails at the transport (connection refused or cut, timeout) or with a 5xx other than a rate limit is
taken out of the rotation: the failed attempt is retried by the engine's usual policy, on another endpoint,
and counted (`retried_elsewhere`, and per endpoint `failures`). A probe then asks the endpoint's GET /models
every `probe_interval` seconds and puts it back as soon as it answers. When every endpoint is out, calls go
to all of them anyway (each fails fast and backs off), so a fleet that comes back is used at once.
Nothing here touches the log: a finished call is recorded once, whichever endpoint answered it, so an
endpoint dying never makes the engine pay twice for what had finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools

from augmath.engine.calls import HTTPStatusError, TransportError, TransportTimeout
from augmath.engine.wire import WireClient, split_base_url
from augmath.redaction import redact_url
from augmath.urls import split_base_urls

_STAYS_IN = {429, 408, 409}  # the endpoint is alive and asked us to slow down or retry: keep it


def parse_base_urls(value) -> list[str]:
    """"URL", "URL1,URL2", or a list of those -> the URLs, each checked (a clear ValueError if not a URL)."""
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    urls = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"base URL must be a string, got {type(item).__name__}")
        for url in split_base_urls(item):
            split_base_url(url)  # raises ValueError on a malformed one
            urls.append(url)
    if items and not urls:
        raise ValueError("base URL is empty")
    if len(set(urls)) != len(urls):
        raise ValueError(f"base URL listed twice: {', '.join(redact_url(u) for u in urls)}")
    return urls


class Endpoint:
    def __init__(self, url: str, client: WireClient):
        self.url, self.client = url, client
        self.inflight = 0
        self.up = True
        self.calls = self.failures = self.taken_out = self.put_back = 0
        self.probe: asyncio.Task | None = None

    def summary(self) -> dict:
        return {"url": redact_url(self.url), "calls": self.calls, "failures": self.failures,
                "taken_out": self.taken_out, "put_back": self.put_back, "up": self.up}


class EndpointPool:
    def __init__(self, urls: list[str], api_key: str, timeout: float, limit: int, probe_interval: float = 1.0):
        self.endpoints = [Endpoint(url, WireClient(url, api_key, timeout, limit)) for url in urls]
        self.probe_interval = probe_interval
        self.retried_elsewhere = 0  # failed attempts whose endpoint was taken out (the retry goes elsewhere)
        self._turn = itertools.count()

    def _pick(self) -> Endpoint:
        if len(self.endpoints) == 1:
            return self.endpoints[0]
        live = [e for e in self.endpoints if e.up] or self.endpoints
        start = next(self._turn) % len(live)
        rotated = live[start:] + live[:start]
        return min(rotated, key=lambda e: e.inflight)

    async def chat(self, payload: dict, timeout: float | None = None) -> dict:
        return await self._send("chat", payload, timeout)

    async def complete(self, payload: dict, timeout: float | None = None) -> dict:
        return await self._send("complete", payload, timeout)

    async def _send(self, route: str, payload: dict, timeout: float | None) -> dict:
        endpoint = self._pick()
        endpoint.inflight += 1
        try:
            answer = await getattr(endpoint.client, route)(payload, timeout)
        except (TransportError, TransportTimeout, HTTPStatusError) as exc:
            endpoint.failures += 1
            dead = not isinstance(exc, HTTPStatusError) or (exc.status_code >= 500 and exc.status_code not in _STAYS_IN)
            if dead and len(self.endpoints) > 1:
                self.retried_elsewhere += 1
                self._take_out(endpoint)
            raise
        finally:
            endpoint.inflight -= 1
        endpoint.calls += 1
        if not endpoint.up:  # it answered a call while out (every endpoint was out): it is back
            self._put_back(endpoint)
        return answer

    def _take_out(self, endpoint: Endpoint) -> None:
        if not endpoint.up:
            return
        endpoint.up = False
        endpoint.taken_out += 1
        endpoint.probe = asyncio.ensure_future(self._probe(endpoint))

    def _put_back(self, endpoint: Endpoint) -> None:
        if endpoint.up:
            return
        endpoint.up = True
        endpoint.put_back += 1

    async def _probe(self, endpoint: Endpoint) -> None:
        while not endpoint.up:
            await asyncio.sleep(self.probe_interval)
            with contextlib.suppress(Exception):  # any failure: still out, ask again later
                await endpoint.client.models()
                self._put_back(endpoint)

    async def models(self) -> list[str]:
        errors = []
        for endpoint in self.endpoints:  # the first that answers (a fleet serves one model)
            try:
                return await endpoint.client.models()
            except Exception as exc:
                errors.append(exc)
        raise errors[0]

    def summary(self) -> list[dict]:
        return [e.summary() for e in self.endpoints]

    async def close(self) -> None:
        for endpoint in self.endpoints:
            if endpoint.probe is not None and not endpoint.probe.done():
                endpoint.probe.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await endpoint.probe
            await endpoint.client.close()
