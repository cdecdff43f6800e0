"""The engine's durable, append-only request log (JSONL, one line per API call, fsync'd).

A line is written only after the call finished, in one write(), and counts only once an fsync covers it (group
commit: one fsync in a thread for all the lines written meanwhile), so after a crash the file
holds every finished call plus at most one torn last line (no trailing newline), which we cut off on open:
that call was never acknowledged and is simply sent again. Everything else is resumable by key:

    sample key  = sha256(model, messages, sampling params, sample index)   -- one generated sample
    request key = sha256(model, messages, sampling params)                 -- the prompt + settings

Line layout (v1):
    {"v": 1, "request_key", "model", "params", "messages", "meta", "status": "ok"|"failed", "reason",
     "attempts", "usage": {prompt_tokens, completion_tokens, total_tokens} | null, "latency_s", "time",
     "samples": [{"key", "index", "status": "ok"|"rejected"|"failed", "reason", "text", "finish_reason"}]}

A sample is *done* once a line records it "ok" or "rejected" (empty / cut off / malformed: the server
answered, the answer is unusable; asking again with the same settings would not help). "failed" samples
(retry budget exhausted) are not done: a re-run asks for them again.
The log never holds an API key or base URL; only what was sent as the prompt and what came back.
An open log (RequestLog) indexes the file as a stream and keeps one offset per done sample (LogIndex), not the
lines, so memory does not grow with the texts; read_log() gives the full LoadedLog, for tools that want it.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

LOG_VERSION = 1
DONE_STATUSES = ("ok", "rejected")


class RequestLogError(RuntimeError):
    pass


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def request_key(model: str, messages: list[dict], params: dict) -> str:
    return hashlib.sha256(_canonical({"model": model, "messages": messages, "params": params})).hexdigest()


def sample_key(model: str, messages: list[dict], params: dict, index: int) -> str:
    payload = {"model": model, "messages": messages, "params": params, "sample": int(index)}
    return hashlib.sha256(_canonical(payload)).hexdigest()


def request_keys(model: str, messages: list[dict], params: dict, n: int) -> tuple[str, list[str]]:
    """(request_key, [sample_key(..., i) for i < n]) from ONE serialisation: with sorted keys the sample payload
    is the request payload with `,"sample":i` before its closing brace ("sample" sorts after "params")."""
    base = _canonical({"model": model, "messages": messages, "params": params})
    head = base[:-1]
    return (hashlib.sha256(base).hexdigest(),
            [hashlib.sha256(head + b',"sample":%d}' % i).hexdigest() for i in range(n)])


@dataclass
class LoadedLog:
    """What a log holds: done samples (key -> (sample, call line)) and samples whose last outcome failed."""

    done: dict[str, tuple[dict, dict]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    lines: int = 0
    torn_bytes: int = 0
    duplicates: int = 0
    usage: dict = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})

    def add_usage(self, usage: dict | None) -> None:
        for name in self.usage:
            self.usage[name] += int((usage or {}).get(name) or 0)


def _parse(path: Path, data: bytes) -> tuple[LoadedLog, int]:
    """Parse the complete lines of `data`; returns the log and the length of its intact prefix."""
    loaded = LoadedLog()
    end = data.rfind(b"\n") + 1  # everything after the last newline is a torn write
    loaded.torn_bytes = len(data) - end
    for lineno, raw in enumerate(data[:end].split(b"\n")[:-1], start=1):
        if not raw.strip():
            continue
        try:
            call = json.loads(raw)
            samples = call["samples"]
        except (ValueError, KeyError, TypeError) as exc:
            raise RequestLogError(f"{path}:{lineno}: not a request-log line ({exc}); the file is corrupt") from exc
        loaded.lines += 1
        loaded.add_usage(call.get("usage"))
        for sample in samples:
            key = sample["key"]
            if sample.get("status") in DONE_STATUSES:
                if key in loaded.done:
                    loaded.duplicates += 1  # never written by us; keep the first outcome
                    continue
                loaded.done[key] = (sample, call)
                loaded.failed.pop(key, None)
            elif key not in loaded.done:
                loaded.failed[key] = sample.get("reason") or call.get("reason") or "failed"
    return loaded, end


def read_log(path: str | os.PathLike) -> LoadedLog:
    """Read a log without modifying it (a torn last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return LoadedLog()
    return _parse(path, path.read_bytes())[0]


@dataclass
class LogIndex:
    """What an open log keeps in memory: per done sample the byte offset of its line, not the line itself,
    so memory grows by ~200 bytes a sample (1M samples: ~0.2 GB) whatever the prompts and answers weigh.
    Same fields as LoadedLog; `done` maps sample key -> line offset (RequestLog.line_at reads it back)."""

    done: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    lines: int = 0
    torn_bytes: int = 0
    duplicates: int = 0
    usage: dict = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0})
    add_usage = LoadedLog.add_usage

    def add(self, call: dict, offset: int) -> None:
        self.lines += 1
        self.add_usage(call.get("usage"))
        for sample in call["samples"]:
            key = sample["key"]
            if sample.get("status") in DONE_STATUSES:
                if key in self.done:
                    self.duplicates += 1
                    continue
                self.done[key] = offset
                self.failed.pop(key, None)
            elif key not in self.done:
                self.failed[key] = sample.get("reason") or call.get("reason") or "failed"


