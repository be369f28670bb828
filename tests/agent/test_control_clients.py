"""The control API stays reachable under slow and silent clients: connections that
send nothing, or one header byte a second, never lock the operator out."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from l4plan.agents.errors import AgentError
from tests.agent.harness import Agent

CLIENTS = 300  # more than the agent's 256 control connections


@contextlib.contextmanager
def hostile(agent: Agent, *, trickle: bool) -> Iterator[list[socket.socket]]:
    """CLIENTS connections to the control port; with `trickle`, each sends one byte of
    a request header per second."""
    socks = []
    for _ in range(CLIENTS):
        s = socket.create_connection(("127.0.0.1", agent.control_port), timeout=5)
        socks.append(s)
    stop = threading.Event()

    def send_bytes() -> None:
        header = b"POST /rpc HTTP/1.1\r\nHost: x\r\n" + b"X-Slow: " + b"a" * 1000
        position = 0
        while not stop.wait(1.0):
            for s in socks:
                with contextlib.suppress(OSError):
                    s.send(header[position : position + 1])
            position += 1

    thread = threading.Thread(target=send_bytes, daemon=True)
    if trickle:
        thread.start()
    try:
        yield socks
    finally:
        stop.set()
        if trickle:
            thread.join(5)
        for s in socks:
            s.close()


def health_checks(agent: Agent, calls: int) -> int:
    answered = 0
    for _ in range(calls):
        client = agent.new_client(timeout=5.0, retries=0)
        try:
            if client.health()["status"] == "SERVING":
                answered += 1
        except AgentError:
            pass  # counted as not answered
        finally:
            client.close()
        time.sleep(0.2)
    return answered


@pytest.mark.parametrize("trickle", [False, True], ids=["silent", "one-byte-per-second"])
def test_health_check_is_answered_under_hostile_clients(agent: Agent, trickle: bool) -> None:
    with hostile(agent, trickle=trickle):
        assert health_checks(agent, 10) == 10


def test_a_silent_connection_is_closed_after_the_header_timeout(agent: Agent) -> None:
    with socket.create_connection(("127.0.0.1", agent.control_port), timeout=30) as s:
        started = time.monotonic()
        assert s.recv(100) == b""  # closed without an answer: nothing was asked
        assert time.monotonic() - started < 20


def test_a_slow_header_gets_408(agent: Agent) -> None:
    with socket.create_connection(("127.0.0.1", agent.control_port), timeout=30) as s:
        started = time.monotonic()
        s.settimeout(1.0)
        answer = b""
        for byte in b"POST /rpc HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
            with contextlib.suppress(OSError):
                s.send(bytes([byte]))
            try:
                answer = s.recv(1000)
                break
            except TimeoutError:
                continue
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert time.monotonic() - started < 20
