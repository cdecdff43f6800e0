"""An OpenAI-compatible server that answers at once with a short fixed completion: measures the client, not a model.

    python benchmarks/instant_server.py [--port 0]        prints "port N" once listening
    with InstantServer() as server: server.base_url        the same, started in its own process

Bare asyncio protocol (HTTP/1.1 keep-alive, Content-Length bodies), so that the server costs far less per
request than any client under test and the figures are the clients'. It honours `n` (n choices) and reports
usage, so the engine's n path and token counting run as they would against a real server. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys

MODEL = "instant"
TEXT = "The answer is 42."
_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"


def _completion(n: int) -> bytes:
    body = {"id": "chatcmpl-instant", "object": "chat.completion", "created": 0, "model": MODEL,
            "choices": [{"index": i, "message": {"role": "assistant", "content": TEXT}, "finish_reason": "stop"}
                        for i in range(n)],
            "usage": {"prompt_tokens": 20, "completion_tokens": 6 * n, "total_tokens": 20 + 6 * n}}
    data = json.dumps(body).encode()
    return _HEAD % len(data) + data


_MODELS = json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode()
_ANSWERS: dict[int, bytes] = {}


class _Http(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer = transport, b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            body, self.buffer = self.buffer[end + 4:end + 4 + length], self.buffer[end + 4 + length:]
            path = head.split(b" ", 2)[1]
            if path.endswith(b"/models"):
                self.transport.write(_HEAD % len(_MODELS) + _MODELS)
                continue
            n = 1
            if b'"n"' in body:
                n = int(json.loads(body).get("n") or 1)
            answer = _ANSWERS.get(n)
            if answer is None:
                answer = _ANSWERS[n] = _completion(n)
            self.transport.write(answer)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Http, "127.0.0.1", port, backlog=4096)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


class InstantServer:
    """The server in a child process (its own CPU), stopped on exit."""

    model = MODEL

    def __enter__(self) -> "InstantServer":
        self.proc = subprocess.Popen([sys.executable, __file__], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("port "):
            self.proc.kill()
            raise RuntimeError(f"instant server did not start: {line!r}")
        self.port = int(line.split()[1])
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        return self

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    asyncio.run(serve(parser.parse_args().port))
