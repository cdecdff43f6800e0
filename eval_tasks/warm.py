"""A warm lighteval: one process that imports lighteval once and forks a child for every `augmath eval` run.

    python -m augmath.eval_tasks.warm SOCKET                  # the experiment runner starts one for its evaluations
    AUGMATH_WARM_LIGHTEVAL=SOCKET augmath eval --model M ...  # `augmath eval` then forks its lighteval run from it

Why: of each evaluated model's fixed cost, ~8 s is lighteval importing itself (its metrics and logging modules pull
in torch, transformers, datasets, scikit-learn, scipy, nltk). An experiment evaluates many models; a child forked
from a process that has those modules loaded starts at once. Everything else is as before: the same command
line (augmath.eval_tasks.lighteval_cli), the same environment, working folder and log, one process per
evaluation (its memory and its os._exit are its own), the same exit status.

How: `augmath eval` connects to the socket and sends its command line, environment and working folder, with the
write end of the pipe that carries the child's output (SCM_RIGHTS); the server forks, the child points its
stdout/stderr at that pipe and runs the command; the server sends back the exit status. A server that is gone
or refuses (an environment variable that is read at import time differs from its own: HF_HUB_OFFLINE,
OMP_NUM_THREADS, ...) makes `augmath eval` start lighteval afresh as before: slower, never different.

Safe to fork because the server imports only: it never runs a torch operation, so no thread pool exists for a
fork to break, and it checks that it has no other thread. A child dies with the server (PR_SET_PDEATHSIG); the
server dies with whoever started it, and kills a child whose `augmath eval` went away (its socket closed).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import selectors
import signal
import socket
import struct
import sys
import threading
import traceback

WARM_ENV = "AUGMATH_WARM_LIGHTEVAL"
LIGHTEVAL_CLI = "augmath.eval_tasks.lighteval_cli"
# What the accelerate command imports before it evaluates (python -X importtime: these hold the ~8 s)
PRELOAD = ("lighteval.main_accelerate", "lighteval.pipeline", "lighteval.models.model_loader",
           "lighteval.models.transformers.transformers_model", "lighteval.metrics.metrics",
           "lighteval.tasks.registry", "lighteval.tasks.lighteval_task", "lighteval.logging.evaluation_tracker",
           "augmath.eval_tasks.lighteval_cli", "augmath.eval_tasks.scorer", "augmath.eval_tasks.likelihood",
           "augmath.eval_tasks.data", "augmath.eval_tasks.metrics")
# Read once, when a library is imported: a request whose value differs would get the server's, so it is refused
IMPORT_TIME_PREFIXES = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_", "DATASETS_", "TOKENIZERS_", "TORCH", "PYTORCH_",
                        "OMP_", "MKL_", "CUDA_", "NCCL_", "ACCELERATE_", "PYTHON")
# ... except those torch sets for itself when imported (a parent that imported torch passes them on, one that did
# not does not: the same run either way)
SELF_SET = ("TORCHINDUCTOR_CACHE_DIR", "KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK", "PYTHONUNBUFFERED")
LENGTH = struct.Struct(">Q")


def import_time_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith(IMPORT_TIME_PREFIXES) and k not in SELF_SET}


# ---------------------------------------------------------------- starting one (the experiment runner)

class WarmServer:
    """`with WarmServer(log) as server:` a warm lighteval for the block; `server.env()` is what a run needs."""

    def __init__(self, log_path: str | os.PathLike):
        self.log_path, self.proc, self.folder = log_path, None, None

    def __enter__(self) -> "WarmServer":
        import subprocess
        import tempfile

        from augmath.process import die_with_parent

        self.folder = tempfile.mkdtemp(prefix="augmath-warm-")  # short: a socket path holds 107 bytes at most
        self.path = os.path.join(self.folder, "lighteval.sock")
        with open(self.log_path, "a", encoding="utf-8") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "augmath.eval_tasks.warm", self.path], stdout=log, stderr=subprocess.STDOUT,
                                         preexec_fn=die_with_parent)  # a kill -9 of the runner takes it too
        return self

    def env(self) -> dict[str, str]:
        return {WARM_ENV: self.path}

    def wait_ready(self, timeout: float = 120.0) -> bool:
        """Block until the server has its imports done (its log says "ready on"); False if it died or timed out.
        Runs need not wait (a request made earlier waits in the socket's backlog); a timing does."""
        import time

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            with open(self.log_path, encoding="utf-8", errors="replace") as log:
                if "ready on" in log.read():
                    return True
            time.sleep(0.1)
        return False

    def __exit__(self, *exc) -> None:
        import shutil

        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


# ---------------------------------------------------------------- client (augmath eval)

class WarmChild:
    """A lighteval run forked by the warm server: `stdout` (its output, text lines) and `wait()` (its exit status),
    as subprocess.Popen offers them."""

    def __init__(self, sock: socket.socket, replies, stdout, pid: int):
        self.sock, self.replies, self.stdout, self.pid = sock, replies, stdout, pid

    def wait(self) -> int:
        reply = self.replies.readline()  # the server's second line: {"code": N} once the child is gone
        self.replies.close()
        self.sock.close()
        self.stdout.close()
        if not reply:  # the server died under the run
            return -signal.SIGKILL
        return int(json.loads(reply)["code"])


def spawn(cmd: list[str], env: dict[str, str], cwd: str) -> WarmChild | None:
    """Fork `cmd` (a `python -m augmath.eval_tasks.lighteval_cli ...` command) from the server that $AUGMATH_WARM_LIGHTEVAL
    names; None when there is none, it cannot be reached or it refuses (then start the command as usual)."""
    path = env.get(WARM_ENV)
    if not path or cmd[1:3] != ["-m", LIGHTEVAL_CLI]:
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        return None
    replies = sock.makefile("rb")  # one JSON object a line; buffered, so two lines in one packet stay two
    read_end, write_end = os.pipe()
    try:
        body = json.dumps({"argv": cmd[3:], "env": env, "cwd": str(cwd)}).encode()
        socket.send_fds(sock, [LENGTH.pack(len(body)) + body], [write_end])
        reply = replies.readline()
        answer = json.loads(reply) if reply else {"refused": "the server closed the connection"}
    except (OSError, ValueError) as e:
        answer = {"refused": str(e)}
    finally:
        os.close(write_end)  # the child has its own copy now (or there is no child)
    if "pid" not in answer:
        replies.close()
        sock.close()
        os.close(read_end)
        print(f"warm lighteval not used ({answer.get('refused')}): starting lighteval afresh", file=sys.stderr)
        return None
    print(f"lighteval forked from the warm lighteval at {path} (pid {answer['pid']})", file=sys.stderr)
    return WarmChild(sock, replies, os.fdopen(read_end, "r", encoding="utf-8", errors="replace"), int(answer["pid"]))


# ---------------------------------------------------------------- server

def _receive(conn: socket.socket) -> tuple[dict, int]:
    data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 1)
    if not fds:
        raise ValueError("no output pipe came with the request")
    while len(data) < LENGTH.size or len(data) < LENGTH.size + LENGTH.unpack_from(data)[0]:
        chunk = conn.recv(1 << 20)
        if not chunk:
            raise ValueError("the request was cut off")
        data += chunk
    return json.loads(data[LENGTH.size:LENGTH.size + LENGTH.unpack_from(data)[0]]), fds[0]


