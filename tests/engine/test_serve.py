"""The embedded llama-server: it really answers, serves n and concurrency, refuses busy ports, leaves no orphans."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import openai
import pytest

from augmath.engine.server import EmbeddedServer, ServerError, default_model_path

from serve_helpers import port_closed

REPO = Path(__file__).resolve().parents[2]


def test_default_model_is_the_smollm2_gguf():
    path = default_model_path()
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size > 50_000_000
    assert path.read_bytes()[:4] == b"GGUF"


def test_embedded_server_answers_chat_with_n_choices(embedded_server):
    with urllib.request.urlopen(embedded_server.url + "/health", timeout=5) as resp:
        assert resp.status == 200
    client = openai.OpenAI(base_url=embedded_server.base_url, api_key="local", max_retries=0)
    assert embedded_server.model in [m.id for m in client.models.list().data]
    reply = client.chat.completions.create(
        model=embedded_server.model, n=3, temperature=1.0, max_tokens=24,
        messages=[{"role": "user", "content": "Name a fruit."}],
    )
    assert len(reply.choices) == 3 and all(c.message.content.strip() for c in reply.choices)
    assert reply.usage.completion_tokens > 0


def _listening_socket():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def test_busy_port_is_refused_with_a_clear_message():
    with _listening_socket() as sock:
        port = sock.getsockname()[1]
        with pytest.raises(ServerError, match=f"port {port} on 127.0.0.1 is already in use"):
            EmbeddedServer(port=port).start()
        proc = subprocess.run([sys.executable, "-m", "augmath.cli", "serve", "--port", str(port)],
                              capture_output=True, text=True, timeout=60, cwd=REPO)
    assert proc.returncode != 0 and "already in use" in proc.stderr


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def _alive(pid: int) -> bool:
    """True while any thread of pid runs. After SIGKILL the group leader turns zombie ("Z") before its other
    threads finish exiting, and those threads still hold the listening socket, so every thread is checked."""
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except FileNotFoundError:
        return False
    for task in tasks:
        try:
            state = (task / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            continue
        if state not in ("Z", "X"):
            return True
    return False


def _wait_gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_serve_cli_stops_cleanly_and_leaves_no_orphan(how, tmp_path):
    # A shell that starts a job in the background (`... &` without job control) makes it ignore SIGINT, and the
    # children inherit that: give this child the default disposition, so Ctrl-C is tested however pytest started.
    # Its stderr goes to a file, not an unread pipe (a full pipe would block its "stopping" line), and is shown
    # when the test fails.
    err_path = tmp_path / "serve.stderr"
    with open(err_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "augmath.cli", "serve", "--parallel", "2"],
                                stdout=subprocess.PIPE, stderr=err, text=True, cwd=REPO,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        base_url = proc.stdout.readline().strip()  # printed only once /health is OK
        assert base_url.startswith("http://127.0.0.1:") and base_url.endswith("/v1"), err_path.read_text()
        with urllib.request.urlopen(base_url[: -len("/v1")] + "/health", timeout=5) as resp:
            assert json.load(resp)["status"] == "ok"
        (child,) = _children(proc.pid)
        assert "llama-server" in Path(f"/proc/{child}/cmdline").read_bytes().decode(errors="replace")
        proc.send_signal(how)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"`augmath serve` still running 30 s after {how.name}; its stderr:\n"
                                 f"{err_path.read_text()[-3000:]}") from None
        assert code == (-9 if how == signal.SIGKILL else 0), err_path.read_text()[-3000:]
        assert _wait_gone(child), "llama-server outlived `augmath serve`"
        port = int(base_url.rsplit(":", 1)[1].split("/")[0])
        assert port_closed(port), f"port {port} still accepts connections after llama-server exited"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
