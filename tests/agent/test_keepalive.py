"""Keep-alive protection: TCP keepalive on both legs, no idle timeout, and connections
that survive reconfiguration of unchanged rules."""

from __future__ import annotations

import re
import socket
import subprocess
import time

import pytest

from tests.agent.harness import Origins, app, port, rule


def keepalive_timers(edge: int, origin: int) -> list[int]:
    """Seconds until the next keepalive probe of the agent's two sockets of a relayed
    connection: the accepted one (local port `edge`) and the one towards `origin`."""
    out = subprocess.run(
        ["ss", "-tnoH", "state", "established", f"( sport = :{edge} or dport = :{origin} )"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [line for line in out.splitlines() if line.strip()]
    assert len(lines) == 2, out
    timers = []
    for line in lines:
        # ss prints the time left as e.g. "1min", "59sec", "1min2sec", "2.5sec" or "800ms"
        match = re.search(r"timer:\(keepalive,(?:(\d+)min)?(?:(\d+)(?:\.\d+)?sec)?(\d+ms)?,", line)
        if match and any(match.groups()):
            timers.append(int(match.group(1) or 0) * 60 + int(match.group(2) or 0))
    return timers


def settled_keepalive_timers(edge: int, origin: int, within: float = 3.0) -> list[int]:
    """`keepalive_timers` once both sockets show one: while a segment is unacknowledged
    ss shows the retransmission timer instead, which on a loaded machine can last."""
    deadline = time.monotonic() + within
    while len(timers := keepalive_timers(edge, origin)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return timers


@pytest.mark.parametrize("flags", [(), ("--splice",)], ids=["protocol", "splice"])
def test_keepalive_on_both_legs_and_no_idle_timeout(agent_factory, origins: Origins, flags) -> None:  # type: ignore[no-untyped-def]
    agent = agent_factory("--idle-timeout", "300ms", *flags)
    protected, plain, other, origin = port(), port(), port(), port()
    origins.tcp(origin)
    agent.apply(
        {
            "ka.example.com": app(rule("tcp", protected, origin), keepalive=True),
            "plain.example.com": app(rule("tcp", plain, origin)),
        }
    )
    with socket.create_connection(("127.0.0.1", protected), timeout=5) as conn:
        conn.sendall(b"a")
        assert conn.recv(10) == b"a"
        timers = settled_keepalive_timers(protected, origin)
        assert len(timers) == 2 and all(0 <= t <= 60 for t in timers), timers
        time.sleep(0.8)  # longer than the idle timeout: keep-alive connections are exempt
        # reconfiguring the application's other parts leaves the connection alone
        agent.apply(
            {
                "ka.example.com": app(
                    rule("tcp", protected, origin), rule("tcp", other, origin), keepalive=True
                ),
                "plain.example.com": app(rule("tcp", plain, origin)),
            }
        )
        conn.sendall(b"b")
        assert conn.recv(10) == b"b"
    with socket.create_connection(("127.0.0.1", plain), timeout=5) as conn:
        conn.sendall(b"c")
        assert conn.recv(10) == b"c"
        assert keepalive_timers(plain, origin) == []
        time.sleep(0.8)
        assert conn.recv(10) == b""  # the idle timeout closed the unprotected one
