"""Small, careful file I/O used by every stage: atomic writes, append-only durable logs, JSONL with line-numbered errors.

Why: a stage killed half-way must never leave a half-written output where a later stage (or a user) would
read it as complete. Everything that produces a final file goes through `atomic_writer`.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import gzip
import hashlib
import json
import math
import os
import tempfile
import zlib
from pathlib import Path
from typing import Any, Iterable, Iterator

from augmath.errors import UserError
from augmath.input_limits import MAX_JSON_DEPTH, deep_line, load_yaml, refuse_constant
# the folder helpers live in augmath.folders (io's size); every stage imports them from here
from augmath.folders import (REPLACE_MODES, same_file, atomic_folder, fsync_dir, fsync_tree,  # noqa: F401
                             install_folder, link_or_copy, release_temp_folder, remove_stale_files,
                             remove_stale_folders, temp_folder, umask)


class DataError(UserError, ValueError):
    """Bad input data; the message names the file, line and field."""


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8") -> Iterator[Any]:
    """Yield a file object for a temporary file beside `path`; rename it over `path` only on success.

    The temp file (`.NAME.XXXX.tmp`) is flocked while it is written, so the next writer of `path` can tell a dead
    writer's leftover (lockable: removed) from a live one's (locked: left alone), with no lock on the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_files(path.parent, f".{glob.escape(path.name)}.*.tmp")
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if same_file(fd, tmp):
            break
        os.close(fd)  # a cleaner removed it between mkstemp and flock: take a new one
    os.fchmod(fd, 0o666 & ~umask())  # mkstemp makes 0600; an output is as readable as any other tool's
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            os.replace(tmp, path)  # still holding the lock: a cleaner never sees the name unlocked
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write(path: str | os.PathLike, data: str | bytes) -> None:
    with atomic_writer(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def to_json(obj: Any, **kwargs) -> str:
    """json.dumps that never writes bare NaN/Infinity (not JSON: other readers refuse the file): a non-finite
    float is written as null."""
    try:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, **kwargs)
    except ValueError:
        return json.dumps(_finite(obj), ensure_ascii=False, allow_nan=False, **kwargs)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj


def from_json(text: str, path: str | os.PathLike, line: int | None = None) -> Any:
    """json.loads for input: invalid JSON, NaN/Infinity and nesting too deep are one DataError naming the file
    and line (`line`: the JSONL line `text` is; else the line inside `text`)."""
    try:
        return json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as e:
        msg = e.msg.removesuffix(" at")  # 'Invalid control character at' would read 'at at column'
        where = f"{path}:{line}: invalid JSON ({msg} at column {e.colno})" if line else \
            f"{path}:{e.lineno}: invalid JSON ({msg})"
        raise DataError(where) from None
    except RecursionError:
        raise DataError(f"{path}:{line or deep_line(text) or 1}: JSON nested too deep (more than "
                        f"{MAX_JSON_DEPTH} levels)") from None
    except ValueError as e:  # from refuse_constant; the decoder gives no position, so find the constant's line
        at = line or next((i for i, text_line in enumerate(text.splitlines(), 1)
                           if any(c in text_line for c in ("NaN", "Infinity"))), 1)
        raise DataError(f"{path}:{at}: {e}") from None


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    atomic_write(path, to_json(obj, indent=2, sort_keys=False) + "\n")


def write_jsonl_atomic(path: str | os.PathLike, rows: Iterable[dict]) -> int:
    n = 0
    with atomic_writer(path) as f:
        for row in rows:
            f.write(to_json(row) + "\n")
            n += 1
    return n


def read_json(path: str | os.PathLike, expect: type | None = None, what: str = "") -> Any:
    """A JSON file's value; invalid JSON or text that is not UTF-8 is a DataError naming the file and line, and so
    is a value that is not an `expect` instance (the message says `expected {what}`)."""
    path = Path(path)
    value = from_json(read_text(path), path)
    if expect is not None and not isinstance(value, expect):
        raise DataError(f"{path}: expected {what or expect.__name__}")
    return value


