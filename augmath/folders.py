"""Atomic folders, hard-link-or-copy and the umask's modes, used through augmath.io by every stage.

This is the one copy of "fill a temp folder beside, then rename it in", for every stage that writes a whole folder.

Every such stage (import, build, prebuilt data, converted models, eval data, checkpoints) fills a temp folder
beside its output and renames it in. The temp folder is named `.DEST.TAG-XXXXXXXX` and flocked by its maker for
as long as it lives, so any later run (no folder lock needed) removes the ones whose maker died: a kill -9 leaves
nothing that the next run keeps.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

REPLACE_MODES = ("never", "empty", "swap", "keep")


def umask() -> int:
    """The process's umask, read without changing it (os.umask would, for every thread, for a moment)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    old = os.umask(0o022)
    os.umask(old)
    return old


def same_file(fd: int, path: str | os.PathLike) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _try_lock(path: Path) -> int | None:
    """An fd holding `path`'s flock if no live process holds it (and the name still points at it), else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    if not same_file(fd, path):
        os.close(fd)
        return None
    return fd


def remove_stale_files(folder: str | os.PathLike, pattern: str) -> list[Path]:
    """Remove the files and folders in `folder` matching `pattern` that no live process holds locked."""
    removed = []
    for p in sorted(Path(folder).glob(pattern)) if Path(folder).is_dir() else []:
        if p.is_symlink() or (fd := _try_lock(p)) is None:
            continue
        try:
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
        finally:
            os.close(fd)
    return removed


_HELD: dict[Path, int] = {}  # temp folders this process made -> the fd holding their flock


def temp_folder(dest: str | os.PathLike, tag: str) -> Path:
    """A new empty folder `.DEST.TAG-XXXXXXXX` beside `dest`, flocked until release_temp_folder (or exit), with
    the umask's mode. Leftovers of dead makers with the same tag are removed first (see remove_stale_folders)."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_folders(dest, tag)
    while True:
        path = Path(tempfile.mkdtemp(prefix=f".{dest.name}.{tag}-", dir=dest.parent))
        fd = os.open(path, os.O_RDONLY)
        fcntl.flock(fd, fcntl.LOCK_EX)  # blocks while a cleaner that saw it unlocked removes it; then retry
        if same_file(fd, path):
            break
        os.close(fd)
    os.chmod(path, 0o777 & ~umask())  # mkdtemp makes 0700; a dataset or model folder is meant to be shared
    _HELD[path] = fd
    return path


def release_temp_folder(path: Path, remove: bool = True) -> None:
    """Drop the flock of a temp_folder (and remove it, unless it was renamed into place)."""
    if remove:
        shutil.rmtree(path, ignore_errors=True)
    fd = _HELD.pop(path, None)
    if fd is not None:
        os.close(fd)


def remove_stale_folders(dest: str | os.PathLike, tag: str) -> list[Path]:
    """Remove `.DEST.TAG-*` and `.DEST.old-*` folders whose maker died. A previous version that a swap had moved
    aside (`.DEST.old-*/DEST`, a kill between the swap's two renames) is put back first when DEST is missing."""
    dest = Path(dest)
    for old in sorted(dest.parent.glob(f".{glob.escape(dest.name)}.old-*")):
        if not dest.exists() and (old / dest.name).is_dir() and (fd := _try_lock(old)) is not None:
            try:
                os.replace(old / dest.name, dest)
                fsync_dir(dest.parent)
            finally:
                os.close(fd)
    return [*remove_stale_files(dest.parent, f".{glob.escape(dest.name)}.old-*"),
            *remove_stale_files(dest.parent, f".{glob.escape(dest.name)}.{glob.escape(tag)}-*")]


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file, then every folder (deepest first), of `root`: after a power loss the renamed-in folder
    holds whole files, not names pointing at unwritten blocks."""
    for here, dirs, files in os.walk(root, topdown=False):
        for name in files:
            p = Path(here, name)
            if p.is_symlink():
                continue
            fd = os.open(p, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(here))


def install_folder(tmp: Path, dest: Path, *, replace: str, fsync: bool = True) -> bool:
    """Rename the finished folder `tmp` to `dest`; returns False when `replace="keep"` kept an existing `dest`.

    replace: what an existing `dest` means. "never": an error (FileExistsError); "empty": only an empty folder
    may be there (removed); "swap": moved aside into `.DEST.old-*`, `tmp` renamed in, the old one removed (put
    back if the second rename fails; a kill between the two is undone by the next remove_stale_folders);
    "keep": a twin finished first, keep its folder and discard `tmp`.
    fsync: every file and folder of `tmp` before the rename, the parent folder after it.
    """
    if replace not in REPLACE_MODES:
        raise ValueError(f"replace={replace!r} is not one of {REPLACE_MODES}")
    if fsync:
        fsync_tree(tmp)
    if replace == "keep" and dest.exists():
        return False
    if replace == "empty" and dest.is_dir() and not any(dest.iterdir()):
        dest.rmdir()
    if dest.exists() and replace == "swap":
        old = temp_folder(dest, "old")
        try:
            os.replace(dest, old / dest.name)
            try:
                os.replace(tmp, dest)
            except BaseException:
                os.replace(old / dest.name, dest)  # put the previous version back
                raise
        finally:
            if fsync:
                fsync_dir(dest.parent)
            release_temp_folder(old)
        return True
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(f"{dest} exists; not replacing it")
    try:
        os.rename(tmp, dest)
    except OSError:
        if replace == "keep" and dest.exists():  # lost a race to a finished twin
            return False
        raise
    if fsync:
        fsync_dir(dest.parent)
    return True


@contextlib.contextmanager
def atomic_folder(dest: str | os.PathLike, *, tag: str, replace: str = "never", fsync: bool = True) -> Iterator[Path]:
    """Yield a temp folder beside `dest` to fill; on success it becomes `dest` (see install_folder for `replace`
    and `fsync`), on any failure it is removed. A killed run's temp folder is removed by the next one (same tag)."""
    dest = Path(dest)
    tmp = temp_folder(dest, tag)
    try:
        yield tmp
        installed = install_folder(tmp, dest, replace=replace, fsync=fsync)
    except BaseException:
        release_temp_folder(tmp)
        raise
    release_temp_folder(tmp, remove=not installed)


def link_or_copy(src: str | os.PathLike, dst: str | os.PathLike, ignore=None) -> None:
    """Hard-link `src` to `dst` (no bytes copied, and a later rewrite of `src`, which makes a new file, leaves
    `dst` as it was); copy with metadata where hard links cannot be made (another file system, no link support).
    A folder is linked file by file into `dst` (which may exist); `ignore` as in shutil.copytree."""
    if Path(src).is_dir():
        shutil.copytree(src, dst, copy_function=link_or_copy, ignore=ignore, dirs_exist_ok=True)
        return
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
