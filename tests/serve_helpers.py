"""Helpers for tests that start and kill real servers (`augmath serve`, llama-server)."""

from __future__ import annotations

import socket
import time


def port_closed(port: int, seconds: float = 15) -> bool:
    """Whether nothing accepts connections on 127.0.0.1:PORT within `seconds` (a killed server's port)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return True
        time.sleep(0.1)
    return False
