"""One redaction helper for everything augmath stores or prints.

Three kinds of secret reach augmath: values of the secret environment variables (HF_TOKEN, OPENAI_API_KEY, ...),
key-shaped strings an endpoint may quote back (`sk-...`, `hf_...`, `Bearer ...`), and credentials written into
an endpoint URL (`http://user:KEY@host/v1`, `https://host/v1?api-key=KEY`). `redact` masks all three in any
text (error messages, run.json, logs, cards), `redact_url` masks a URL's credentials while keeping the rest
readable, and `find_secrets` / `secrets_in_folder` are the last check before a folder is published (build, push).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable

SECRET_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "OPENAI_API_KEY")
MASK = "***"
MIN_SECRET = 8  # shorter environment values are too likely to occur by chance to be searched for
TEXT_SUFFIXES = (".json", ".jsonl", ".md", ".txt", ".yaml", ".yml", ".log", ".csv", ".html")

# Credentials inside URLs. The user-info part of an http(s) URL is always a credential for an API endpoint;
# query parameters whose name says key / token / secret / password / signature are too.
_URL_USERINFO = re.compile(r"(?i)\b(https?://)([^/\s@?#'\"<>]+)@")
_URL_QUERY_CREDENTIAL = re.compile(  # the whole parameter name: api-key, x_api_key, access_token; not "author"
    r"(?i)([?&;](?:[\w.-]*[_.-])?(?:api-?key|key|token|secret|passw(?:or)?d|pwd|signature|sig|credentials?|auth)=)"
    r"([^&#\s'\"<>]+)")
# Key-shaped strings an endpoint or proxy may echo in an error: OpenAI / HF tokens, a Bearer value, a Basic
# value (base64 with a digit or +/=, so the words "Basic arithmetic" stay).
_KEY_SHAPED = re.compile(r"\b(?:sk-[A-Za-z0-9_\-*]{6,}|hf_[A-Za-z0-9]{20,})|Bearer\s+\S+"
                         r"|Basic\s+(?=[A-Za-z0-9+/]*[0-9+/=])[A-Za-z0-9+/]{8,}={0,2}")


def env_secrets() -> dict[str, str]:
    """The secret environment variables that are set (to values long enough to search for)."""
    return {var: os.environ[var] for var in SECRET_ENV if len(os.environ.get(var, "")) >= MIN_SECRET}


def url_credentials(url: str | None) -> list[str]:
    """The credential strings inside a URL (user-info, password, credential query values), longest first."""
    if not url:
        return []
    found = []
    for m in _URL_USERINFO.finditer(url):
        userinfo = m.group(2)
        found += [userinfo, *[part for part in userinfo.split(":") if len(part) >= 4]]
    found += [m.group(2) for m in _URL_QUERY_CREDENTIAL.finditer(url)]
    return sorted(set(found), key=len, reverse=True)


def redact_url(url: str | None) -> str | None:
    """The URL with its credentials masked: http://***@host/v1?api-key=*** (None stays None)."""
    if url is None:
        return None
    url = _URL_USERINFO.sub(lambda m: f"{m.group(1)}{MASK}@", url)
    return _URL_QUERY_CREDENTIAL.sub(lambda m: f"{m.group(1)}{MASK}", url)


def redact(text: str, *secrets: str | None) -> str:
    """Mask the given secrets, the secret environment values, key-shaped strings and URL credentials."""
    for secret in sorted({s for s in secrets if s and len(s) >= 4} | set(env_secrets().values()), key=len,
                         reverse=True):
        text = text.replace(secret, MASK)
    return _KEY_SHAPED.sub(MASK, redact_url(text))


def find_secrets(text: str) -> list[str]:
    """What in `text` looks like a secret, by kind, never the secret itself ('the value of $HF_TOKEN',
    'a credential in a URL', ...). Empty when the text is clean."""
    found = [f"the value of ${var}" for var, value in env_secrets().items() if value in text]
    if any(m.group(2) != MASK for pattern in (_URL_USERINFO, _URL_QUERY_CREDENTIAL) for m in pattern.finditer(text)):
        found.append("a credential in a URL")  # an already masked one (http://***@host) is not
    if re.search(r"\b(?:sk-[A-Za-z0-9_\-]{20,}|hf_[A-Za-z0-9]{20,})\b", text):
        found.append("a key-shaped string (sk-... / hf_...)")
    return found


def secrets_in_folder(folder: str | os.PathLike, files: Iterable[str] | None = None) -> list[tuple[str, list[str]]]:
    """(relative path, what was found) for every text file of `folder` (or just `files`) holding a secret."""
    folder = Path(folder)
    paths = [folder / f for f in files] if files is not None else sorted(p for p in folder.rglob("*") if p.is_file())
    hits = []
    for path in paths:
        if path.suffix in TEXT_SUFFIXES or path.name == "README":
            found = find_secrets(path.read_text(encoding="utf-8", errors="replace"))
            if found:
                hits.append((path.relative_to(folder).as_posix(), found))
    return hits