def _child(request: dict, out_fd: int, set_by_imports: dict[str, str]) -> None:
    """In the forked child: become the requested lighteval run; never returns."""
    try:
        from augmath.process import die_with_parent

        die_with_parent()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        os.dup2(out_fd, 1)
        os.dup2(out_fd, 2)
        os.close(out_fd)
        sys.stdout.reconfigure(line_buffering=True)  # PYTHONUNBUFFERED was read when the server started
        sys.stderr.reconfigure(line_buffering=True)
        os.environ.clear()
        os.environ.update({**set_by_imports, **request["env"]})
        os.chdir(request["cwd"])
        sys.argv = ["lighteval", *request["argv"]]
        importlib.import_module(LIGHTEVAL_CLI).main(request["argv"])  # ends in os._exit
    except BaseException:
        traceback.print_exc()
    os._exit(1)


def serve(path: str) -> None:
    # Listen first, import second: a run that connects during the imports waits in the backlog, not afresh.
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    before = dict(os.environ)
    own = import_time_env(before)  # as the imports saw it (some set variables of their own while importing)
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as e:  # another lighteval version: its child imports what it needs itself
            print(f"warm lighteval: not preloaded: {name} ({e})", flush=True)
    if threading.active_count() > 1:  # a fork copies only the calling thread: refuse to run with others
        raise SystemExit(f"warm lighteval: {threading.active_count()} threads after the imports; not forking")
    set_by_imports = {k: v for k, v in os.environ.items() if k not in before}
    children: dict[int, socket.socket] = {}  # pid -> its requester's connection
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)

    def stop(*_):
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(OSError):  # whoever started us may have removed its folder already
            os.unlink(path)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"warm lighteval ready on {path} (pid {os.getpid()})", flush=True)
    while True:
        for key, _ in selector.select(timeout=0.2):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                try:
                    request, out_fd = _receive(conn)
                except (OSError, ValueError) as e:
                    conn.sendall((json.dumps({"refused": f"bad request: {e}"}) + "\n").encode())
                    conn.close()
                    continue
                theirs = import_time_env(request.get("env") or {})
                for k, v in set_by_imports.items():  # what an import sets when unset, it would set in a fresh run too
                    if theirs.get(k, v) == v:
                        theirs.pop(k, None)
                if theirs != own:
                    differ = sorted(k for k in set(theirs) | set(own) if theirs.get(k) != own.get(k))
                    conn.sendall((json.dumps({"refused": f"environment differs in {', '.join(differ)}"}) + "\n").encode())
                    conn.close()
                    os.close(out_fd)
                    continue
                pid = os.fork()
                if pid == 0:
                    listener.close()
                    conn.close()
                    for other in children.values():
                        other.close()
                    _child(request, out_fd, set_by_imports)
                os.close(out_fd)
                children[pid] = conn
                selector.register(conn, selectors.EVENT_READ, pid)
                conn.sendall((json.dumps({"pid": pid}) + "\n").encode())
            else:  # a requester's socket is readable only when it closed: its run goes with it
                with contextlib.suppress(ProcessLookupError):
                    os.kill(key.data, signal.SIGKILL)
        for pid, conn in list(children.items()):
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                selector.unregister(conn)
                try:
                    conn.sendall((json.dumps({"code": os.waitstatus_to_exitcode(status)}) + "\n").encode())
                except OSError:
                    pass  # its requester is gone already
                conn.close()
                del children[pid]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m augmath.eval_tasks.warm SOCKET")
    serve(sys.argv[1])
