"""Endpoint base URLs, parsed and checked once, up front, the same way by every command.

Every command that talks to an OpenAI-compatible endpoint (augment, generate, eval) takes a `--base-url`; a typo
(`notaurl`, `ftp://x y/v1`) or an endpoint that is down must be one line before a folder is made, not a traceback
from deep inside the HTTP client. `parse_base_url` checks the scheme and the host (argparse type: the option's
own line), `split_credentials` separates `http://user:KEY@host/v1` into a URL and its user-info the way httpx
(the openai client's transport) does, and `check_reachable` opens one TCP connection to the host. Every message
carries the URL with its credentials masked (augmath.redaction.redact_url).
"""

from __future__ import annotations

import argparse
import socket
import urllib.parse

from augmath.errors import UserError
from augmath.redaction import redact_url

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}


class EndpointError(UserError):
    """An endpoint URL that is malformed or cannot be reached."""


def url_problem(url: str) -> str | None:
    """Why `url` is not an http(s) base URL with a host and a valid port, or None when it is one."""
    if any(c.isspace() for c in url):
        return "contains white space"
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in SCHEMES:
        return f"should start with http:// or https:// (got {parts.scheme + '://' if parts.scheme else 'no scheme'})"
    try:
        parts.port  # noqa: B018 - urllib parses the port lazily: reading it is the check
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    if not parts.hostname:
        return "has no host"
    return None


def parse_base_url(value: str) -> str:
    """argparse type for --base-url options: the URL unchanged, or an error naming what is wrong with it."""
    problem = url_problem(value)
    if problem:
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r} is not an endpoint URL: it {problem} "
                                         "(expected http(s)://HOST[:PORT]/PATH, e.g. http://127.0.0.1:8080/v1)")
    return value


def parse_base_url_list(value: str) -> str:
    """argparse type for options that take several endpoints of one model (augmath.engine.pool): comma-separated
    URLs, each checked as parse_base_url checks one; the value unchanged."""
    parts = split_base_urls(value)
    for part in parts or [""]:
        parse_base_url(part)
    if len(set(parts)) != len(parts):
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r} lists one endpoint twice")
    return value


def split_base_urls(value: str) -> list[str]:
    """The URLs of a comma-separated list: "a,,b " is a and b, as augmath.engine.pool reads it."""
    return [part.strip() for part in value.split(",") if part.strip()]


def split_credentials(url: str) -> tuple[str, str | None, str | None]:
    """(the URL without user-info, user, password): `http://u:KEY@host/v1` -> (`http://host/v1`, `u`, `KEY`).
    httpx sends such user-info as HTTP Basic auth; urllib would read `u:KEY@host` as the host name."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None, None
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host + (f":{parts.port}" if parts.port is not None else "")
    bare = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    unquote = urllib.parse.unquote
    return bare, unquote(parts.username or ""), unquote(parts.password) if parts.password is not None else None


def check_reachable(url: str, option: str = "--base-url", timeout: float = 5.0) -> None:
    """One TCP connection to the URL's host and port; EndpointError (one line, credentials masked) if it fails."""
    problem = url_problem(url)
    if problem:
        raise EndpointError(f"{option} {redact_url(url)!r} is not an endpoint URL: it {problem}")
    parts = urllib.parse.urlsplit(url)
    port = parts.port or DEFAULT_PORTS[parts.scheme]
    try:
        with socket.create_connection((parts.hostname, port), timeout=timeout):
            pass
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise EndpointError(f"{option} {redact_url(url)} is unreachable ({reason}); start an endpoint "
                            "(`augmath serve`) or leave the option out to use the embedded server") from None
