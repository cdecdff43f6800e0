"""Small, careful file I/O used by every stage: atomic writes, append-only durable logs, JSONL with line-numbered errors.

Why: a stage killed half-way must never leave a half-written output where a later stage (or a user) would
read it as complete. Everything that produces a final file goes through `atomic_writer`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator


class DataError(ValueError):
    """Bad input data; the message names the file, line and field."""


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[Any]:
    """Yield a file object for a temporary file beside `path`; rename it over `path` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    with atomic_writer(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    atomic_write(path, json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=False) + "\n")


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    n = 0
    with atomic_writer(path) as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def read_json(path: str | os.PathLike, expect: type | None = None, what: str = "") -> Any:
    """A JSON file's value; invalid JSON is a DataError naming the file and line, and so is a value that is not
    an `expect` instance (the message says `expected {what}`)."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: invalid JSON ({e.msg})") from None
    if expect is not None and not isinstance(value, expect):
        raise DataError(f"{path}: expected {what or expect.__name__}")
    return value


def read_json_object(path: str | os.PathLike) -> dict:
    """One JSON object from a file; invalid JSON or another JSON type is a DataError naming the file (and line)."""
    return read_json(path, dict, "a JSON object")


def sha256_file(path: str | os.PathLike, hasher=None) -> str:
    """The file's sha256 hex digest, read in 4 MiB blocks. With `hasher`, feed that hash object instead and
    return its running digest (for hashes over several files)."""
    h = hasher if hasher is not None else hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def append_jsonl(path: str | os.PathLike, row: dict, fsync: bool = True) -> None:
    """Append one JSON line; with fsync the line survives a kill -9 right after the call returns."""
    line = json.dumps(row, ensure_ascii=False) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, encoding="utf-8")


def read_jsonl_numbered(path: str | os.PathLike, tolerate_torn_tail: bool = False) -> Iterator[tuple[str, dict]]:
    """Yield ("FILE:LINE", object) for each JSON line, so callers can name the line when a field is wrong.

    A bad line raises DataError naming file and line. With tolerate_torn_tail, an unparsable *last* line (a
    write cut by a crash) is skipped, not raised.
    """
    path = Path(path)
    with _open_text(path) as f:
        lines = f.readlines()
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            if tolerate_torn_tail and i == len(lines) and not line.endswith("\n"):
                return
            raise DataError(f"{path}:{i}: invalid JSON ({e.msg} at column {e.colno})") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{i}: expected a JSON object, got {type(obj).__name__}")
        yield f"{path}:{i}", obj


def read_jsonl(path: str | os.PathLike, tolerate_torn_tail: bool = False) -> Iterator[dict]:
    """Yield JSON objects; a bad line raises DataError naming file and line (see read_jsonl_numbered)."""
    for _, obj in read_jsonl_numbered(path, tolerate_torn_tail):
        yield obj


def require(row: dict, field: str, where: str, types: type | tuple = str) -> Any:
    """Return row[field], or raise DataError naming `where` (file:line) and the field."""
    if field not in row or row[field] is None:
        raise DataError(f"{where}: missing field '{field}'")
    value = row[field]
    if not isinstance(value, types):
        raise DataError(f"{where}: field '{field}' should be {getattr(types, '__name__', types)}, got {type(value).__name__}")
    return value