def read_text(path: str | os.PathLike) -> str:
    """A whole text file (gzip-compressed when it ends in .gz); a DataError naming the file (and line) when it is
    not UTF-8 or a compressed file is cut short. A missing file stays FileNotFoundError."""
    path = Path(path)
    return decode_utf8(read_bytes(path), path)


def read_yaml(path: str | os.PathLike) -> Any:
    """A YAML file's value; broken YAML or text that is not UTF-8 is a one-line DataError naming file and line."""
    import yaml

    path = Path(path)
    try:
        return load_yaml(read_text(path))
    except RecursionError:
        raise DataError(f"{path}: YAML nested too deep") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise DataError(f"{where}: invalid YAML ({getattr(e, 'problem', None) or str(e).splitlines()[0]})") from None


def read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when it ends in .gz; a truncated or corrupt .gz is a DataError naming it."""
    if path.suffix != ".gz":
        return path.read_bytes()
    try:
        with gzip.open(path, "rb") as f:
            return f.read()
    except (EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise DataError(f"{path}: truncated or corrupt gzip file ({e})") from None


def decode_utf8(data: bytes, path: str | os.PathLike, first_line: int = 1) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = first_line + data.count(b"\n", 0, e.start)
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(f"{path}:{line}: not UTF-8 (byte {column} of the line, offset {e.start})") from None


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
    line = to_json(row) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def read_jsonl_numbered(path: str | os.PathLike, tolerate_torn_tail: bool = False) -> Iterator[tuple[str, dict]]:
    """Yield ("FILE:LINE", object) for each JSON line, so callers can name the line when a field is wrong.

    A bad line (invalid JSON, not UTF-8, not an object) raises DataError naming file and line; so does a .gz file
    that is cut short. With tolerate_torn_tail, an unparsable *last* line (a write cut by a crash) is skipped.
    """
    path = Path(path)
    lines = read_bytes(path).splitlines(keepends=True)
    for i, raw in enumerate(lines, start=1):
        line = decode_utf8(raw, path, i)
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_constant=refuse_constant)
        except json.JSONDecodeError:
            if tolerate_torn_tail and i == len(lines) and not line.endswith("\n"):
                return
            from_json(line, path, i)  # raises the DataError naming the line
        except (ValueError, RecursionError):
            from_json(line, path, i)
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


# --------------------------------------------------------------------------------------- output folder locks

class FolderBusy(UserError, RuntimeError):
    """Another live process holds an output folder's lock; the message names the folder and the holder."""


LOCK_SUFFIX = ".lock"


def lock_path(folder: str | os.PathLike) -> Path:
    """The lock file of an output folder: `.NAME.lock` beside it, so it survives the folder being replaced
    (build swaps whole folders in) and never becomes part of a published folder."""
    folder = Path(folder).resolve()
    return folder.parent / f".{folder.name}{LOCK_SUFFIX}"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, command: str) -> Iterator[int]:
    """Hold the exclusive lock of output folder `folder` for the block (yields the lock's file descriptor).

    Every stage that writes an output folder (augment run folders, build outputs, training outputs, experiment
    work dirs) takes it first; a second writer gets FolderBusy naming the live holder. The lock is an flock, so
    the kernel releases it the moment its holder dies, kill -9 included, and the next run takes over. On
    acquiring it, leftovers of a dead writer's `atomic_writer` (hidden `.*.tmp` files in the folder) are removed.
    """
    path = lock_path(folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise FolderBusy(f"{Path(folder)} is in use by {holder}; wait for it to finish, or use another "
                             "output folder") from None
        try:  # the file we locked may have been unlinked by a holder releasing it meanwhile: lock the new one
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{command} (pid {os.getpid()})\n".encode(), 0)
        remove_stale_temps(folder)
        yield fd
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # unlinked before unlocking: a waiter that opened it re-checks the inode (above)
        os.close(fd)


def remove_stale_temps(folder: str | os.PathLike) -> list[Path]:
    """Remove `atomic_writer` temp files (`.NAME.XXXX.tmp`) left in `folder` by a killed writer."""
    return remove_stale_files(folder, ".*.tmp")
