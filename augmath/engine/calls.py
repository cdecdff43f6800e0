"""One chat-completion call with the engine's retry policy, and the checks on what comes back.

Retried (exponential backoff with jitter, Retry-After honoured): 429, 408/409, 5xx, timeouts, connection
errors, and malformed response bodies (not JSON, or JSON without usable `choices`). Anything else (400, 401,
404, ...) fails at once: asking again would get the same answer. The openai client's own retries are off
(max_retries=0) so every attempt is ours and counted.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable


from augmath.redaction import redact  # error text goes into logs: keys and URL credentials masked

# Parameters the OpenAI chat API takes at top level; anything else (top_k, min_p, repeat_penalty, ...)
# goes in extra_body, which OpenAI-compatible servers such as llama.cpp and vLLM read.
OPENAI_CHAT_PARAMS = {
    "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed", "stop", "presence_penalty",
    "frequency_penalty", "logit_bias", "logprobs", "top_logprobs", "response_format", "reasoning_effort",
}
RETRY_STATUSES = {408, 409, 429}
MAX_RETRY_AFTER = 120.0


class MalformedResponse(Exception):
    """The server answered 2xx with a body that is not a usable chat completion."""


# What the engine's own client (augmath.engine.wire) raises, beside MalformedResponse.
class HTTPStatusError(Exception):
    """A non-2xx answer. The message follows the openai SDK's ("Error code: 401 - {body}") so logs read alike."""

    def __init__(self, status: int, headers, body: str):
        super().__init__(f"Error code: {status} - {body[:500]}")
        self.status_code = status
        self.headers = headers
        self.body = body


class TransportTimeout(Exception):
    """The attempt ran past its timeout."""


class TransportError(Exception):
    """The connection failed or died before a full answer came back."""


@dataclass
class RetryPolicy:
    max_attempts: int = 6  # per call: the first try + up to 5 retries
    base_delay: float = 0.5
    max_delay: float = 30.0

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt `attempt + 1` (attempt counts from 1)."""
        if retry_after is not None:
            # The server said when; add a little jitter so waiting clients do not return in lockstep.
            return min(retry_after, MAX_RETRY_AFTER) + random.uniform(0, 0.1 * self.base_delay)
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)  # "equal jitter": at least half the ceiling


@dataclass
class CallResult:
    choices: list[dict] | None  # [{"text", "finish_reason", "status", "reason"}], in choice-index order
    usage: dict | None
    attempts: int
    latency_s: float
    error: str | None = None  # set when the call failed for good: a readable reason...
    cause: str | None = None  # ...and its short cause (http_500, timeout, connection, ...)
    faults: dict[str, int] = field(default_factory=dict)  # cause -> failed attempts (retried or final)


def parse_retry_after(headers) -> float | None:
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return float(value) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        if parsed is None:
            return None
        return max(0.0, parsed.timestamp() - time.time())


def classify(exc: BaseException) -> tuple[str, bool, float | None]:
    """(cause, retryable, retry_after seconds) for an exception raised by one attempt."""
    if isinstance(exc, TransportTimeout):
        return "timeout", True, None
    if isinstance(exc, TransportError):
        return "connection", True, None
    if isinstance(exc, HTTPStatusError):
        return _status(exc.status_code, exc.headers)
    # The openai SDK's errors, when a caller uses the SDK (the eval backend's raw completions). Looked up, not
    # imported: the engine itself does not load the SDK (its import alone weighs ~40 MB and half a second).
    openai = sys.modules.get("openai")
    if openai is not None:
        if isinstance(exc, openai.APITimeoutError):  # a subclass of APIConnectionError: first
            return "timeout", True, None
        if isinstance(exc, openai.APIConnectionError):
            return "connection", True, None
        if isinstance(exc, openai.APIStatusError):
            return _status(exc.status_code, getattr(exc.response, "headers", None))
        if isinstance(exc, openai.APIResponseValidationError):
            return "malformed_response", True, None
    if isinstance(exc, (MalformedResponse, json.JSONDecodeError, UnicodeDecodeError)):
        return "malformed_response", True, None
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout", True, None
    raise exc  # a bug, not a server fault: do not hide it behind retries


def _status(status: int, headers) -> tuple[str, bool, float | None]:
    if status in RETRY_STATUSES or status >= 500:
        return f"http_{status}", True, parse_retry_after(headers)
    return f"http_{status}", False, None


def check_choice(choice) -> dict:
    """One returned choice -> {"text", "finish_reason", "status": ok|rejected, "reason"}."""
    finish = getattr(choice, "finish_reason", None)
    message = getattr(choice, "message", None)
    text = getattr(message, "content", None) if message is not None else None
    if message is None or (text is not None and not isinstance(text, str)):
        return {"text": None, "finish_reason": finish, "status": "rejected", "reason": "malformed"}
    return _judge(text, finish)


def read_response(response) -> tuple[list[dict], dict | None]:
    """Validate a create() result; MalformedResponse when it is not a chat completion."""
    choices = getattr(response, "choices", None)
    if isinstance(response, (str, bytes)) or not isinstance(choices, list) or not choices:
        raise MalformedResponse(f"no choices in the response ({type(response).__name__})")
    ordered = sorted(choices, key=lambda c: getattr(c, "index", 0) or 0)
    usage = getattr(response, "usage", None)
    usage_dict = None
    if usage is not None:
        usage_dict = {
            "prompt_tokens": int(getattr(usage, "prompt_tokens", 0) or 0),
            "completion_tokens": int(getattr(usage, "completion_tokens", 0) or 0),
            "total_tokens": int(getattr(usage, "total_tokens", 0) or 0),
        }
        if len(choices) > 1 and getattr(response, "timings", None) is not None:
            # llama.cpp's server (it adds `timings`) reports the usage of the first choice only for n > 1.
            usage_dict["partial"] = True
    return [check_choice(c) for c in ordered], usage_dict


def _judge(text, finish) -> dict:
    if finish == "length":
        return {"text": text, "finish_reason": finish, "status": "rejected", "reason": "length"}
    if finish == "content_filter":
        return {"text": text, "finish_reason": finish, "status": "rejected", "reason": "content_filter"}
    if text is None or not text.strip():
        return {"text": text, "finish_reason": finish, "status": "rejected", "reason": "empty"}
    return {"text": text, "finish_reason": finish, "status": "ok", "reason": None}


def read_payload(body: dict) -> tuple[list[dict], dict | None]:
    """read_response for a decoded JSON body (what augmath.engine.wire returns): same checks, same output."""
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices:
        raise MalformedResponse("no choices in the response")
    out = []
    for choice in sorted(choices, key=lambda c: (c.get("index") or 0) if isinstance(c, dict) else 0):
        message = choice.get("message") if isinstance(choice, dict) else None
        finish = choice.get("finish_reason") if isinstance(choice, dict) else None
        text = message.get("content") if isinstance(message, dict) else None
        if not isinstance(message, dict) or (text is not None and not isinstance(text, str)):
            out.append({"text": None, "finish_reason": finish, "status": "rejected", "reason": "malformed"})
        else:
            out.append(_judge(text, finish))
    usage_dict = read_usage(body)
    if usage_dict is not None and len(choices) > 1 and body.get("timings") is not None:
        usage_dict["partial"] = True  # llama.cpp: an n > 1 call's usage covers the first choice only
    return out, usage_dict


def read_usage(body: dict) -> dict | None:
    """The token counts of a decoded JSON body's `usage` (None without one); MalformedResponse when not numeric."""
    usage = body.get("usage")
    if not isinstance(usage, dict):
        return None
    try:
        return {name: int(usage.get(name) or 0) for name in ("prompt_tokens", "completion_tokens", "total_tokens")}
    except (TypeError, ValueError):
        raise MalformedResponse(f"usage is not numeric: {str(usage)[:100]}") from None


