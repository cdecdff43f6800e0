"""A lean client for OpenAI-compatible chat endpoints: one aiohttp POST per call, the body parsed as plain JSON.

Why not the openai SDK here: against an instant local server it spends 3-8 ms of CPU per request (httpx2
plumbing, pydantic models of the response), capping one process at ~100-250 requests/s, a tenth of what the
machine's network stack does (benchmarks/generation.py --instant). The engine needs only the JSON body, the
status and the Retry-After headers, so it speaks the documented wire format directly:

    POST {base_url}/chat/completions   body {"model", "messages", "n"?, params..., extra params at top level}
    POST {base_url}/completions        body {"model", "prompt", params...} (the eval backend's raw prompts)
    GET  {base_url}/models

What the SDK did that matters is kept: `Authorization: Bearer KEY` (or HTTP Basic from the URL's user-info,
as httpx does for `http://user:pass@host/v1`), proxy settings from the environment, the URL's query string
kept (`...?api-version=...`), extra
params (top_k, min_p, ...) merged into the body top level as `extra_body` is, a per-attempt timeout, no
hidden retries. Errors become the exceptions calls.classify() knows: HTTPStatusError (with status, headers
and body text), TransportTimeout, TransportError, MalformedResponse.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.request
from urllib.parse import unquote, urlsplit, urlunsplit

import aiohttp

from augmath.engine.calls import HTTPStatusError, MalformedResponse, TransportError, TransportTimeout

USER_AGENT = "augmath-engine"


def split_base_url(base_url: str, tails: tuple[str, ...] = ("chat/completions", "models")) -> tuple:
    """(URL of each tail, ..., auth headers) of a base URL, by default (chat URL, models URL, headers);
    user-info becomes Basic auth and leaves the URL."""
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base URL must be http(s)://host[:port]/path, got {parts.scheme or 'no scheme'}://...")
    headers = {}
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, netloc = netloc.rsplit("@", 1)
        user, _, password = userinfo.partition(":")
        token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    path = parts.path.rstrip("/")

    def at(tail: str) -> str:
        return urlunsplit((parts.scheme, netloc, f"{path}/{tail}", parts.query, ""))

    return (*(at(tail) for tail in tails), headers)


def _env_proxy(url: str) -> str | None:
    """The HTTP(S)_PROXY that applies to `url` (NO_PROXY honoured), as httpx reads the environment; else None."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme)


class WireClient:
    """One keep-alive connection pool to one endpoint; `limit` connections at most (the engine's concurrency)."""

    def __init__(self, base_url: str, api_key: str, timeout: float, limit: int):
        self.chat_url, self.models_url, self.completions_url, auth = split_base_url(
            base_url, ("chat/completions", "models", "completions"))
        self.headers = {"Authorization": f"Bearer {api_key}", "Content-Type": "application/json",
                        "Accept": "application/json", "User-Agent": USER_AGENT, **auth}
        self.proxy = _env_proxy(self.chat_url)
        self.timeout = timeout
        self._timeouts = {timeout: aiohttp.ClientTimeout(total=timeout)}  # one object, not one per call
        self._limit = limit
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=0, ttl_dns_cache=300)
            # Not trust_env: aiohttp would then look up the proxy and .netrc in a thread on EVERY request (two
            # thread hops a call); the proxy is looked up once instead (_env_proxy).
            self._session = aiohttp.ClientSession(connector=connector, headers=self.headers,
                                                  skip_auto_headers=("Accept-Encoding",), auto_decompress=True)
        return self._session

    async def _request(self, method: str, url: str, body: bytes | None, timeout: float | None):
        session = self._open()
        timeout = timeout or self.timeout
        limit = self._timeouts.get(timeout) or self._timeouts.setdefault(timeout, aiohttp.ClientTimeout(total=timeout))
        try:
            async with session.request(method, url, data=body, timeout=limit, proxy=self.proxy) as resp:
                data = await resp.read()
                status, headers = resp.status, resp.headers
        except asyncio.TimeoutError as exc:  # aiohttp's ServerTimeoutError is one too
            raise TransportTimeout(f"no answer within {timeout:g}s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        if status >= 400:
            raise HTTPStatusError(status, headers, data.decode("utf-8", "replace"))
        try:
            payload = json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise MalformedResponse(f"undecodable body ({len(data)} bytes): {exc}") from exc
        if not isinstance(payload, dict):
            raise MalformedResponse(f"the body is JSON {type(payload).__name__}, not an object")
        return payload

    async def chat(self, payload: dict, timeout: float | None = None) -> dict:
        return await self._post(self.chat_url, payload, timeout)

    async def complete(self, payload: dict, timeout: float | None = None) -> dict:
        """POST /completions (a raw prompt: the eval backend's alpaca template)."""
        return await self._post(self.completions_url, payload, timeout)

    async def _post(self, url: str, payload: dict, timeout: float | None) -> dict:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return await self._request("POST", url, body, timeout)

    async def models(self) -> list[str]:
        payload = await self._request("GET", self.models_url, None, None)
        data = payload.get("data")
        if not isinstance(data, list):
            raise MalformedResponse("GET /models: no 'data' list")
        return [m["id"] for m in data if isinstance(m, dict) and isinstance(m.get("id"), str)]

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()
