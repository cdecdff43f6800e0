"""Worker processes for the grader's symbolic checks, with a hard per-item deadline.

Why processes, and not math-verify's own timeout: that timeout is SIGALRM, which raises "signal only works
in main thread" when the grader is called from a thread, and no signal can interrupt sympy while it sits in
one long C-level operation (10**(10**10) holds the interpreter). Here the parent waits on a socket with a
deadline and SIGKILLs a worker that overstays: the item is "incorrect" on time, from any thread.

How workers start: one "zygote" process (`python -m augmath.grading.pool FD`) imports sympy + math-verify
and warms them up once; every worker is then an os.fork() of that zygote, ready in milliseconds, handed to
the parent over a socketpair (SCM_RIGHTS). So a killed worker is replaced at once, and no worker ever
re-imports the caller's __main__ (multiprocessing's spawn/forkserver do: a script without a main guard would
run again inside each worker) or forks the caller's threads (multiprocessing's fork). Each worker caps its
address space, so a runaway expansion raises MemoryError instead of swapping the machine. Linux/macOS only.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from multiprocessing.connection import wait

WORKER_MEMORY_BYTES = 3 * 1024**3
START_TIMEOUT = 180.0  # seconds for the zygote to import and warm up sympy (slow on a loaded 2-core box)


class _Zygote:
    """The warm process that forks workers."""

    def __init__(self):
        self.sock, child = socket.socketpair()
        env = dict(os.environ)
        # The folder holding this very `augmath` package first, so the child imports the same copy (a checkout
        # run from elsewhere, or an install).
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen([sys.executable, "-m", "augmath.grading.pool", str(child.fileno())],
                                     pass_fds=[child.fileno()], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        child.close()
        if not wait([self.sock], timeout=START_TIMEOUT) or self.sock.recv(1) != b"R":
            self.close()
            raise RuntimeError("augmath grader: the symbolic-check process (python -m augmath.grading.pool) "
                               "did not start; is math-verify installed in this environment?")

    def fork(self) -> tuple[int, socket.socket]:
        self.sock.sendall(b"F")
        msg, fds, _, _ = socket.recv_fds(self.sock, 16, 1)
        if len(msg) < 4 or not fds:
            raise OSError("zygote gone")
        return struct.unpack("i", msg[:4])[0], socket.socket(fileno=fds[0])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        self.sock.close()  # EOF: the zygote exits
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class _Worker:
    def __init__(self, zygote: _Zygote):
        self.pid, self.sock = zygote.fork()
        self.reader = self.sock.makefile("rb")
        self.job: tuple[int, float] | None = None  # (task index, deadline)

    def send(self, obj) -> None:
        self.sock.sendall((json.dumps(obj) + "\n").encode())

    def recv(self):
        line = self.reader.readline()  # one outstanding message per worker, so a whole line is waiting
        return json.loads(line) if line else None

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.reader.close()
        self.sock.close()


class GraderPool:
    """Symbolic-check workers; `run` is thread-safe (concurrent callers take turns)."""

    def __init__(self):
        self._zygote: _Zygote | None = None
        self._workers: list[_Worker] = []
        self._lock = threading.Lock()
        self.timeouts = 0  # items killed at their deadline (for tests and the benchmark report)
        self.crashes = 0   # items whose worker died (MemoryError at the rlimit, segfault, ...)
        self.startup_seconds = 0.0  # time spent starting zygotes (import + warm-up of sympy/math-verify)

    def _new_worker(self) -> _Worker:
        for _ in range(2):
            if self._zygote is None or not self._zygote.alive():
                t0 = time.monotonic()
                self._zygote = _Zygote()
                self.startup_seconds += time.monotonic() - t0
            try:
                return _Worker(self._zygote)
            except OSError:
                self._zygote.close()
                self._zygote = None
        raise RuntimeError("augmath grader: cannot fork symbolic-check workers")

    def run(self, tasks: list[tuple[str, str]], timeout: float, workers: int = 1) -> list[bool | None]:
        """Symbolic equivalence for each (gold, pred); None for items that timed out or crashed a worker."""
        if not tasks:
            return []
        with self._lock:
            n = max(1, min(workers, len(tasks)))
            while len(self._workers) < n:
                self._workers.append(self._new_worker())
            return self._run(tasks, timeout, n)

    def _run(self, tasks, timeout, n) -> list[bool | None]:
        results: list[bool | None] = [None] * len(tasks)
        pending = deque(range(len(tasks)))
        died_on: set[int] = set()  # items whose worker died under them once: retried once, then False
        while True:
            for slot in range(n):
                w = self._workers[slot]
                if w.job is None and pending:
                    i = pending.popleft()
                    try:
                        w.send([i, tasks[i][0], tasks[i][1]])
                    except OSError:  # died while idle: give the item to a fresh worker (once)
                        if i not in died_on:
                            died_on.add(i)
                            pending.appendleft(i)
                        self._replace(slot)
                        continue
                    w.job = (i, time.monotonic() + timeout)
            busy = [w for w in self._workers[:n] if w.job is not None]
            if not busy:
                if pending:
                    continue  # a worker was just replaced: hand it the item on the next pass
                return results
            ready = wait([w.sock for w in busy], timeout=max(0.0, min(w.job[1] for w in busy) - time.monotonic()))
            now = time.monotonic()
            for slot in range(n):
                w = self._workers[slot]
                if w.job is None:
                    continue
                if w.sock in ready:
                    try:
                        msg = w.recv()
                    except (OSError, ValueError):
                        msg = None
                    if msg is None:  # the worker died (killed, segfault): retry the item once elsewhere
                        self.crashes += 1
                        if w.job[0] not in died_on:
                            died_on.add(w.job[0])
                            pending.appendleft(w.job[0])
                        self._replace(slot)
                    else:
                        if msg[0] == w.job[0]:
                            results[msg[0]] = bool(msg[1])
                        w.job = None
                elif now >= w.job[1]:
                    self.timeouts += 1
                    self._replace(slot)

    def _replace(self, slot: int) -> None:
        self._workers[slot].kill()
        self._workers[slot] = self._new_worker()

    def close(self) -> None:
        with self._lock:
            for w in self._workers:
                w.kill()
            self._workers = []
            if self._zygote is not None:
                self._zygote.close()
                self._zygote = None


_POOL: GraderPool | None = None
_POOL_PID = -1
_POOL_LOCK = threading.Lock()


def shared_pool() -> GraderPool:
    """The process-wide pool (a new one in a forked child, which must not share the parent's sockets)."""
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        if _POOL is None or _POOL_PID != os.getpid():
            _POOL, _POOL_PID = GraderPool(), os.getpid()
        return _POOL


@atexit.register
def _shutdown() -> None:
    if _POOL is not None and _POOL_PID == os.getpid():
        _POOL.close()


# --- the zygote and its workers (run as: python -m augmath.grading.pool FD) --------------------------------
def _serve(conn: socket.socket) -> None:
    from augmath.grading import symbolic as grading_symbolic

    reader = conn.makefile("rb")
    for line in reader:
        key, gold, pred = json.loads(line)
        try:
            ok = bool(grading_symbolic.equivalent(gold, pred))
        except BaseException:  # MemoryError, RecursionError, sympy internals: all mean "not shown equal"
            ok = False
        conn.sendall((json.dumps([key, ok]) + "\n").encode())


def _zygote_main(fd: int) -> None:
    ctrl = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped automatically
    sys.setrecursionlimit(10_000)
    from augmath.grading import symbolic as grading_symbolic

    try:
        grading_symbolic.warm_up()
    except Exception:
        pass
    ctrl.sendall(b"R")
    while ctrl.recv(1) == b"F":
        parent_end, child_end = socket.socketpair()
        pid = os.fork()
        if pid == 0:
            ctrl.close()
            parent_end.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                import resource

                resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, resource.RLIM_INFINITY))
            except (ImportError, ValueError, OSError):
                pass
            try:
                _serve(child_end)
            finally:
                os._exit(0)
        child_end.close()
        socket.send_fds(ctrl, [struct.pack("i", pid)], [parent_end.fileno()])
        parent_end.close()


if __name__ == "__main__":
    _zygote_main(int(sys.argv[1]))