def build_payload(model: str, messages: list[dict], params: dict, n: int, seed_offset: int) -> dict:
    """The JSON body of one chat call: what build_kwargs gives the SDK, with extra params at top level."""
    kwargs = build_kwargs(model, messages, params, n, seed_offset)
    kwargs.update(kwargs.pop("extra_body", None) or {})
    return kwargs


def build_kwargs(model: str, messages: list[dict], params: dict, n: int, seed_offset: int) -> dict:
    kwargs: dict = {"model": model, "messages": messages}
    extra: dict = {}
    for name, value in params.items():
        (kwargs if name in OPENAI_CHAT_PARAMS else extra)[name] = value
    if n != 1:
        kwargs["n"] = n
    if "seed" in kwargs and kwargs["seed"] is not None and seed_offset:
        # Separate requests for samples 1, 2, ... of a seeded prompt must not share its seed (they would
        # come back identical); sample i gets seed + i, deterministic and distinct.
        kwargs["seed"] = int(kwargs["seed"]) + seed_offset
    if extra:
        kwargs["extra_body"] = extra
    return kwargs


def describe(exc: BaseException, secret: str | None) -> str:
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact(f"{type(exc).__name__}: {message[:300]}", secret)


async def call_with_retries(
    create: Callable[[], Awaitable[Any]],
    policy: RetryPolicy,
    slots: asyncio.Semaphore,
    secret: str | None,
    on_fault=None,
    read: Callable[[Any], tuple[list, dict | None]] = read_response,
) -> CallResult:
    """Run one API call until it succeeds, fails for good, or the attempt budget is spent.

    `create()` makes the request (a chat completion for the engine, a raw completion for the eval backend);
    `read(response)` validates it into (choices, usage) or raises MalformedResponse (retried).
    The concurrency slot is held only while a request is in flight, never while backing off.
    `on_fault(cause)` is called for every failed attempt (for live error counts)."""
    faults: dict[str, int] = {}
    started = time.monotonic()
    last_error, cause = "no attempt made", None
    for attempt in range(1, policy.max_attempts + 1):
        async with slots:
            try:
                try:
                    response = await create()
                except ValueError as exc:  # a 2xx body that does not decode as (UTF-8) JSON
                    raise MalformedResponse(f"undecodable body: {exc}") from exc
                choices, usage = read(response)
                return CallResult(choices, usage, attempt, time.monotonic() - started, None, None, faults)
            except Exception as exc:  # classify() re-raises anything that is not a server/transport fault
                cause, retryable, retry_after = classify(exc)
                faults[cause] = faults.get(cause, 0) + 1
                last_error = f"{cause}: {describe(exc, secret)}"
                if on_fault is not None:
                    on_fault(cause)
        if not retryable:
            break
        if attempt < policy.max_attempts:
            await asyncio.sleep(policy.backoff(attempt, retry_after))
    else:
        last_error = f"retry budget exhausted after {policy.max_attempts} attempts; last {last_error}"
    return CallResult(None, None, attempt, time.monotonic() - started, last_error, cause, faults)