def _index(path: Path, handle) -> tuple[LogIndex, int]:
    """Index the complete lines of an open log, streaming (the file may be far larger than memory)."""
    index = LogIndex()
    offset = 0
    for lineno, raw in enumerate(handle, start=1):
        if not raw.endswith(b"\n"):
            index.torn_bytes = len(raw)  # the torn last write of a crashed run
            break
        if raw.strip():
            try:
                call = json.loads(raw)
                call["samples"]
            except (ValueError, KeyError, TypeError) as exc:
                raise RequestLogError(f"{path}:{lineno}: not a request-log line ({exc}); the file is corrupt") from exc
            index.add(call, offset)
        offset += len(raw)
    return index, offset


class RequestLog:
    """An open log: exclusive (flock) for one writer, torn tail repaired, lines appended with fsync."""

    def __init__(self, path: str | os.PathLike, fsync: bool = True):
        self.path = Path(path)
        self.fsync = fsync
        self._fd: int | None = None
        self._reader = None
        self.loaded = LogIndex()
        self._size = 0  # bytes in the file: the offset the next line lands at (we are its only writer)
        self._written = 0  # lines written / covered by a finished fsync (group commit bookkeeping)
        self._synced = 0
        self._sync_task: asyncio.Future | None = None

    def open(self) -> "RequestLog":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        created = not self.path.exists()
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RequestLogError(f"{self.path} is in use by another running engine (it is locked)") from None
        try:
            with open(self.path, "rb") as handle:
                self.loaded, intact = _index(self.path, handle)
            if self.loaded.torn_bytes:
                os.ftruncate(fd, intact)  # drop the torn line so the next append starts on a fresh line
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        if created and self.fsync:
            _fsync_dir(self.path.parent)  # make the new file's directory entry durable too
        self._fd, self._size = fd, intact
        return self

    def line_at(self, offset: int) -> dict:
        """The call line starting at `offset` (an index entry), read back from disk."""
        if self._reader is None:
            self._reader = open(self.path, "rb")
        self._reader.seek(offset)
        return json.loads(self._reader.readline())

    def sample(self, key: str) -> dict | None:
        """The logged sample `key` (its dict: text, status, ...) if it is done, read back from disk; else None."""
        offset = self.loaded.done.get(key)
        if offset is None:
            return None
        return next(s for s in self.line_at(offset)["samples"] if s["key"] == key)

    def append(self, call: dict) -> None:
        """Write one line and fsync it before returning."""
        offset = self._write(call)
        if self.fsync:
            os.fsync(self._fd)
        self.loaded.add(call, offset)

    async def append_async(self, call: dict) -> None:
        """Write one line, then wait for an fsync that covers it, run in a thread and shared by every line
        written meanwhile (group commit): the event loop never blocks on the disk (~5 ms per fsync here),
        and many concurrent calls finishing together cost one fsync. Only then does the call count."""
        offset = self._write(call)
        if self.fsync:
            self._written += 1
            target = self._written
            while self._synced < target:
                if self._sync_task is None:
                    self._sync_task = asyncio.ensure_future(self._sync())
                await asyncio.shield(self._sync_task)
        self.loaded.add(call, offset)

    async def _sync(self) -> None:
        target, fd = self._written, self._fd
        try:
            await asyncio.to_thread(os.fsync, fd)
            self._synced = max(self._synced, target)
        except OSError:
            if self._fd is not None:
                raise  # a real disk error; a log closed under a cancelled run is not one
        finally:
            self._sync_task = None

    def _write(self, call: dict) -> int:
        if self._fd is None:
            raise RequestLogError(f"{self.path} is not open")
        # Not sorted (unlike the keys' canonical form): readers parse it, and sorting costs on every call.
        line = json.dumps({"v": LOG_VERSION, **call}, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
        offset = self._size
        view = memoryview(line)
        while view:  # O_APPEND: each write lands at the end; loop only on a short write
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(line)
        return offset

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._fd is not None:
            fd, self._fd = self._fd, None
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> "RequestLog":
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
